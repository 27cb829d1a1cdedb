package native

import (
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/vec"
)

// residual is y = body(x) + shortcut(x), with an empty shortcut meaning the
// identity. Backward runs both branches from dy and sums their input
// gradients.
type residual struct {
	body, short []layer
	in, out     int // entries per example
	needDx      bool

	y, dx []float32
	ps    []*param
	bufs  []buffer
}

// newResidual builds a residual block from its built branches; in and out
// are the entries per example of its input and output.
func newResidual(body, short []layer, in, out, maxBatch int, needDx bool) *residual {
	l := &residual{body: body, short: short, in: in, out: out, needDx: needDx, y: make([]float32, maxBatch*out)}
	if needDx {
		l.dx = make([]float32, maxBatch*in)
	}
	for _, b := range [][]layer{body, short} {
		for _, s := range b {
			l.ps = append(l.ps, s.params()...)
			l.bufs = append(l.bufs, s.buffers()...)
		}
	}
	return l
}

func (l *residual) forward(x []float32, n int, train bool) []float32 {
	b := x
	for _, s := range l.body {
		b = s.forward(b, n, train)
	}
	sc := x
	for _, s := range l.short {
		sc = s.forward(sc, n, train)
	}
	y := l.y[:n*l.out]
	vec.AddTo(y, b, sc)
	return y
}

func (l *residual) backward(dy []float32, n int) []float32 {
	g := dy
	for i := len(l.body) - 1; i >= 0; i-- {
		g = l.body[i].backward(g, n)
	}
	gs := dy
	for i := len(l.short) - 1; i >= 0; i-- {
		gs = l.short[i].backward(gs, n)
	}
	if !l.needDx {
		return nil
	}
	dx := l.dx[:n*l.in]
	vec.AddTo(dx, g, gs)
	return dx
}

func (l *residual) params() []*param  { return l.ps }
func (l *residual) buffers() []buffer { return l.bufs }

// padChannels is the option-A shortcut of He et al.'s CIFAR ResNets:
// x[:, :, ::stride, ::stride] with zero channels added up to Out.
//
// The zero channels are split evenly before and after the input channels,
// (Out−In)/2 before and the rest after, as in the CIFAR ResNet code that the
// papers reproduce (Yerlan Idelbayev's pytorch_resnet_cifar10, resnet.py,
// LambdaLayer: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes//4, planes//4))
// with planes = Out = 2·In), not all appended at the end. With Out−In odd the
// extra channel goes after.
type padChannels struct {
	in, out, s   int
	h, w, oh, ow int
	before       int // zero channels before the input channels
	needDx       bool
	y, dx        []float32
}

// newPadChannels builds the option-A shortcut on per-example input shape in
// ([In, H, W]).
func newPadChannels(s nn.PadChannels, in []int, maxBatch int, needDx bool) *padChannels {
	l := &padChannels{in: s.In, out: s.Out, s: s.Stride, h: in[1], w: in[2], before: (s.Out - s.In) / 2, needDx: needDx}
	l.oh = (l.h-1)/l.s + 1
	l.ow = (l.w-1)/l.s + 1
	l.y = make([]float32, maxBatch*l.out*l.oh*l.ow)
	if needDx {
		l.dx = make([]float32, maxBatch*l.in*l.h*l.w)
	}
	return l
}

func (l *padChannels) forward(x []float32, n int, train bool) []float32 {
	ohw := l.oh * l.ow
	y := l.y[:n*l.out*ohw]
	clear(y[:l.before*n*ohw])
	clear(y[(l.before+l.in)*n*ohw:])
	for c := 0; c < l.in; c++ {
		for i := 0; i < n; i++ {
			src := x[(c*n+i)*l.h*l.w:][:l.h*l.w]
			dst := y[((c+l.before)*n+i)*ohw:][:ohw]
			for oy := 0; oy < l.oh; oy++ {
				row := src[oy*l.s*l.w:]
				d := dst[oy*l.ow : (oy+1)*l.ow]
				for ox := range d {
					d[ox] = row[ox*l.s]
				}
			}
		}
	}
	return y
}

func (l *padChannels) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	ohw := l.oh * l.ow
	dx := l.dx[:n*l.in*l.h*l.w]
	if l.s != 1 {
		clear(dx)
	}
	for c := 0; c < l.in; c++ {
		for i := 0; i < n; i++ {
			dst := dx[(c*n+i)*l.h*l.w:][:l.h*l.w]
			src := dy[((c+l.before)*n+i)*ohw:][:ohw]
			for oy := 0; oy < l.oh; oy++ {
				row := dst[oy*l.s*l.w:]
				g := src[oy*l.ow : (oy+1)*l.ow]
				for ox, v := range g {
					row[ox*l.s] = v
				}
			}
		}
	}
	return dx
}

func (l *padChannels) params() []*param  { return nil }
func (l *padChannels) buffers() []buffer { return nil }
