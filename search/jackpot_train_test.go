package search

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// jackpotNet builds Linear 6→8 → BN → ReLU → Linear 8→3 on the native
// engine, initialized from a seed: batch norm, so that the test sees its
// affine parameters frozen while its running statistics move.
func jackpotNet(t *testing.T, batch int) nn.Net {
	t.Helper()
	arch := &nn.Arch{Name: "tiny-bn-mlp", Input: []int{6}, Classes: 3, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 6, Out: 8, Bias: true},
		nn.BatchNorm{Name: "bn1", C: 8},
		nn.ReLU{},
		nn.Linear{Name: "fc2", In: 8, Out: 3, Bias: true},
	}}
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(5)); err != nil {
		t.Fatal(err)
	}
	// Non-trivial norm parameters, so that a change would show.
	bn := net.Param("bn1.weight").Values()
	for i := range bn {
		bn[i] = 1 + float32(i)/10
	}
	return net
}

func jackpotData(t *testing.T) train.Data {
	t.Helper()
	sp, err := datasets.Load("synthetic", datasets.Options{Shape: []int{6}, Classes: 3, TrainSize: 64, TestSize: 24, ValSize: 16, Seed: 7, SplitSeed: 8})
	if err != nil {
		t.Fatal(err)
	}
	return train.Data{Train: sp.Train, Val: sp.Val, Test: sp.Test}
}

// TestMagnitudeMasks computes the starting masks of two tensors by hand:
// fc1 = (0.9, 0.8, 0.7, 0.6), fc2 = (0.1, −0.75, 0.2, 0.05), density ½ of 8.
// Global (the reference's l1) keeps the 4 largest |θ| overall: 0.9, 0.8,
// 0.75, 0.7, so fc1 keeps 3 and fc2 1; layer-wise (uniform) keeps 2 of each.
// At density ¼ the global top 2 are both in fc1, which leaves fc2 empty: an
// error naming it.
func TestMagnitudeMasks(t *testing.T) {
	arch := &nn.Arch{Name: "two-layer", Input: []int{2}, Classes: 2, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 2, Out: 2}, nn.ReLU{}, nn.Linear{Name: "fc2", In: 2, Out: 2},
	}}
	b, _ := nn.GetBackend("native")
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	net.Param("fc1.weight").SetValues([]float32{0.9, 0.8, 0.7, 0.6})
	net.Param("fc2.weight").SetValues([]float32{0.1, -0.75, 0.2, 0.05})
	set, err := prune.ResolvePrunable(arch.Params(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scope    prune.Scope
		fc1, fc2 []float32
	}{
		{prune.Global, []float32{1, 1, 1, 0}, []float32{0, 1, 0, 0}},
		{prune.LayerWise, []float32{1, 1, 0, 0}, []float32{0, 1, 1, 0}},
	} {
		m, err := MagnitudeMasks(net, set, 0.5, c.scope)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.M["fc1.weight"], c.fc1) || !slices.Equal(m.M["fc2.weight"], c.fc2) {
			t.Errorf("%s: fc1 %v fc2 %v, want %v %v", c.scope, m.M["fc1.weight"], m.M["fc2.weight"], c.fc1, c.fc2)
		}
	}
	if _, err := MagnitudeMasks(net, set, 0.25, prune.Global); err == nil || !strings.Contains(err.Error(), "fc2.weight") {
		t.Errorf("density ¼ global: error %v, want one naming fc2.weight", err)
	}
	if _, err := MagnitudeMasks(net, set, 0, prune.Global); err == nil || !strings.Contains(err.Error(), "density") {
		t.Errorf("density 0: error %v", err)
	}
}

// TestSearchFrozen runs a search inside train.Run on a net with batch norm:
// after every step every searched tensor keeps exactly its count and the
// net forwards the search's masks; afterwards every weight, bias and
// batch-norm scale and shift is bit-identical to before, the running
// statistics moved, and masks were swapped. Frozen.Check catches a change of
// one ulp.
func TestSearchFrozen(t *testing.T) {
	net := jackpotNet(t, 8)
	data := jackpotData(t)
	set := []nn.ParamInfo{net.Param("fc1.weight").Info(), net.Param("fc2.weight").Info()}
	masks, err := MagnitudeMasks(net, set, 0.5, prune.Global)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultJackpotConfig()
	cfg.LR = 1 // large enough to swap on a tiny problem
	j, err := NewJackpot(cfg, masks)
	if err != nil {
		t.Fatal(err)
	}
	frozen := Freeze(net)
	before, _ := net.State()
	if err := j.Install(net); err != nil {
		t.Fatal(err)
	}
	tc := train.Config{Budget: train.MustParseStep("4ep"), BatchSize: 8, EvalEvery: train.MustParseStep("5it"), DataSeed: 3}
	FreezeWeights(&tc)
	swaps := 0
	check := func(e *train.Event) error {
		if e.Phase != train.AfterStep {
			return nil
		}
		for i, name := range j.Names {
			swaps += j.Swaps[i]
			m := e.Net.Parametrization(name).(nn.Masked)
			if got := jackpotOnes(m.Mask); got != j.Keep(i) || !slices.Equal(m.Mask, j.Masks[i]) {
				t.Fatalf("iteration %d: %s forwards a mask keeping %d (want %d) or not the search's", e.Iter, name, got, j.Keep(i))
			}
		}
		return nil
	}
	if _, err := train.Run(context.Background(), net, data, tc, j.Callback(), check); err != nil {
		t.Fatal(err)
	}
	if err := frozen.Check(net); err != nil {
		t.Error(err)
	}
	after, _ := net.State()
	if slices.Equal(before.Tensors["buffer/bn1.running_mean"], after.Tensors["buffer/bn1.running_mean"]) ||
		slices.Equal(before.Tensors["buffer/bn1.running_var"], after.Tensors["buffer/bn1.running_var"]) {
		t.Error("batch norm running statistics did not change during the search")
	}
	if swaps == 0 || j.Iter != 24 {
		t.Errorf("%d swaps in %d steps: the search changed nothing", swaps, j.Iter)
	}
	// The check can fail: one ulp in a batch-norm shift.
	v := net.Param("bn1.bias").Values()
	v[3] = jackpotNextUp(v[3])
	if err := frozen.Check(net); err == nil || !strings.Contains(err.Error(), "bn1.bias") {
		t.Errorf("a changed bn1.bias: %v", err)
	}
}

func jackpotNextUp(x float32) float32 {
	if x == 0 {
		return 1e-45
	}
	return x * (1 + 1e-7)
}

// TestCallbackRefusesOtherIteration: a search state whose step count is not
// the loop's iteration (a state from another point than the checkpoint) is
// an error, not a silently shifted schedule.
func TestCallbackRefusesOtherIteration(t *testing.T) {
	net := jackpotNet(t, 8)
	set := []nn.ParamInfo{net.Param("fc1.weight").Info()}
	masks, _ := MagnitudeMasks(net, set, 0.5, prune.Global)
	j, _ := NewJackpot(DefaultJackpotConfig(), masks)
	if err := j.Install(net); err != nil {
		t.Fatal(err)
	}
	j.Iter = 3
	tc := train.Config{Budget: train.MustParseStep("1ep"), BatchSize: 8}
	FreezeWeights(&tc)
	_, err := train.Run(context.Background(), net, jackpotData(t), tc, j.Callback())
	if err == nil || !strings.Contains(err.Error(), "3 score steps but training is at iteration 0") {
		t.Errorf("error %v", err)
	}
}

// TestStateRoundTrip saves a search state and loads it into a fresh search
// of the same tensors; a search with another config refuses it.
func TestStateRoundTrip(t *testing.T) {
	m := jackpotMasksOf([]string{"a"}, []float32{1, 0, 1, 0})
	j, _ := NewJackpot(DefaultJackpotConfig(), m)
	if _, err := j.Update([][]float32{{1, 2, 3, 4}}, [][]float32{{-1, -1, 1, 1}}, 0.1, 1); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/state.gob"
	if err := j.SaveState(path); err != nil {
		t.Fatal(err)
	}
	k, _ := NewJackpot(DefaultJackpotConfig(), m)
	if err := k.LoadState(path); err != nil {
		t.Fatal(err)
	}
	if k.Iter != 1 || !slices.Equal(k.Scores[0], j.Scores[0]) || !slices.Equal(k.Momentum[0], j.Momentum[0]) || !slices.Equal(k.Masks[0], j.Masks[0]) {
		t.Errorf("loaded %+v, saved %+v", k, j)
	}
	cfg := DefaultJackpotConfig()
	cfg.Restriction = RestrictionOff
	o, _ := NewJackpot(cfg, m)
	if err := o.LoadState(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("other config: %v", err)
	}
}
