package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/prunebench/prunebench/experiments"
)

// deviceFlags are the flags of run and sweep for units that share a GPU
// (experiments.SweepOptions: the memory guard and the out-of-memory
// retries). On the CPU they change nothing.
type deviceFlags struct {
	minFree    int64
	oomRetries int
}

// Defaults: a GPU unit of this workbench's models needs well under 1 GiB,
// so the guard only holds units back from a device that is nearly full;
// three retries, each pass at half the concurrency of the one before, end
// at one unit at a time from 8.
const (
	defaultMinFree    = 1 << 30
	defaultOOMRetries = 3
)

func addDeviceFlags(fs *pflag.FlagSet, f *deviceFlags) {
	f.minFree = defaultMinFree
	fs.Var(&bytesValue{p: &f.minFree, name: "min-free-mem"}, "min-free-mem", "memory guard: a unit on a GPU starts only when its device has this much free (e.g. 2GiB, 512MiB; 0: no guard), unless no other unit is running")
	intFlag(fs, &f.oomRetries, "oom-retries", "", defaultOOMRetries, 0, 100, "times a unit that ran out of GPU memory runs again later, from its checkpoint, with half as many units at once")
}

func (f deviceFlags) apply(o *experiments.SweepOptions) {
	o.MinFreeMemory, o.OOMRetries = f.minFree, f.oomRetries
	if o.Settle == 0 {
		o.Settle = 3 * time.Second // a new unit's allocations show by then
	}
}

// bytesValue is a byte count flag: a number with an optional binary unit
// (B, KiB, MiB, GiB, TiB) or decimal one (kB, MB, GB, TB).
type bytesValue struct {
	p    *int64
	name string
}

func (v *bytesValue) String() string { return strconv.FormatInt(*v.p, 10) }
func (v *bytesValue) Type() string   { return "size" }

func (v *bytesValue) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return fmt.Errorf("--%s %q: %w", v.name, s, err)
	}
	*v.p = n
	return nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	x, err := strconv.ParseFloat(num, 64)
	mult, ok := byteUnits[unit]
	if err != nil || !ok || x < 0 || math.IsInf(x*mult, 0) {
		return 0, fmt.Errorf("want a size such as 2GiB, 512MiB or 0 (units B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)")
	}
	return int64(math.Round(x * mult)), nil
}
