package pipelines

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/share"
)

// rpsSpec is tinySpec (an mlp 36-16-3: 576 + 48 = 624 weights, 19 biases)
// shared at the given compression.
func rpsSpec(t *testing.T, mapper string, compression float64) experiments.Spec {
	s := tinySpec(t, "rps")
	edit(t, &s, func(c *rpsPipeline) {
		c.RPS.Mapper = mapper
		c.Prune.Compression = f(compression)
	})
	s.Output = t.TempDir()
	return s
}

// TestRPSPipelineCounts runs each mapper at 4× (ρ = 0.25, m = 156) and
// checks the recorded counts: params_total the dense model's 643,
// params_nonzero the 156 entries of z plus the 19 biases, bytes 4·175,
// density ρ, and rps.yaml's memory account.
func TestRPSPipelineCounts(t *testing.T) {
	for _, tc := range []struct{ mapper, method string }{
		{share.Pareto, "stable-rps"}, {share.ROAST, "roast"}, {share.HashedNet, "hashednet"},
	} {
		t.Run(tc.mapper, func(t *testing.T) {
			s := rpsSpec(t, tc.mapper, 4)
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Method != tc.method || r.Density != 0.25 || r.Compression != 4 {
				t.Errorf("method %q density %v compression %v, want %q 0.25 4", r.Method, r.Density, r.Compression, tc.method)
			}
			if r.ParamsTotal != 643 || r.ParamsNonzero != 156+19 || r.Bytes != 4*(156+19) {
				t.Errorf("params %d nonzero %d bytes %d, want 643, 175, 700", r.ParamsTotal, r.ParamsNonzero, r.Bytes)
			}
			if math.IsNaN(r.BestTestAcc) || r.Iterations == 0 {
				t.Errorf("no training recorded: %+v", r)
			}
			var info rpsInfo
			data, err := os.ReadFile(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", rpsInfoFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &info); err != nil {
				t.Fatal(err)
			}
			if info.Shared != 624 || info.Array != 156 || info.Unshared != 19 || info.Params != 175 || info.ParamBytes != 700 || info.DenseBytes != 4*643 {
				t.Errorf("rps.yaml: %+v", info)
			}
			// The v1 scaler keeps one divisor per slot.
			if info.DivBytes != 4*156 || len(info.Scales) != 2 {
				t.Errorf("rps.yaml: scaler bytes %d, %d scales; want 624 and 2", info.DivBytes, len(info.Scales))
			}
			// ROAST tiles: 32×32 and 16×16 are not below m = 156, 8×8 is.
			if tc.mapper == share.ROAST && (info.BlockK != 8 || info.BlockN != 8) {
				t.Errorf("roast auto tile %d×%d, want 8×8", info.BlockK, info.BlockN)
			}
		})
	}
}

// TestNarrowPipeline: the narrow model at 4× matches m + P_unshared = 175
// parameters as closely as integer widths allow: mlp 36-h-3 has 40h + 3
// parameters, h = 4 gives 163 (h = 5: 203).
func TestNarrowPipeline(t *testing.T) {
	s := tinySpec(t, "narrow")
	edit(t, &s, func(c *narrowPipeline) {
		c.Prune.Compression = f(4)
	})
	s.Output = t.TempDir()
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.Method != "narrow" || r.Density != 0.25 || r.ParamsTotal != 163 || r.Bytes != 4*163 {
		t.Errorf("method %q density %v params %d bytes %d, want narrow 0.25 163 652", r.Method, r.Density, r.ParamsTotal, r.Bytes)
	}
	data, err := os.ReadFile(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "narrow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var info narrowInfo
	if err := yaml.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	if info.Target != 175 || info.Achieved != 163 || info.Note != "" {
		t.Errorf("narrow.yaml: %+v", info)
	}
}

// TestRPSParetoContinuity is docs/methods/rps.md#pareto-continuity end to end
// through the pipelines: the rps pipeline with the fold mapper at 1× (ρ = 1,
// a bijection), the v1 scaler and z projected from the dense initialization
// (rps.init: project) trains like the dense train pipeline from the same seed
// (same θ0, same data order): under plain SGD, and under momentum SGD with
// weight decay. Compared: the training and validation loss at every
// evaluation (every 5 iterations, 80 iterations) and the final weights (W
// materialized from the checkpoint's z). The run is float32: the projection
// rounds θ0 by up to an ulp, so losses agree to 1e-5·(1 + |loss|) and weights
// to 1e-6 + 1e-4·|w|; a wrong scale or divisor is off by O(1).
func TestRPSParetoContinuity(t *testing.T) {
	for _, opt := range []struct {
		name     string
		momentum float64
		wd       float64
	}{{"sgd", 0, 0}, {"momentum+wd", 0.9, 5e-4}} {
		t.Run(opt.name, func(t *testing.T) {
			s := rpsSpec(t, share.Pareto, 1)
			edit(t, &s, func(c *rpsPipeline) {
				c.RPS.Init = "project"
			})
			s.Training.Steps = "10ep"
			s.Training.Optimizer = "sgd"
			s.Training.LR = 0.05
			s.Training.Momentum = opt.momentum
			s.Training.WeightDecay = opt.wd
			d := s
			d.Pipeline, d.Config = "train", nil
			d.Output = t.TempDir()
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rd, err := experiments.RunSpec(context.Background(), d, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rs[0].Method != "stable-rps" || rd[0].Method != "dense" {
				t.Fatalf("methods %s, %s", rs[0].Method, rd[0].Method)
			}
			cs := loadCheckpoint(t, s)
			cd := loadCheckpoint(t, d)
			if len(cs.History.Points) != len(cd.History.Points) || len(cd.History.Points) < 10 {
				t.Fatalf("%d and %d evaluation points", len(cs.History.Points), len(cd.History.Points))
			}
			for i, pd := range cd.History.Points {
				ps := cs.History.Points[i]
				for _, l := range [][2]float64{{ps.TrainLoss, pd.TrainLoss}, {ps.ValLoss, pd.ValLoss}, {ps.TestLoss, pd.TestLoss}} {
					if math.Abs(l[0]-l[1]) > 1e-5*(1+math.Abs(l[1])) {
						t.Fatalf("iteration %d: shared losses %+v, dense %+v", pd.Iter, ps, pd)
					}
				}
			}
			// Final weights: W = λ·g·z[h] from the checkpoint's z.
			_, sm, err := s.Config.(rpsPipeline).prepare(&experiments.Replicate{Spec: s})
			if err != nil {
				t.Fatal(err)
			}
			z := cs.State.Tensors["shared/rps"]
			if len(z) != 624 {
				t.Fatalf("checkpoint z has %d entries, want 624", len(z))
			}
			for l := range sm.Mapper.NumLayers() {
				name := sm.Mapper.Layer(l).Tensor.Param.Name
				want := cd.State.Tensors["param/"+name]
				got := make([]float32, len(want))
				sm.Mapper.Parametrization(l, sm.Scales[l], nil).Weights(got, z)
				for i := range want {
					if diff := math.Abs(float64(got[i] - want[i])); diff > 1e-6+1e-4*math.Abs(float64(want[i])) {
						t.Fatalf("%s[%d] = %v, dense %v", name, i, got[i], want[i])
					}
				}
			}
			for _, name := range []string{"fc1.bias", "fc2.bias"} {
				got, want := cs.State.Tensors["param/"+name], cd.State.Tensors["param/"+name]
				for i := range want {
					if diff := math.Abs(float64(got[i] - want[i])); diff > 1e-6+1e-4*math.Abs(float64(want[i])) {
						t.Fatalf("%s[%d] = %v, dense %v", name, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func loadCheckpoint(t *testing.T, s experiments.Spec) *train.Checkpoint {
	t.Helper()
	c, err := train.LoadCheckpoint(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "checkpoint.gob"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRPSStability is the stability test of docs/methods/rps.md#tests on a
// small problem: STABLE-RPS at 4× under momentum SGD with init_std
// a ∈ {0.4, 0.04, 0.004, 0.0004}. z is a times one fixed uniform stream, so
// the virtual weights start the same; with the v1 scaler the trajectory does
// not depend on a (docs/methods/rps.md#gradient-scaler), so the final
// accuracy is flat (equal to one test example) and well above chance. Without
// the scaler the step on w grows as 1/a²: at least one value diverges (a NaN
// loss error) or ends at chance. (At the time of writing: v1 95.8% for every
// a; none 95.8% at a = 0.4 and a NaN loss for the three smaller values.)
func TestRPSStability(t *testing.T) {
	run := func(scaler string, a float64) (results.Result, error) {
		s := rpsSpec(t, share.Pareto, 4)
		s.Training.Steps = "10ep"
		s.Training.Optimizer = "sgd"
		s.Training.LR = 0.05
		s.Training.Momentum = 0.9
		edit(t, &s, func(c *rpsPipeline) {
			c.RPS.Scaler = scaler
			c.RPS.InitStd = a
		})
		rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
		if err != nil {
			return results.Result{}, err
		}
		return rs[0], nil
	}
	const chance = 1.0 / 3
	var accs []float64
	for _, a := range []float64{0.4, 0.04, 0.004, 0.0004} {
		r, err := run(share.ScalerV1, a)
		if err != nil {
			t.Fatalf("v1, a = %v: %v", a, err)
		}
		accs = append(accs, r.FinalTestAcc)
	}
	for _, acc := range accs {
		if math.Abs(acc-accs[0]) > 1.0/48+1e-9 || accs[0] < chance+0.2 {
			t.Errorf("v1 scaler: final test accuracy %v across a = 0.4 … 0.0004; want flat and above %.2f", accs, chance+0.2)
		}
	}
	bad := 0
	var none []string
	for _, a := range []float64{0.4, 0.04, 0.004, 0.0004} {
		r, err := run(share.ScalerNone, a)
		switch {
		case err != nil && strings.Contains(err.Error(), "loss is"):
			bad++
			none = append(none, "diverged")
		case err != nil:
			t.Fatalf("scaler none, a = %v: %v", a, err)
		default:
			if r.FinalTestAcc <= chance+0.1 {
				bad++
			}
			none = append(none, strings.TrimSpace(results.FormatAccuracy(results.Stat{Mean: r.FinalTestAcc, Std: math.NaN(), N: 1}, 1)))
		}
	}
	if bad == 0 {
		t.Errorf("scaler none: %v across a = 0.4 … 0.0004; want at least one diverged or at chance", none)
	}
	t.Logf("v1: %v; none: %v", accs, none)
}

// TestRPSBadInput: every bad input is an error naming the field before
// any training step.
func TestRPSBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*experiments.Spec)
		want string
	}{
		{"compression below 1", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.Prune.Compression = f(0.5) }) }, "prune.compression"},
		{"no amount", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.Prune.Compression = nil }) }, "prune.compression"},
		{"m < 1", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.Prune.Compression = f(1000) }) }, "prune.compression = 1000"},
		{"m < 1 local", func(s *experiments.Spec) {
			edit(t, s, func(c *rpsPipeline) { c.RPS.Scope = "local"; c.Prune.Compression = f(60) })
		}, "smallest local array"},
		{"unknown mapper", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.RPS.Mapper = "lowrank" }) }, "rps.mapper"},
		{"tile not below the array", func(s *experiments.Spec) {
			edit(t, s, func(c *rpsPipeline) { c.RPS.Mapper = share.ROAST; c.RPS.BlockK, c.RPS.BlockN = 16, 16 })
		}, "rps.block_k × rps.block_n = 16 × 16"},
		{"negative tile", func(s *experiments.Spec) {
			edit(t, s, func(c *rpsPipeline) { c.RPS.Mapper = share.ROAST; c.RPS.BlockK = -1 })
		}, "rps.block_k"},
		{"unknown scaler", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.RPS.Scaler = "v9" }) }, "rps.scaler"},
		{"unknown init", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.RPS.Init = "normal" }) }, "rps.init"},
		{"init_std", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.RPS.InitStd = -1 }) }, "rps.init_std"},
		{"module_limit shares nothing", func(s *experiments.Spec) { edit(t, s, func(c *rpsPipeline) { c.RPS.ModuleLimit = 100000 }) }, "rps.module_limit"},
		{"a pruning key", func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=snip") }, "prune.criterion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := rpsSpec(t, share.Pareto, 4)
			tc.edit(&s)
			noTraining := func(experiments.UnitInfo) ([]experiments.Callback, func()) {
				return []experiments.Callback{func(e *train.Event) error {
					if e.Phase == train.AfterStep {
						t.Fatalf("trained a step before the error")
					}
					return nil
				}}, func() {}
			}
			_, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: noTraining})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	// The narrow pipeline reads only rps.module_limit of the rps section.
	s := tinySpec(t, "narrow")
	edit(t, &s, func(c *narrowPipeline) {
		c.Prune.Compression = f(4)
	})
	s = reparse(t, s, "rps.mapper="+share.ROAST)
	if _, err := experiments.Validate(s); err == nil || !strings.Contains(err.Error(), "pipeline narrow does not read rps.mapper") {
		t.Errorf("narrow with rps.mapper: %v", err)
	}
}

// TestRPSIdentity: the defaults of the rps section leave a spec's run name
// unchanged, and a non-default key enters it.
func TestRPSIdentity(t *testing.T) {
	s, err := experiments.DefaultsFor("rps")
	if err != nil {
		t.Fatal(err)
	}
	if c := experiments.Canonical(s); len(c) != 1 {
		t.Errorf("defaults have a canonical form %v, want pipeline only", c)
	}
	edit(t, &s, func(c *rpsPipeline) {
		c.RPS.Mapper = share.ROAST
	})
	if c := experiments.Canonical(s); c["rps.mapper"] != share.ROAST || len(c) != 2 {
		t.Errorf("canonical %v, want pipeline and rps.mapper only", c)
	}
}

// TestRPSPaperConfigs: every point of the rps paper configs validates, and
// the quick sweep has the methods at the compressions its header lists.
func TestRPSPaperConfigs(t *testing.T) {
	for _, file := range []string{"papers/rps-lenet-quick.yaml", "papers/rps-lenet.yaml"} {
		specs, err := loadSweep(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, s := range specs {
			if _, err := experiments.Validate(s); err != nil {
				t.Fatalf("%s: %v: %v", file, experiments.Canonical(s), err)
			}
			key := s.Pipeline
			switch c := s.Config.(type) {
			case rpsPipeline:
				key += "/" + c.RPS.Mapper
			case paiPipeline:
				key += "/" + c.Prune.Criterion
			}
			count[key]++
		}
		want := map[string]int{"rps/pareto": 7, "rps/roast": 7, "rps/hashednet": 7, "pai/magnitude": 6,
			"pai/snip": 6, "pai/synflow": 6, "narrow": 6, "imp": 1}
		if file == "papers/rps-lenet.yaml" {
			want = map[string]int{"rps/pareto": 10, "rps/roast": 10, "rps/hashednet": 10, "pai/magnitude": 9,
				"pai/snip": 9, "pai/synflow": 9, "narrow": 9, "imp": 1}
		}
		if len(count) != len(want) {
			t.Errorf("%s: runs %v, want %v", file, count, want)
		}
		for k, n := range want {
			if count[k] != n {
				t.Errorf("%s: %d runs of %s, want %d (all: %v)", file, count[k], k, n, count)
			}
		}
	}
}

// TestRPSReferenceMode: reference mode takes λ from the drawn weights'
// sample std, zeroes the shared layers' biases (FakeRoast re-creates them)
// and names the method; clean keeps the biases and uses the analytic std.
func TestRPSReferenceMode(t *testing.T) {
	for _, mode := range []string{"clean", "reference"} {
		s := rpsSpec(t, share.HashedNet, 4)
		edit(t, &s, func(c *rpsPipeline) {
			c.RPS.Mode = mode
		})
		s.Model.Init = "torch_default" // non-zero biases
		dense, err := experiments.Prepare(s)
		if err != nil {
			t.Fatal(err)
		}
		p, sm, err := s.Config.(rpsPipeline).prepare(&experiments.Replicate{Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		for l := range sm.Mapper.NumLayers() {
			info := sm.Mapper.Layer(l).Tensor.Param
			want, _ := share.ScaleFromInit(info, p.Init, s.Config.(rpsPipeline).RPS.InitStd, false)
			if mode == "reference" {
				want, _ = share.ScaleFromWeights(info.Name, dense.Net.Param(info.Name).Values(), s.Config.(rpsPipeline).RPS.InitStd, false)
			}
			if sm.Scales[l] != want {
				t.Errorf("%s: scale of %s %v, want %v", mode, info.Name, sm.Scales[l], want)
			}
			b := p.Net.Param(info.Layer + ".bias").Values()
			if zero := countNonzero(b) == 0; zero != (mode == "reference") {
				t.Errorf("%s: bias of %s all zero = %v", mode, info.Layer, zero)
			}
		}
		if want := map[string]string{"clean": "hashednet", "reference": "hashednet (reference)"}[mode]; sm.Method != want {
			t.Errorf("method %q, want %q", sm.Method, want)
		}
	}
}
