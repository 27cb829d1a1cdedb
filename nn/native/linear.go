package native

import (
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/gemm"
	"github.com/prunebench/prunebench/nn/native/internal/vec"
)

// linear is y = x·Wᵀ + b on N×In row-major inputs, with W [Out, In].
//
// Backward: dW = dyᵀ·x, db = Σᵢ dyᵢ (rows summed in order), dx = dy·W.
//
// A shared weight (shared.go) is gathered in blocks of output rows: the
// forward computes y[:, block] = x·W_blockᵀ, the backward dx = Σ_blocks
// dy[:, block]·W_block (blocks in order) and dW_block = dy[:, block]ᵀ·x,
// scattered into the array's gradient.
type linear struct {
	in, out  int
	maxBatch int
	weight   *param
	bias     *param // nil without bias
	needDx   bool

	sp        *linearSparse // the sparse path's buffers (linear_sparse.go), nil until used
	pendingFn func()        // l.denseWeightGrad, made once

	x  []float32 // input of the last forward (a view owned by the caller)
	y  []float32 // output, maxBatch×out
	dx []float32 // input gradient, maxBatch×in (nil when !needDx)
	ps []*param
}

// newLinear builds a Linear layer for batches of at most maxBatch examples.
// Without needDx its backward computes only parameter gradients and returns
// nil.
func newLinear(s nn.Linear, maxBatch int, needDx bool) *linear {
	l := &linear{in: s.In, out: s.Out, maxBatch: maxBatch, needDx: needDx, y: make([]float32, maxBatch*s.Out)}
	l.weight = newParam(nn.ParamInfo{Name: s.Name + ".weight", Layer: s.Name, Shape: []int{s.Out, s.In}, Kind: nn.Weight, FanIn: s.In, FanOut: s.Out})
	l.weight.sparsable = sparseShape{rows: s.Out, cols: s.In, setup: l.setupSparse}
	l.ps = []*param{l.weight}
	if s.Bias {
		l.bias = newParam(nn.ParamInfo{Name: s.Name + ".bias", Layer: s.Name, Shape: []int{s.Out}, Kind: nn.Bias, FanIn: s.In, FanOut: s.Out})
		l.ps = append(l.ps, l.bias)
	}
	if needDx {
		l.dx = make([]float32, maxBatch*s.In)
	}
	return l
}

func (l *linear) forward(x []float32, n int, train bool) []float32 {
	x = x[:n*l.in]
	l.x = x
	y := l.y[:n*l.out]
	if sh := l.weight.sh; sh != nil {
		var beta float32
		if l.bias != nil {
			b := l.bias.w
			for i := 0; i < n; i++ {
				copy(y[i*l.out:(i+1)*l.out], b)
			}
			beta = 1
		}
		for r0 := 0; r0 < l.out; r0 += sh.block {
			nr := min(sh.block, l.out-r0)
			w := sh.gather(r0, nr)
			gemm.Sgemm(false, true, n, nr, l.in, 1, x, l.in, w, l.in, beta, y[r0:], l.out)
		}
		return y
	}
	if l.weight.sp != nil {
		l.forwardSparse(x, y, n)
		return y
	}
	if l.bias != nil {
		b := l.bias.w
		for i := 0; i < n; i++ {
			copy(y[i*l.out:(i+1)*l.out], b)
		}
		gemm.Sgemm(false, true, n, l.out, l.in, 1, x, l.in, l.weight.w, l.in, 1, y, l.out)
	} else {
		gemm.Sgemm(false, true, n, l.out, l.in, 1, x, l.in, l.weight.w, l.in, 0, y, l.out)
	}
	return y
}

func (l *linear) backward(dy []float32, n int) []float32 {
	dy = dy[:n*l.out]
	if l.weight.sh == nil && l.weight.sp == nil {
		gemm.Sgemm(true, false, l.out, l.in, n, 1, dy, l.out, l.x, l.in, 0, l.weight.grad, l.in)
	}
	if l.bias != nil {
		db := l.bias.grad
		clear(db)
		for i := 0; i < n; i++ {
			vec.Add(db, dy[i*l.out:(i+1)*l.out]) // db += row i, in order of i
		}
	}
	if sh := l.weight.sh; sh != nil {
		return l.backwardShared(sh, dy, n)
	}
	if l.weight.sp != nil {
		return l.backwardSparse(dy, n)
	}
	if !l.needDx {
		return nil
	}
	dx := l.dx[:n*l.in]
	gemm.Sgemm(false, false, n, l.in, l.out, 1, dy, l.out, l.weight.w, l.in, 0, dx, l.in)
	return dx
}

// backwardShared computes dx and the shared weight's contribution to its
// array's gradient, block by block (see linear).
func (l *linear) backwardShared(sh *sharedWeight, dy []float32, n int) []float32 {
	var dx []float32
	if l.needDx {
		dx = l.dx[:n*l.in]
	}
	var beta float32 // the first block overwrites dx, the others add to it
	for r0 := 0; r0 < l.out; r0 += sh.block {
		nr := min(sh.block, l.out-r0)
		idx, sign := sh.fill(r0, nr)
		w := sh.scr.w[:len(idx)]
		if dx != nil {
			sh.gatherTo(w, idx, sign)
			gemm.Sgemm(false, false, n, l.in, nr, 1, dy[r0:], l.out, w, l.in, beta, dx, l.in)
			beta = 1
		}
		// dW of the block, in the same buffer.
		gemm.Sgemm(true, false, nr, l.in, n, 1, dy[r0:], l.out, l.x, l.in, 0, w, l.in)
		sh.scatter(w, idx, sign)
	}
	return dx
}

func (l *linear) params() []*param  { return l.ps }
func (l *linear) buffers() []buffer { return nil }
