package native_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/zoo"
)

// TestSparseCrossPath trains the benchmarked models, masked at density
// 0.05 (every weight, P3), on the sparse path and on the dense GEMM side by
// side, and checks that the losses agree at every step and the weights at
// the end. The default suite runs LeNet-300-100 for 300 steps and the
// convolutional nets for a few dozen; `make test-long` (PRUNEBENCH_LONG=1)
// runs every model for a few hundred.
//
// Agree means: within float32 rounding (1e-4 relative), or, where training
// itself amplifies rounding, no further apart than the dense path is from
// itself after one weight is moved by one unit in the last place. A
// ResNet-20 at 5% density is such a case: a 1-ulp change of one weight
// grows by about ten times every few steps (batch norm divides by the
// variance of nearly dead channels), so after a hundred steps any two
// summation orders differ by as much; the third net measures how much. Its
// weights are all moved by one ulp, up or down at random, because a
// different summation order rounds every weight differently, not one: a
// single nudged weight underestimated the spread (the pure-Go kernels,
// -tags noasm, went 1.2e-4 apart on ResNet-20 by step 17 against a
// one-weight nudge of 1.1e-5).
func TestSparseCrossPath(t *testing.T) {
	cases := []struct {
		model       string
		input       []int
		batch       int
		steps, long int // steps in the default suite, and with PRUNEBENCH_LONG=1
		lr          float64
	}{
		{"lenet-300-100", []int{1, 28, 28}, 60, 300, 300, 0.01},
		{"lenet5", []int{3, 32, 32}, 32, 60, 300, 0.01},
		{"resnet20", []int{3, 32, 32}, 16, 20, 200, 0.001},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			if testing.Short() && c.model == "resnet20" {
				t.Skip("ResNet-20 trains for seconds")
			}
			if os.Getenv("PRUNEBENCH_LONG") == "1" { // make test-long
				c.steps = c.long
			}
			arch, err := zoo.Build(c.model, zoo.Options{Input: c.input, Classes: 10})
			if err != nil {
				t.Fatal(err)
			}
			// sparse, dense, and dense with one weight moved by one ulp.
			var nets [3]nn.Net
			for i, mode := range []string{"on", "off", "off"} {
				net, err := native.Backend{}.Build(nn.Config{Arch: arch, MaxBatch: c.batch, Sparse: mode})
				if err != nil {
					t.Fatal(err)
				}
				nntest.SetRandom(net, nntest.NewRand(11))
				if err := net.SetOptimizer(nn.SGD(0.9, 5e-4)); err != nil {
					t.Fatal(err)
				}
				mrng := nntest.NewRand(12)
				for _, info := range arch.Params() {
					if info.Kind == nn.Weight {
						m := nntest.RandomMask(info.Size(), 0.05, mrng)
						if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}); err != nil {
							t.Fatal(err)
						}
					}
				}
				if i == 2 {
					nudge(net, nntest.NewRand(14))
				}
				nets[i] = net
			}
			brng := nntest.NewRand(13)
			var chaos float64 // the largest loss difference the nudge made so far
			for step := range c.steps {
				b := nntest.RandomBatch(arch, c.batch, brng)
				var loss [3]float64
				for i, net := range nets {
					if loss[i], err = net.Gradients(b); err != nil {
						t.Fatal(err)
					}
					net.Step(c.lr)
				}
				chaos = math.Max(chaos, math.Abs(loss[2]-loss[1]))
				if d := math.Abs(loss[0] - loss[1]); d > math.Max(1e-4*math.Abs(loss[1]), 10*chaos) {
					t.Fatalf("step %d: loss %v on the sparse path, %v dense (a 1-ulp nudge moved it by up to %g)", step, loss[0], loss[1], chaos)
				}
			}
			for _, info := range arch.Params() {
				s, d, p := nets[0].Param(info.Name).Values(), nets[1].Param(info.Name).Values(), nets[2].Param(info.Name).Values()
				scale, nudged := 0.0, 0.0
				for i := range d {
					scale = math.Max(scale, math.Abs(float64(d[i])))
					nudged = math.Max(nudged, math.Abs(float64(p[i]-d[i])))
				}
				for i := range d {
					if diff := math.Abs(float64(s[i] - d[i])); diff > math.Max(1e-4*scale, 10*nudged) || math.IsNaN(float64(s[i])) {
						t.Errorf("after %d steps %s[%d] = %v on the sparse path, %v dense (scale %g; the nudge moved it by up to %g)", c.steps, info.Name, i, s[i], d[i], scale, nudged)
						break
					}
				}
			}
		})
	}
}

// nudge moves every nonzero weight by one unit in the last place, up or
// down at random.
func nudge(net nn.Net, rng *rand.Rand) {
	for _, p := range net.Params() {
		if p.Info().Kind != nn.Weight {
			continue
		}
		v := p.Values()
		for j := range v {
			if v[j] != 0 {
				dir := float32(math.Inf(1))
				if rng.IntN(2) == 0 {
					dir = -dir
				}
				v[j] = math.Nextafter32(v[j], dir)
			}
		}
	}
}
