package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// isNumericFlagType reports whether a pflag value type (Value.Type()) holds
// numbers: int, int8…int64, uint…uint64, float32, float64, count, duration
// and their slices.
func isNumericFlagType(t string) bool {
	for _, p := range []string{"int", "uint", "float", "count", "duration"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// allCommands is root and every command under it.
func allCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		out = append(out, allCommands(c)...)
	}
	return out
}

// commandFlags is every flag a command parses: its own and the persistent
// flags of its parents.
func commandFlags(c *cobra.Command) []*pflag.Flag {
	var out []*pflag.Flag
	seen := map[string]bool{}
	add := func(f *pflag.Flag) {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f)
		}
	}
	c.Flags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	return out
}

// hostileValues are values of a flag with range [lo, hi] that it must
// refuse: just below and above the range, huge values, and, for a float,
// NaN and the infinities.
func hostileValues(v rangedFlag) []string {
	lo, hi := v.bounds()
	if v.Type() == "float64" {
		return []string{
			strconv.FormatFloat(lo-math.Max(1, math.Abs(lo)/2), 'g', -1, 64),
			strconv.FormatFloat(hi+math.Max(1, math.Abs(hi)/2), 'g', -1, 64),
			"0", "-1", "1e300", "-1e300", "1e400", "NaN", "Inf", "-Inf", "+Inf", "twelve",
		}
	}
	vals := []string{
		strconv.FormatInt(int64(lo)-1, 10), strconv.FormatInt(int64(hi)+1, 10),
		"9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e300", "NaN", "twelve",
	}
	if lo > 0 {
		vals = append(vals, "0")
	}
	return vals
}

// TestNumericFlagsRefuseHostileValues walks every command of the CLI and
// every numeric flag (by its pflag type): each must be declared with a
// range (intFlag, floatFlag), and each must refuse values outside it, huge
// ones and NaN with an error that names the flag, before the command reads
// its spec or writes anything, and without a panic.
func TestNumericFlagsRefuseHostileValues(t *testing.T) {
	spec, out := writeSpec(t)
	root := newRootCmd()
	numeric := 0
	for _, c := range allCommands(root) {
		// The positional arguments the command needs to get to its flags:
		// none where it takes none, else the spec.
		var args []string
		if c.ValidateArgs(nil) != nil {
			args = []string{spec}
		}
		path := strings.Fields(c.CommandPath())[1:] // without "prunebench"
		for _, f := range commandFlags(c) {
			if !isNumericFlagType(f.Value.Type()) {
				continue
			}
			numeric++
			name := c.CommandPath() + " --" + f.Name
			r, ok := f.Value.(rangedFlag)
			if !ok {
				t.Errorf("%s (%s) has no declared range: declare it with intFlag or floatFlag (flags.go)", name, f.Value.Type())
				continue
			}
			if err := r.checkRange(); err != nil {
				t.Errorf("%s: default %s is outside its range: %v", name, f.DefValue, err)
			}
			for _, v := range hostileValues(r) {
				argv := append(append(append([]string(nil), path...), args...), "--"+f.Name+"="+v)
				err := runNoPanic(t, argv...)
				switch {
				case err == nil:
					t.Errorf("%s=%s: accepted", name, v)
				case !strings.Contains(err.Error(), "--"+f.Name) || !strings.Contains(err.Error(), "want "):
					t.Errorf("%s=%s: error %q does not name the flag and its range", name, v, err)
				}
			}
		}
	}
	if numeric < 5 {
		t.Errorf("found %d numeric flags, want at least 5 (bench --warmup, run --jobs, sweep --jobs, plot --width, --height)", numeric)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused flag still let a command write %s", out)
	}
}

// runNoPanic is run, with a panic as an error of the test.
func runNoPanic(t *testing.T, args ...string) (err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%v: panic: %v", args, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	_, err = run(t, args...)
	return err
}

// TestNumericFlagMessages pins the wording of a range error and that flag
// parse errors show no Go internals.
func TestNumericFlagMessages(t *testing.T) {
	spec, _ := writeSpec(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", spec, "--jobs", "0"}, "--jobs = 0: want an integer from 1 to 256"},
		{[]string{"sweep", spec, "-j", "1000"}, "--jobs = 1000: want an integer from 1 to 256"},
		{[]string{"bench", spec, "--warmup", "-5"}, "--warmup = -5: want an integer from 0 to 1000"},
		{[]string{"bench", spec, "--warmup", "1e300"}, "--warmup = 1e300: want an integer from 0 to 1000"},
		{[]string{"plot", "-o", "p.png", "--width", "100000", "--height", "100000"}, "--height = 100000: want a number from 1 to 50 (inches)"},
		{[]string{"plot", "-o", "p.png", "--width", "NaN"}, "--width = NaN: want a number from 1 to 50 (inches)"},
		{[]string{"run", spec, "--quiet=maybe"}, "--quiet = maybe: want true or false"},
	}
	for _, c := range cases {
		_, err := run(t, c.args...)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	// In range, the flags are taken: --width 5 --height 3.5 gets as far as
	// the results store.
	if _, err := run(t, "plot", "-o", "p.png", "--width", "5", "--height", "3.5", "--output", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no results yet in") {
		t.Errorf("plot in range: %v, want the missing store", err)
	}
}
