package native

import (
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/gemm"
)

// conv2d is a 2-D convolution on CNHW feature maps, computed by im2col into
// workspace scratch and GEMM:
//
//	y[out × n·OH·OW] = W[out × C·K·K] · col[C·K·K × n·OH·OW] (+ b)
//
// whose result is already the CNHW output. The batch is processed in blocks
// of chunkN examples whose columns fit in colBudget floats, so that each
// block's columns are still in cache when the GEMM reads them (one im2col of
// a whole CIFAR batch is tens of megabytes, and streaming it through memory
// cost more than the GEMM). Backward recomputes each block's columns from the
// saved input, accumulates dW += dY·colᵀ over blocks in order, then writes
// dcol = Wᵀ·dY into the same scratch and scatters it back with col2im. A 1×1
// convolution with stride 1 and no padding needs no columns: col is the input
// itself, and the whole batch is one GEMM.
//
// A shared weight (shared.go) is gathered in blocks of filters for each
// block of columns: y[block rows] = W_block·col. Backward, per column
// block: dW_block = dY[block rows]·colᵀ for every filter block, scattered
// into the array's gradient, then (for dx) dcol = Σ_blocks W_blockᵀ·dY[block
// rows] written over col, whose columns are no longer needed.
type conv2d struct {
	convGeom
	in, out      int
	chunkN       int    // examples per im2col block
	weight, bias *param // bias nil without bias
	needDx       bool
	direct       bool // 1×1, stride 1, no padding
	ws           *workspace

	x     []float32 // input of the last forward (a view owned by the caller)
	y, dx []float32
	ps    []*param

	sp        *convSparse // the sparse path's state (conv_sparse.go), nil until used
	pendingFn func()      // l.denseWeightGrad, made once
}

// newConv2d builds a convolution on per-example input shape in ([C, H, W])
// for batches of at most maxBatch, reserving its column scratch in ws.
func newConv2d(s nn.Conv2d, in []int, maxBatch int, ws *workspace, needDx bool) *conv2d {
	l := &conv2d{in: s.In, out: s.Out, needDx: needDx, ws: ws}
	l.convGeom = convGeom{c: s.In, h: in[1], w: in[2], k: s.Kernel, s: s.Stride, p: s.Pad}
	l.oh = (l.h+2*l.p-l.k)/l.s + 1
	l.ow = (l.w+2*l.p-l.k)/l.s + 1
	l.direct = l.k == 1 && l.s == 1 && l.p == 0
	kk := s.Kernel * s.Kernel
	l.chunkN = max(1, min(maxBatch, colBudget/(l.in*kk*l.oh*l.ow)))
	l.weight = newParam(nn.ParamInfo{Name: s.Name + ".weight", Layer: s.Name, Shape: []int{s.Out, s.In, s.Kernel, s.Kernel}, Kind: nn.Weight, FanIn: s.In * kk, FanOut: s.Out * kk})
	l.ps = []*param{l.weight}
	l.weight.sparsable = sparseShape{rows: s.Out, cols: s.In * kk, conv: true, setup: l.setupSparse}
	if s.Bias {
		l.bias = newParam(nn.ParamInfo{Name: s.Name + ".bias", Layer: s.Name, Shape: []int{s.Out}, Kind: nn.Bias, FanIn: s.In * kk, FanOut: s.Out * kk})
		l.ps = append(l.ps, l.bias)
	}
	l.y = make([]float32, maxBatch*l.out*l.oh*l.ow)
	if needDx {
		l.dx = make([]float32, maxBatch*l.in*l.h*l.w)
	}
	if !l.direct {
		ws.reserve(l.in * kk * l.chunkN * l.oh * l.ow)
	}
	return l
}

// colBudget is the most floats one block of im2col columns takes (512 KiB),
// about what a core's L2 cache holds.
const colBudget = 1 << 17

// columns returns the im2col matrix of examples i0…i0+nb−1 of the saved
// input (n examples).
func (l *conv2d) columns(n, i0, nb int) []float32 {
	col := l.ws.scratch(l.in * l.k * l.k * nb * l.oh * l.ow)
	l.im2col(col, l.x, n, i0, nb)
	return col
}

func (l *conv2d) forward(x []float32, n int, train bool) []float32 {
	l.x = x[:n*l.in*l.h*l.w]
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
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
	if sh := l.weight.sh; sh != nil {
		l.forwardShared(sh, y, n, beta)
		return y
	}
	if l.weight.sp != nil {
		l.forwardSparse(y, n, beta != 0)
		return y
	}
	if l.direct {
		gemm.Sgemm(false, false, l.out, cols, ckk, 1, l.weight.w, ckk, l.x, cols, beta, y, cols)
		return y
	}
	ohw := l.oh * l.ow
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		gemm.Sgemm(false, false, l.out, nb*ohw, ckk, 1, l.weight.w, ckk, col, nb*ohw, beta, y[i0*ohw:], cols)
	}
	return y
}

func (l *conv2d) backward(dy []float32, n int) []float32 {
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	dy = dy[:l.out*cols]
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
	var dx []float32
	if l.needDx {
		dx = l.dx[:n*l.in*l.h*l.w]
	}
	if sh := l.weight.sh; sh != nil {
		l.backwardShared(sh, dy, dx, n)
		return dx
	}
	if l.weight.sp != nil {
		l.backwardSparse(dy, dx, n)
		return dx
	}
	if l.direct {
		gemm.Sgemm(false, true, l.out, ckk, cols, 1, dy, cols, l.x, cols, 0, l.weight.grad, ckk)
		if dx != nil {
			gemm.Sgemm(true, false, ckk, cols, l.out, 1, l.weight.w, ckk, dy, cols, 0, dx, cols)
		}
		return dx
	}
	ohw := l.oh * l.ow
	var beta float32 // the first block overwrites dW, the others add to it
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		dyb := dy[i0*ohw:]
		gemm.Sgemm(false, true, l.out, ckk, nb*ohw, 1, dyb, cols, col, nb*ohw, beta, l.weight.grad, ckk)
		beta = 1
		if dx != nil {
			gemm.Sgemm(true, false, ckk, nb*ohw, l.out, 1, l.weight.w, ckk, dyb, cols, 0, col, nb*ohw)
			l.col2im(dx, col, n, i0, nb)
		}
	}
	return dx
}

// forwardShared computes y (bias already in place when beta is 1) with a
// shared weight (see conv2d).
func (l *conv2d) forwardShared(sh *sharedWeight, y []float32, n int, beta float32) {
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	if l.direct {
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			w := sh.gather(r0, nr)
			gemm.Sgemm(false, false, nr, cols, ckk, 1, w, ckk, l.x, cols, beta, y[r0*cols:], cols)
		}
		return
	}
	ohw := l.oh * l.ow
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			w := sh.gather(r0, nr)
			gemm.Sgemm(false, false, nr, nb*ohw, ckk, 1, w, ckk, col, nb*ohw, beta, y[r0*cols+i0*ohw:], cols)
		}
	}
}

// backwardShared accumulates the shared weight's contribution to its
// array's gradient and writes dx when it is not nil (see conv2d).
func (l *conv2d) backwardShared(sh *sharedWeight, dy, dx []float32, n int) {
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	if l.direct {
		var beta float32 // the first block overwrites dx, the others add to it
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			idx, sign := sh.fill(r0, nr)
			w := sh.scr.w[:len(idx)]
			if dx != nil {
				sh.gatherTo(w, idx, sign)
				gemm.Sgemm(true, false, ckk, cols, nr, 1, w, ckk, dy[r0*cols:], cols, beta, dx, cols)
				beta = 1
			}
			gemm.Sgemm(false, true, nr, ckk, cols, 1, dy[r0*cols:], cols, l.x, cols, 0, w, ckk)
			sh.scatter(w, idx, sign)
		}
		return
	}
	ohw := l.oh * l.ow
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		dyb := dy[i0*ohw:]
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			idx, sign := sh.fill(r0, nr)
			w := sh.scr.w[:len(idx)]
			gemm.Sgemm(false, true, nr, ckk, nb*ohw, 1, dyb[r0*cols:], cols, col, nb*ohw, 0, w, ckk)
			sh.scatter(w, idx, sign)
		}
		if dx == nil {
			continue
		}
		var beta float32
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			w := sh.gather(r0, nr)
			gemm.Sgemm(true, false, ckk, nb*ohw, nr, 1, w, ckk, dyb[r0*cols:], cols, beta, col, nb*ohw)
			beta = 1
		}
		l.col2im(dx, col, n, i0, nb)
	}
}

func (l *conv2d) params() []*param  { return l.ps }
func (l *conv2d) buffers() []buffer { return nil }
