package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
	"github.com/prunebench/prunebench/search"
)

// jackpotSpec is the tiny mlp 36-16-3 on synthetic data: the searched set
// is fc1.weight (576 entries; fc2 is the dense classifier), density ¼ keeps
// 144. The score learning rate is raised so that 12 steps swap entries.
func jackpotSpec(t *testing.T) experiments.Spec {
	s := tinySpec(t, "jackpot")
	edit(t, &s, func(c *jackpotPipeline) {
		c.Prune.Density = f(0.25)
		c.Jackpot.Steps = "2ep"
		c.Jackpot.BatchSize = 12
		c.Jackpot.LR = 5
	})
	s.Training.EvalEvery = "4it"
	s.Output = t.TempDir()
	return s
}

// TestJackpotPipeline runs level 0 (pretraining), the magnitude baseline and
// the search for each variant, and checks methods, exact densities, the
// zero pruned weights of the measured model, the search length, and that
// the search moved the mask away from the magnitude start while keeping
// the count.
func TestJackpotPipeline(t *testing.T) {
	cases := []struct {
		restriction, scope string
		jackpot, magnitude string
	}{
		{"decay4", "", "jackpot", "magnitude (no fine-tuning)"},
		{"off", "", "jackpot (reference restriction)", "magnitude (no fine-tuning)"},
		{"decay4", "layerwise", "jackpot (uniform)", "magnitude layerwise (no fine-tuning)"},
	}
	for _, c := range cases {
		t.Run(c.jackpot, func(t *testing.T) {
			s := jackpotSpec(t)
			edit(t, &s, func(j *jackpotPipeline) {
				j.Jackpot.Restriction, j.Prune.Scope = search.Restriction(c.restriction), c.scope
			})
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 || rs[0].Method != "dense" {
				t.Fatalf("results %+v, want dense, magnitude and jackpot", rs)
			}
			var mag, jp results.Result
			for _, r := range rs[1:] {
				if r.Branch == jackpotBaselineBranch {
					mag = r
				} else {
					jp = r
				}
			}
			if mag.Method != c.magnitude || jp.Method != c.jackpot || mag.Level != 1 || jp.Level != 1 {
				t.Errorf("methods %q (level %d), %q (level %d); want %q, %q at level 1", mag.Method, mag.Level, jp.Method, jp.Level, c.magnitude, c.jackpot)
			}
			for _, r := range []results.Result{mag, jp} {
				if r.Density != 0.25 {
					t.Errorf("%s: density %v, want 144/576", r.Method, r.Density)
				}
				// 144 kept of fc1, the dense classifier's 48 weights, 19 biases.
				if r.ParamsNonzero > 144+48+19 || r.ParamsNonzero < 144 {
					t.Errorf("%s: %d nonzero params, want at most 211", r.Method, r.ParamsNonzero)
				}
			}
			if mag.Iterations != 0 || jp.Iterations != 12 { // 2 epochs of 72 examples in batches of 12
				t.Errorf("iterations: magnitude %d, jackpot %d; want 0 and 12", mag.Iterations, jp.Iterations)
			}
			rep := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1")
			start, err := prune.LoadMasks(filepath.Join(rep, "branch_"+jackpotBaselineBranch, masksFile))
			if err != nil {
				t.Fatal(err)
			}
			found, err := prune.LoadMasks(filepath.Join(rep, masksFile))
			if err != nil {
				t.Fatal(err)
			}
			if found.KeptOf("fc1.weight") != 144 || start.KeptOf("fc1.weight") != 144 || len(found.Names) != 1 {
				t.Errorf("kept %d (start %d) of %v, want 144 of fc1.weight only", found.KeptOf("fc1.weight"), start.KeptOf("fc1.weight"), found.Names)
			}
			if found.Equal(start) {
				t.Error("the search never changed the magnitude mask")
			}
			if _, err := os.Stat(filepath.Join(rep, "jackpot_12.gob")); err != nil {
				t.Errorf("final search state: %v", err)
			}
		})
	}
}

// TestJackpotStartIsIMPOneShot: the magnitude start of the search is the
// mask of one-shot global magnitude pruning (pipeline imp at the same
// density with the classifier excluded) of the same pretrained model.
func TestJackpotStartIsIMPOneShot(t *testing.T) {
	s := jackpotSpec(t)
	edit(t, &s, func(c *jackpotPipeline) {
		c.Jackpot.Steps = "1it"
	})
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	imp := tinySpec(t, "imp")
	edit(t, &imp, func(c *impPipeline) {
		c.Prune.Density = f(0.25)
		c.Prune.Exclude = []string{"fc2.weight"}
		c.Prune.Rewind = "finetune"
	})
	imp.Training.EvalEvery = "4it"
	imp.Output = s.Output
	if _, err := experiments.RunSpec(context.Background(), imp, experiments.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := prune.LoadMasks(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1", "branch_"+jackpotBaselineBranch, masksFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := prune.LoadMasks(filepath.Join(imp.Output, experiments.Hash(imp), "replicate_0", "level_1", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Error("the jackpot's magnitude start differs from imp's one-shot magnitude mask")
	}
}

// TestJackpotResumeAfterInterrupt interrupts the search between two
// evaluations and resumes it: the score state saved with the checkpoint
// comes back, so masks and result are the uninterrupted ones.
func TestJackpotResumeAfterInterrupt(t *testing.T) {
	s := jackpotSpec(t)
	want, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantMasks, err := prune.LoadMasks(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	s.Output = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			if u.Level == 1 && u.Branch == "" && e.Phase == train.AfterStep && e.Iter == 7 {
				cancel()
			}
			return nil
		}}, func() {}
	}
	if _, err := experiments.RunSpec(ctx, s, experiments.RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	dir := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1")
	if _, err := os.Stat(filepath.Join(dir, "jackpot_7.gob")); err != nil {
		t.Fatalf("no search state at the interruption: %v", err)
	}
	got, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotMasks, err := prune.LoadMasks(filepath.Join(dir, masksFile))
	if err != nil {
		t.Fatal(err)
	}
	last := len(got) - 1
	if got[last].FinalTestLoss != want[last].FinalTestLoss || !gotMasks.Equal(wantMasks) {
		t.Errorf("resumed %+v\nuninterrupted %+v", got[last], want[last])
	}

	// A checkpoint without its search state is an error naming the folder.
	s.Output = t.TempDir()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if _, err := experiments.RunSpec(ctx, s, experiments.RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	dir = filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1")
	if err := os.Remove(filepath.Join(dir, "jackpot_7.gob")); err != nil {
		t.Fatal(err)
	}
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("resume without the search state: %v, want an error naming %s", err, dir)
	}
}

// TestJackpotPretrained starts from a named checkpoint: no level 0 is
// trained, and the search gives what it gives after its own level 0 (the
// same model, trained from the same seed).
func TestJackpotPretrained(t *testing.T) {
	s := jackpotSpec(t)
	first, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	named := s
	named.Output = t.TempDir()
	edit(t, &named, func(c *jackpotPipeline) {
		c.Jackpot.Pretrained = filepath.Join(s.Output, experiments.Hash(s), "replicate_{replicate}", "level_0", "checkpoint.gob")
	})
	rs, err := experiments.RunSpec(context.Background(), named, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].FinalTestLoss != first[2].FinalTestLoss {
		t.Errorf("from the named checkpoint: %+v, want the magnitude and jackpot units of %+v", rs, first[1:])
	}
}

func TestJackpotValidate(t *testing.T) {
	cases := []struct {
		edit func(*experiments.Spec)
		want string
	}{
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Prune.Density = nil }) }, "needs a density"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *jackpotPipeline) {
				c.Prune.Density = nil
				c.Prune.IMPRate = f(0.2)
				c.Prune.IMPRounds = n(2)
			})
		}, "not prune.imp_rate"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=magnitude") }, "prune.criterion"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.rewind=finetune") }, "prune.rewind"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.branches=random_reinit") }, "prune.branches"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Prune.Scope = "l1" }) }, `prune.scope = "l1": want global or layerwise`},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.Steps = "30" }) }, "jackpot.steps"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.BatchSize = 0 }) }, "jackpot.batch_size = 0"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.LR = 0 }) }, "jackpot.lr = 0"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.Momentum = -0.1 }) }, "jackpot.momentum"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.WeightDecay = -1 }) }, "jackpot.weight_decay"},
		{func(s *experiments.Spec) { edit(t, s, func(c *jackpotPipeline) { c.Jackpot.Restriction = "on" }) }, `jackpot.short_restriction = "on": want one of decay4, off`},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *jackpotPipeline) { c.Jackpot.Pretrained = filepath.Join(t.TempDir(), "missing.gob") })
		}, "jackpot.pretrained"},
	}
	for _, c := range cases {
		s := jackpotSpec(t)
		c.edit(&s)
		if _, err := experiments.Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one mentioning %q", err, c.want)
		}
	}
	// What needs the model fails before level 0 trains: a layer-wise
	// density that leaves a tensor empty, a model with nothing to search.
	for _, c := range []struct {
		edit func(*experiments.Spec)
		want string
	}{
		{func(s *experiments.Spec) {
			edit(t, s, func(c *jackpotPipeline) { c.Prune.Scope = "layerwise"; c.Prune.Density = f(0.0001) })
		}, "fc1.weight"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *jackpotPipeline) { c.Prune.Exclude = []string{"fc1.weight"} })
		}, "no weight to search"},
	} {
		s := jackpotSpec(t)
		c.edit(&s)
		if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one mentioning %q", err, c.want)
		}
		if _, err := os.Stat(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")); err == nil {
			t.Error("level 0 trained before the error")
		}
	}
}

// TestJackpotPaperConfigs checks the paper configs: each density has the
// two search variants and imp's magnitude + fine-tuning, every spec
// validates, imp prunes the searched set (the classifier excluded) and
// fine-tunes for as many epochs as the search runs.
func TestJackpotPaperConfigs(t *testing.T) {
	for _, file := range []string{"jackpot-lenet-quick.yaml", "jackpot-lenet.yaml"} {
		specs, err := loadSweep(filepath.Join("papers", file), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		var search train.Step
		for _, s := range specs {
			if c, ok := s.Config.(jackpotPipeline); ok {
				search, _ = train.ParseStep(c.Jackpot.Steps)
			}
		}
		for _, s := range specs {
			if _, err := experiments.Validate(s); err != nil {
				t.Errorf("%s: %v", file, err)
			}
			var am experiments.Amount
			key := s.Pipeline
			switch c := s.Config.(type) {
			case jackpotPipeline:
				am, _, _ = c.Prune.Resolve()
				key, _ = c.methods()
			case impPipeline:
				am, _, _ = c.Prune.Resolve()
				mode, err := parseRewind(c.Prune.Rewind)
				if err != nil || mode.kind != "finetune" {
					t.Errorf("%s: imp rewind %q, want finetune:STEP", file, c.Prune.Rewind)
				}
				budget, _ := train.ParseStep(s.Training.Steps)
				if budget.Epochs-mode.at.Epochs != search.Epochs || search.Iterations != 0 {
					t.Errorf("%s: imp fine-tunes %s − %s, the search runs %s", file, budget, mode.at, search)
				}
				if len(c.Prune.Exclude) != 1 || c.Prune.Exclude[0] != "fc3.weight" {
					t.Errorf("%s: imp prunes %v, want the classifier fc3.weight excluded", file, c.Prune.Exclude)
				}
			}
			seen[key+" "+fmt.Sprint(am.Density)]++
		}
		for _, m := range []string{"jackpot", "jackpot (reference restriction)", "imp"} {
			for _, d := range []string{"0.1", "0.05", "0.02"} {
				if seen[m+" "+d] != 1 {
					t.Errorf("%s: %d runs of %s at density %s, want 1", file, seen[m+" "+d], m, d)
				}
			}
		}
		if len(specs) != 9 || specs[0].Replicates < 3 {
			t.Errorf("%s: %d runs of %d replicates, want 9 of at least 3", file, len(specs), specs[0].Replicates)
		}
	}
}
