package native

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// lenet300100 is LeNet-300-100 on MNIST-shaped input (266,200 weights).
func lenet300100() *nn.Arch {
	return &nn.Arch{Name: "lenet-300-100", Input: []int{1, 28, 28}, Classes: 10, Layers: []nn.Layer{
		nn.Flatten{},
		nn.Linear{Name: "fc1", In: 784, Out: 300, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 300, Out: 100, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc3", In: 100, Out: 10, Bias: true},
	}}
}

// smallConvNet is a CIFAR-shaped conv net with batch norm, max pooling, an
// option-A residual block, global average pooling and dropout.
func smallConvNet() *nn.Arch {
	bn := func(name string, c int) nn.BatchNorm { return nn.BatchNorm{Name: name, C: c, Eps: 1e-5, Momentum: 0.1} }
	return &nn.Arch{Name: "small-conv", Input: []int{3, 16, 16}, Classes: 10, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 3, Out: 16, Kernel: 3, Stride: 1, Pad: 1},
		bn("bn1", 16), nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2}, // 16×8×8
		nn.Residual{Name: "layer1.0",
			Body: []nn.Layer{
				nn.Conv2d{Name: "layer1.0.conv1", In: 16, Out: 32, Kernel: 3, Stride: 2, Pad: 1},
				bn("layer1.0.bn1", 32), nn.ReLU{},
				nn.Conv2d{Name: "layer1.0.conv2", In: 32, Out: 32, Kernel: 3, Stride: 1, Pad: 1},
				bn("layer1.0.bn2", 32),
			},
			Shortcut: []nn.Layer{nn.PadChannels{In: 16, Out: 32, Stride: 2}},
		},
		nn.ReLU{},
		nn.GlobalAvgPool{},
		nn.Dropout{P: 0.1},
		nn.Linear{Name: "fc", In: 32, Out: 10, Bias: true},
	}}
}

func newTrainNet(t testing.TB, arch *nn.Arch, maxBatch int) *Net {
	t.Helper()
	net, err := Backend{}.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, DropoutSeed: 5})
	if err != nil {
		t.Fatal(err)
	}
	nntest.SetRandom(net, nntest.NewRand(1))
	return net.(*Net)
}

// maskAll masks every prunable weight with a random mask of density 0.2
// under pattern (or, with mixed, cycles through the three patterns).
func maskAll(t testing.TB, net *Net, pattern nn.MaskPattern, mixed bool) {
	t.Helper()
	rng := nntest.NewRand(2)
	k := 0
	for _, p := range net.Params() {
		info := p.Info()
		if !info.Prunable() {
			continue
		}
		pat := pattern
		if mixed {
			pat = nn.MaskPattern(k % 3)
			k++
		}
		if err := net.SetParametrization(info.Name, nn.Masked{Mask: nntest.RandomMask(info.Size(), 0.2, rng), Pattern: pat}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNetZeroAllocs checks the rule of
// ARCHITECTURE.md#engineering-conventions: a training step (Gradients and
// Step) allocates nothing, nor does evaluation.
func TestNetZeroAllocs(t *testing.T) {
	archs := []struct {
		arch  *nn.Arch
		batch int
	}{{lenet300100(), 16}, {smallConvNet(), 4}}
	opts := []nn.Optimizer{nn.SGD(0.9, 5e-4), nn.Adam(1e-4), nn.AdamW(1e-2), nn.SGD(0, 0)}
	masks := []string{"dense", "P3", "mixed"}
	for _, a := range archs {
		for _, o := range opts {
			for _, mk := range masks {
				t.Run(fmt.Sprintf("%s/%s-%v/%s", a.arch.Name, o.Name, o.Momentum, mk), func(t *testing.T) {
					net := newTrainNet(t, a.arch, a.batch)
					if err := net.SetOptimizer(o); err != nil {
						t.Fatal(err)
					}
					switch mk {
					case "P3":
						maskAll(t, net, nn.ZeroAfterStep, false)
					case "mixed":
						maskAll(t, net, 0, true)
					}
					b := nntest.RandomBatch(a.arch, a.batch, nntest.NewRand(3))
					var err error
					allocs := testing.AllocsPerRun(5, func() {
						if _, err = net.Gradients(b); err == nil {
							net.Step(0.01)
						}
					})
					if err != nil {
						t.Fatal(err)
					}
					if allocs != 0 {
						t.Errorf("a training step allocates %v times", allocs)
					}
					allocs = testing.AllocsPerRun(5, func() { _, _, err = net.Evaluate(b) })
					if err != nil {
						t.Fatal(err)
					}
					if allocs != 0 {
						t.Errorf("Evaluate allocates %v times", allocs)
					}
				})
			}
		}
	}
}

// weightHash hashes the bits of every θ and buffer of net.
func weightHash(net *Net) uint64 {
	h := fnv.New64a()
	var b [4]byte
	put := func(xs []float32) {
		for _, x := range xs {
			u := math.Float32bits(x)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	for _, e := range net.entries {
		put(e.p.value)
	}
	for _, bf := range net.buffers {
		put(bf.data)
	}
	return h.Sum64()
}

// TestNetDeterminism: two nets with the same initialization, masks and
// batches end bit-identical after 20 steps (batch norm, dropout, masks of
// every pattern, Adam).
func TestNetDeterminism(t *testing.T) {
	for _, arch := range []*nn.Arch{smallConvNet(), lenet300100()} {
		t.Run(arch.Name, func(t *testing.T) {
			var hashes [2]uint64
			var losses [2][]float64
			for k := range hashes {
				net := newTrainNet(t, arch, 8)
				maskAll(t, net, 0, true)
				if err := net.SetOptimizer(nn.Adam(1e-4)); err != nil {
					t.Fatal(err)
				}
				rng := nntest.NewRand(4)
				for range 20 {
					loss, err := net.Gradients(nntest.RandomBatch(arch, 8, rng))
					if err != nil {
						t.Fatal(err)
					}
					losses[k] = append(losses[k], loss)
					net.Step(1e-3)
				}
				hashes[k] = weightHash(net)
			}
			if hashes[0] != hashes[1] {
				t.Errorf("weight hashes differ: %x, %x", hashes[0], hashes[1])
			}
			for i := range losses[0] {
				if losses[0][i] != losses[1][i] {
					t.Errorf("step %d: losses %v and %v", i, losses[0][i], losses[1][i])
					break
				}
			}
		})
	}
}

// TestDropoutSeed: the dropout stream depends on Config.DropoutSeed and on
// the step counter only.
func TestDropoutSeed(t *testing.T) {
	arch := nntest.DropoutMLP()
	b := nntest.RandomBatch(arch, 8, nntest.NewRand(6))
	loss := func(seed uint64, steps int) float64 {
		n, err := Backend{}.Build(nn.Config{Arch: arch, MaxBatch: 8, DropoutSeed: seed})
		if err != nil {
			t.Fatal(err)
		}
		nntest.SetRandom(n, nntest.NewRand(7))
		if err := n.SetOptimizer(nn.SGD(0, 0)); err != nil {
			t.Fatal(err)
		}
		for range steps {
			n.Step(0) // lr 0: only the counter moves
		}
		l, err := n.Gradients(b)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if loss(1, 0) != loss(1, 0) {
		t.Errorf("same seed and step, different losses")
	}
	if loss(1, 0) == loss(2, 0) {
		t.Errorf("dropout seeds 1 and 2 give the same loss")
	}
	if loss(1, 0) == loss(1, 1) {
		t.Errorf("steps 0 and 1 give the same dropout loss")
	}
}

// TestInputLayouts: a one-channel image batch is read in place; a
// multi-channel one is converted, so repeated Logits agree with the batch
// untouched.
func TestInputLayouts(t *testing.T) {
	for _, arch := range []*nn.Arch{lenet300100(), smallConvNet()} {
		net := newTrainNet(t, arch, 4)
		if (net.input == nil) != (arch.Input[0] == 1) {
			t.Errorf("%s: conversion buffer %v for %d channels", arch.Name, net.input != nil, arch.Input[0])
		}
		b := nntest.RandomBatch(arch, 4, nntest.NewRand(8))
		x := append([]float32(nil), b.X...)
		l1 := make([]float32, 4*arch.Classes)
		l2 := make([]float32, 4*arch.Classes)
		if err := net.Logits(l1, b); err != nil {
			t.Fatal(err)
		}
		if _, err := net.Gradients(b); err != nil {
			t.Fatal(err)
		}
		if err := net.Logits(l2, b); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if x[i] != b.X[i] {
				t.Fatalf("%s: the net wrote into the caller's batch", arch.Name)
			}
		}
		for i := range l1 {
			if l1[i] != l2[i] && arch.Name == "lenet-300-100" { // batch norm moves running stats
				t.Fatalf("%s: logits changed without a step", arch.Name)
			}
		}
	}
}

func TestStepWithoutOptimizerPanics(t *testing.T) {
	net := newTrainNet(t, nntest.MLP(), 2)
	defer func() {
		if recover() == nil {
			t.Errorf("Step before SetOptimizer did not panic")
		}
	}()
	net.Step(0.1)
}

func benchTrainStep(b *testing.B, arch *nn.Arch, batch int, opt nn.Optimizer, mask string) {
	net := newTrainNet(b, arch, batch)
	if err := net.SetOptimizer(opt); err != nil {
		b.Fatal(err)
	}
	if mask == "P3" {
		maskAll(b, net, nn.ZeroAfterStep, false)
	}
	bt := nntest.RandomBatch(arch, batch, nntest.NewRand(9))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := net.Gradients(bt); err != nil {
			b.Fatal(err)
		}
		net.Step(1e-3)
	}
}

// BenchmarkTrainStep is one Gradients+Step of LeNet-300-100 at batch 60 (the
// LTH paper's batch size) and of the small conv net at batch 32.
func BenchmarkTrainStep(b *testing.B) {
	for _, o := range []nn.Optimizer{nn.SGD(0.9, 1e-4), nn.Adam(0)} {
		for _, mk := range []string{"dense", "P3"} {
			b.Run(fmt.Sprintf("lenet-300-100/b60/%s/%s", o.Name, mk), func(b *testing.B) {
				benchTrainStep(b, lenet300100(), 60, o, mk)
			})
		}
	}
	for _, mk := range []string{"dense", "P3"} {
		b.Run("small-conv/b32/sgd/"+mk, func(b *testing.B) {
			benchTrainStep(b, smallConvNet(), 32, nn.SGD(0.9, 1e-4), mk)
		})
	}
}
