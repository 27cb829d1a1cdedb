package native

import "github.com/prunebench/prunebench/nn/native/internal/gemm"

// The sparse path of a convolution (sparse.go). Its products are already
// over rows: the im2col block col is K = C·kh·kw rows of L = nb·OH·OW
// entries and the output block is Out rows of the same length, so
//
//	y[o, block]   = Σ_k W[o,k]·col[k,:]           (CSR, spmmRows)
//	dW[o,k]      += dY[o, block]·col[k,:]          (kept entries, sddmmRows)
//	dcol[k,:]     = Σ_o W[o,k]·dY[o, block]        (CSC, spmmRows), then col2im
//
// block by block as the dense path goes; a 1×1 convolution (direct) uses
// the input itself as col.

// convSparse holds what the dense weight gradient needs after a sparse
// backward.
type convSparse struct {
	dy []float32 // the output gradient of the last backward (caller's view)
	n  int
}

func (l *conv2d) setupSparse() {
	l.sp = &convSparse{}
	l.pendingFn = l.denseWeightGrad
}

func (l *conv2d) forwardSparse(y []float32, n int, add bool) {
	idx := l.weight.sp
	cols := n * l.oh * l.ow
	if l.direct {
		spmmRows(y, cols, idx.csrPtr, idx.csrIdx, idx.csrPos, l.weight.value, l.x, l.in, cols, cols, add)
		return
	}
	ohw := l.oh * l.ow
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		spmmRows(y[i0*ohw:], cols, idx.csrPtr, idx.csrIdx, idx.csrPos, l.weight.value, col, idx.cols, nb*ohw, nb*ohw, add)
	}
}

func (l *conv2d) backwardSparse(dy, dx []float32, n int) {
	idx := l.weight.sp
	cols := n * l.oh * l.ow
	l.sp.dy, l.sp.n = dy, n
	l.weight.pending = l.pendingFn
	if l.direct {
		sddmmRows(idx.grad, idx.csrPtr, idx.csrIdx, dy, cols, l.x, l.in, cols, cols, false)
		idx.scatterGrad(l.weight.grad)
		if dx != nil {
			spmmRows(dx, cols, idx.cscPtr, idx.cscIdx, idx.cscPos, l.weight.value, dy, l.out, cols, cols, false)
		}
		return
	}
	ohw := l.oh * l.ow
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		dyb := dy[i0*ohw:]
		sddmmRows(idx.grad, idx.csrPtr, idx.csrIdx, dyb, cols, col, idx.cols, nb*ohw, nb*ohw, i0 > 0)
		if dx != nil {
			spmmRows(col, nb*ohw, idx.cscPtr, idx.cscIdx, idx.cscPos, l.weight.value, dyb, l.out, cols, nb*ohw, false)
			l.col2im(dx, col, n, i0, nb)
		}
	}
	idx.scatterGrad(l.weight.grad)
}

// denseWeightGrad computes the dense dW of the last backward, which the
// sparse backward left out: what Param.Grad returns. It recomputes the
// im2col blocks from the saved input, as the dense backward does.
func (l *conv2d) denseWeightGrad() {
	dy, n := l.sp.dy, l.sp.n
	cols := n * l.oh * l.ow
	ckk := l.in * l.k * l.k
	if l.direct {
		gemm.Sgemm(false, true, l.out, ckk, cols, 1, dy, cols, l.x, cols, 0, l.weight.grad, ckk)
		return
	}
	ohw := l.oh * l.ow
	var beta float32
	for i0 := 0; i0 < n; i0 += l.chunkN {
		nb := min(l.chunkN, n-i0)
		col := l.columns(n, i0, nb)
		gemm.Sgemm(false, true, l.out, ckk, nb*ohw, 1, dy[i0*ohw:], cols, col, nb*ohw, beta, l.weight.grad, ckk)
		beta = 1
	}
}
