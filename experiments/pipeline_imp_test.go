package experiments

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

func impSpec(t *testing.T, rewind string) Spec {
	s := tinySpec()
	s.Pipeline = "imp"
	s.Prune.IMPRate = f(0.5)
	s.Prune.IMPRounds = n(2)
	s.Prune.Rewind = rewind
	s.Output = t.TempDir()
	return s
}

// TestIMPLevels runs dense + 2 levels at 50% per round (global) with each
// reset mode: densities are exactly 1, 312/624 and 156/624, masks only
// shrink, pruned weights stay zero, and every level is stored.
func TestIMPLevels(t *testing.T) {
	for _, rewind := range []string{"init", "rewind:5it", "lr_rewind:5it"} {
		t.Run(rewind, func(t *testing.T) {
			s := impSpec(t, rewind)
			rs, err := RunSpec(context.Background(), s, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 {
				t.Fatalf("%d results, want 3 levels", len(rs))
			}
			// mlp 36-16-3 has 624 prunable weights and 19 biases.
			for l, want := range []float64{1, 312.0 / 624, 156.0 / 624} {
				if rs[l].Level != l || rs[l].Density != want {
					t.Errorf("level %d: density %v, want %v", rs[l].Level, rs[l].Density, want)
				}
				if kept := int64(want*624) + 19; rs[l].ParamsNonzero > kept {
					t.Errorf("level %d: %d nonzero parameters, at most %d kept", l, rs[l].ParamsNonzero, kept)
				}
			}
			if rs[0].Method != "dense" || rs[1].Method != "imp" {
				t.Errorf("methods %s, %s", rs[0].Method, rs[1].Method)
			}
			root := filepath.Join(s.Output, Hash(s), "replicate_0")
			m1, err := prune.LoadMasks(filepath.Join(root, "level_1", masksFile))
			if err != nil {
				t.Fatal(err)
			}
			m2, err := prune.LoadMasks(filepath.Join(root, "level_2", masksFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := m2.Within(m1); err != nil {
				t.Errorf("level 2's mask is not inside level 1's: %v", err)
			}
			// Running again finds every level finished.
			again, err := RunSpec(context.Background(), s, RunOptions{})
			if err != nil || again[2].Finished != rs[2].Finished {
				t.Errorf("rerun retrained a finished level (err %v)", err)
			}
		})
	}
}

func TestIMPValidate(t *testing.T) {
	cases := []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Prune.IMPRounds = nil }, "prune.imp_rounds"},
		{func(s *Spec) { s.Prune.IMPRate = f(1) }, "prune.imp_rate"},
		{func(s *Spec) { s.Prune.Rewind = "rewind" }, "rewind:STEP"},
		{func(s *Spec) { s.Prune.Rewind = "rewind:5" }, "prune.rewind"},
		{func(s *Spec) { s.Prune.Rewind = "finetune" }, "not implemented"},
		{func(s *Spec) { s.Training.Steps = "20it"; s.Prune.Rewind = "rewind:30it" }, "past the training budget"},
		{func(s *Spec) { s.Prune.OutputRate = f(1.5) }, "prune.output_rate"},
		{func(s *Spec) { s.Prune.Criterion = "snip" }, "magnitude"},
	}
	for _, c := range cases {
		s := impSpec(t, "init")
		c.edit(&s)
		if _, err := Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// TestIMPRewindStart checks where each level starts: rewind:5it and
// lr_rewind:5it train levels ≥ 1 from iteration 5, init from 0; with init the
// first forward of level 1 sees θ0 ⊙ m.
func TestIMPRewindStart(t *testing.T) {
	for _, c := range []struct {
		rewind string
		start  int
	}{{"init", 0}, {"rewind:5it", 5}, {"lr_rewind:5it", 5}} {
		s := impSpec(t, c.rewind)
		s.Prune.IMPRounds = n(1)
		first := map[int]int{}
		var theta0Match bool
		watch := func(u UnitInfo) ([]Callback, func()) {
			return []Callback{func(e *nn.Event) error {
				if _, seen := first[u.Level]; !seen && e.Phase == nn.AfterGradients {
					first[u.Level] = e.Iter
					if u.Level == 1 && c.rewind == "init" {
						p0, err := Prepare(s)
						if err != nil {
							return err
						}
						w0 := p0.Net.Param("fc1.weight").Values()
						w := e.Net.Param("fc1.weight").Values()
						theta0Match = true
						for i := range w {
							if w[i] != 0 && w[i] != w0[i] {
								theta0Match = false
							}
						}
					}
				}
				return nil
			}}, func() {}
		}
		if _, err := RunSpec(context.Background(), s, RunOptions{Watch: watch}); err != nil {
			t.Fatal(err)
		}
		if first[0] != 0 || first[1] != c.start {
			t.Errorf("%s: levels start at %v, want level 1 at %d", c.rewind, first, c.start)
		}
		if c.rewind == "init" && !theta0Match {
			t.Error("init: level 1 did not start from θ0 ⊙ m")
		}
	}
}
