package native

import (
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/gemm"
)

// conv2d is a 2-D convolution on CNHW feature maps, computed over the whole
// batch as one im2col into workspace scratch and one GEMM:
//
//	y[out × n·OH·OW] = W[out × C·K·K] · col[C·K·K × n·OH·OW] (+ b)
//
// whose result is already the CNHW output. Backward recomputes the columns
// from the saved input, takes dW = dY·colᵀ, then dcol = Wᵀ·dY into the same
// scratch and scatters it back with col2im. A 1×1 convolution with stride 1
// and no padding needs no columns: col is the input itself.
type conv2d struct {
	in, out, k, s, p int
	h, w, oh, ow     int
	weight, bias     *param // bias nil without bias
	needDx           bool
	direct           bool // 1×1, stride 1, no padding
	ws               *workspace

	x     []float32 // input of the last forward (a view owned by the caller)
	y, dx []float32
	ps    []*param
}

// newConv2d builds a convolution on per-example input shape in ([C, H, W])
// for batches of at most maxBatch, reserving its column scratch in ws.
func newConv2d(s nn.Conv2d, in []int, maxBatch int, ws *workspace, needDx bool) *conv2d {
	l := &conv2d{in: s.In, out: s.Out, k: s.Kernel, s: s.Stride, p: s.Pad, h: in[1], w: in[2], needDx: needDx, ws: ws}
	l.oh = (l.h+2*l.p-l.k)/l.s + 1
	l.ow = (l.w+2*l.p-l.k)/l.s + 1
	l.direct = l.k == 1 && l.s == 1 && l.p == 0
	kk := s.Kernel * s.Kernel
	l.weight = newParam(nn.ParamInfo{Name: s.Name + ".weight", Layer: s.Name, Shape: []int{s.Out, s.In, s.Kernel, s.Kernel}, Kind: nn.Weight, FanIn: s.In * kk, FanOut: s.Out * kk})
	l.ps = []*param{l.weight}
	if s.Bias {
		l.bias = newParam(nn.ParamInfo{Name: s.Name + ".bias", Layer: s.Name, Shape: []int{s.Out}, Kind: nn.Bias, FanIn: s.In * kk, FanOut: s.Out * kk})
		l.ps = append(l.ps, l.bias)
	}
	l.y = make([]float32, maxBatch*l.out*l.oh*l.ow)
	if needDx {
		l.dx = make([]float32, maxBatch*l.in*l.h*l.w)
	}
	if !l.direct {
		ws.reserve(l.in * kk * maxBatch * l.oh * l.ow)
	}
	return l
}

// columns returns the im2col matrix of the saved input for n examples.
func (l *conv2d) columns(n int) []float32 {
	if l.direct {
		return l.x
	}
	col := l.ws.scratch(l.in * l.k * l.k * n * l.oh * l.ow)
	im2col(col, l.x, n, l.in, l.h, l.w, l.k, l.s, l.p, l.oh, l.ow)
	return col
}

func (l *conv2d) forward(x []float32, n int, train bool) []float32 {
	l.x = x[:n*l.in*l.h*l.w]
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	col := l.columns(n)
	y := l.y[:l.out*cols]
	var beta float32
	if l.bias != nil {
		for o, b := range l.bias.w {
			row := y[o*cols : (o+1)*cols]
			for j := range row {
				row[j] = b
			}
		}
		beta = 1
	}
	gemm.Sgemm(false, false, l.out, cols, ckk, 1, l.weight.w, ckk, col, cols, beta, y, cols)
	return y
}

func (l *conv2d) backward(dy []float32, n int) []float32 {
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	dy = dy[:l.out*cols]
	col := l.columns(n)
	gemm.Sgemm(false, true, l.out, ckk, cols, 1, dy, cols, col, cols, 0, l.weight.grad, ckk)
	if l.bias != nil {
		// Bias sums run over n·OH·OW entries: accumulate in float64.
		for o := range l.bias.grad {
			var s float64
			for _, v := range dy[o*cols : (o+1)*cols] {
				s += float64(v)
			}
			l.bias.grad[o] = float32(s)
		}
	}
	if !l.needDx {
		return nil
	}
	dx := l.dx[:n*l.in*l.h*l.w]
	if l.direct {
		gemm.Sgemm(true, false, ckk, cols, l.out, 1, l.weight.w, ckk, dy, cols, 0, dx, cols)
		return dx
	}
	gemm.Sgemm(true, false, ckk, cols, l.out, 1, l.weight.w, ckk, dy, cols, 0, col, cols)
	col2im(dx, col, n, l.in, l.h, l.w, l.k, l.s, l.p, l.oh, l.ow)
	return dx
}

func (l *conv2d) params() []*param  { return l.ps }
func (l *conv2d) buffers() []buffer { return nil }
