package native

import "github.com/prunebench/prunebench/nn"

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
	j := 0
	for pl := 0; pl < planes; pl++ {
		base := pl * l.h * l.w
		for oy := 0; oy < l.oh; oy++ {
			for ox := 0; ox < l.ow; ox++ {
				start := base + oy*l.s*l.w + ox*l.s
				best, bi := x[start], start
				for ky := 0; ky < l.k; ky++ {
					row := start + ky*l.w
					for kx, v := range x[row : row+l.k] {
						if v > best {
							best, bi = v, row+kx
						}
					}
				}
				y[j] = best
				if l.arg != nil {
					l.arg[j] = int32(bi)
				}
				j++
			}
		}
	}
	return y
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
