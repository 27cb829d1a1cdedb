package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every numeric flag is declared with intFlag or floatFlag, which keep its
// accepted range next to it; checkNumericFlags, the root command's
// PersistentPreRunE, refuses a value outside it before any command runs,
// and TestNumericFlagsRefuseHostileValues fails on a numeric flag declared
// any other way. (A subcommand with a PersistentPreRunE of its own would
// hide the root's from cobra: that test would fail too.)

// Ranges of the numeric flags.
const (
	// maxJobs bounds --jobs: every job is a goroutine training one run on
	// one core and holding its data and net in memory, so more jobs than
	// cores only time-slice and multiply memory; 256 is above the cores
	// of any machine this runs on and still refuses a typo like -j 10000
	// before it starts thousands of trainings at once.
	maxJobs = 256
	// maxWarmup bounds bench --warmup: untimed steps only settle caches
	// and allocations, which takes a few steps; a thousand is plenty, and
	// more is a typo that would train for minutes before timing anything.
	maxWarmup = 1000
	// minPlotInches and maxPlotInches bound plot --width and --height.
	// PNGs are rendered at 96 dpi into one RGBA image of width × height
	// pixels: 50 in is 4800 px, 92 MB for a 50 × 50 in figure (a second
	// to render); 50 in covers an A0 poster (46.8 in), and an SVG scales to
	// any size anyway. 100000 in would ask for a 3.6 × 10^14-byte image.
	// Below an inch no legend fits (WritePlot says so, by name).
	minPlotInches = 1
	maxPlotInches = 50
)

// rangedFlag is the value of a numeric flag that knows its accepted range.
type rangedFlag interface {
	pflag.Value
	// checkRange is nil when the value is in the flag's range, and
	// otherwise an error that names the flag and the range.
	checkRange() error
	// bounds is the accepted range, min…max.
	bounds() (min, max float64)
}

// intValue is an int flag accepting min…max.
type intValue struct {
	p        *int
	name     string
	min, max int
	text     string // as given on the command line, for messages
}

// intFlag declares an int flag (with an optional one-letter short name)
// that accepts min…max. A default outside the range is a programmer error.
func intFlag(fs *pflag.FlagSet, p *int, name, short string, def, min, max int, usage string) {
	if min > max || def < min || def > max {
		panic(fmt.Sprintf("flag --%s: default %d outside %d…%d", name, def, min, max))
	}
	*p = def
	fs.VarP(&intValue{p: p, name: name, min: min, max: max}, name, short, usage)
}

func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }

func (v *intValue) Set(s string) error {
	v.text = s
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, strconv.IntSize)
	if err != nil {
		return v.rangeError()
	}
	*v.p = int(n)
	return nil
}

func (v *intValue) bounds() (float64, float64) { return float64(v.min), float64(v.max) }

func (v *intValue) checkRange() error {
	if *v.p < v.min || *v.p > v.max {
		return v.rangeError()
	}
	return nil
}

func (v *intValue) rangeError() error {
	text := v.text
	if text == "" {
		text = v.String()
	}
	return &flagRangeError{fmt.Sprintf("--%s = %s: want an integer from %d to %d", v.name, text, v.min, v.max)}
}

// floatValue is a float64 flag accepting finite values in min…max.
type floatValue struct {
	p        *float64
	name     string
	min, max float64
	unit     string // "inches": said after the range
	text     string
}

// floatFlag declares a float64 flag that accepts min…max (NaN and ±Inf
// never), in unit (may be empty). A default outside the range is a
// programmer error.
func floatFlag(fs *pflag.FlagSet, p *float64, name, short string, def, min, max float64, unit, usage string) {
	if !(min <= max && def >= min && def <= max) {
		panic(fmt.Sprintf("flag --%s: default %g outside %g…%g", name, def, min, max))
	}
	*p = def
	fs.VarP(&floatValue{p: p, name: name, min: min, max: max, unit: unit}, name, short, usage)
}

func (v *floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float64" }

func (v *floatValue) Set(s string) error {
	v.text = s
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return v.rangeError()
	}
	*v.p = x // ±Inf when out of float64's range: checkRange refuses it
	return nil
}

func (v *floatValue) bounds() (float64, float64) { return v.min, v.max }

func (v *floatValue) checkRange() error {
	// Written so that NaN, which compares false, is refused.
	if x := *v.p; !(x >= v.min && x <= v.max) || math.IsInf(x, 0) {
		return v.rangeError()
	}
	return nil
}

func (v *floatValue) rangeError() error {
	text := v.text
	if text == "" {
		text = v.String()
	}
	msg := fmt.Sprintf("--%s = %s: want a number from %s to %s", v.name, text,
		strconv.FormatFloat(v.min, 'g', -1, 64), strconv.FormatFloat(v.max, 'g', -1, 64))
	if v.unit != "" {
		msg += " (" + v.unit + ")"
	}
	return &flagRangeError{msg}
}

// flagRangeError is a numeric flag's value outside its range (or not a
// number); its message names the flag and the range.
type flagRangeError struct{ msg string }

func (e *flagRangeError) Error() string { return e.msg }

// checkNumericFlags refuses the first numeric flag of cmd (in name order)
// whose value is outside its declared range. It runs before every command
// (the root's PersistentPreRunE), so before any file is read or trained.
func checkNumericFlags(cmd *cobra.Command, _ []string) error {
	var first error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if r, ok := f.Value.(rangedFlag); ok && first == nil {
			first = r.checkRange()
		}
	})
	return first
}

// flagError rewrites pflag's parse errors: a numeric flag says its range,
// a boolean flag says what it accepts, and neither shows Go's parser
// (strconv.ParseBool: ...).
func flagError(_ *cobra.Command, err error) error {
	var r *flagRangeError
	if errors.As(err, &r) {
		return r
	}
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) && iv.GetFlag().Value.Type() == "bool" {
		return fmt.Errorf("--%s = %s: want true or false", iv.GetFlag().Name, iv.GetValue())
	}
	return err
}
