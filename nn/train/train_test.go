package train_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/train"
)

// fixture is a small conv net with batch norm and dropout on synthetic
// CIFAR-shaped data with augmentation: every stateful part of training
// (optimizer state, running statistics, dropout stream, data order,
// augmentation) is exercised by the resume and determinism tests.
type fixture struct {
	data train.Data
	arch *nn.Arch
	cfg  train.Config
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	sp, err := datasets.Load("synthetic", datasets.Options{Shape: []int{3, 8, 8}, Classes: 4, TrainSize: 80, TestSize: 40, ValSize: 20, Seed: 3, SplitSeed: 4})
	if err != nil {
		t.Fatal(err)
	}
	arch := &nn.Arch{Name: "tiny-conv", Input: []int{3, 8, 8}, Classes: 4, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 3, Out: 4, Kernel: 3, Stride: 1, Pad: 1},
		nn.BatchNorm{Name: "bn1", C: 4},
		nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2},
		nn.Flatten{},
		nn.Dropout{P: 0.25},
		nn.Linear{Name: "fc", In: 64, Out: 4, Bias: true},
	}}
	cfg := train.Config{
		Budget: train.MustParseStep("3ep"), BatchSize: 16, LR: 0.05,
		Optimizer: nn.Optimizer{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4},
		Schedule:  train.Schedule{Name: "cosine"}, EvalEvery: train.MustParseStep("4it"), DataSeed: 11,
	}
	return fixture{data: train.Data{Train: sp.Train, Val: sp.Val, Test: sp.Test, Augment: datasets.Augment{PadCrop: 1, Flip: true}}, arch: arch, cfg: cfg}
}

func (f fixture) net(t *testing.T) nn.Net {
	t.Helper()
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: f.arch, MaxBatch: f.cfg.BatchSize, DropoutSeed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(7)); err != nil {
		t.Fatal(err)
	}
	return net
}

// weightHash hashes every parameter and buffer bit pattern of a net.
func weightHash(t *testing.T, net nn.Net) [32]byte {
	t.Helper()
	st, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	names := []string{"buffer/bn1.running_mean", "buffer/bn1.running_var"}
	for _, p := range net.Arch().Params() {
		names = append(names, "param/"+p.Name)
	}
	for _, name := range names {
		for _, v := range st.Tensors[name] {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestTrainDeterministic(t *testing.T) {
	f := newFixture(t)
	a, b := f.net(t), f.net(t)
	ha, err := train.Run(context.Background(), a, f.data, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := train.Run(context.Background(), b, f.data, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if weightHash(t, a) != weightHash(t, b) {
		t.Error("two runs of the same config and seed end with different weights")
	}
	if !samePoints(ha.Points, hb.Points) {
		t.Errorf("histories differ:\n%v\n%v", ha.Points, hb.Points)
	}
	// A different data seed must change the result, or the hash above
	// could not fail.
	c := f.net(t)
	cfg := f.cfg
	cfg.DataSeed++
	if _, err := train.Run(context.Background(), c, f.data, cfg); err != nil {
		t.Fatal(err)
	}
	if weightHash(t, c) == weightHash(t, a) {
		t.Error("changing the data seed did not change the weights")
	}
}

func TestTrainResumeBitIdentical(t *testing.T) {
	f := newFixture(t)
	ref := f.net(t)
	want, err := train.Run(context.Background(), ref, f.data, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []int{1, 4, 7, 11} { // between evaluations, on one, before the last
		cfg := f.cfg
		cfg.Checkpoint = filepath.Join(t.TempDir(), "ck.gob")
		ctx, cancel := context.WithCancel(context.Background())
		stopper := func(e *train.Event) error {
			if e.Phase == train.AfterStep && e.Iter == stopAt {
				cancel()
			}
			return nil
		}
		if _, err := train.Run(ctx, f.net(t), f.data, cfg, stopper); !errors.Is(err, context.Canceled) {
			t.Fatalf("stop at %d: error %v, want context.Canceled", stopAt, err)
		}
		ck, err := train.LoadCheckpoint(cfg.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Iter != stopAt {
			t.Errorf("checkpoint at iteration %d, want %d", ck.Iter, stopAt)
		}
		resumed := f.net(t) // fresh weights: everything must come from the checkpoint
		got, err := train.Run(context.Background(), resumed, f.data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got.Resumed != stopAt {
			t.Errorf("History.Resumed = %d, want %d", got.Resumed, stopAt)
		}
		if weightHash(t, resumed) != weightHash(t, ref) {
			t.Errorf("stop at %d: resumed weights differ from the uninterrupted run", stopAt)
		}
		if !samePoints(got.Points, want.Points) {
			t.Errorf("stop at %d: histories differ:\n%v\n%v", stopAt, got.Points, want.Points)
		}
	}
}

func TestTrainCheckpointMismatchAndCorrupt(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Checkpoint = filepath.Join(t.TempDir(), "ck.gob")
	if _, err := train.Run(context.Background(), f.net(t), f.data, cfg); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LR = 0.1
	if _, err := train.Run(context.Background(), f.net(t), f.data, other); err == nil || !strings.Contains(err.Error(), "different configuration") {
		t.Errorf("resuming with another lr: error %v, want a configuration mismatch", err)
	}
	if err := os.WriteFile(cfg.Checkpoint, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(context.Background(), f.net(t), f.data, cfg); err == nil || !strings.Contains(err.Error(), cfg.Checkpoint) {
		t.Errorf("corrupt checkpoint: error %v, want one naming the file", err)
	}
}

func TestTrainCallbacksAndEvaluation(t *testing.T) {
	f := newFixture(t)
	var grads, steps, evals []int
	var every3, at5 []int
	record := func(e *train.Event) error {
		switch e.Phase {
		case train.AfterGradients:
			grads = append(grads, e.Iter)
		case train.AfterStep:
			steps = append(steps, e.Iter)
		case train.AfterEval:
			evals = append(evals, e.Iter)
		}
		return nil
	}
	e3 := train.Every(3, func(e *train.Event) error { every3 = append(every3, e.Iter); return nil })
	a5 := train.At(5, func(e *train.Event) error { at5 = append(at5, e.Iter); return nil })
	h, err := train.Run(context.Background(), f.net(t), f.data, f.cfg, record, e3, a5)
	if err != nil {
		t.Fatal(err)
	}
	// 60 training examples, batch 16: 4 iterations per epoch, 12 in all.
	if h.ItersPerEpoch != 4 || h.Total != 12 {
		t.Fatalf("%d iterations per epoch, %d total; want 4 and 12", h.ItersPerEpoch, h.Total)
	}
	if len(grads) != 12 || grads[0] != 0 || grads[11] != 11 || len(steps) != 12 || steps[0] != 1 || steps[11] != 12 {
		t.Errorf("gradient events %v, step events %v", grads, steps)
	}
	if !reflect.DeepEqual(evals, []int{4, 8, 12}) {
		t.Errorf("evaluations at %v, want [4 8 12]", evals)
	}
	if !reflect.DeepEqual(every3, []int{3, 6, 9, 12}) || !reflect.DeepEqual(at5, []int{5}) {
		t.Errorf("Every(3) at %v, At(5) at %v", every3, at5)
	}
	for _, p := range h.Points {
		if math.IsNaN(p.ValLoss) || math.IsNaN(p.TestAcc) || math.IsNaN(p.TrainLoss) {
			t.Errorf("point %+v has NaN metrics", p)
		}
		if !math.IsNaN(p.TrainAcc) || !math.IsNaN(p.Density) {
			t.Errorf("point %+v: training accuracy and density measured without a callback", p)
		}
	}
	if h.BestPoint().Iter != h.Points[train.BestIndex(h.Points)].Iter {
		t.Error("BestPoint is not the minimum validation loss")
	}
	// A callback error stops training and is returned.
	boom := errors.New("boom")
	_, err = train.Run(context.Background(), f.net(t), f.data, f.cfg, train.At(2, func(*train.Event) error { return boom }))
	if !errors.Is(err, boom) {
		t.Errorf("callback error: got %v", err)
	}
}

// TestEvalTrain checks that EvalTrain records, at every evaluation, the
// accuracy of the net on the whole training split: the value at the last
// point is what Evaluate says of the trained net.
func TestEvalTrain(t *testing.T) {
	f := newFixture(t)
	net := f.net(t)
	var seen []float64
	after := func(e *train.Event) error { // runs after EvalTrain: sees its value
		if e.Phase == train.AfterEval {
			seen = append(seen, e.History.Points[len(e.History.Points)-1].TrainAcc)
		}
		return nil
	}
	h, err := train.Run(context.Background(), net, f.data, f.cfg, train.EvalTrain(f.data.Train, 7), after)
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := train.Evaluate(net, f.data.Train, 16)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Final().TrainAcc; got != want {
		t.Errorf("final training accuracy %v, want %v (Evaluate on the training split)", got, want)
	}
	if len(seen) != len(h.Points) {
		t.Fatalf("%d evaluations seen, %d points", len(seen), len(h.Points))
	}
	for i, p := range h.Points {
		if math.IsNaN(p.TrainAcc) || p.TrainAcc != seen[i] {
			t.Errorf("point %d: training accuracy %v, the next callback saw %v", i, p.TrainAcc, seen[i])
		}
	}
}

func TestBestIndex(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		losses []float64
		want   int
	}{
		{[]float64{0.5, 0.3, 0.4}, 1},
		{[]float64{0.5, 0.3, 0.3, 0.2, 0.2}, 3}, // ties go to the earliest
		{[]float64{nan, 0.9, nan}, 1},
		{[]float64{nan, nan}, 1}, // no validation: the last point
		{[]float64{0.1}, 0},
	}
	for _, c := range cases {
		pts := make([]train.EvalPoint, len(c.losses))
		for i, l := range c.losses {
			pts[i] = train.EvalPoint{Iter: 10 * i, ValLoss: l}
		}
		if got := train.BestIndex(pts); got != c.want {
			t.Errorf("BestIndex(%v) = %d, want %d", c.losses, got, c.want)
		}
	}
}

// samePoints says whether two histories hold the same points, bit for bit
// in every printed digit, NaN (not measured) equal to NaN, which
// reflect.DeepEqual would call different.
func samePoints(a, b []train.EvalPoint) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
