package pipelines

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// layerSpec is resmlp (stage widths 4, 6, 8: 3 × 5 blocks, 9 removable)
// on the tiny synthetic set.
func layerSpec(t *testing.T, criterion string, blocks int) experiments.Spec {
	s := tinySpec(t, "layer")
	s.Model = experiments.ModelSpec{Name: "resmlp", Widths: []int{4, 6, 8}, WidthMultiplier: 1}
	edit(t, &s, func(c *layerPipeline) {
		c.Layer.Criterion = criterion
		c.Layer.Blocks = blocks
	})
	if criterion != "grasp" && criterion != "snip" {
		edit(t, &s, func(c *layerPipeline) {
			c.Layer.SamplesPerClass = 5
		})
	}
	if criterion == "grasp" || criterion == "snip" {
		edit(t, &s, func(c *layerPipeline) {
			c.Prune.DataExamples = 40
		})
	}
	edit(t, &s, func(c *layerPipeline) {
		c.Layer.TimingSteps = "3it"
	})
	s.Output = t.TempDir()
	return s
}

// toKL switches a layerSpec to an after-training criterion.
func toKL(t testing.TB, s *experiments.Spec) {
	edit(t, s, func(c *layerPipeline) {
		c.Layer.Criterion = "kl"
		c.Layer.SamplesPerClass = 5
		c.Prune.DataExamples = 0
	})
}

func readLayerReport(t *testing.T, s experiments.Spec, level int) LayerReport {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_"+string(rune('0'+level)), layerReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep LayerReport
	if err := yaml.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkLayerResult checks a pruned level's result against its report and
// the dense model: p blocks fewer, counts of the rebuilt network, density
// = rebuilt / dense parameters, a step time measured for both networks.
func checkLayerResult(t *testing.T, s experiments.Spec, r results.Result, method string) {
	t.Helper()
	rep := readLayerReport(t, s, 1)
	dense, err := zoo.Build("resmlp", zoo.Options{Input: []int{1, 6, 6}, Classes: 3, Widths: []int{4, 6, 8}})
	if err != nil {
		t.Fatal(err)
	}
	dc := nn.Count(dense)
	kept := 0
	for _, n := range rep.BlocksPerStage {
		kept += n
	}
	if r.Method != method || rep.Method != method || r.Level != 1 {
		t.Errorf("method %s (report %s) level %d, want %s level 1", r.Method, rep.Method, r.Level, method)
	}
	if blocks := s.Config.(layerPipeline).Layer.Blocks; kept != 15-blocks || len(rep.Removed) != blocks || len(rep.Mapping) != kept || len(rep.Scores) != 12 {
		t.Errorf("report: per stage %v, removed %v, %d mapped, %d scores", rep.BlocksPerStage, rep.Removed, len(rep.Mapping), len(rep.Scores))
	}
	for _, n := range rep.BlocksPerStage {
		if n < 2 {
			t.Errorf("a stage kept %d blocks: %v", n, rep.BlocksPerStage)
		}
	}
	if r.ParamsTotal != dc.Params || rep.ParamsDense != dc.Params || r.FLOPsDense != dc.FLOPs || rep.Params >= dc.Params || rep.FLOPs >= dc.FLOPs {
		t.Errorf("counts: result total %d flops %d, report %d → %d params, %d → %d FLOPs; dense %d, %d", r.ParamsTotal, r.FLOPsDense, rep.ParamsDense, rep.Params, rep.FLOPsDense, rep.FLOPs, dc.Params, dc.FLOPs)
	}
	if r.ParamsNonzero > rep.Params || r.FLOPsNonzero > rep.FLOPs || r.Bytes != rep.Bytes || math.Abs(r.Density-float64(rep.Params)/float64(dc.Params)) > 1e-12 {
		t.Errorf("result nonzero %d FLOPs %d bytes %d density %v vs report %d %d %d", r.ParamsNonzero, r.FLOPsNonzero, r.Bytes, r.Density, rep.Params, rep.FLOPs, rep.Bytes)
	}
	if !(rep.StepSecondsDense > 0 && rep.StepSeconds > 0 && rep.StepTimeRatio > 0) {
		t.Errorf("step times %v %v ratio %v", rep.StepSecondsDense, rep.StepSeconds, rep.StepTimeRatio)
	}
	if math.IsNaN(r.BestTestAcc) || r.Iterations != 18 {
		t.Errorf("test acc %v, iterations %d", r.BestTestAcc, r.Iterations)
	}
}

// TestLayerPipelineInit runs Algorithm 2 with each initialization
// criterion and aggregation: one level (1), the rebuilt network trained
// for the whole budget.
func TestLayerPipelineInit(t *testing.T) {
	for _, tc := range []struct{ crit, agg, method string }{
		{"grasp", "sum", "layer-grasp-p3"}, {"snip", "mean", "layer-snip-mean-p3"},
	} {
		t.Run(tc.crit, func(t *testing.T) {
			s := layerSpec(t, tc.crit, 3)
			edit(t, &s, func(c *layerPipeline) {
				c.Layer.Agg = tc.agg
			})
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 {
				t.Fatalf("%d results, want 1", len(rs))
			}
			checkLayerResult(t, s, rs[0], tc.method)
			if rep := readLayerReport(t, s, 1); rep.StartIter != 0 || rep.Agg != tc.agg {
				t.Errorf("start %d agg %s", rep.StartIter, rep.Agg)
			}
			// A rerun finds the finished unit.
			again, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil || again[0].BestTestAcc != rs[0].BestTestAcc {
				t.Errorf("rerun: %v, %v", err, again)
			}
		})
	}
}

// TestLayerPipelineTrained runs Algorithm 1 with each after-training
// criterion: level 0 dense, level 1 pruned and retrained from the rewind
// step (8 of 18 iterations).
func TestLayerPipelineTrained(t *testing.T) {
	for _, tc := range []struct{ crit, rewind, method string }{
		{"kl", "weights_and_lr", "layer-kl-rw8it-p2"},
		{"expected_abs", "lr_only", "layer-expected_abs-lr_only-rw8it-p2"},
		{"cka", "weights_and_lr", "layer-cka-rw8it-p2"},
		{"hrank", "weights_and_lr", "layer-hrank-rw8it-p2"},
		{"random", "weights_and_lr", "layer-random-rw8it-p2"},
		{"l1", "weights_and_lr", "layer-l1-rw8it-p2"},
	} {
		t.Run(tc.crit, func(t *testing.T) {
			s := layerSpec(t, tc.crit, 2)
			edit(t, &s, func(c *layerPipeline) {
				c.Layer.Rewind, c.Layer.RewindStep = tc.rewind, "8it"
			})
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Method != "dense" || rs[0].Level != 0 {
				t.Fatalf("results %+v, want dense level 0 and a pruned level 1", rs)
			}
			checkLayerResult(t, s, rs[1], tc.method)
			if rep := readLayerReport(t, s, 1); rep.StartIter != 8 || rep.Rewind != tc.rewind {
				t.Errorf("start %d rewind %s", rep.StartIter, rep.Rewind)
			}
		})
	}
}

// TestLayerBadInput: every error comes from validation, before any
// training (RunSpec writes no run folder).
func TestLayerBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*experiments.Spec)
		want string
	}{
		{"no blocks", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.Blocks = 0 }) }, "layer.blocks = 0"},
		{"too many", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.Blocks = 10 }) }, "asked to remove 10 blocks, only 9 removable"},
		{"too many resnet20", func(s *experiments.Spec) {
			s.Model = experiments.ModelSpec{Name: "resnet20", WidthMultiplier: 0.25}
			s.Dataset.Shape = []int{3, 8, 8}
			edit(t, s, func(c *layerPipeline) {
				c.Layer.Blocks = 4
			})
		}, "asked to remove 4 blocks, only 3 removable"},
		{"removable", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.Removable = "loose" }) }, `layer.removable = "loose": want one of utility, strict`},
		{"agg", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.Agg = "max" }) }, `layer.agg = "max": want one of sum, mean`},
		{"criterion", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.Criterion = "fisher" })
		}, `layer.criterion = "fisher"`},
		{"init criterion", func(s *experiments.Spec) { toKL(t, s); edit(t, s, func(c *layerPipeline) { c.Layer.When = "init" }) }, "at initialization"},
		{"when", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.When = "later" }) }, "layer.when"},
		{"pls", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.Criterion = "pls" })
		}, "not implemented"},
		{"no residual blocks", func(s *experiments.Spec) {
			s.Model = experiments.ModelSpec{Name: "mlp", Widths: []int{8}, WidthMultiplier: 1}
		}, "has none"},
		{"density", func(s *experiments.Spec) { *s = reparse(t, *s, "prune.density=0.5") }, "prune.density"},
		{"prune criterion", func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=snip") }, "prune.criterion"},
		{"agg after training", func(s *experiments.Spec) { toKL(t, s); edit(t, s, func(c *layerPipeline) { c.Layer.Agg = "mean" }) }, "layer.agg is read by the initialization criteria"},
		{"rewind at init", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Layer.Rewind = "lr_only" }) }, "layer.rewind is read after training only"},
		{"rewind", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.Rewind = "weights" })
		}, `layer.rewind = "weights"`},
		{"rewind step", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.RewindStep = "5 epochs" })
		}, "layer.rewind_step"},
		{"rewind past budget", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.RewindStep = "3ep" })
		}, "past the training budget"},
		{"samples", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.SamplesPerClass = 0 })
		}, "layer.samples_per_class = 0"},
		{"samples too many", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Layer.SamplesPerClass = 1000 })
		}, "layer.samples_per_class = 1000"},
		{"data examples after training", func(s *experiments.Spec) {
			toKL(t, s)
			edit(t, s, func(c *layerPipeline) { c.Prune.DataExamples = 40 })
		}, "prune.data_examples"},
		{"data examples too many", func(s *experiments.Spec) { edit(t, s, func(c *layerPipeline) { c.Prune.DataExamples = 500 }) }, "prune.data_examples = 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := layerSpec(t, "grasp", 2)
			tc.edit(&s)
			_, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.name == "pls" && !errors.Is(err, nn.ErrNotImplemented) {
				t.Errorf("pls: %v does not wrap ErrNotImplemented", err)
			}
			if _, err := os.Stat(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "checkpoint.gob")); err == nil {
				t.Error("a level trained before the error")
			}
		})
	}
}

// TestLayerDefaultsKeepHashes: the layer section at its defaults is not
// part of the run identity.
func TestLayerDefaultsKeepHashes(t *testing.T) {
	s, err := experiments.DefaultsFor("layer")
	if err != nil {
		t.Fatal(err)
	}
	for k := range experiments.Canonical(s) {
		if k != "pipeline" {
			t.Errorf("default spec has canonical key %s", k)
		}
	}
	edit(t, &s, func(c *layerPipeline) {
		c.Layer.Blocks = 3
	})
	if c := experiments.Canonical(s); len(c) != 2 || c["layer.blocks"] != 3 {
		t.Errorf("canonical %v, want only pipeline and layer.blocks", c)
	}
}
