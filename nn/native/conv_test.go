package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func TestConvForwardHand(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}

	// A plus-shaped 3×3 kernel with padding 1 and bias 1.
	ws := &workspace{}
	l := newConv2d(nn.Conv2d{Name: "c", In: 1, Out: 1, Kernel: 3, Stride: 1, Pad: 1, Bias: true}, []int{1, 3, 3}, 1, ws, true)
	ws.data = make([]float32, ws.size)
	copy(l.weight.w, []float32{0, 1, 0, 1, 1, 1, 0, 1, 0})
	l.bias.w[0] = 1
	almostEqual(t, "plus", l.forward(x, 1, false), []float32{8, 12, 12, 18, 26, 24, 20, 30, 24}, 0)

	// An asymmetric 2×2 kernel: cross-correlation as in PyTorch, no flip.
	ws = &workspace{}
	l = newConv2d(nn.Conv2d{Name: "c", In: 1, Out: 1, Kernel: 2, Stride: 1}, []int{1, 3, 3}, 1, ws, true)
	ws.data = make([]float32, ws.size)
	copy(l.weight.w, []float32{1, 2, 3, 4})
	almostEqual(t, "2x2", l.forward(x, 1, false), []float32{37, 47, 67, 77}, 0)

	// Stride 2, padding 1 on 3×3: output 2×2, windows centred on the corners.
	ws = &workspace{}
	l = newConv2d(nn.Conv2d{Name: "c", In: 1, Out: 1, Kernel: 3, Stride: 2, Pad: 1}, []int{1, 3, 3}, 1, ws, true)
	ws.data = make([]float32, ws.size)
	copy(l.weight.w, []float32{0, 0, 0, 0, 1, 0, 0, 0, 1}) // centre + bottom-right
	almostEqual(t, "s2p1", l.forward(x, 1, false), []float32{1 + 5, 3 + 0, 7 + 0, 9}, 0)
}

// convRef is a direct float64 convolution on CNHW data.
func convRef(x, w, bias []float32, n, cin, h, wd, cout, k, s, p int) []float32 {
	oh := (h+2*p-k)/s + 1
	ow := (wd+2*p-k)/s + 1
	y := make([]float32, cout*n*oh*ow)
	for o := 0; o < cout; o++ {
		for i := 0; i < n; i++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var sum float64
					if bias != nil {
						sum = float64(bias[o])
					}
					for c := 0; c < cin; c++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := oy*s-p+ky, ox*s-p+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								sum += float64(x[((c*n+i)*h+iy)*wd+ix]) * float64(w[((o*cin+c)*k+ky)*k+kx])
							}
						}
					}
					y[((o*n+i)*oh+oy)*ow+ox] = float32(sum)
				}
			}
		}
	}
	return y
}

func TestConvForwardReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		n, cin, h, w, cout, k, s, p int
		bias                        bool
	}{
		{3, 2, 5, 7, 3, 3, 2, 1, true},
		{2, 3, 6, 4, 2, 3, 1, 1, false},
		{2, 2, 4, 4, 4, 1, 1, 0, true},
		{2, 2, 5, 5, 3, 1, 2, 0, false},
		{1, 1, 7, 3, 2, 5, 3, 2, true},
		{2, 2, 2, 3, 1, 4, 1, 2, false},
	} {
		spec := nn.Conv2d{Name: "c", In: c.cin, Out: c.cout, Kernel: c.k, Stride: c.s, Pad: c.p, Bias: c.bias}
		ws := &workspace{}
		l := newConv2d(spec, []int{c.cin, c.h, c.w}, c.n+1, ws, true)
		ws.data = make([]float32, ws.size)
		randParams(l, r)
		x := make([]float32, c.n*c.cin*c.h*c.w)
		fillNormal(x, r, 1)
		var bias []float32
		if c.bias {
			bias = l.bias.w
		}
		want := convRef(x, l.weight.w, bias, c.n, c.cin, c.h, c.w, c.cout, c.k, c.s, c.p)
		almostEqual(t, fmt.Sprintf("%+v", c), l.forward(x, c.n, true), want, 1e-5)
	}
}

// BenchmarkConv is one forward and backward of a 3×3 convolution with
// padding 1 (the CIFAR ResNet block convolution).
func BenchmarkConv(b *testing.B) {
	for _, c := range []struct{ cin, cout, hw, n int }{{16, 16, 32, 128}, {16, 16, 32, 32}, {64, 64, 8, 128}} {
		b.Run(fmt.Sprintf("%d-%d/%dx%d/batch%d", c.cin, c.cout, c.hw, c.hw, c.n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			ws := &workspace{}
			l := newConv2d(nn.Conv2d{Name: "c", In: c.cin, Out: c.cout, Kernel: 3, Stride: 1, Pad: 1}, []int{c.cin, c.hw, c.hw}, c.n, ws, true)
			ws.data = make([]float32, ws.size)
			randParams(l, r)
			x := make([]float32, c.n*c.cin*c.hw*c.hw)
			dy := make([]float32, c.n*c.cout*c.hw*c.hw)
			fillNormal(x, r, 1)
			fillNormal(dy, r, 1)
			b.ReportAllocs()
			for b.Loop() {
				l.forward(x, c.n, true)
				l.backward(dy, c.n)
			}
		})
	}
}

// TestConvBlocksMatchWholeBatch checks that processing the batch in im2col
// blocks of any size gives the outputs and gradients of one block.
func TestConvBlocksMatchWholeBatch(t *testing.T) {
	spec := nn.Conv2d{Name: "c", In: 2, Out: 3, Kernel: 3, Stride: 2, Pad: 1, Bias: true}
	in := []int{2, 7, 6}
	const n = 5
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*2*7*6)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	run := func(chunk int) (y, dx, dw, db []float32) {
		ws := &workspace{}
		l := newConv2d(spec, in, n, ws, true)
		l.chunkN = chunk
		ws.reserve(2 * 9 * n * l.oh * l.ow)
		ws.data = make([]float32, ws.size)
		rw := rand.New(rand.NewPCG(5, 6))
		for i := range l.weight.value {
			l.weight.value[i] = float32(rw.NormFloat64())
		}
		l.bias.value[1] = 0.5
		y = append([]float32(nil), l.forward(x, n, true)...)
		dy := make([]float32, len(y))
		for i := range dy {
			dy[i] = float32(i%7) - 3
		}
		dx = append([]float32(nil), l.backward(dy, n)...)
		return y, dx, append([]float32(nil), l.weight.grad...), append([]float32(nil), l.bias.grad...)
	}
	y0, dx0, dw0, db0 := run(n)
	for _, chunk := range []int{1, 2, 3} {
		y, dx, dw, db := run(chunk)
		for name, pair := range map[string][2][]float32{"y": {y0, y}, "dx": {dx0, dx}, "dW": {dw0, dw}, "db": {db0, db}} {
			for i := range pair[0] {
				// Blocks change only the order of the dW sums over examples.
				if d := math.Abs(float64(pair[0][i] - pair[1][i])); d > 1e-4*(1+math.Abs(float64(pair[0][i]))) {
					t.Fatalf("blocks of %d: %s[%d] = %v, whole batch %v", chunk, name, i, pair[1][i], pair[0][i])
				}
			}
		}
	}
}
