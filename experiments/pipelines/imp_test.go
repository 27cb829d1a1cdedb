package pipelines

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func impSpec(t *testing.T, rewind string) experiments.Spec {
	s := tinySpec(t, "imp")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.IMPRate = f(0.5)
		c.Prune.IMPRounds = n(2)
		c.Prune.Rewind = rewind
	})
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
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
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
			root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0")
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
			again, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil || again[2].Finished != rs[2].Finished {
				t.Errorf("rerun retrained a finished level (err %v)", err)
			}
		})
	}
}

func TestIMPValidate(t *testing.T) {
	cases := []struct {
		edit func(*experiments.Spec)
		want string
	}{
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.IMPRounds = nil }) }, "prune.imp_rounds"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.IMPRate = f(1) }) }, "prune.imp_rate"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "rewind" }) }, "rewind:STEP"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "rewind:5" }) }, "prune.rewind"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "finetune:5" }) }, "prune.rewind"},
		{func(s *experiments.Spec) {
			s.Training.Steps = "20it"
			edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "finetune:20it" })
		}, "past the training budget"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds = nil, nil })
		}, "one-shot"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *impPipeline) {
				c.Prune.IMPRate, c.Prune.IMPRounds, c.Prune.Density = nil, nil, f(0.2)
				c.Prune.OutputRate = f(0.1)
			})
		}, "per-round rate"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.Branches = []string{"reinit"} }) }, "prune.branches[0]"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *impPipeline) { c.Prune.Branches = []string{"scratch_e", "scratch_e"} })
		}, "twice"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.MaxBudgetFactor = f(2) }) }, "scratch_b"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *impPipeline) { c.Prune.Branches = []string{"scratch_b"}; c.Prune.MaxBudgetFactor = f(0.5) })
		}, "≥ 1"},
		{func(s *experiments.Spec) {
			s.Training.Steps = "20it"
			edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "rewind:30it" })
		}, "past the training budget"},
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.OutputRate = f(1.5) }) }, "prune.output_rate"},
		// Keys of other pipelines (pai's) are refused, by name.
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=snip") }, "does not read prune.criterion"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.iterations=10") }, "prune.iterations"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.allow_empty=true") }, "prune.allow_empty"},
	}
	for _, c := range cases {
		s := impSpec(t, "init")
		c.edit(&s)
		if _, err := experiments.Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
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
		edit(t, &s, func(c *impPipeline) {
			c.Prune.IMPRounds = n(1)
		})
		first := map[int]int{}
		var theta0Match bool
		watch := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
			return []experiments.Callback{func(e *train.Event) error {
				if _, seen := first[u.Level]; !seen && e.Phase == train.AfterGradients {
					first[u.Level] = e.Iter
					if u.Level == 1 && c.rewind == "init" {
						p0, err := experiments.Prepare(s)
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
		if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch}); err != nil {
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

// TestIMPPrecheck: errors that need the model or the epoch length come
// before level 0 trains (no level folder is written).
func TestIMPPrecheck(t *testing.T) {
	cases := []struct {
		edit func(*experiments.Spec)
		want string
	}{
		// fc2 (16×3 = 48 weights) at 0.5 per round keeps 24, 12, 6, 3, then
		// removes round(1.5) = 2 (halves away from zero): 1, then 0.
		{func(s *experiments.Spec) {
			edit(t, s, func(c *impPipeline) { c.Prune.Scope = "layerwise"; c.Prune.IMPRounds = n(7) })
		}, "fc2.weight (48 weights) has no weights left after round 6"},
		// 3 epochs of (96 − 24 validation)/12 = 6 iterations: 18 in all.
		{func(s *experiments.Spec) { edit(t, s, func(c *impPipeline) { c.Prune.Rewind = "rewind:3ep" }) }, "past the training budget"},
	}
	for _, c := range cases {
		s := impSpec(t, "init")
		c.edit(&s)
		_, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
		if _, statErr := os.Stat(filepath.Join(s.Output, experiments.Hash(s))); statErr == nil {
			t.Errorf("%q: the run folder exists after the error (checks come before anything is made)", c.want)
		}
	}
	// Five layer-wise rounds leave fc2 one weight: allowed.
	s := impSpec(t, "init")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.Scope, c.Prune.IMPRounds = "layerwise", n(5)
	})
	s.Training.Steps = "2it"
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err != nil {
		t.Errorf("five rounds: %v", err)
	}
}

// TestIMPOneShot: a density instead of imp_rate/imp_rounds prunes level 0's
// final weights once, to exactly that density, and the mask is the
// layer-wise top-k of |θT| (docs/methods/imp.md#one-shot).
func TestIMPOneShot(t *testing.T) {
	s := impSpec(t, "init")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.IMPRate, c.Prune.IMPRounds = nil, nil
		c.Prune.Density, c.Prune.Scope = f(0.25), "layerwise"
	})
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].Density != 156.0/624 {
		t.Fatalf("%d results, level 1 density %v; want 2 results and 156/624", len(rs), rs[len(rs)-1].Density)
	}
	if rs[1].Method != "oneshot" {
		t.Errorf("one-shot level method %q, want oneshot (apart from iterative imp on a board)", rs[1].Method)
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0")
	final, err := finalWeights(replicateOf(s, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := prune.LoadMasks(filepath.Join(root, "level_1", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range got.Names {
		w, m := final[name], got.M[name]
		kept := got.KeptOf(name)
		if kept != len(w)/4 {
			t.Errorf("%s keeps %d of %d", name, kept, len(w))
		}
		// Every kept |w| is at least every pruned |w|.
		minKept, maxPruned := float32(math.Inf(1)), float32(0)
		for i, v := range w {
			a := float32(math.Abs(float64(v)))
			if m[i] == 1 {
				minKept = min(minKept, a)
			} else {
				maxPruned = max(maxPruned, a)
			}
		}
		if minKept < maxPruned {
			t.Errorf("%s: a pruned weight |%v| is larger than a kept one |%v|", name, maxPruned, minKept)
		}
	}
}

// TestIMPFinetune: finetune keeps the previous level's trained weights
// (masked) and trains at the schedule's final rate; finetune:k starts at k.
func TestIMPFinetune(t *testing.T) {
	for _, c := range []struct {
		rewind string
		start  int
	}{{"finetune", 0}, {"finetune:5it", 5}} {
		s := impSpec(t, c.rewind)
		edit(t, &s, func(c *impPipeline) {
			c.Prune.IMPRounds = n(1)
		})
		s.Training.Schedule, s.Training.Milestones, s.Training.Gamma = "step", []string{"10it"}, 0.1
		var first int = -1
		var lr float64
		var startMatch bool
		watch := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
			return []experiments.Callback{func(e *train.Event) error {
				if u.Level != 1 || first >= 0 || e.Phase != train.AfterGradients {
					return nil
				}
				first, lr = e.Iter, e.LR
				final, err := finalWeights(replicateOf(s, 0), 0)
				if err != nil {
					return err
				}
				w, w0 := e.Net.Param("fc1.weight").Values(), final["fc1.weight"]
				startMatch = true
				for i := range w {
					if w[i] != 0 && w[i] != w0[i] {
						startMatch = false
					}
				}
				return nil
			}}, func() {}
		}
		if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch}); err != nil {
			t.Fatal(err)
		}
		if first != c.start || math.Abs(lr-0.001) > 1e-12 || !startMatch {
			t.Errorf("%s: level 1 starts at %d with lr %v (from the trained weights: %v), want %d, 0.001, true", c.rewind, first, lr, startMatch, c.start)
		}
	}
}

// TestIMPExclude: prune.exclude keeps a layer dense at every level, and the
// output rate needs the output layer in the set.
func TestIMPExclude(t *testing.T) {
	s := impSpec(t, "init")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.IMPRounds = n(1)
		c.Prune.Exclude = []string{"fc2.weight"}
	})
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := prune.LoadMasks(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	// fc1 has 576 weights: 288 kept; fc2's 48 weights and 19 biases stay.
	if len(m.Names) != 1 || m.Names[0] != "fc1.weight" || rs[1].Density != 0.5 || rs[1].ParamsNonzero > 288+48+19 || rs[1].ParamsNonzero < 288+48 {
		t.Errorf("masks %v, density %v, %d nonzero", m.Names, rs[1].Density, rs[1].ParamsNonzero)
	}
	s = impSpec(t, "init")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.Exclude, c.Prune.OutputRate = []string{"fc2.weight"}, f(0.1)
	})
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), "prune.output_rate") {
		t.Errorf("output_rate with the output layer excluded: %v", err)
	}
	s = impSpec(t, "init")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.Exclude = []string{"fc9.weight"}
	})
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), "prune.exclude") {
		t.Errorf("a pattern that matches nothing: %v", err)
	}
}

// A checkpoint copied into another level's folder is refused with advice
// that works: level 0's final checkpoint in level 1's folder would
// otherwise "resume" level 1 at its end with level 0's dense weights.
func TestIMPCheckpointOfAnotherLevel(t *testing.T) {
	s := impSpec(t, "init")
	first, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := replicateOf(s, 0)
	level1 := rep.UnitDir(1, "")
	ck0, err := os.ReadFile(filepath.Join(rep.UnitDir(0, ""), experiments.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	ck1 := filepath.Join(level1, experiments.CheckpointFile)
	if err := os.WriteFile(ck1, ck0, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(level1, "result.yaml"))
	_, err = experiments.RunSpec(context.Background(), s, experiments.RunOptions{Rerun: true})
	if err == nil || !strings.Contains(err.Error(), ck1) || !strings.Contains(err.Error(), "level_0") || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("error %v, want one naming %s, the unit it belongs to, and what to do", err, ck1)
	}
	// The advice: delete it and run again.
	if err := os.Remove(ck1); err != nil {
		t.Fatal(err)
	}
	again, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Rerun: true})
	if err != nil {
		t.Fatal(err)
	}
	if again[1].Density != first[1].Density || again[1].FinalTestLoss != first[1].FinalTestLoss || again[2].FinalTestLoss != first[2].FinalTestLoss {
		t.Errorf("after following the advice: %+v, want %+v", again[1:], first[1:])
	}
}

// A corrupt checkpoint of a finished level that a later level reads is
// refused with the advice for a finished level, and following it (delete
// the level's whole folder, run again with --rerun) gives back the results
// of the first run.
func TestIMPCorruptFinishedCheckpointAdvice(t *testing.T) {
	s := impSpec(t, "init")
	first, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := replicateOf(s, 0)
	level0 := rep.UnitDir(0, "")
	ck0 := filepath.Join(level0, experiments.CheckpointFile)
	data, err := os.ReadFile(ck0)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(ck0, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Level 1 must train again, and it starts from level 0's checkpoint.
	if err := os.RemoveAll(rep.UnitDir(1, "")); err != nil {
		t.Fatal(err)
	}
	_, err = experiments.RunSpec(context.Background(), s, experiments.RunOptions{Rerun: true})
	if err == nil || !strings.Contains(err.Error(), ck0) || !strings.Contains(err.Error(), "delete the level's whole folder") {
		t.Fatalf("error %v, want one naming %s and the advice for a finished level", err, ck0)
	}
	// The advice.
	if err := os.RemoveAll(level0); err != nil {
		t.Fatal(err)
	}
	again, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Rerun: true})
	if err != nil {
		t.Fatalf("after following the advice: %v", err)
	}
	for l := range first {
		if again[l].FinalTestLoss != first[l].FinalTestLoss || again[l].Density != first[l].Density {
			t.Errorf("level %d after following the advice: %+v, want %+v", l, again[l], first[l])
		}
	}
}
