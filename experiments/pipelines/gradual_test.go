package pipelines

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// gradualTestSpec returns a tiny gradual run: mlp 36-16-3 (fc1 576 + fc2 48 =
// 624 prunable weights, 19 biases) on 72 synthetic training examples in
// batches of 12, so I = 6 and 10 epochs are T = 60 iterations; ΔT = 4 and a
// window of 0–5 epochs (30 iterations) give t0 = 0, tf = 7, n = 7: pruning
// at t = 4, 8, …, 24 and prune-and-regrow at t = 4, 8, …, 60 (15 calls).
// SGD with Nesterov momentum and weight decay, as GraNet trains.
func gradualTestSpec(t *testing.T, pipeline string) experiments.Spec {
	s := tinySpec(t, pipeline)
	edit(t, &s, func(c *gradualPipeline) {
		c.Prune.Density = f(0.1)
	})
	s.Training.Steps = "10ep"
	s.Training.Optimizer = "sgd"
	s.Training.LR = 0.05
	s.Training.Momentum = 0.9
	s.Training.Nesterov = true
	s.Training.WeightDecay = 5e-4
	s.Training.EvalEvery = "2ep"
	edit(t, &s, func(c *gradualPipeline) {
		c.Granet.FinalPruneEpoch = "5ep"
		c.Granet.UpdateFrequency = 4
	})
	s.Output = t.TempDir()
	return s
}

const gradualTestN = 624 // prunable weights of gradualTestSpec's mlp

// TestGradualUpdates trains each method on the tiny spec with the updater
// observed, and checks on the native engine (docs/methods/gradual.md#tests):
//
//   - after every pruning update the kept count is round(N · density_j),
//     density_j computed here from the cubic formula, the first update at
//     j = t0 + 1 below d_i and the last at j = tf − 1;
//   - every prune-and-regrow regrows what it removed in every layer, keeps
//     each layer's alive count, and grows only entries that were inactive
//     after death;
//   - after each update the newly grown entries are exactly 0 with zero
//     momentum, entries that died and were regrown keep their value and
//     momentum, and after every iteration every pruned entry has zero weight
//     and zero momentum;
//   - the number of prune-and-regrow calls is floor(T/ΔT) minus the
//     multiples of ΔT below e_i·I, and they continue after the window.
func TestGradualUpdates(t *testing.T) {
	for _, tc := range []struct {
		name, pipeline string
		initDensity    *float64
		initEpoch      string
		di             float64 // the d_i the schedule uses
		t0, n          int
		pruneAt        []int
		regrowCalls    int
	}{
		{"granet from ERK 0.5", "granet", nil, "", 0.5, 0, 7, []int{4, 8, 12, 16, 20, 24}, 15},
		// e_i·I = 6: t0 = 1, n = 6, pruning from j = 2 (t = 8 ≥ 6); (b)
		// from t = 8: 15 − 1 (t = 4 is below e_i·I).
		{"granet dense to sparse, window from 1ep", "granet", f(1), "1ep", 1, 1, 6, []int{8, 12, 16, 20, 24}, 14},
		{"gmp", "gmp", nil, "", 1, 0, 7, []int{4, 8, 12, 16, 20, 24}, 0},
		{"dst", "dst", nil, "", 0.1, 0, 0, nil, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gradualTestSpec(t, tc.pipeline)
			edit(t, &s, func(c *gradualPipeline) {
				c.Granet.InitDensity, c.Granet.InitPruneEpoch = tc.initDensity, tc.initEpoch
			})
			p, err := experiments.Prepare(s)
			if err != nil {
				t.Fatal(err)
			}
			if ipe, _ := p.ItersPerEpoch(); ipe != 6 {
				t.Fatalf("%d iterations per epoch, the expectations assume 6", ipe)
			}
			run, err := s.Config.(gradualPipeline).setup(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := run.init.Apply(p.Net, nn.ZeroAfterStep); err != nil {
				t.Fatal(err)
			}
			initKept := run.init.KeptCounts()
			u := newGradualUpdater(run)
			var events []gradualUpdate
			u.observe = func(ev gradualUpdate) { events = append(events, ev) }
			var before *nn.State
			var grownNew, revived int
			snap := func(e *train.Event) error {
				if e.Phase != train.AfterStep {
					return nil
				}
				var err error
				before, err = e.Net.State()
				return err
			}
			check := func(e *train.Event) error {
				if e.Phase != train.AfterStep {
					return nil
				}
				st, err := e.Net.State()
				if err != nil {
					return err
				}
				for _, name := range run.init.Names {
					m, w, mom := st.Tensors["mask/"+name], st.Tensors["param/"+name], st.Tensors["opt/momentum/"+name]
					for i := range m {
						if m[i] == 0 && (w[i] != 0 || mom[i] != 0) {
							t.Fatalf("t = %d: pruned %s[%d] has weight %v momentum %v, want 0 and 0", e.Iter, name, i, w[i], mom[i])
						}
					}
				}
				if len(events) == 0 || events[len(events)-1].Iter != e.Iter {
					return nil
				}
				ev := events[len(events)-1]
				for l, name := range run.init.Names {
					if !ev.Regrown {
						break
					}
					w, mom := st.Tensors["param/"+name], st.Tensors["opt/momentum/"+name]
					w0, mom0 := before.Tensors["param/"+name], before.Tensors["opt/momentum/"+name]
					for _, i := range ev.Grown[l] {
						if slices.Contains(ev.Revived[l], i) {
							revived++
							if w[i] != w0[i] || mom[i] != mom0[i] {
								t.Fatalf("t = %d: %s[%d] died and was regrown: weight %v momentum %v, want its %v and %v", e.Iter, name, i, w[i], mom[i], w0[i], mom0[i])
							}
							continue
						}
						grownNew++
						if w[i] != 0 || mom[i] != 0 {
							t.Fatalf("t = %d: newly grown %s[%d] has weight %v momentum %v, want exactly 0 and 0", e.Iter, name, i, w[i], mom[i])
						}
					}
				}
				return nil
			}
			if _, err := p.Train(context.Background(), "", snap, u.callback, check); err != nil {
				t.Fatal(err)
			}

			var pruneAt []int
			regrows, afterWindow := 0, 0
			for _, ev := range events {
				if ev.Pruned {
					pruneAt = append(pruneAt, ev.Iter)
					j := ev.Iter / 4
					d := 0.1 + (tc.di-0.1)*math.Pow(1-float64(j-tc.t0)/float64(tc.n), 3)
					want := int(math.Round(d * gradualTestN))
					if ev.Keep != want || ev.AfterPrune.Kept() != want {
						t.Errorf("t = %d: kept %d (target %d) after pruning, want round(%d · %.6f) = %d", ev.Iter, ev.AfterPrune.Kept(), ev.Keep, gradualTestN, d, want)
					}
				}
				if !ev.Regrown {
					if !ev.AfterPrune.Equal(ev.After) {
						t.Errorf("t = %d: masks changed without prune-and-regrow", ev.Iter)
					}
					continue
				}
				regrows++
				if ev.Iter > 30 {
					afterWindow++
				}
				for l, name := range run.init.Names {
					was, now := ev.AfterPrune.M[name], ev.After.M[name]
					if ev.Removed[l] != len(ev.Grown[l]) || ev.AfterPrune.KeptOf(name) != ev.After.KeptOf(name) {
						t.Errorf("t = %d %s: removed %d, grown %d, alive %d → %d", ev.Iter, name, ev.Removed[l], len(ev.Grown[l]), ev.AfterPrune.KeptOf(name), ev.After.KeptOf(name))
					}
					if ev.Removed[l] == 0 {
						t.Errorf("t = %d %s: nothing removed with %d alive (q = ceil(r_t · nnz) ≥ 1)", ev.Iter, name, ev.AfterPrune.KeptOf(name))
					}
					for _, i := range ev.Grown[l] {
						if was[i] == 1 && !slices.Contains(ev.Revived[l], i) {
							t.Errorf("t = %d %s: grown entry %d was alive and did not die", ev.Iter, name, i)
						}
						if now[i] != 1 {
							t.Errorf("t = %d %s: grown entry %d is not alive", ev.Iter, name, i)
						}
					}
					if tc.pipeline == "dst" && ev.After.KeptOf(name) != initKept[l] {
						t.Errorf("t = %d %s: dst alive count %d, want the ERK count %d", ev.Iter, name, ev.After.KeptOf(name), initKept[l])
					}
				}
			}
			if !slices.Equal(pruneAt, tc.pruneAt) {
				t.Errorf("pruning updates at %v, want %v", pruneAt, tc.pruneAt)
			}
			if regrows != tc.regrowCalls {
				t.Errorf("%d prune-and-regrow calls, want %d", regrows, tc.regrowCalls)
			}
			if tc.regrowCalls > 0 && (afterWindow != 8 || grownNew == 0 || revived == 0) {
				t.Errorf("%d calls after the window (want 8: t = 32 … 60), %d newly grown and %d revived entries checked (want some of each)", afterWindow, grownNew, revived)
			}
		})
	}
}

// gradNet hands out a made-up dense gradient that differs from one
// minibatch to the next: Param(name).Grad() returns G_c after the c-th
// Gradients call (0-based), with G_c[i] = ((37i + 101c) mod 997) − 498. The
// engine trains on the true gradient; only readers of Param.Grad see G_c.
type gradNet struct {
	nn.Net
	calls int
	fake  map[string][]float32
}

func fakeGrad(c, size int) []float32 {
	g := make([]float32, size)
	for i := range g {
		g[i] = float32((37*i+101*c)%997) - 498
	}
	return g
}

func (n *gradNet) Gradients(b nn.Batch) (float64, error) {
	loss, err := n.Net.Gradients(b)
	for _, p := range n.Net.Params() {
		n.fake[p.Info().Name] = fakeGrad(n.calls, p.Info().Size())
	}
	n.calls++
	return loss, err
}

func (n *gradNet) Param(name string) nn.Param {
	p := n.Net.Param(name)
	if p == nil {
		return nil
	}
	return gradParam{p, n.fake[name]}
}

func (n *gradNet) Params() []nn.Param {
	var ps []nn.Param
	for _, p := range n.Net.Params() {
		ps = append(ps, n.Param(p.Info().Name))
	}
	return ps
}

type gradParam struct {
	nn.Param
	g []float32
}

func (p gradParam) Grad() []float32 { return p.g }

// TestGraNetGradientSource checks docs/methods/gradual.md#prune-and-regrow:
// prune-and-regrow at iteration t ranks the inactive entries by the gradient
// of iteration t's own minibatch (G_{t−1} of gradNet), not by a neighbour's.
// The expected growth is recomputed here from the observed masks: the
// candidates are the entries inactive after (a) plus those that died, and the
// grown ones are the Removed largest |G_{t−1}| among them, ties to the lower
// index.
func TestGraNetGradientSource(t *testing.T) {
	s := gradualTestSpec(t, "granet")
	p, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.Config.(gradualPipeline).setup(p)
	if err != nil {
		t.Fatal(err)
	}
	net := &gradNet{Net: p.Net, fake: map[string][]float32{}}
	p.Net = net
	if err := run.init.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		t.Fatal(err)
	}
	u := newGradualUpdater(run)
	var events []gradualUpdate
	u.observe = func(ev gradualUpdate) { events = append(events, ev) }
	if _, err := p.Train(context.Background(), "", u.callback); err != nil {
		t.Fatal(err)
	}
	// growth returns the k largest |g| among cand, ascending.
	growth := func(cand []int, g []float32, k int) []int {
		c := slices.Clone(cand)
		slices.SortFunc(c, func(a, b int) int {
			ga, gb := math.Abs(float64(g[a])), math.Abs(float64(g[b]))
			switch {
			case ga > gb:
				return -1
			case ga < gb:
				return 1
			}
			return a - b
		})
		c = c[:k]
		slices.Sort(c)
		return c
	}
	calls, discriminating := 0, 0
	for _, ev := range events {
		if !ev.Regrown {
			continue
		}
		calls++
		for l, name := range run.init.Names {
			was, now := ev.AfterPrune.M[name], ev.After.M[name]
			var cand []int
			for i := range was {
				died := was[i] == 1 && (now[i] == 0 || slices.Contains(ev.Revived[l], i))
				if was[i] == 0 || died {
					cand = append(cand, i)
				}
			}
			size := len(was)
			want := growth(cand, fakeGrad(ev.Iter-1, size), ev.Removed[l])
			if !slices.Equal(ev.Grown[l], want) {
				t.Errorf("t = %d %s: grown %v, want %v (the largest |G| of iteration %d's minibatch)", ev.Iter, name, ev.Grown[l], want, ev.Iter)
			}
			prev := growth(cand, fakeGrad(ev.Iter-2, size), ev.Removed[l])
			next := growth(cand, fakeGrad(ev.Iter, size), ev.Removed[l])
			if !slices.Equal(prev, want) && !slices.Equal(next, want) {
				discriminating++
			}
		}
	}
	if calls != 15 || discriminating == 0 {
		t.Errorf("%d prune-and-regrow calls (want 15), %d where a neighbouring minibatch's gradient would grow other entries (want some)", calls, discriminating)
	}
	if net.calls != 60 {
		t.Errorf("%d gradient computations, want 60", net.calls)
	}
}

// TestGradualPipelines runs gmp, granet and dst through RunSpec: one level-0
// result per replicate under the method's name, the density of the saved
// final masks (the schedule's last density_j for gmp and granet, the ERK
// count for dst), pruned weights zero, schedule.txt written.
func TestGradualPipelines(t *testing.T) {
	set := []nn.ParamInfo{
		{Name: "fc1.weight", Shape: []int{16, 36}, Kind: nn.Weight},
		{Name: "fc2.weight", Shape: []int{3, 16}, Kind: nn.Weight},
	}
	erk, err := prune.ERKPlan(set, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pipeline, method string
		kept             int
		calls            string
	}{
		// round(624 · (0.1 + 0.9/7³)) = round(64.04) = 64, from dense.
		{"gmp", "gmp", 64, ""},
		// round(624 · (0.1 + 0.4/7³)) = round(63.13) = 63, from ERK 0.5.
		{"granet", "granet s_i=0.5", 63, "prune-and-regrow (b): 15 calls at t = 4 … 60"},
		{"dst", "dst", erk.Keep(), "prune-and-regrow (b): 15 calls at t = 4 … 60"},
	} {
		t.Run(c.pipeline, func(t *testing.T) {
			s := gradualTestSpec(t, c.pipeline)
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 {
				t.Fatalf("%d results, want 1", len(rs))
			}
			r := rs[0]
			if want := float64(c.kept) / gradualTestN; r.Method != c.method || r.Density != want || r.Level != 0 {
				t.Errorf("method %s density %v level %d, want %s %v 0", r.Method, r.Density, r.Level, c.pipeline, want)
			}
			if r.ParamsNonzero > int64(c.kept)+19 {
				t.Errorf("%d nonzero parameters, at most %d kept weights + 19 biases", r.ParamsNonzero, c.kept)
			}
			if math.IsNaN(r.BestTestAcc) || r.Iterations != 60 {
				t.Errorf("test accuracy %v after %d iterations", r.BestTestAcc, r.Iterations)
			}
			// The curve (an evaluation every 12 iterations) records the
			// density of the masks at each point: gmp's first point, at
			// t = 12, is after three of its six pruning updates (t = 4, 8,
			// 12); from t = 24, the last update, every method is at its
			// final density, which granet's and dst's prune-and-regrow
			// keep.
			var steps []int
			for _, p := range r.Curve {
				steps = append(steps, p.Step)
				if p.Step >= 24 && p.Density != r.Density {
					t.Errorf("curve point at %d: density %v, want the final %v", p.Step, p.Density, r.Density)
				}
			}
			if !slices.Equal(steps, []int{12, 24, 36, 48, 60}) {
				t.Fatalf("curve steps %v, want an evaluation every 12 iterations", steps)
			}
			if first := r.Curve[0].Density; c.pipeline == "gmp" && !(first > 2*r.Density && first < 1) {
				t.Errorf("gmp's density at t = 12 is %v: want it between the final %v (times 2) and dense", first, r.Density)
			}
			dir := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")
			m, err := prune.LoadMasks(filepath.Join(dir, masksFile))
			if err != nil || m.Kept() != c.kept {
				t.Errorf("masks.bin: %v kept, err %v", m, err)
			}
			sched, err := os.ReadFile(filepath.Join(dir, scheduleFile))
			if err != nil || !strings.Contains(string(sched), c.calls) || !strings.Contains(string(sched), "fc2.weight [3 16]") {
				t.Errorf("schedule.txt (err %v):\n%s", err, sched)
			}
		})
	}
}

// TestGradualResume interrupts a granet run between mask updates and right
// after one, resumes it, and gets the uninterrupted run bit for bit: the
// updater keeps nothing across iterations that is not in the checkpoint.
func TestGradualResume(t *testing.T) {
	s := gradualTestSpec(t, "granet")
	want, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")
	for _, stopAt := range []int{13, 16, 33} {
		s.Output = t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		stop := func(experiments.UnitInfo) ([]experiments.Callback, func()) {
			return []experiments.Callback{func(e *train.Event) error {
				if e.Phase == train.AfterStep && e.Iter == stopAt {
					cancel()
				}
				return nil
			}}, func() {}
		}
		if _, err := experiments.RunSpec(ctx, s, experiments.RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
			t.Fatalf("stop at %d: %v", stopAt, err)
		}
		ck, err := train.LoadCheckpoint(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "checkpoint.gob"))
		if err != nil || ck.Iter != stopAt {
			t.Fatalf("stop at %d: checkpoint %v at %d", stopAt, err, ck.Iter)
		}
		got, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, w := got[0], want[0]
		if g.BestTestLoss != w.BestTestLoss || g.FinalTestLoss != w.FinalTestLoss || g.Density != w.Density || g.ParamsNonzero != w.ParamsNonzero {
			t.Errorf("stop at %d: resumed %+v\nuninterrupted %+v", stopAt, g, w)
		}
		if !slices.Equal(curveDensities(g.Curve), curveDensities(w.Curve)) {
			t.Errorf("stop at %d: the resumed curve's densities %v, uninterrupted %v", stopAt, curveDensities(g.Curve), curveDensities(w.Curve))
		}
		gotDir := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")
		a, _ := os.ReadFile(filepath.Join(gotDir, masksFile))
		b, _ := os.ReadFile(filepath.Join(wantDir, masksFile))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("stop at %d: %s differs", stopAt, masksFile)
		}
		ga, _ := train.LoadCheckpoint(filepath.Join(gotDir, "checkpoint.gob"))
		wa, _ := train.LoadCheckpoint(filepath.Join(wantDir, "checkpoint.gob"))
		for name, v := range wa.State.Tensors {
			if !slices.Equal(ga.State.Tensors[name], v) {
				t.Errorf("stop at %d: final %s differs", stopAt, name)
			}
		}
	}
}

func curveDensities(c []results.CurvePoint) []float64 {
	var ds []float64
	for _, p := range c {
		ds = append(ds, p.Density)
	}
	return ds
}

// TestGradualValidate: bad input is an error that names the field, from
// Validate when the data are not needed, and otherwise from the run before
// its first training step.
func TestGradualValidate(t *testing.T) {
	cases := []struct {
		name     string
		pipeline string
		edit     func(*experiments.Spec)
		want     []string
		// runtime: Validate cannot know (it needs the iterations per
		// epoch or the model); the run must fail before training.
		runtime bool
	}{
		{"no density", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Prune.Density = nil }) }, []string{"pipeline granet needs the final density", "prune.density"}, false},
		{"no density dst", "dst", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Prune.Density = nil }) }, []string{"pipeline dst needs the density to train at"}, false},
		{"two final densities", "gmp", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.FinalDensity = f(0.1) }) }, []string{"prune.density and granet.final_density both"}, false},
		{"granet.final_density out of range", "gmp", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Prune.Density = nil; c.Granet.FinalDensity = f(0) })
		}, []string{"granet.final_density", "(0, 1]"}, false},
		{"final above init", "granet", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Prune.Sparsity, c.Prune.Density = f(0.4), nil })
		},
			[]string{"prune.sparsity = 0.6 is above granet.init_density = 0.5 (its default for pipeline granet)"}, false},
		{"final above explicit init", "gmp", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.InitDensity = f(0.05) }) }, []string{"prune.density = 0.1 is above granet.init_density = 0.05:"}, false},
		{"init density 0", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.InitDensity = f(0) }) }, []string{"granet.init_density = 0", "(0, 1]"}, false},
		{"dst init density", "dst", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.InitDensity = f(0.5) }) }, []string{"granet.init_density = 0.5", "fixed density prune.density = 0.1"}, false},
		{"empty window", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.InitPruneEpoch = "5ep" }) }, []string{"granet.init_prune_epoch = 5ep is not before granet.final_prune_epoch = 5ep", "empty or inverted"}, false},
		{"inverted window", "gmp", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Granet.InitPruneEpoch = "30it"; c.Granet.FinalPruneEpoch = "20it" })
		}, []string{"empty or inverted"}, false},
		{"default window past the budget", "granet", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Granet.FinalPruneEpoch = prune.DefaultGradualSpec().FinalPruneEpoch })
		}, []string{"granet.final_prune_epoch = 110ep ends after the training budget training.steps = 10ep"}, false},
		{"window past the budget", "gmp", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.FinalPruneEpoch = "11ep" }) }, []string{"granet.final_prune_epoch = 11ep ends after"}, false},
		{"ΔT ≥ T in iterations", "dst", func(s *experiments.Spec) {
			s.Training.Steps = "60it"
			edit(t, s, func(c *gradualPipeline) { c.Granet.UpdateFrequency = 60 })
		}, []string{"granet.update_frequency = 60", "training.steps = 60it"}, false},
		{"ΔT 0", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.UpdateFrequency = 0 }) }, []string{"granet.update_frequency = 0"}, false},
		{"death rate", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.PruneRate = 1 }) }, []string{"granet.prune_rate = 1", "[0, 1)"}, false},
		{"η_min", "dst", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.DeathRateMin = 0.9 }) }, []string{"granet.death_rate_min = 0.9"}, false},
		{"criterion", "granet", func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=snip") }, []string{"does not read prune.criterion"}, false},
		{"layer-wise", "gmp", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Prune.Scope = "layerwise" }) }, []string{"GMP_uniform", "not implemented"}, false},
		{"branches", "granet", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Prune.Branches = []string{"scratch"} })
		}, []string{"prune.branches[0]", "scratch_e"}, false},
		// Known only with I = 6: T = 60.
		{"ΔT ≥ T in epochs", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.UpdateFrequency = 60 }) }, []string{"granet.update_frequency = 60", "training.steps = 10ep (60 iterations)"}, true},
		{"window in iterations past an epoch budget", "gmp", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Granet.FinalPruneEpoch = "61it" }) }, []string{"granet.final_prune_epoch = 61it (iteration 61) ends after the training budget training.steps = 10ep (60 iterations at 6 per epoch)"}, true},
		{"window inside one period", "granet", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Granet.InitPruneEpoch, c.Granet.FinalPruneEpoch = "5it", "1ep" })
		}, []string{"n = tf − t0 = 0"}, true},
		// Known only with the model: 624 weights in 2 tensors.
		// round(624 · (0.0005 + 0.4995/7³)) = round(1.22) = 1 at the last update.
		{"final density empties a layer", "granet", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Prune.Density = f(0.0005) }) },
			[]string{"prune.density = 0.0005: the last pruning update (iteration 24", "keeps 1 of 624 weights, fewer than the 2 prunable tensors"}, true},
		{"erk empties a layer", "dst", func(s *experiments.Spec) { edit(t, s, func(c *gradualPipeline) { c.Prune.Density = f(0.0005) }) }, []string{"prune.density = 0.0005", "erk", "no kept entry"}, true},
		{"erk init empties a layer", "granet", func(s *experiments.Spec) {
			edit(t, s, func(c *gradualPipeline) { c.Granet.InitDensity, c.Prune.Density = f(0.0005), f(0.0001) })
		}, []string{"granet.init_density = 0.0005", "erk"}, true},
	}
	for _, c := range cases {
		s := gradualTestSpec(t, c.pipeline)
		c.edit(&s)
		_, err := experiments.Validate(s)
		if c.runtime {
			if err != nil {
				t.Errorf("%s: Validate: %v (it cannot know without the data)", c.name, err)
				continue
			}
			trained := false
			watch := func(experiments.UnitInfo) ([]experiments.Callback, func()) {
				return []experiments.Callback{func(e *train.Event) error { trained = true; return nil }}, func() {}
			}
			_, err = experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch})
			if trained {
				t.Errorf("%s: training started before the error", c.name)
			}
			if _, serr := os.Stat(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "checkpoint.gob")); serr == nil {
				t.Errorf("%s: a checkpoint was written", c.name)
			}
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q, want it to contain %q", c.name, err, w)
			}
		}
	}
}

// TestGradualSpecDefaults: the granet section at its defaults leaves the
// run name of every other spec alone (the golden hashes pin that), the
// defaults are GraNet's, and a key set in YAML reaches the section.
func TestGradualSpecDefaults(t *testing.T) {
	d := prune.DefaultGradualSpec()
	def, err := experiments.PipelineDefaults("granet")
	if err != nil {
		t.Fatal(err)
	}
	g := def.(gradualPipeline).Granet
	if g.UpdateFrequency != d.UpdateFrequency || g.FinalPruneEpoch != d.FinalPruneEpoch || g.PruneRate != d.PruneRate ||
		g.DeathRateMin != d.DeathRateMin || g.InitPruneEpoch != d.InitPruneEpoch || g.InitDensity != nil || g.FinalDensity != nil {
		t.Errorf("granet defaults %+v, want prune.DefaultGradualSpec %+v with the densities unset", g, d)
	}
	for _, name := range []string{"gmp", "granet", "dst"} {
		s, err := experiments.DefaultsFor(name)
		if err != nil {
			t.Fatal(err)
		}
		for k := range experiments.Canonical(s) {
			if strings.HasPrefix(k, "granet.") {
				t.Errorf("default %s is part of the identity of pipeline %s", k, name)
			}
		}
	}
	s, err := experiments.ParseSpec("t", []byte("pipeline: granet\nprune: {density: 0.1}\ngranet: {init_density: 1, update_frequency: 50, final_prune_epoch: 10ep}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Config.(gradualPipeline).Granet; g.InitDensity == nil || *g.InitDensity != 1 || g.UpdateFrequency != 50 || g.PruneRate != 0.5 {
		t.Errorf("parsed %+v", g)
	}
	c := experiments.Canonical(s)
	if _, ok := c["granet.update_frequency"]; !ok || len(c) != 5 {
		t.Errorf("canonical form %v, want pipeline, prune.density and the three granet keys set", c)
	}
}

// TestGradualPaperConfigs loads the GraNet and GMP paper configs
// (docs/methods/gradual.md#configuration): every sweep point validates,
// resolves with MNIST's 430 iterations per epoch at batch 128 into the
// schedule their comments describe, runs 3 replicates, and each quick
// variant's runs are runs of its full sweep (same names), on LeNet-300-100
// only.
func TestGradualPaperConfigs(t *testing.T) {
	for _, c := range []struct {
		file      string
		points    int
		pipelines []string
		quick     string
	}{
		{"granet-lenet5.yaml", 12, []string{"granet"}, "granet-lenet5-quick.yaml"},
		{"gmp-lenet5.yaml", 12, []string{"dst", "gmp"}, "gmp-lenet5-quick.yaml"},
	} {
		full := loadPaperSweep(t, c.file, c.points, c.pipelines)
		quick := loadPaperSweep(t, c.quick, c.points/2, c.pipelines)
		names := map[string]bool{}
		for _, s := range full {
			names[experiments.Hash(s)] = true
		}
		for _, s := range quick {
			if !names[experiments.Hash(s)] || s.Model.Name != "lenet-300-100" || s.Output != full[0].Output {
				t.Errorf("%s: run %v (%s) is not a LeNet-300-100 run of %s", c.quick, experiments.Canonical(s), s.Model.Name, c.file)
			}
		}
	}
}

func loadPaperSweep(t *testing.T, file string, points int, pipelines []string) []experiments.Spec {
	t.Helper()
	specs, err := loadSweep(filepath.Join("papers", file), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != points {
		t.Errorf("%s: %d sweep points, want %d", file, len(specs), points)
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if _, err := experiments.Validate(s); err != nil {
			t.Errorf("%s %v: %v", file, experiments.Canonical(s), err)
			continue
		}
		seen[s.Pipeline] = true
		g := s.Config.(gradualPipeline)
		am, _, _ := g.Prune.Resolve()
		if s.Replicates != 3 || s.Seed != 18 || !slices.Contains([]float64{0.1, 0.05, 0.02}, am.Density) {
			t.Errorf("%s %v: %d replicates from seed %d at density %v", file, experiments.Canonical(s), s.Replicates, s.Seed, am.Density)
		}
		gs, _, err := g.spec()
		if err != nil {
			t.Fatal(err)
		}
		sched, err := gs.Resolve(430, train.MustParseStep(s.Training.Steps))
		if err != nil {
			t.Errorf("%s %v: %v", file, experiments.Canonical(s), err)
			continue
		}
		if sched.Total != 8600 || len(sched.RegrowSteps()) != map[string]int{"gmp": 0, "granet": 86, "dst": 86}[s.Pipeline] ||
			len(sched.PruneSteps()) != map[string]int{"gmp": 42, "granet": 42, "dst": 0}[s.Pipeline] {
			t.Errorf("%s %v: T = %d, %d pruning updates, %d prune-and-regrow calls", file, experiments.Canonical(s), sched.Total, len(sched.PruneSteps()), len(sched.RegrowSteps()))
		}
	}
	var got []string
	for p := range seen {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, pipelines) {
		t.Errorf("%s: pipelines %v, want %v", file, got, pipelines)
	}
	return specs
}

// TestGradualBranches: Scratch-E off a GMP run trains the final mask from
// a fresh initialization.
func TestGradualBranches(t *testing.T) {
	s := gradualTestSpec(t, "gmp")
	edit(t, &s, func(c *gradualPipeline) {
		c.Prune.Branches = []string{BranchScratchE}
	})
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].Branch != BranchScratchE || rs[1].Method != "gmp/scratch_e" || rs[1].Density != rs[0].Density {
		t.Fatalf("results %+v", rs)
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0")
	trunk, err := prune.LoadMasks(filepath.Join(root, masksFile))
	if err != nil {
		t.Fatal(err)
	}
	branch, err := prune.LoadMasks(filepath.Join(root, "branch_scratch_e", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	if !branch.Equal(trunk) {
		t.Error("scratch_e does not train the GMP mask")
	}
}

// TestGradualReferenceConfigs: the reference runs (dense, SNIP, SynFlow)
// share the GraNet configs' recipe, seeds and output folder, and the quick
// file is the LeNet-300-100 half of the full one.
func TestGradualReferenceConfigs(t *testing.T) {
	granet, err := loadSweep("papers/granet-lenet5.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	recipe := map[string]experiments.TrainingSpec{}
	for _, s := range granet {
		recipe[s.Model.Name] = s.Training
	}
	full, err := loadSweep("papers/granet-lenet5-references.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	quick, err := loadSweep("papers/granet-lenet5-references-quick.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != 14 || len(quick) != 7 {
		t.Fatalf("%d and %d runs, want 14 and 7", len(full), len(quick))
	}
	names := map[string]bool{}
	for _, s := range full {
		names[experiments.Hash(s)] = true
		if _, err := experiments.Validate(s); err != nil {
			t.Errorf("%v: %v", experiments.Canonical(s), err)
		}
		if !reflect.DeepEqual(s.Training, recipe[s.Model.Name]) || s.Seed != 18 || s.Replicates != 3 || s.Output != granet[0].Output {
			t.Errorf("%v: not the GraNet recipe, seeds and output", experiments.Canonical(s))
		}
	}
	for _, s := range quick {
		if !names[experiments.Hash(s)] || s.Model.Name != "lenet-300-100" {
			t.Errorf("quick run %v is not a LeNet-300-100 run of the full file", experiments.Canonical(s))
		}
	}
}

// TestGradualShortConfig: the LeNet-5 5-epoch file validates at every point
// and its schedule is the one its header states: T = 2150, 9 pruning
// updates (t = 100 … 900), 21 prune-and-regrow calls.
func TestGradualShortConfig(t *testing.T) {
	specs, err := loadSweep("papers/granet-lenet5-short.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"granet": {9, 21}, "gmp": {9, 0}, "dst": {0, 21}}
	for _, s := range specs {
		if _, err := experiments.Validate(s); err != nil {
			t.Errorf("%v: %v", experiments.Canonical(s), err)
		}
		w, ok := want[s.Pipeline]
		if !ok {
			continue
		}
		gs, _, err := s.Config.(gradualPipeline).spec()
		if err != nil {
			t.Fatal(err)
		}
		g, err := gs.Resolve(430, train.MustParseStep(s.Training.Steps))
		if err != nil {
			t.Fatal(err)
		}
		if g.Total != 2150 || len(g.PruneSteps()) != w[0] || len(g.RegrowSteps()) != w[1] {
			t.Errorf("%s: T = %d, %d pruning updates, %d prune-and-regrow calls; want 2150, %d, %d", s.Pipeline, g.Total, len(g.PruneSteps()), len(g.RegrowSteps()), w[0], w[1])
		}
	}
	if len(specs) != 6 {
		t.Errorf("%d runs, want 6", len(specs))
	}
}
