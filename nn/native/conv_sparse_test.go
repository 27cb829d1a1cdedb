package native

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestConvSparsePaths runs both sparse paths of a stride-1 convolution,
// the direct kernels and im2col with sparse products (forced, whatever
// direct1's rule would pick), and the strided one, against the dense GEMM
// on the same masked weights: the output, the input gradient and the
// weight gradient at kept entries agree within float32 rounding. The
// geometries cover padding wider than the kernel's reach, 1×1 kernels,
// rows shorter than a vector and images that span several im2col blocks.
func TestConvSparsePaths(t *testing.T) {
	defer func() { forceConvPath = 0 }()
	cases := []struct{ c, h, w, out, k, s, p, n int }{
		{3, 12, 11, 4, 3, 1, 1, 3},
		{2, 9, 17, 5, 5, 1, 0, 2},
		{2, 7, 7, 3, 5, 1, 2, 2},
		{4, 6, 5, 3, 1, 1, 0, 2},
		{3, 10, 10, 4, 3, 2, 1, 3},
		{16, 32, 32, 8, 3, 1, 1, 4},
	}
	for _, c := range cases {
		for _, d := range []float64{0.3, 0.05} {
			for _, path := range []int{1, -1} {
				if c.s != 1 && path == 1 {
					continue // strided: the im2col path only
				}
				name := fmt.Sprintf("%+v/d=%g/direct=%v", c, d, path == 1)
				t.Run(name, func(t *testing.T) {
					spec := nn.Conv2d{Name: "conv", In: c.c, Out: c.out, Kernel: c.k, Stride: c.s, Pad: c.p}
					build := func(sparse bool) (*conv2d, []float32, []float32) {
						ws := &workspace{}
						l := newConv2d(spec, []int{c.c, c.h, c.w}, c.n, ws, true)
						ws.data = make([]float32, ws.size)
						rng := rand.New(rand.NewPCG(31, 31))
						w := l.weight.value
						mask := make([]float32, len(w))
						for i := range w {
							w[i] = float32(rng.NormFloat64())
							if rng.Float64() < d {
								mask[i] = 1
							} else {
								w[i] = 0
							}
						}
						mode := SparseOff
						if sparse {
							mode = SparseOn
						}
						installSparse(mode, l.weight, mask, nil)
						x := randomF(rng, c.n*c.c*c.h*c.w)
						return l, x, mask
					}
					forceConvPath = path
					ls, x, mask := build(true)
					ld, _, _ := build(false)
					if ls.weight.sp == nil || ld.weight.sp != nil {
						t.Fatal("the paths were not set up as asked")
					}
					ys := append([]float32(nil), ls.forward(x, c.n, true)...)
					yd := ld.forward(x, c.n, true)
					compareF(t, "y", ys, yd)
					dy := randomF(rand.New(rand.NewPCG(32, 32)), len(yd))
					compareF(t, "dx", ls.backward(dy, c.n), ld.backward(dy, c.n))
					ls.weight.scatterKept()
					gs, gd := ls.weight.grad, ld.weight.grad
					for i, m := range mask {
						if m == 0 {
							gs[i], gd[i] = 0, 0
						}
					}
					compareF(t, "dW at kept entries", gs, gd)
				})
			}
		}
	}
}
