package experiments

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
)

// notes collects what a run or sweep notifies about repeated seeds.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) notify(msg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if strings.Contains(msg, "already has from another run") {
		n.got = append(n.got, msg)
	}
}

func (n *notes) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	got := n.got
	n.got = nil
	return got
}

func TestSeedRepeats(t *testing.T) {
	out := t.TempDir()
	one := tinySpec()
	one.Output = out
	if _, err := RunSpec(context.Background(), one, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := results.Open(filepath.Join(out, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h1 := Hash(one)
	three := one
	three.Replicates = 3
	later := one
	later.Seed, later.Replicates = 1, 2
	other := three
	other.Training.LR = 0.02 // another experiment
	cases := []struct {
		name string
		spec Spec
		want []SeedRepeat // Unit filled in below from the spec
	}{
		{"replicates raised", three, []SeedRepeat{{Seed: 0, Run: h1, Replicate: 0}}},
		{"new seeds", later, nil},
		{"the finished run itself", one, nil},
		{"another experiment", other, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			units := WorkUnits([]Spec{c.spec})
			got, err := SeedRepeats(st, units)
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.want {
				c.want[i].Unit = units[0]
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("repeats %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestSeedRepeatNotes runs the case the note is for: a finished one-seed
// run, then the same spec with replicates raised, by run and by sweep.
func TestSeedRepeatNotes(t *testing.T) {
	ctx := context.Background()
	var n notes
	one := tinySpec()
	one.Output = t.TempDir()
	if _, err := RunSpec(ctx, one, RunOptions{Notify: n.notify}); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); len(got) != 0 {
		t.Fatalf("first run noted %q", got)
	}
	two := one
	two.Replicates = 2
	if _, err := RunSpec(ctx, two, RunOptions{Notify: n.notify}); err != nil {
		t.Fatal(err)
	}
	got := n.take()
	want := []string{"1 unit trains a seed", Hash(two) + "/replicate_0: seed 0, finished as " + Hash(one) + "/replicate_0", "--set seed=S"}
	if len(got) != 1 {
		t.Fatalf("run with replicates 2 noted %q, want one note", got)
	}
	for _, w := range want {
		if !strings.Contains(got[0], w) {
			t.Errorf("note %q lacks %q", got[0], w)
		}
	}
	if strings.Contains(got[0], "replicate_1:") {
		t.Errorf("note %q names replicate 1, whose seed 1 is new", got[0])
	}
	// Finished now: nothing trains, so nothing repeats.
	if _, err := RunSweep(ctx, []Spec{two}, SweepOptions{Notify: n.notify}); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); len(got) != 0 {
		t.Errorf("sweep over the finished run noted %q", got)
	}
	// A sweep says it once for all its units, not once per unit.
	three := one
	three.Replicates = 3
	if _, err := RunSweep(ctx, []Spec{three}, SweepOptions{Notify: n.notify}); err != nil {
		t.Fatal(err)
	}
	got = n.take()
	if len(got) != 1 {
		t.Fatalf("sweep with replicates 3 noted %q, want one note", got)
	}
	h3 := Hash(three)
	for _, w := range []string{"2 units train seeds", h3 + "/replicate_0: seed 0", h3 + "/replicate_1: seed 1, finished as " + Hash(two) + "/replicate_1"} {
		if !strings.Contains(got[0], w) {
			t.Errorf("note %q lacks %q", got[0], w)
		}
	}
}

func TestSeedRepeatNoteTruncates(t *testing.T) {
	var reps []SeedRepeat
	for r := range 5 {
		reps = append(reps, SeedRepeat{Unit: WorkUnit{Hash: "aaaaaaaaaaaa", Replicate: r}, Seed: uint64(r), Run: "bbbbbbbbbbbb", Replicate: r})
	}
	msg := seedRepeatNote(reps)
	for _, w := range []string{"5 units", "aaaaaaaaaaaa/replicate_2: seed 2", "and 2 more"} {
		if !strings.Contains(msg, w) {
			t.Errorf("note %q lacks %q", msg, w)
		}
	}
	if strings.Contains(msg, "replicate_3:") {
		t.Errorf("note %q lists a fourth unit", msg)
	}
}
