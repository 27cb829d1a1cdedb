//go:build torch

package torch_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/torch"
)

// TestCrossEngine trains the same networks from the same θ on the same
// batches for a few steps on the native and the torch engine, and compares
// the losses at every step and the parameters, running statistics and
// optimizer state at the end. The cases cover every layer type, each mask
// pattern, each optimizer, dropout (both engines draw the same masks from
// DropoutSeed) and a temperature. The tolerance is that of float32
// arithmetic done in different orders, amplified by a few steps of
// training.
func TestCrossEngine(t *testing.T) {
	nesterov := nn.SGD(0.9, 5e-4)
	nesterov.Nesterov = true
	cases := []struct {
		arch  *nn.Arch
		opt   nn.Optimizer
		temp  float64
		masks map[string]nn.MaskPattern
	}{
		{nntest.MLP(), nn.SGD(0.9, 5e-4), 1, map[string]nn.MaskPattern{"fc1.weight": nn.ZeroAfterStep, "fc2.weight": nn.MaskedForward}},
		{nntest.MaskMLP(), nn.Adam(1e-4), 2.5, map[string]nn.MaskPattern{"fc1.weight": nn.ZeroBeforeForward}},
		{nntest.DropoutMLP(), nn.AdamW(0.05), 1, nil},
		{nntest.DropoutConvNet(), nn.SGD(0.9, 0), 1, nil},
		// Not Adam here: fc1's bias feeds batch norm, so its gradient is
		// zero up to rounding, and Adam would turn that noise into full
		// steps that differ between the engines.
		{nntest.BNDropoutMLP(), nn.SGD(0.9, 0), 1, nil},
		{nntest.ConvNet(), nesterov, 1, map[string]nn.MaskPattern{"conv1.weight": nn.ZeroAfterStep, "block1.conv2.weight": nn.MaskedForward, "fc.weight": nn.ZeroBeforeForward}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s", c.arch.Name, c.opt.Name), func(t *testing.T) {
			const n, steps = 8, 6
			nets := make([]nn.Net, 2)
			for k, b := range []nn.Backend{native.Backend{}, torch.Backend{}} {
				net, err := b.Build(nn.Config{Arch: c.arch, MaxBatch: n, Temperature: c.temp, DropoutSeed: 5})
				if err != nil {
					t.Fatal(err)
				}
				nntest.SetRandom(net, nntest.NewRand(1))
				if err := net.SetOptimizer(c.opt); err != nil {
					t.Fatal(err)
				}
				mrng := nntest.NewRand(2)
				for _, info := range c.arch.Params() {
					if pat, ok := c.masks[info.Name]; ok {
						m := nntest.RandomMask(info.Size(), 0.5, mrng)
						if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: pat}); err != nil {
							t.Fatal(err)
						}
					}
				}
				nets[k] = net
			}
			brng := nntest.NewRand(3)
			for step := range steps {
				batch := nntest.RandomBatch(c.arch, n, brng)
				var loss [2]float64
				for k, net := range nets {
					l, err := net.Gradients(batch)
					if err != nil {
						t.Fatal(err)
					}
					loss[k] = l
					net.Step(0.05)
				}
				if d := math.Abs(loss[0] - loss[1]); d > 1e-5*(1+math.Abs(loss[0])) {
					t.Errorf("step %d: loss %.9g on native, %.9g on torch", step, loss[0], loss[1])
				}
			}
			want, err := nets[0].State()
			if err != nil {
				t.Fatal(err)
			}
			got, err := nets[1].State()
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Tensors) != len(want.Tensors) {
				t.Errorf("torch state has %d tensors, native %d", len(got.Tensors), len(want.Tensors))
			}
			for name, w := range want.Tensors {
				g, ok := got.Tensors[name]
				if !ok || len(g) != len(w) {
					t.Errorf("tensor %s: missing or mis-sized on torch", name)
					continue
				}
				var scale float64
				for _, v := range w {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				bad := 0
				for i := range w {
					if d := math.Abs(float64(g[i] - w[i])); d > 1e-4*scale+1e-6 {
						if bad < 3 {
							t.Errorf("%s[%d] = %.9g on torch, %.9g on native", name, i, g[i], w[i])
						}
						bad++
					}
				}
			}
			for name, w := range want.Counters {
				if got.Counters[name] != w {
					t.Errorf("counter %s = %d on torch, %d on native", name, got.Counters[name], w)
				}
			}
		})
	}
}
