package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// oomOnce is a Watch whose callback fails each replicate's first attempt
// at iteration 2 with an error wrapping nn.ErrOutOfMemory, as the torch
// engine's does when CUDA runs out of memory: the sweep's real retry path,
// on the CPU.
func oomOnce() (watch func(int, UnitInfo) ([]Callback, func()), starts func(rep int) []int) {
	var mu sync.Mutex
	failed := map[int]bool{}
	started := map[int][]int{} // per replicate, the iteration each attempt started at
	watch = func(_ int, u UnitInfo) ([]Callback, func()) {
		first := true
		return []Callback{func(e *train.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if first && e.Phase == train.AfterGradients {
				first = false
				started[u.Replicate] = append(started[u.Replicate], e.Iter)
			}
			if e.Phase == train.AfterEval && e.Iter >= 2 && !failed[u.Replicate] {
				failed[u.Replicate] = true
				return fmt.Errorf("torch: conv2d: CUDA out of memory (a test): %w", nn.ErrOutOfMemory)
			}
			return nil
		}}, func() {}
	}
	return watch, func(rep int) []int {
		mu.Lock()
		defer mu.Unlock()
		return started[rep]
	}
}

// TestSweepRetriesOutOfMemory checks that a unit that ran out of device
// memory runs again later from its checkpoint and is not a failure, and
// that it is one when the retries are spent.
func TestSweepRetriesOutOfMemory(t *testing.T) {
	s := tinySpec()
	s.Output = t.TempDir()
	s.Replicates = 2
	s.Training.EvalEvery = "2it"
	watch, starts := oomOnce()
	var notes []string
	var mu sync.Mutex
	note := func(m string) { mu.Lock(); notes = append(notes, m); mu.Unlock() }
	outs, err := RunSweep(context.Background(), []Spec{s}, SweepOptions{Jobs: 2, OOMRetries: 1, Watch: watch, Notify: note})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || len(outs[0].Results) != 2 {
		t.Fatalf("error %v, %d results; want both replicates done after one retry", outs[0].Err, len(outs[0].Results))
	}
	for r := range 2 {
		if got := starts(r); len(got) != 2 || got[0] != 0 || got[1] != 2 {
			t.Errorf("replicate %d started at iterations %v, want [0 2]: again from its checkpoint", r, got)
		}
		u := WorkUnit{Hash: Hash(s), Replicate: r, Spec: s}
		if _, err := os.Stat(filepath.Join(u.Dir(), "failed.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("replicate %d has a failure record after a successful retry (%v)", r, err)
		}
	}
	if n := strings.Count(strings.Join(notes, "\n"), "ran out of device memory"); n != 2 {
		t.Errorf("%d out-of-memory notes, want 2: %q", n, notes)
	}

	s.Output = t.TempDir()
	watch, _ = oomOnce()
	outs, err = RunSweep(context.Background(), []Spec{s}, SweepOptions{Jobs: 2, Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(outs[0].Err, nn.ErrOutOfMemory) {
		t.Errorf("without retries: error %v, want one wrapping nn.ErrOutOfMemory", outs[0].Err)
	}
	u := WorkUnit{Hash: Hash(s), Replicate: 0, Spec: s}
	if _, err := os.Stat(filepath.Join(u.Dir(), "failed.yaml")); err != nil {
		t.Errorf("without retries the unit has no failure record: %v", err)
	}
}

// TestSweepMemoryGuard checks the memory guard with a device that reports
// less free memory than asked for while a unit runs: the second unit waits
// until the first has finished (then starts, since nothing runs that it
// could wait for), and a device that cannot report (the CPU) holds nothing.
func TestSweepMemoryGuard(t *testing.T) {
	s := tinySpec()
	s.Output = t.TempDir()
	s.Replicates = 2
	var mu sync.Mutex
	var events []string
	watch := func(_ int, u UnitInfo) ([]Callback, func()) {
		mu.Lock()
		events = append(events, fmt.Sprintf("start %d", u.Replicate))
		mu.Unlock()
		return nil, func() {
			mu.Lock()
			events = append(events, fmt.Sprintf("end %d", u.Replicate))
			mu.Unlock()
		}
	}
	full := func(Spec) (int64, bool, error) { return 10 << 20, true, nil } // 10 MiB free
	var notes []string
	note := func(m string) { mu.Lock(); notes = append(notes, m); mu.Unlock() }
	outs, err := RunSweep(context.Background(), []Spec{s}, SweepOptions{Jobs: 2, MinFreeMemory: 1 << 30, DeviceMemory: full, Watch: watch, Notify: note})
	if err != nil || outs[0].Err != nil {
		t.Fatal(err, outs[0].Err)
	}
	if got := strings.Join(events, ", "); !strings.HasPrefix(got, "start ") || strings.Count(got, "start") != 2 || !strings.Contains(got, "end 0, start 1") && !strings.Contains(got, "end 1, start 0") {
		t.Errorf("events %s: want the second unit to start after the first ended", got)
	}
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "waits for 1.0 GiB free on its device (10.0 MiB now)") || !strings.Contains(joined, "no other unit is running") {
		t.Errorf("notes %q: want a wait and a start without other units", notes)
	}

	s.Output = t.TempDir()
	events, notes = nil, nil
	cpu := func(Spec) (int64, bool, error) { return 0, false, nil }
	if _, err := RunSweep(context.Background(), []Spec{s}, SweepOptions{Jobs: 2, MinFreeMemory: 1 << 30, DeviceMemory: cpu, Watch: watch, Notify: note}); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 || !strings.HasPrefix(strings.Join(events, ", "), "start 0, start 1") && !strings.HasPrefix(strings.Join(events, ", "), "start 1, start 0") {
		t.Errorf("a device without a report: events %v, notes %q; want both units started at once and no notes", events, notes)
	}
}
