package native

import (
	"math"

	"github.com/prunebench/prunebench/nn"
)

// maxPool2d takes the maximum over k×k windows moved by stride s on CNHW
// feature maps, without padding (floor mode). Ties go to the first maximum in
// row-major window order; the position of each maximum is kept for backward,
// which routes each output gradient there (adding where windows overlap).
type maxPool2d struct {
	c, h, w, k, s, oh, ow int
	needDx                bool

	arg   []int32 // index into x of each output's maximum
	y, dx []float32
}

// newMaxPool2d builds a max pool on per-example input shape in ([C, H, W]).
func newMaxPool2d(s nn.MaxPool2d, in []int, maxBatch int, needDx bool) *maxPool2d {
	l := &maxPool2d{c: in[0], h: in[1], w: in[2], k: s.Kernel, s: s.Stride, needDx: needDx}
	l.oh = (l.h-l.k)/l.s + 1
	l.ow = (l.w-l.k)/l.s + 1
	out := maxBatch * l.c * l.oh * l.ow
	l.y = make([]float32, out)
	if needDx {
		l.arg = make([]int32, out)
		l.dx = make([]float32, maxBatch*l.c*l.h*l.w)
	}
	return l
}

func (l *maxPool2d) forward(x []float32, n int, train bool) []float32 {
	planes := l.c * n
	y := l.y[:planes*l.oh*l.ow]
	x = x[:planes*l.h*l.w]
	if l.k == 2 && l.s == 2 {
		l.forward2x2(x, y, planes)
		return y
	}
	j := 0
	for pl := 0; pl < planes; pl++ {
		base := pl * l.h * l.w
		for oy := 0; oy < l.oh; oy++ {
			for ox := 0; ox < l.ow; ox++ {
				start := base + oy*l.s*l.w + ox*l.s
				best, bi := x[start], int32(start)
				for ky := 0; ky < l.k; ky++ {
					row := start + ky*l.w
					for kx, v := range x[row : row+l.k] {
						best, bi = takeGreater(best, bi, v, int32(row+kx))
					}
				}
				y[j] = best
				if l.arg != nil {
					l.arg[j] = bi
				}
				j++
			}
		}
	}
	return y
}

// forward2x2 is forward for 2×2 windows with stride 2 (LeNet-5, VGG), the
// four entries of each window read from two input rows.
func (l *maxPool2d) forward2x2(x, y []float32, planes int) {
	h, w, oh, ow := l.h, l.w, l.oh, l.ow
	arg := l.arg
	for pl := 0; pl < planes; pl++ {
		for oy := 0; oy < oh; oy++ {
			i0 := (pl*h + 2*oy) * w
			r0, r1 := x[i0:][:2*ow], x[i0+w:][:2*ow]
			j0 := (pl*oh + oy) * ow
			ys := y[j0:][:ow]
			for ox := range ys {
				i := int32(i0 + 2*ox)
				best, bi := r0[2*ox], i
				best, bi = takeGreater(best, bi, r0[2*ox+1], i+1)
				best, bi = takeGreater(best, bi, r1[2*ox], i+int32(w))
				best, bi = takeGreater(best, bi, r1[2*ox+1], i+int32(w)+1)
				ys[ox] = best
				if arg != nil {
					arg[j0+ox] = bi
				}
			}
		}
	}
}

// takeGreater returns (v, iv) if v > best, else (best, ib), without a
// branch: which entry of a window is the largest is a coin flip on real
// activations, and the mispredicted branches of the plain comparison made
// max pooling cost a seventh of a LeNet-5 step. The comparison is the
// float one (ties keep the first maximum, a NaN never replaces), its
// result a mask that selects bits.
func takeGreater(best float32, ib int32, v float32, iv int32) (float32, int32) {
	m := poolMask(v > best)
	b := math.Float32bits(v)&uint32(m) | math.Float32bits(best)&^uint32(m)
	return math.Float32frombits(b), iv&m | ib&^m
}

// poolMask is −1 (all bits set) for true, 0 for false; the compiler makes
// it a SETcc and a negation, no branch.
func poolMask(c bool) int32 {
	var x int32
	if c {
		x = 1
	}
	return -x
}

func (l *maxPool2d) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	dx := l.dx[:n*l.c*l.h*l.w]
	clear(dx)
	out := n * l.c * l.oh * l.ow
	for j, g := range dy[:out] {
		dx[l.arg[j]] += g
	}
	return dx
}

func (l *maxPool2d) params() []*param  { return nil }
func (l *maxPool2d) buffers() []buffer { return nil }

// globalAvgPool averages each channel of CNHW feature maps [C, H, W] over
// H·W, giving N×C rows.
type globalAvgPool struct {
	c, hw  int
	needDx bool
	y, dx  []float32
}

// newGlobalAvgPool builds a global average pool on per-example input shape
// in ([C, H, W]).
func newGlobalAvgPool(in []int, maxBatch int, needDx bool) *globalAvgPool {
	l := &globalAvgPool{c: in[0], hw: in[1] * in[2], needDx: needDx, y: make([]float32, maxBatch*in[0])}
	if needDx {
		l.dx = make([]float32, maxBatch*l.c*l.hw)
	}
	return l
}

func (l *globalAvgPool) forward(x []float32, n int, train bool) []float32 {
	y := l.y[:n*l.c]
	inv := 1 / float64(l.hw)
	for c := 0; c < l.c; c++ {
		for i := 0; i < n; i++ {
			var s float64
			for _, v := range x[(c*n+i)*l.hw:][:l.hw] {
				s += float64(v)
			}
			y[i*l.c+c] = float32(s * inv)
		}
	}
	return y
}

func (l *globalAvgPool) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	dx := l.dx[:n*l.c*l.hw]
	inv := 1 / float32(l.hw)
	for c := 0; c < l.c; c++ {
		for i := 0; i < n; i++ {
			g := dy[i*l.c+c] * inv
			d := dx[(c*n+i)*l.hw:][:l.hw]
			for k := range d {
				d[k] = g
			}
		}
	}
	return dx
}

func (l *globalAvgPool) params() []*param  { return nil }
func (l *globalAvgPool) buffers() []buffer { return nil }
