package native

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/zoo"
)

// benchLayer is a layer shape of the benchmarked models, with the batch
// its training uses.
type benchLayer struct {
	name  string
	build func() (layer, *param, []float32) // the layer, its weight, an input
	n     int
}

// sparseBenchLayers are the Linear layers of LeNet-300-100 (batch 60) and
// the convolutions of LeNet-5 and ResNet-20 on CIFAR-shaped inputs (batch
// 128), the shapes BENCHMARKS.md reports crossovers for.
func sparseBenchLayers() []benchLayer {
	lin := func(in, out, n int) func() (layer, *param, []float32) {
		return func() (layer, *param, []float32) {
			l := newLinear(nn.Linear{Name: "fc", In: in, Out: out, Bias: true}, n, true)
			return l, l.weight, make([]float32, n*in)
		}
	}
	conv := func(c, hw, out, k, s, p, n int) func() (layer, *param, []float32) {
		return func() (layer, *param, []float32) {
			ws := &workspace{}
			l := newConv2d(nn.Conv2d{Name: "conv", In: c, Out: out, Kernel: k, Stride: s, Pad: p}, []int{c, hw, hw}, n, ws, true)
			ws.data = make([]float32, ws.size)
			return l, l.weight, make([]float32, n*c*hw*hw)
		}
	}
	return []benchLayer{
		{"lenet300.fc1 784→300", lin(784, 300, 60), 60},
		{"lenet300.fc2 300→100", lin(300, 100, 60), 60},
		{"lenet300.fc3 100→10", lin(100, 10, 60), 60},
		{"lenet5.conv1 3→20 5×5 32²", conv(3, 32, 20, 5, 1, 0, 128), 128},
		{"lenet5.conv2 20→50 5×5 14²", conv(20, 14, 50, 5, 1, 0, 128), 128},
		{"lenet5.fc1 1250→500", lin(1250, 500, 128), 128},
		{"resnet20.conv 16→16 3×3 32²", conv(16, 32, 16, 3, 1, 1, 128), 128},
		{"resnet20.conv 32→32 3×3 16²", conv(32, 16, 32, 3, 1, 1, 128), 128},
		{"resnet20.conv 64→64 3×3 8²", conv(64, 8, 64, 3, 1, 1, 128), 128},
	}
}

// setupBenchLayer gives the layer random values, input and a random mask
// of the density, on the sparse path or not.
func setupBenchLayer(bl benchLayer, density float64, sparse bool) (layer, []float32, []float32) {
	l, w, x := bl.build()
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range w.value {
		w.value[i] = float32(rng.NormFloat64())
	}
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	mask := make([]float32, len(w.value))
	for i := range mask {
		if rng.Float64() < density {
			mask[i] = 1
		} else {
			w.value[i] = 0
		}
	}
	mode := SparseOff
	if sparse {
		mode = SparseOn
	}
	installSparse(mode, w, mask, nil)
	y := l.forward(x, bl.n, true)
	dy := make([]float32, len(y))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
	}
	return l, x, dy
}

// BenchmarkSparseLayers times one forward and backward (with the input
// gradient) of each benchmarked layer shape, dense and sparse, at several
// densities.
func BenchmarkSparseLayers(b *testing.B) {
	for _, bl := range sparseBenchLayers() {
		for _, d := range []float64{0.5, 0.2, 0.1, 0.05, 0.02} {
			for _, sparse := range []bool{false, true} {
				path := "dense"
				if sparse {
					path = "sparse"
				}
				b.Run(fmt.Sprintf("%s/d=%g/%s", bl.name, d, path), func(b *testing.B) {
					l, x, dy := setupBenchLayer(bl, d, sparse)
					for b.Loop() {
						l.forward(x, bl.n, true)
						l.backward(dy, bl.n)
					}
				})
			}
		}
	}
}

// TestSparseCrossovers prints, with -v and PRUNEBENCH_CROSSOVERS=1, the
// time of one forward and backward of each benchmarked layer on the sparse
// path over the dense one at several densities (min of interleaved
// rounds), for BENCHMARKS.md and the crossover tables; a stride-1
// convolution gets two ratios, direct / im2col.
func TestSparseCrossovers(t *testing.T) {
	if testing.Short() || !crossoverReport {
		t.Skip("a measurement (set PRUNEBENCH_CROSSOVERS=1)")
	}
	const rounds = 5
	time1 := func(bl benchLayer, d float64, sparse bool) time.Duration {
		l, x, dy := setupBenchLayer(bl, d, sparse)
		reps := 0
		start := time.Now()
		for time.Since(start) < 30*time.Millisecond {
			l.forward(x, bl.n, true)
			l.backward(dy, bl.n)
			reps++
		}
		return time.Since(start) / time.Duration(reps)
	}
	defer func() { forceConvPath = 0 }()
	for _, bl := range sparseBenchLayers() {
		// A stride-1 convolution has two sparse paths: the line gives
		// direct / im2col against dense, the rule of direct1 picking one.
		l, _, _ := bl.build()
		c, isConv := l.(*conv2d)
		paths := []int{0}
		if isConv && c.s == 1 {
			paths = []int{1, -1}
		}
		line := bl.name + ":"
		for _, d := range []float64{0.5, 0.3, 0.2, 0.1, 0.05, 0.02} {
			dense := time.Duration(1 << 62)
			sparse := []time.Duration{1 << 62, 1 << 62}
			for range rounds {
				forceConvPath = 0
				dense = min(dense, time1(bl, d, false))
				for i, p := range paths {
					forceConvPath = p
					sparse[i] = min(sparse[i], time1(bl, d, true))
				}
			}
			line += fmt.Sprintf("  d=%g %.2f×", d, float64(sparse[0])/float64(dense))
			if len(paths) == 2 {
				line += fmt.Sprintf(" / %.2f×", float64(sparse[1])/float64(dense))
			}
		}
		t.Log(line)
	}
}

// TestSparseBenchmarks is `make bench-sparse`: with PRUNEBENCH_BENCH_SPARSE=1
// (and GOMAXPROCS=1, one thread) it times, in one run, the sparse path
// against the dense-masked one (the same net with Sparse "off") and prints
// their ratio, the minimum of five interleaved rounds of each:
//
//	LeNet-300-100 training epoch (917 steps of batch 60, Adam) at densities 0.2, 0.05, 0.02
//	LeNet-5 and ResNet-20 training steps (batch 128, SGD momentum) at 0.05
//	LeNet-300-100 and LeNet-5 inference latency (batch 1) at 0.05
//
// Every weight is masked (P3) with a random mask of the density; the data
// are random batches made before timing, so the ratio is the engine's.
func TestSparseBenchmarks(t *testing.T) {
	if os.Getenv("PRUNEBENCH_BENCH_SPARSE") != "1" {
		t.Skip("a measurement: make bench-sparse")
	}
	type bcase struct {
		name    string
		arch    *nn.Arch
		batch   int
		steps   int // training steps; 0: inference of single examples
		density float64
		opt     nn.Optimizer
	}
	lenet := lenet300100()
	lenet5 := mustZoo(t, "lenet5")
	resnet := mustZoo(t, "resnet20")
	cases := []bcase{
		{"LeNet-300-100 epoch", lenet, 60, 917, 0.2, nn.Adam(1.2e-3)},
		{"LeNet-300-100 epoch", lenet, 60, 917, 0.05, nn.Adam(1.2e-3)},
		{"LeNet-300-100 epoch", lenet, 60, 917, 0.02, nn.Adam(1.2e-3)},
		{"LeNet-5 30 steps", lenet5, 128, 30, 0.05, nn.SGD(0.9, 0)},
		{"ResNet-20 30 steps", resnet, 128, 30, 0.05, nn.SGD(0.9, 0)},
		{"LeNet-300-100 inference ×1000", lenet, 1, 0, 0.05, nn.SGD(0, 0)},
		{"LeNet-5 inference ×1000", lenet5, 1, 0, 0.05, nn.SGD(0, 0)},
	}
	for _, c := range cases {
		nets := [2]*Net{}
		for i, mode := range []string{"auto", "off"} {
			nets[i] = buildSparse(t, c.arch, c.batch, mode)
			if err := nets[i].SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			rng := nntest.NewRand(2)
			for _, info := range c.arch.Params() {
				if info.Kind == nn.Weight {
					m := nntest.RandomMask(info.Size(), c.density, rng)
					if err := nets[i].SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		brng := nntest.NewRand(3)
		batches := make([]nn.Batch, 8)
		for i := range batches {
			batches[i] = nntest.RandomBatch(c.arch, c.batch, brng)
		}
		logits := make([]float32, c.batch*c.arch.Classes)
		run := func(net *Net) time.Duration {
			start := time.Now()
			if c.steps == 0 {
				for i := range 1000 {
					if err := net.Logits(logits, batches[i%len(batches)]); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				for i := range c.steps {
					if _, err := net.Gradients(batches[i%len(batches)]); err != nil {
						t.Fatal(err)
					}
					net.Step(0.01)
				}
			}
			return time.Since(start)
		}
		best := [2]time.Duration{1 << 62, 1 << 62}
		for range 5 {
			for i, net := range nets {
				best[i] = min(best[i], run(net))
			}
		}
		paths := []string{}
		for _, info := range c.arch.Params() {
			if e := nets[0].byName[info.Name]; e.p.sp != nil {
				paths = append(paths, info.Layer)
			}
		}
		t.Logf("%-32s d=%-5g sparse %9v  dense-masked %9v  ratio %.2f×  (sparse layers: %v)", c.name, c.density, best[0].Round(time.Microsecond), best[1].Round(time.Microsecond), float64(best[0])/float64(best[1]), paths)
	}
}

func mustZoo(t *testing.T, name string) *nn.Arch {
	t.Helper()
	a, err := zoo.Build(name, zoo.Options{Input: []int{3, 32, 32}, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
