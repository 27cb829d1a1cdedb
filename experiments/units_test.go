package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prunebench/prunebench/internal/unitlock"
	"github.com/prunebench/prunebench/nn/train"
)

// tinySweep is two points of tinySpec (two learning rates) of two
// replicates each, writing to a fresh folder.
func tinySweep(t *testing.T) []Spec {
	t.Helper()
	out := t.TempDir()
	var specs []Spec
	for _, lr := range []float64{0.01, 0.02} {
		s := tinySpec()
		s.Training.LR = lr
		s.Replicates = 2
		s.Output = out
		specs = append(specs, s)
	}
	return specs
}

// Units come in the order of run hash, then replicate, whatever the order
// of the points; a point repeated is one run.
func TestWorkUnitsOrder(t *testing.T) {
	specs := tinySweep(t)
	a := WorkUnits(specs)
	b := WorkUnits([]Spec{specs[1], specs[0], specs[1]})
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("%d and %d units, want 4", len(a), len(b))
	}
	for k := range a {
		if a[k].ID() != b[k].ID() {
			t.Errorf("unit %d: %s against %s", k, a[k].ID(), b[k].ID())
		}
		if k > 0 && a[k-1].ID() >= a[k].ID() {
			t.Errorf("units out of order: %s before %s", a[k-1].ID(), a[k].ID())
		}
	}
	if want := filepath.Join(specs[0].Output, a[0].Hash, "replicate_0"); a[0].Dir() != want {
		t.Errorf("Dir() = %s, want %s", a[0].Dir(), want)
	}
}

// Shard deals units round robin: unit i goes to task i mod N.
func TestShard(t *testing.T) {
	var units []WorkUnit
	for i := range 7 {
		units = append(units, WorkUnit{Hash: fmt.Sprintf("h%d", i)})
	}
	for _, c := range []struct {
		task, tasks int
		want        string
	}{
		{0, 3, "h0 h3 h6"}, {1, 3, "h1 h4"}, {2, 3, "h2 h5"}, {0, 1, "h0 h1 h2 h3 h4 h5 h6"}, {8, 9, ""},
	} {
		got, err := Shard(units, c.task, c.tasks)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Hash)
		}
		if strings.Join(names, " ") != c.want {
			t.Errorf("task %d of %d: %q, want %q", c.task, c.tasks, names, c.want)
		}
	}
	for _, bad := range [][2]int{{3, 3}, {-1, 3}, {0, 0}} {
		if _, err := Shard(units, bad[0], bad[1]); err == nil {
			t.Errorf("task %d of %d: no error", bad[0], bad[1])
		}
	}
}

// A unit's status follows its folder: not started, partial with its
// checkpoint's iteration, running while a live process holds its lock,
// failed with the reason, done.
func TestReadUnitStatus(t *testing.T) {
	specs := tinySweep(t)
	u := WorkUnits(specs[:1])[0]
	if st := ReadUnitStatus(u); st.State != NotStarted {
		t.Errorf("fresh unit: %v", st)
	}
	// Interrupt it after its first checkpoints.
	ctx, cancel := context.WithCancel(context.Background())
	var iters atomic.Int32
	watch := func(UnitInfo) ([]Callback, func()) {
		return []Callback{func(e *train.Event) error {
			if e.Phase == train.AfterEval && iters.Add(1) == 2 {
				cancel()
			}
			return nil
		}}, func() {}
	}
	if _, err := RunSpec(ctx, u.Spec, RunOptions{Replicates: []int{0}, Watch: watch}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	st := ReadUnitStatus(u)
	if st.State != Partial || st.Checkpoint != "level_0" || st.CheckpointIter <= 0 || !strings.Contains(st.String(), "level_0 at iteration") {
		t.Errorf("interrupted unit: %+v (%s)", st, st)
	}
	if _, err := os.Stat(filepath.Join(u.Dir(), failedFile)); !os.IsNotExist(err) {
		t.Errorf("an interrupt was recorded as a failure (%v)", err)
	}
	// Held by a live process: running.
	lock, err := unitlock.Acquire(filepath.Join(u.Dir(), lockFile), unitlock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := ReadUnitStatus(u); st.State != Running || st.Holder.PID != os.Getpid() {
		t.Errorf("locked unit: %+v", st)
	}
	lock.Release()
	// A failure is recorded with its reason, and cleared by the next run.
	if err := writeFailure(u.Dir(), errors.New("level 0: data set went away")); err != nil {
		t.Fatal(err)
	}
	if st := ReadUnitStatus(u); st.State != Failed || st.Failure.Error != "level 0: data set went away" || st.Failure.Host == "" {
		t.Errorf("failed unit: %+v", st)
	}
	if _, err := RunSpec(context.Background(), u.Spec, RunOptions{Replicates: []int{0}}); err != nil {
		t.Fatal(err)
	}
	st = ReadUnitStatus(u)
	if st.State != Finished || st.Levels != 1 || st.String() != "done (1 level)" {
		t.Errorf("finished unit: %+v (%s)", st, st)
	}
	if _, err := os.Stat(filepath.Join(u.Dir(), failedFile)); !os.IsNotExist(err) {
		t.Errorf("failed.yaml survived a successful run (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(u.Dir(), lockFile)); !os.IsNotExist(err) {
		t.Errorf("the lock survived the run (%v)", err)
	}
}

// Two sweeps on one output folder at once share the work: every unit is
// trained once, both end with every result, and the store holds each unit
// once.
func TestTwoSweepsShareTheWork(t *testing.T) {
	defer func(d time.Duration) { lockPoll = d }(lockPoll)
	lockPoll = 20 * time.Millisecond
	specs := tinySweep(t)
	var mu sync.Mutex
	trained := map[string]int{}
	sweep := func() ([]SweepOutcome, error) {
		return RunSweep(context.Background(), specs, SweepOptions{Jobs: 1, Watch: func(point int, u UnitInfo) ([]Callback, func()) {
			mu.Lock()
			trained[fmt.Sprintf("%d/%d/%d", point, u.Replicate, u.Level)]++
			mu.Unlock()
			return nil, func() {}
		}})
	}
	var wg sync.WaitGroup
	outs := make([][]SweepOutcome, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i], errs[i] = sweep() }()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for p, o := range outs[i] {
			if o.Err != nil || len(o.Results) != 2 {
				t.Errorf("sweep %d point %d: %d results, %v", i, p, len(o.Results), o.Err)
			}
		}
	}
	if len(trained) != 4 {
		t.Errorf("trained %v, want the 4 units", trained)
	}
	for k, n := range trained {
		if n != 1 {
			t.Errorf("unit %s trained %d times", k, n)
		}
	}
	if slices.ContainsFunc(outs[0], func(o SweepOutcome) bool { return o.Units != 2 }) {
		t.Errorf("Units: %+v", outs[0])
	}
}

// A sweep of some units runs only those, and a unit that is not one of the
// sweep's is refused by name.
func TestRunSweepUnits(t *testing.T) {
	specs := tinySweep(t)
	units := WorkUnits(specs)
	outs, err := RunSweep(context.Background(), specs, SweepOptions{Units: []string{units[1].ID()}})
	if err != nil {
		t.Fatal(err)
	}
	var ran int
	for _, o := range outs {
		ran += len(o.Results)
	}
	if ran != 1 {
		t.Errorf("%d results, want the one unit's", ran)
	}
	if st := ReadUnitStatus(units[1]); st.State != Finished {
		t.Errorf("the unit asked for: %v", st)
	}
	if st := ReadUnitStatus(units[0]); st.State != NotStarted {
		t.Errorf("a unit not asked for: %v", st)
	}
	if _, err := RunSweep(context.Background(), specs, SweepOptions{Units: []string{"abc/replicate_9"}}); err == nil || !strings.Contains(err.Error(), "abc/replicate_9") {
		t.Errorf("a foreign unit: %v", err)
	}
}

// Status counts the units of every point of a sweep's manifest, started or
// not, and of runs outside any sweep.
func TestStatus(t *testing.T) {
	specs := tinySweep(t)
	out := specs[0].Output
	m, err := WriteSweepManifest("tiny.yaml", specs)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash != SweepHash([]Spec{specs[1], specs[0]}) || len(m.Points) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	units := WorkUnits(specs)
	if _, err := RunSweep(context.Background(), specs, SweepOptions{Units: []string{units[0].ID()}}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(units[3].Dir(), 0o755)
	if err := writeFailure(units[3].Dir(), errors.New("went wrong")); err != nil {
		t.Fatal(err)
	}
	alone := tinySpec()
	alone.Output = out
	alone.Training.LR = 0.05
	if _, err := RunSpec(context.Background(), alone, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	ps, err := Status(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Sweep != m.Hash || ps[2].Sweep != "" || ps[2].Point.Run != Hash(alone) {
		t.Fatalf("points %+v", ps)
	}
	var done, failed, notStarted int
	for _, p := range ps[:2] {
		done += p.Count(Finished)
		failed += p.Count(Failed)
		notStarted += p.Count(NotStarted)
	}
	if done != 1 || failed != 1 || notStarted != 2 || ps[2].Count(Finished) != 1 {
		t.Errorf("done %d, failed %d, not started %d, lone run %d done; want 1, 1, 2, 1", done, failed, notStarted, ps[2].Count(Finished))
	}
}
