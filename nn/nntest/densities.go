package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestMaskDensities trains masked nets at several densities, under the two
// patterns whose pruned weights are exactly zero when a layer reads them
// (ZeroAfterStep and MaskedForward), next to the same net built with
// Config.Sparse "off", and checks that they compute the same thing step by
// step: the loss, the dense gradient of every parameter (Param.Grad, read on
// every other step) and the values after each update, within 1e-5 of the
// net's largest magnitude (an engine may run masked layers with sparse
// kernels, which sum in another order, and six momentum steps carry the
// difference along).
func TestMaskDensities(t *testing.T, b nn.Backend) {
	for _, arch := range []*nn.Arch{MaskMLP(), ConvNet()} {
		for _, pat := range []nn.MaskPattern{nn.ZeroAfterStep, nn.MaskedForward} {
			for _, d := range []float64{0.02, 0.2, 0.5, 0.9} {
				t.Run(fmt.Sprintf("%s/%v/%g", arch.Name, pat, d), func(t *testing.T) { testMaskDensity(t, b, arch, pat, d) })
			}
		}
	}
}

func testMaskDensity(t *testing.T, b nn.Backend, arch *nn.Arch, pat nn.MaskPattern, density float64) {
	const batch, steps = 6, 6
	nets := make([]nn.Net, 2)
	for i, sparse := range []string{"", "off"} {
		net, err := b.Build(nn.Config{Arch: arch, MaxBatch: batch, Sparse: sparse})
		if err != nil {
			t.Fatalf("build %s (sparse %q): %v", arch.Name, sparse, err)
		}
		SetRandom(net, NewRand(71))
		// SGD: an update linear in the gradient, so the two nets stay as
		// close as their gradients (Adam would turn the rounding of a
		// near-zero gradient into a step of size lr).
		if err := net.SetOptimizer(nn.SGD(0.9, 1e-3)); err != nil {
			t.Fatal(err)
		}
		mrng := NewRand(72)
		for _, info := range arch.Params() {
			if info.Kind != nn.Weight {
				continue
			}
			m := RandomMask(info.Size(), density, mrng)
			if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: pat}); err != nil {
				t.Fatal(err)
			}
		}
		nets[i] = net
	}
	got, want := nets[0], nets[1]
	brng := NewRand(73)
	for step := range steps {
		bt := RandomBatch(arch, batch, brng)
		lg, lw := mustGradients(t, got, bt), mustGradients(t, want, bt)
		if math.Abs(lg-lw) > 1e-5*math.Max(1, math.Abs(lw)) {
			t.Fatalf("step %d: loss %v, dense %v", step, lg, lw)
		}
		// Reading the gradient may make an engine compute the dense one,
		// which Step would then use: on odd steps nobody reads it, so Step
		// runs on what the engine's own backward left.
		if step%2 == 0 && !netsClose(t, fmt.Sprintf("step %d: gradient", step), arch, got, want, grad) {
			return
		}
		got.Step(0.05)
		want.Step(0.05)
		if !netsClose(t, fmt.Sprintf("step %d: values", step), arch, got, want, values) {
			return
		}
	}
	// Evaluation agrees too.
	bt := RandomBatch(arch, batch, brng)
	lg, cg, err := got.Evaluate(bt)
	if err != nil {
		t.Fatal(err)
	}
	lw, cw, _ := want.Evaluate(bt)
	if math.Abs(lg-lw) > 1e-4*math.Max(1, math.Abs(lw)) || cg != cw {
		t.Errorf("evaluation: loss %v, %d correct; dense %v, %d", lg, cg, lw, cw)
	}
	// And the logits of a single example (an engine may run one example
	// as a matrix–vector product).
	one := nn.Batch{X: bt.X[:len(bt.X)/batch], Y: bt.Y[:1], N: 1}
	zg, zw := make([]float32, arch.Classes), make([]float32, arch.Classes)
	if err := got.Logits(zg, one); err != nil {
		t.Fatal(err)
	}
	if err := want.Logits(zw, one); err != nil {
		t.Fatal(err)
	}
	for i := range zw {
		if math.Abs(float64(zg[i]-zw[i])) > 1e-4*math.Max(1, math.Abs(float64(zw[i]))) {
			t.Errorf("logits of one example: %v, dense %v", zg, zw)
			break
		}
	}
}

// netsClose reports whether every parameter's of(p) agrees between got and
// want within float32 tolerance for sums of a few hundred terms, relative
// to the largest magnitude over the whole net (a bias gradient can be a
// near-cancelling sum, whose own scale says nothing of the rounding), and
// says where not.
func netsClose(t *testing.T, what string, arch *nn.Arch, got, want nn.Net, of func(nn.Param) []float32) bool {
	t.Helper()
	scale := 0.0
	for _, info := range arch.Params() {
		for _, v := range of(want.Param(info.Name)) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	for _, info := range arch.Params() {
		g, w := of(got.Param(info.Name)), of(want.Param(info.Name))
		for i := range w {
			if d := math.Abs(float64(g[i]) - float64(w[i])); d > 1e-5*scale || math.IsNaN(float64(g[i])) {
				t.Errorf("%s of %s[%d] = %v, dense %v (net scale %g)", what, info.Name, i, g[i], w[i], scale)
				return false
			}
		}
	}
	return true
}
