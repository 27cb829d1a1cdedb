package experiments

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

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

// LoadSweep reads a spec file and expands its sweep block (a file without one
// is a sweep of one run). Runs whose expanded specs are identical (same hash)
// are kept once.
func LoadSweep(path string, overrides []string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return ParseSweep(path, data, overrides)
}

// ParseSweep is LoadSweep on bytes.
func ParseSweep(name string, data []byte, overrides []string) ([]Spec, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("spec %s: not valid YAML: %w", name, err)
	}
	block, hasSweep := doc["sweep"]
	mode := "product"
	if m, ok := doc["sweep_mode"]; ok {
		s, isStr := m.(string)
		if !isStr || (s != "product" && s != "zip") {
			return nil, fmt.Errorf("spec %s: sweep_mode = %v: want product or zip", name, m)
		}
		mode = s
	}
	delete(doc, "sweep")
	delete(doc, "sweep_mode")
	rest, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if len(doc) == 0 {
		rest = nil
	}
	if !hasSweep {
		s, err := ParseSpec(name, rest, overrides)
		if err != nil {
			return nil, err
		}
		return []Spec{s}, nil
	}
	axes, err := sweepAxes(name, block)
	if err != nil {
		return nil, err
	}
	combos, err := combine(name, axes, mode)
	if err != nil {
		return nil, err
	}
	var specs []Spec
	seen := map[string]bool{}
	for _, c := range combos {
		s, err := ParseSpec(name, rest, append(append([]string(nil), overrides...), c...))
		if err != nil {
			return nil, fmt.Errorf("sweep point %v: %w", c, err)
		}
		if h := Hash(s); !seen[h] {
			seen[h] = true
			specs = append(specs, s)
		}
	}
	return specs, nil
}

// axis is one swept key; a value that is YAML null (unset[i]) leaves the
// key at the file's value or the default at that point, so that a zip sweep
// can mix, say, a dense run (no prune.sparsity) with pruned ones.
// FilterSweep keeps the runs of a sweep whose spec key equals a value for
// every "key=value" of where (keys as in --set; numbers compare by value,
// so prune.density=0.10 matches 0.1; an unset pointer matches "null").
// It lets a command run one part of a paper's sweep, e.g. --where
// model.name=lenet-300-100.
func FilterSweep(specs []Spec, where []string) ([]Spec, error) {
	keys := specKeys(reflect.TypeOf(Spec{}), "")
	type cond struct{ key, value string }
	var conds []cond
	for _, w := range where {
		k, v, ok := strings.Cut(w, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("--where %q: want key=value, e.g. model.name=lenet5", w)
		}
		if !contains(keys, k) {
			return nil, unknownKey("--where", k, keys)
		}
		conds = append(conds, cond{k, strings.TrimSpace(v)})
	}
	var out []Spec
	for _, s := range specs {
		keep := true
		for _, c := range conds {
			keep = keep && specValueIs(fieldByKey(reflect.ValueOf(s), c.key), c.value)
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
	keys := specKeys(reflect.TypeOf(Spec{}), "")
	var axes []axis
	for k, v := range flat {
		if !contains(keys, k) || k == "output" {
			if k == "output" {
				return nil, fmt.Errorf("spec %s: sweep.output: a sweep writes to one output folder", name)
			}
			return nil, unknownKey("spec "+name+" sweep", k, keys)
		}
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("spec %s: sweep.%s = %v: want a non-empty list of values", name, k, v)
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

// SweepOutcome is what one run of a sweep produced.
type SweepOutcome struct {
	Spec    Spec
	Results []Result
	Err     error
}

// SweepOptions are RunSweep's knobs.
type SweepOptions struct {
	// Jobs is how many runs train at once (each on one goroutine).
	Jobs int
	// Progress, when set, is called with the index of a run and its
	// completed fraction in [0, 1] as it trains.
	Progress func(run int, fraction float64)
	// Rerun is RunOptions.Rerun for every run.
	Rerun bool
}

// RunSweep runs the specs Jobs at a time, sharing one results store. A run
// that fails does not stop the others; its error is in its outcome. Every
// spec must have the same output folder.
func RunSweep(ctx context.Context, specs []Spec, o SweepOptions) ([]SweepOutcome, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	for _, s := range specs[1:] {
		if s.Output != specs[0].Output {
			return nil, fmt.Errorf("sweep: runs write to %s and %s; a sweep has one output folder", specs[0].Output, s.Output)
		}
	}
	for i, s := range specs {
		if _, err := Validate(s); err != nil {
			return nil, fmt.Errorf("sweep run %d (%v): %w", i, Canonical(s), err)
		}
	}
	if err := os.MkdirAll(specs[0].Output, 0o755); err != nil {
		return nil, err
	}
	store, err := OpenStore(specs[0].Output + "/results.db")
	if err != nil {
		return nil, err
	}
	defer store.Close()
	jobs := max(1, o.Jobs)
	out := make([]SweepOutcome, len(specs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = runOne(ctx, i, specs[i], store, o)
			}
		}()
	}
	for i := range specs {
		if ctx.Err() != nil {
			out[i] = SweepOutcome{Spec: specs[i], Err: ctx.Err()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out, nil
}

func runOne(ctx context.Context, i int, s Spec, store *Store, so SweepOptions) SweepOutcome {
	opts := RunOptions{Store: store, Rerun: so.Rerun}
	progress := so.Progress
	if progress != nil {
		// Progress counts replicates; a replicate's units share its slice.
		opts.Watch = func(u UnitInfo) ([]Callback, func()) {
			cb := func(e *train.Event) error {
				if e.Phase == train.AfterStep {
					progress(i, (float64(u.Replicate)+float64(e.Iter)/float64(e.Total))/float64(u.Replicates))
				}
				return nil
			}
			return []Callback{cb}, func() {}
		}
		defer progress(i, 1)
	}
	res, err := RunSpec(ctx, s, opts)
	return SweepOutcome{Spec: s, Results: res, Err: err}
}
