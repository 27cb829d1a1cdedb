package pipelines

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func paiSpec(t *testing.T, criterion string) experiments.Spec {
	s := tinySpec(t, "pai")
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.Density = f(0.25)
		c.Prune.Criterion = criterion
		c.Prune.DataExamples = 40
	})
	s.Output = t.TempDir()
	return s
}

// TestPaiPipeline prunes at initialization with each criterion (synflow
// with its default 100 iterations) and checks the density (exact keep
// count), that the trained weights are zero where pruned, and that the
// result is recorded under the criterion.
func TestPaiPipeline(t *testing.T) {
	for _, crit := range []string{"magnitude", "random", "snip", "grasp", "synflow"} {
		t.Run(crit, func(t *testing.T) {
			s := paiSpec(t, crit)
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			// mlp 36-16-3: 576 + 48 prunable weights; layer-agnostic global
			// keep round(0.25 · 624) = 156.
			if want := 156.0 / 624; r.Density != want || r.Method != crit {
				t.Errorf("density %v method %s, want %v %s", r.Density, r.Method, want, crit)
			}
			// Nonzero parameters: at most the 156 kept weights plus the 19
			// biases.
			if r.ParamsNonzero > 156+19 || r.ParamsNonzero < 100 {
				t.Errorf("nonzero params %d, want at most 175 (pruned weights must stay zero)", r.ParamsNonzero)
			}
			if math.IsNaN(r.BestTestAcc) {
				t.Error("no test accuracy")
			}
		})
	}
}

// TestPaiResumeAfterInterrupt interrupts a pruned run and resumes it: the
// masks are recomputed from the seed and the checkpoint restores the rest,
// giving the uninterrupted result.
func TestPaiResumeAfterInterrupt(t *testing.T) {
	s := paiSpec(t, "snip")
	want, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Output = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			if e.Phase == train.AfterStep && e.Iter == 7 {
				cancel()
			}
			return nil
		}}, func() {}
	}
	if _, err := experiments.RunSpec(ctx, s, experiments.RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	got, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].BestTestLoss != want[0].BestTestLoss || got[0].FinalTestLoss != want[0].FinalTestLoss || got[0].ParamsNonzero != want[0].ParamsNonzero {
		t.Errorf("resumed %+v\nuninterrupted %+v", got[0], want[0])
	}
}

func TestPaiValidate(t *testing.T) {
	cases := []struct {
		edit func(*experiments.Spec)
		want string
	}{
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Density = nil }) }, "needs an amount"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Criterion = "" }) }, "needs prune.criterion"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Criterion = "l1" }) }, "prune.criterion"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Scope = "local" }) }, "prune.scope"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.DataExamples = -1 }) }, "prune.data_examples"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Iterations = -1 }) }, "prune.iterations"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *paiPipeline) { c.Prune.Criterion = "synflow"; c.Prune.TrainMode = true })
		}, "prune.train_mode"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.TrainMode = true }) }, "prune.train_mode"},
		{func(s *experiments.Spec) { edit(t, s, func(c *paiPipeline) { c.Prune.Density = f(0.001) }) }, "no kept entry"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *paiPipeline) {
				c.Prune.Density = f(0.01)
				c.Prune.Scope = "layerwise"
				c.Prune.Iterations = 5
			})
		}, "iteration"},
		// A data criterion without enough data: the synthetic training
		// split has 72 examples.
		{func(s *experiments.Spec) {
			edit(t, s, func(c *paiPipeline) { c.Prune.Criterion = "snip"; c.Prune.DataExamples = 500 })
		}, "prune.data_examples"},
	}
	for _, c := range cases {
		s := paiSpec(t, "magnitude")
		c.edit(&s)
		_, err := experiments.Validate(s)
		if err == nil {
			_, err = experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// TestPaiScoringMode: on a batch-norm network snip and grasp now score in
// evaluation mode by default (no refusal) and in training mode with
// prune.train_mode, and the two give different masks; prune.iterations
// changes synflow's masks (100 by default against 1).
func TestPaiScoringMode(t *testing.T) {
	bnSpec := func(crit string) experiments.Spec {
		s := paiSpec(t, crit)
		s.Dataset.Shape = []int{3, 8, 8}
		s.Model = experiments.ModelSpec{Name: "resnet20", WidthMultiplier: 0.25}
		edit(t, &s, func(c *paiPipeline) {
			c.Prune.Density = f(0.1)
		})
		return s
	}
	masks := func(s experiments.Spec) *prune.Masks {
		t.Helper()
		p, err := experiments.Prepare(s)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Config.(paiPipeline).masks(p)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, crit := range []string{"snip", "grasp"} {
		s := bnSpec(crit)
		eval := masks(s)
		edit(t, &s, func(c *paiPipeline) {
			c.Prune.TrainMode = true
		})
		train := masks(s)
		if eval.Equal(train) {
			t.Errorf("%s on resnet20: the same masks in evaluation and training mode", crit)
		}
	}
	s := bnSpec("synflow")
	def := masks(s)
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.Iterations = 1
	})
	one := masks(s)
	if def.Kept() != one.Kept() || def.Equal(one) {
		t.Errorf("synflow with 100 and 1 iterations: kept %d and %d, equal masks %v; want the same count and different masks", def.Kept(), one.Kept(), def.Equal(one))
	}
	// A batch-norm model trains end to end with eval-mode snip.
	rs, err := experiments.RunSpec(context.Background(), bnSpec("snip"), experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Method != "snip" || math.IsNaN(rs[0].BestTestAcc) {
		t.Errorf("snip on resnet20: %+v", rs[0])
	}
}

// TestPaiPaperConfigs loads the pruning-at-initialization paper configs
// (docs/methods/pai.md#snip-table-1-mnist) and checks that every run of their
// sweeps validates and pairs the model, pipeline, criterion and density the
// paper's table does (density 1: the dense reference, pipeline train).
func TestPaiPaperConfigs(t *testing.T) {
	type run struct {
		model, criterion string
		density          float64
	}
	snip := []run{{"lenet-300-100", "", 1}, {"lenet-300-100", "snip", 0.05}, {"lenet-300-100", "snip", 0.02},
		{"lenet5", "", 1}, {"lenet5", "snip", 0.02}, {"lenet5", "snip", 0.01}}
	var synflow []run
	for _, c := range []string{"synflow", "snip", "magnitude", "random"} {
		for _, d := range []float64{0.1, 0.01, 0.003, 0.001} {
			synflow = append(synflow, run{"lenet-300-100", c, d})
		}
	}
	cases := []struct {
		file string
		want []run
	}{
		{"papers/snip-lenet.yaml", snip},
		{"papers/snip-lenet-quick.yaml", snip},
		{"papers/synflow-lenet-quick.yaml", synflow},
	}
	for _, c := range cases {
		specs, err := loadSweep(c.file, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(specs) != len(c.want) {
			t.Fatalf("%s: %d runs, want %d", c.file, len(specs), len(c.want))
		}
		for i, s := range specs {
			if _, err := experiments.Validate(s); err != nil {
				t.Errorf("%s run %d: %v", c.file, i, err)
			}
			am, criterion := experiments.Amount{Density: 1}, ""
			if c, ok := s.Config.(paiPipeline); ok {
				if am, _, err = c.Prune.Resolve(); err != nil {
					t.Fatal(err)
				}
				criterion = c.Prune.Criterion
			}
			w := c.want[i]
			pipeline := "pai"
			if w.criterion == "" {
				pipeline = "train"
			}
			got := run{s.Model.Name, criterion, am.Density}
			if got != w || s.Pipeline != pipeline || s.Replicates != 3 {
				t.Errorf("%s run %d: %+v pipeline %s replicates %d, want %+v %s 3", c.file, i, got, s.Pipeline, s.Replicates, w, pipeline)
			}
		}
	}
}

// TestPaiBranches: random_prune off a SNIP mask keeps its per-layer counts
// and scratch_e its mask.
func TestPaiBranches(t *testing.T) {
	s := tinySpec(t, "pai")
	s.Output = t.TempDir()
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.Criterion, c.Prune.Density, c.Prune.DataExamples = "snip", f(0.2), 24
		c.Prune.Branches = []string{BranchRandomPrune, BranchScratchE}
	})
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[1].Method != "snip/random_prune" || rs[2].Method != "snip/scratch_e" {
		t.Fatalf("results %+v", rs)
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")
	trunk, err := prune.LoadMasks(filepath.Join(root, masksFile))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := prune.LoadMasks(filepath.Join(root, "branch_random_prune", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	se, err := prune.LoadMasks(filepath.Join(root, "branch_scratch_e", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	if !se.Equal(trunk) || rp.Equal(trunk) || !slices.Equal(rp.KeptCounts(), trunk.KeptCounts()) {
		t.Errorf("scratch_e equal %v; random_prune equal %v, counts %v vs %v", se.Equal(trunk), rp.Equal(trunk), rp.KeptCounts(), trunk.KeptCounts())
	}
}

// TestPaiAllowEmpty: global magnitude pruning of a torch_default-initialized
// MLP to a tiny density empties fc1 (its weights are the smallest): an
// error naming the tensor, or with prune.allow_empty a trained network
// whose fc1 has no weight left.
func TestPaiAllowEmpty(t *testing.T) {
	s := tinySpec(t, "pai")
	s.Output = t.TempDir()
	s.Model.Init = "torch_default"
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.Criterion, c.Prune.Density = "magnitude", f(0.02) // 12 of 624 weights
	})
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), "fc1.weight is left with no kept entry") {
		t.Fatalf("error %v, want fc1 emptied", err)
	}
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.AllowEmpty = true
	})
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := prune.LoadMasks(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.KeptOf("fc1.weight") != 0 || m.Kept() != 12 || rs[0].Density != 12.0/624 {
		t.Errorf("fc1 keeps %d, %d in all, density %v", m.KeptOf("fc1.weight"), m.Kept(), rs[0].Density)
	}
}
