package experiments

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/unitlock"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"go.yaml.in/yaml/v3"
)

// A sweep is a spec with a `sweep:` block that lists values per key, e.g.
//
//	sweep:
//	  training.lr: [0.1, 0.01]
//	  seed: [0, 1, 2]
//	sweep_mode: product   # or zip
//
// In product mode (the default) the sweep is the cartesian product of the
// lists; in zip mode the lists have one length and the i-th run takes the
// i-th value of each. Keys may be written dotted or nested. A null value
// leaves the key at the file's value (or the default) at that point. A swept value
// takes precedence over the spec file and over --set.

// Sweep is a sweep file expanded into the specs of its points.
type Sweep struct {
	Specs []Spec
	// Notes say what the expansion did that the file does not show: a key
	// set for every point that only some points' pipelines read applies
	// to those points only ("bip.steps applies to 3 of 9 points").
	Notes []string
}

// LoadSweep reads a spec file and expands its sweep block (a file without one
// is a sweep of one run). Runs whose expanded specs are identical (same hash)
// are kept once.
func LoadSweep(path string, overrides []string) (Sweep, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Sweep{}, fmt.Errorf("spec: %w", err)
	}
	return ParseSweep(path, data, overrides)
}

// ParseSweep is LoadSweep on bytes.
//
// A sweep may mix pipelines, and each pipeline reads its own keys (see
// Pipeline). A key that is set at every point (in the file, by --set, or by
// a sweep list without nulls) but that the pipelines of only some points
// read is dropped from the others, where it would have no effect, and the
// sweep says so in its Notes. A key set at some points only is kept where it
// is set: a point whose pipeline does not read it fails validation, as a
// spec that sets it would. A key that no point reads is kept everywhere, so
// that validation names it.
func ParseSweep(name string, data []byte, overrides []string) (Sweep, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Sweep{}, fmt.Errorf("spec %s: not valid YAML: %w", name, err)
	}
	block, hasSweep := doc["sweep"]
	mode := "product"
	if m, ok := doc["sweep_mode"]; ok {
		s, isStr := m.(string)
		if !isStr || (s != "product" && s != "zip") {
			return Sweep{}, fmt.Errorf("spec %s: sweep_mode = %s: want product or zip", name, describe(m))
		}
		mode = s
	}
	delete(doc, "sweep")
	delete(doc, "sweep_mode")
	rest, err := yaml.Marshal(doc)
	if err != nil {
		return Sweep{}, err
	}
	if len(doc) == 0 {
		rest = nil
	}
	combos := [][]string{nil}
	if hasSweep {
		axes, err := sweepAxes(name, block)
		if err != nil {
			return Sweep{}, err
		}
		if combos, err = combine(name, axes, mode); err != nil {
			return Sweep{}, err
		}
	}
	specs := make([]Spec, len(combos))
	everywhere := map[string]bool{} // keys set at every point
	var bad []error
	for i, c := range combos {
		s, explicit, err := parseSpec(name, rest, append(append([]string(nil), overrides...), c...))
		if err != nil {
			if !hasSweep {
				return Sweep{}, err
			}
			bad = append(bad, fmt.Errorf("point %d (%s): %w", i, strings.Join(c, " "), err))
			continue
		}
		specs[i] = s
		if i == 0 {
			maps.Copy(everywhere, explicit)
		}
		for k := range everywhere {
			if !explicit[k] {
				delete(everywhere, k)
			}
		}
	}
	if len(bad) > 0 {
		return Sweep{}, fmt.Errorf("spec %s: %d of %d sweep points are not valid:\n%w", name, len(bad), len(combos), errors.Join(bad...))
	}
	var sw Sweep
	seen := map[string]bool{}
	for _, s := range dropUnread(specs, everywhere) {
		if h := Hash(s); !seen[h] {
			seen[h] = true
			sw.Specs = append(sw.Specs, s)
		}
	}
	sw.Notes = partialKeys(sw.Specs, everywhere)
	return sw, nil
}

// dropUnread removes, from every spec, the unread keys in everywhere that
// the pipeline of at least one spec reads.
func dropUnread(specs []Spec, everywhere map[string]bool) []Spec {
	tab := specKeyTable()
	readSomewhere := func(k string) bool {
		return slices.ContainsFunc(specs, func(s Spec) bool { return tab.info[k].reads(s.Pipeline) })
	}
	for i := range specs {
		specs[i].unread = slices.DeleteFunc(slices.Clone(specs[i].unread), func(k string) bool {
			return everywhere[k] && readSomewhere(k)
		})
	}
	return specs
}

// partialKeys are the notes on the keys set everywhere that only some
// points read.
func partialKeys(specs []Spec, everywhere map[string]bool) []string {
	tab := specKeyTable()
	var notes []string
	for _, k := range slices.Sorted(maps.Keys(everywhere)) {
		n := 0
		for _, s := range specs {
			if tab.info[k].reads(s.Pipeline) {
				n++
			}
		}
		if n > 0 && n < len(specs) {
			notes = append(notes, fmt.Sprintf("%s applies to %d of %d points", k, n, len(specs)))
		}
	}
	return notes
}

// FilterSweep keeps the runs of a sweep whose spec key equals a value for
// every "key=value" of where (keys as in --set; numbers compare by value,
// so prune.density=0.10 matches 0.1; an unset pointer matches "null"; at
// a point whose pipeline does not read the key, the key has its default).
// It lets a command run one part of a paper's sweep, e.g. --where
// model.name=lenet-300-100.
func FilterSweep(specs []Spec, where []string) ([]Spec, error) {
	tab := specKeyTable()
	type cond struct{ key, value string }
	var conds []cond
	for _, w := range where {
		k, v, ok := strings.Cut(w, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("--where %q: want key=value, e.g. model.name=lenet5", w)
		}
		if _, known := tab.info[k]; !known {
			return nil, unknownKey("--where", k, tab.keys)
		}
		conds = append(conds, cond{k, strings.TrimSpace(v)})
	}
	var out []Spec
	for _, s := range specs {
		keep := true
		for _, c := range conds {
			v, ok := s.lookup(c.key)
			if !ok {
				v = reflect.ValueOf(tab.info[c.key].def)
			}
			keep = keep && specValueIs(v, c.value)
		}
		if keep {
			out = append(out, s)
		}
	}
	return out, nil
}

func specValueIs(v reflect.Value, want string) bool {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return want == "null"
		}
		v = v.Elem()
	}
	got := fmt.Sprint(v.Interface())
	if got == want {
		return true
	}
	a, errA := strconv.ParseFloat(got, 64)
	b, errB := strconv.ParseFloat(want, 64)
	return errA == nil && errB == nil && a == b
}

// axis is one swept key; a value that is YAML null (unset[i]) leaves the
// key at the file's value or the default at that point, so that a zip sweep
// can mix, say, a dense run (no prune.sparsity) with pruned ones.
type axis struct {
	key    string
	values []string
	unset  []bool
}

// set is the --set string of value i, or "" when it leaves the key alone.
func (a axis) set(i int) string {
	if a.unset[i] {
		return ""
	}
	return a.key + "=" + a.values[i]
}

// sweepAxes flattens the sweep block into dotted keys with their values as
// --set strings (lists such as shapes as "3,32,32").
func sweepAxes(name string, block any) ([]axis, error) {
	m, ok := block.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("spec %s: sweep must map keys to lists of values, e.g. sweep: {training.lr: [0.1, 0.01]}", name)
	}
	flat := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			flat[strings.ToLower(prefix+k)] = v
		}
	}
	walk("", m)
	tab := specKeyTable()
	var axes []axis
	for k, v := range flat {
		if _, known := tab.info[k]; !known || k == "output" {
			if k == "output" {
				return nil, fmt.Errorf("spec %s: sweep.output: a sweep writes to one output folder", name)
			}
			return nil, unknownKey("spec "+name+" sweep", k, tab.keys)
		}
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("spec %s: sweep.%s = %s: want a non-empty list of values", name, k, describe(v))
		}
		a := axis{key: k}
		for _, x := range list {
			a.values = append(a.values, setString(x))
			a.unset = append(a.unset, x == nil)
		}
		axes = append(axes, a)
	}
	sort.Slice(axes, func(i, j int) bool { return axes[i].key < axes[j].key })
	return axes, nil
}

func setString(x any) string {
	if l, ok := x.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(x)
}

// combine returns the --set lists of every sweep point.
func combine(name string, axes []axis, mode string) ([][]string, error) {
	if mode == "zip" {
		n := len(axes[0].values)
		for _, a := range axes {
			if len(a.values) != n {
				return nil, fmt.Errorf("spec %s: sweep_mode zip needs lists of one length; sweep.%s has %d values, sweep.%s has %d", name, axes[0].key, n, a.key, len(a.values))
			}
		}
		out := make([][]string, n)
		for i := range out {
			for _, a := range axes {
				if set := a.set(i); set != "" {
					out[i] = append(out[i], set)
				}
			}
		}
		return out, nil
	}
	out := [][]string{nil}
	for _, a := range axes {
		var next [][]string
		for _, prefix := range out {
			for i := range a.values {
				point := append([]string(nil), prefix...)
				if set := a.set(i); set != "" {
					point = append(point, set)
				}
				next = append(next, point)
			}
		}
		out = next
	}
	return out, nil
}

// SweepOutcome is what one point of a sweep produced.
type SweepOutcome struct {
	Spec    Spec
	Results []results.Result
	// Err is the first error of the point's units, by replicate.
	Err error
	// Started says whether a unit of the point began (it may have
	// checkpointed before an interrupt); a point the sweep never reached
	// did not.
	Started bool
	// Units is how many of the point's units this sweep ran: all its
	// replicates, or those of SweepOptions.Units (0: none, and the point
	// is not part of this sweep's work).
	Units int
}

// SweepOptions are RunSweep's knobs.
type SweepOptions struct {
	// Jobs is how many units (replicates of points) train at once, each
	// on one goroutine.
	Jobs int
	// Progress, when set, is called with the index of a point and its
	// completed fraction in [0, 1] as it trains.
	Progress func(point int, fraction float64)
	// Watch, when set, is RunOptions.Watch for the units of every point.
	Watch func(point int, u UnitInfo) (cbs []Callback, done func())
	// Rerun is RunOptions.Rerun for every run.
	Rerun bool
	// Units, when set, runs only the units with these IDs (WorkUnit.ID),
	// the share of one task of an array job; every ID must be a unit of
	// the specs. Nil runs every unit.
	Units []string
	// NoStore is RunOptions.NoStore for every run: the tasks of an array
	// job write result files only. With NoStore RunSweep opens no store.
	NoStore bool
	// Notify is RunOptions.Notify for every run.
	Notify func(msg string)

	// OOMRetries is how many more times a unit that failed because its
	// device ran out of memory (an error wrapping nn.ErrOutOfMemory) is
	// run: it goes back to the end of the work, to a pass that runs half
	// as many units at once as the one before (at least one), and resumes
	// from its checkpoint. Only when the retries are spent is it a
	// failure. 0: never retried.
	OOMRetries int
	// MinFreeMemory, when > 0, is the memory guard: a unit whose engine can
	// report its device's free memory (nn.MemoryReporter: the torch engine
	// on CUDA) waits to start until the device has at least this many
	// bytes free, while the units already running go on. With no unit
	// running it starts anyway, and OOMRetries catches a failure. Units on
	// the CPU are never held.
	MinFreeMemory int64
	// DeviceMemory, when set, replaces the engines' report of a spec's
	// device memory (tests); ok = false means the device cannot report.
	DeviceMemory func(s Spec) (free int64, ok bool, err error)
	// Settle is how long the guard waits after starting a unit before it
	// reads the free memory for the next one, so that the new unit's
	// allocations show (0: no wait).
	Settle time.Duration
}

// deviceMemory is the free memory of s's device as its engine reports it.
func deviceMemory(s Spec) (free int64, ok bool, err error) {
	b, err := nn.GetBackend(s.Backend)
	if err != nil {
		return 0, false, nil // Validate reports it
	}
	r, isReporter := b.(nn.MemoryReporter)
	if !isReporter {
		return 0, false, nil
	}
	free, _, ok, err = r.DeviceMemory(s.Device)
	return free, ok, err
}

// ValidateSweep validates every point of a sweep and lists every bad one,
// named by the keys that set it apart from the other points.
func ValidateSweep(specs []Spec) error {
	var bad []error
	names := SweptSettings(specs)
	for i, s := range specs {
		if _, err := Validate(s); err != nil {
			bad = append(bad, fmt.Errorf("point %d (%s): %w", i, names[i], err))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sweep: %d of %d points are not valid; nothing ran:\n%w", len(bad), len(specs), errors.Join(bad...))
	}
	return nil
}

// RunSweep runs the units of the specs (WorkUnits: one per point and
// replicate), Jobs at a time, sharing one results store (none with
// NoStore). A unit that fails does not stop the others; its error is in
// its point's outcome. Every spec must have the same output folder.
//
// Units that another process is training (a second sweep on the same
// output folder, an earlier array task) are put off: the first pass runs
// everything else, the second waits for each of them and then runs it,
// which skips what the other process finished. So two sweeps on one
// folder share the work and never train a unit twice.
//
// On a device that can run out of memory (a GPU shared by Jobs units), the
// memory guard and the retries of SweepOptions (MinFreeMemory, OOMRetries)
// hold a unit until there is room for it and run one that ran out again
// later, from its checkpoint.
func RunSweep(ctx context.Context, specs []Spec, o SweepOptions) ([]SweepOutcome, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	for _, s := range specs[1:] {
		if s.Output != specs[0].Output {
			return nil, fmt.Errorf("sweep: runs write to %s and %s; a sweep has one output folder", specs[0].Output, s.Output)
		}
	}
	units := WorkUnits(specs)
	if o.Units != nil {
		byID := map[string]WorkUnit{}
		for _, u := range units {
			byID[u.ID()] = u
		}
		units = units[:0:0]
		for _, id := range o.Units {
			u, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("sweep: unit %s is not a unit of this sweep", id)
			}
			units = append(units, u)
		}
	}
	// Only the points that have work are validated: in an array job, a
	// bad point fails its own task, not every task.
	pointOf := map[string][]int{}
	for i, s := range specs {
		pointOf[Hash(s)] = append(pointOf[Hash(s)], i)
	}
	var mine []Spec
	picked := map[string]bool{}
	for _, u := range units {
		if !picked[u.Hash] {
			picked[u.Hash] = true
			mine = append(mine, u.Spec)
		}
	}
	if err := ValidateSweep(mine); err != nil {
		return nil, err
	}
	var store *results.Store
	if !o.NoStore {
		if err := os.MkdirAll(specs[0].Output, 0o755); err != nil {
			return nil, err
		}
		var err error
		if store, err = results.Open(filepath.Join(specs[0].Output, "results.db")); err != nil {
			return nil, err
		}
		defer store.Close()
	}
	noteSeedRepeats(store, units, o.Notify)
	out := make([]SweepOutcome, len(specs))
	for i, s := range specs {
		out[i].Spec = s
	}
	unitsOf := map[string]int{} // per run hash
	for _, u := range units {
		unitsOf[u.Hash]++
	}
	for h, n := range unitsOf {
		for _, i := range pointOf[h] {
			out[i].Units = n
		}
	}
	type unitResult struct {
		res []results.Result
		err error
	}
	done := make([]unitResult, len(units))
	started := make([]bool, len(units))
	var mu sync.Mutex
	fraction := make(map[string]float64, len(units)) // by unit ID
	progress := func(u WorkUnit, f float64) {
		if o.Progress == nil {
			return
		}
		mu.Lock()
		fraction[u.ID()] = f
		var sum float64
		for _, v := range units {
			if v.Hash == u.Hash {
				sum += fraction[v.ID()]
			}
		}
		mu.Unlock()
		for _, i := range pointOf[u.Hash] {
			o.Progress(i, sum/float64(unitsOf[u.Hash]))
		}
	}
	attempts := make([]int, len(units)) // OOM retries taken, per unit
	running, lastStart := 0, time.Time{}
	memory := o.DeviceMemory
	if memory == nil {
		memory = deviceMemory
	}
	// guard holds unit k until its device has MinFreeMemory free (see
	// SweepOptions.MinFreeMemory), then counts it as running. One unit at
	// a time goes through it (startMu), so two units never both take the
	// same free memory.
	var startMu sync.Mutex
	guard := func(k int) {
		startMu.Lock()
		defer startMu.Unlock()
		said := false
		for o.MinFreeMemory > 0 && ctx.Err() == nil {
			mu.Lock()
			settle := o.Settle - time.Since(lastStart)
			busy := running > 0
			mu.Unlock()
			if busy && settle > 0 {
				sleepCtx(ctx, settle)
				continue
			}
			free, ok, err := memory(units[k].Spec)
			if err != nil || !ok || free >= o.MinFreeMemory {
				if err != nil && o.Notify != nil {
					o.Notify(fmt.Sprintf("%s starts without the memory guard: %v", units[k].ID(), err))
				}
				break
			}
			if !busy {
				if o.Notify != nil {
					o.Notify(fmt.Sprintf("%s starts with %s free on its device, below the %s asked for: no other unit is running to wait for", units[k].ID(), formatBytes(free), formatBytes(o.MinFreeMemory)))
				}
				break
			}
			if !said && o.Notify != nil {
				o.Notify(fmt.Sprintf("%s waits for %s free on its device (%s now)", units[k].ID(), formatBytes(o.MinFreeMemory), formatBytes(free)))
				said = true
			}
			sleepCtx(ctx, time.Second)
		}
		mu.Lock()
		running++
		lastStart = time.Now()
		mu.Unlock()
	}
	runUnit := func(k int, wait bool) error {
		u := units[k]
		opts := RunOptions{Store: store, Rerun: o.Rerun, Replicates: []int{u.Replicate}, NoStore: o.NoStore, NoWait: !wait, Notify: o.Notify}
		point := pointOf[u.Hash][0]
		opts.Watch = func(ui UnitInfo) ([]Callback, func()) {
			var cbs []Callback
			finish := func() {}
			if o.Watch != nil {
				cbs, finish = o.Watch(point, ui)
			}
			track := func(e *train.Event) error {
				if e.Phase == train.AfterStep {
					progress(u, float64(e.Iter)/float64(e.Total))
				}
				return nil
			}
			return append(cbs, track), finish
		}
		mu.Lock()
		started[k] = true
		mu.Unlock()
		res, err := RunSpec(ctx, u.Spec, opts)
		var he *unitlock.HeldError
		switch {
		case err == nil:
			progress(u, 1) // a unit that failed or was interrupted is not done
		case errors.As(err, &he) || ctx.Err() != nil && errors.Is(err, ctx.Err()):
		case errors.Is(err, nn.ErrOutOfMemory) && attempts[k] < o.OOMRetries:
			// Retried by a later pass (RunSweep's loop below): not a
			// failure yet.
		default:
			// Also what fails before the replicate runs (a pipeline's
			// Precheck), for status to name it.
			if werr := os.MkdirAll(u.Dir(), 0o755); werr == nil {
				writeFailure(u.Dir(), err)
			}
		}
		mu.Lock()
		done[k] = unitResult{res, err}
		mu.Unlock()
		return err
	}
	// pass runs the units todo, jobs at a time, and returns those another
	// process held (when not waiting for them) and those to retry after
	// running out of device memory.
	pass := func(todo []int, wait bool, jobs int) (held, oom []int) {
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < min(max(1, jobs), len(todo)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range next {
					if ctx.Err() != nil {
						continue // interrupted: the unit is not started
					}
					guard(k)
					err := runUnit(k, wait)
					mu.Lock()
					running--
					var he *unitlock.HeldError
					switch {
					case errors.As(err, &he) && !wait:
						held = append(held, k)
						started[k] = false
					case errors.Is(err, nn.ErrOutOfMemory) && attempts[k] < o.OOMRetries:
						attempts[k]++
						oom = append(oom, k)
						if o.Notify != nil {
							o.Notify(fmt.Sprintf("%s ran out of device memory; it will run again later (retry %d of %d)", units[k].ID(), attempts[k], o.OOMRetries))
						}
					}
					mu.Unlock()
				}
			}()
		}
		for _, k := range todo {
			if ctx.Err() != nil {
				break
			}
			next <- k
		}
		close(next)
		wg.Wait()
		slices.Sort(held)
		slices.Sort(oom)
		return held, oom
	}
	all := make([]int, len(units))
	for k := range all {
		all[k] = k
	}
	jobs := o.Jobs
	held, oom := pass(all, false, jobs)
	if len(held) > 0 && ctx.Err() == nil {
		_, more := pass(held, true, jobs)
		oom = append(oom, more...)
	}
	for len(oom) > 0 && ctx.Err() == nil {
		jobs = max(1, jobs/2)
		_, oom = pass(oom, true, jobs)
	}
	for k, u := range units {
		for _, i := range pointOf[u.Hash] {
			oc := &out[i]
			oc.Started = oc.Started || started[k]
			oc.Results = append(oc.Results, done[k].res...)
			switch {
			case !started[k] && oc.Err == nil:
				oc.Err = ctx.Err() // never reached before an interrupt
			case done[k].err != nil && (oc.Err == nil || oc.Err == ctx.Err()):
				oc.Err = fmt.Errorf("replicate %d: %w", u.Replicate, done[k].err)
			}
		}
	}
	return out, nil
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// formatBytes writes a byte count in binary units, e.g. "1.5 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
