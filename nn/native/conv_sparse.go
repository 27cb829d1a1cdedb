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
// backward, and the kept entries decoded into (channel, kernel row, kernel
// column) for the direct kernels.
type convSparse struct {
	dy []float32 // the output gradient of the last backward (caller's view)
	n  int

	ch, ki, kj []int32 // per CSR entry
	decoded    int     // the index build they were decoded from
}

// decode returns the kept entries' (c, ki, kj), decoding them once per
// index build.
func (l *conv2d) decode(idx *sparseIndex) (ch, ki, kj []int32) {
	sp := l.sp
	if sp.decoded != idx.builds || len(sp.ch) != idx.nnz() {
		kk := int32(l.k * l.k)
		sp.ch, sp.ki, sp.kj = resize32(sp.ch, idx.nnz()), resize32(sp.ki, idx.nnz()), resize32(sp.kj, idx.nnz())
		for j, k := range idx.csrIdx {
			sp.ch[j], sp.ki[j], sp.kj[j] = k/kk, k%kk/int32(l.k), k%int32(l.k)
		}
		sp.decoded = idx.builds
	}
	return sp.ch, sp.ki, sp.kj
}

// window returns, for kernel offset (ki, kj) of a stride-1 convolution, the
// output rows [oh0, oh1) and columns [ow0, ow1) whose input pixel lies in
// the image, and the input position of output (oh0, ow0).
func (l *conv2d) window(ki, kj int) (oh0, oh1, ow0, ow1, in0 int) {
	oh0, ow0 = max(0, l.p-ki), max(0, l.p-kj)
	oh1, ow1 = min(l.oh, l.h+l.p-ki), min(l.ow, l.w+l.p-kj)
	return oh0, oh1, ow0, ow1, (oh0+ki-l.p)*l.w + ow0 + kj - l.p
}

func (l *conv2d) setupSparse() {
	l.sp = &convSparse{}
	l.pendingFn = l.denseWeightGrad
}

// The direct kernels (stride 1): a kept weight W[o,(c,ki,kj)] adds v·x[c]
// shifted by (ki−p, kj−p) to y[o], plane by plane, row by row (axpyRows),
// with no im2col: at low density the columns (C·K·K copies of the input)
// cost more than the products themselves. The input gradient adds v·dy[o]
// shifted back into dx[c], and the weight gradient of a kept entry is the
// dot product of the same two windows (dotRows), summed over the examples.
// Direct wins where the rows are long enough for whole vectors and the
// density low enough that the im2col copy dominates the other path: its
// cost is about proportional to the density, the im2col path's levels off
// near a third of dense (the copy). The rule below sits inside the
// measurements (TestSparseCrossovers, one forward and backward, direct /
// im2col-sparse against dense, min of 5 interleaved rounds, 2026-12-06):
//
//	layer                     rows   d=0.10        d=0.05        d=0.02
//	LeNet-5 conv1 3→20 5×5      28   0.64 / 0.38   0.35 / 0.31   0.19 / 0.27
//	LeNet-5 conv2 20→50 5×5     10   1.11 / 0.42   0.61 / 0.35   0.26 / 0.30
//	ResNet-20 16→16 3×3         32   0.54 / 0.39   0.32 / 0.36   0.17 / 0.33
//	ResNet-20 32→32 3×3         16   1.13 / 0.41   0.54 / 0.35   0.24 / 0.31
//	ResNet-20 64→64 3×3          8   2.47 / 0.45   1.21 / 0.36   0.51 / 0.31
//
// A strided convolution keeps the im2col path.

// forceConvPath overrides the rule of direct1 for the crossover
// measurements (TestSparseCrossovers): 0 keeps the rule, 1 forces the
// direct kernels, −1 the im2col ones. Nothing else sets it.
var forceConvPath int

// direct1 says whether the layer's sparse products run the direct
// kernels (l.direct is the dense path's 1×1 case).
func (l *conv2d) direct1() bool {
	if l.s != 1 {
		return false
	}
	if forceConvPath != 0 {
		return forceConvPath > 0
	}
	idx := l.weight.sp
	d := float64(idx.nnz()) / float64(idx.rows*idx.cols)
	return l.ow >= 32 && d < 0.06 || l.ow >= 20 && d < 0.04 || l.ow >= 10 && d < 0.025
}

func (l *conv2d) forwardDirect(y []float32, n int, add bool) {
	idx, th := l.weight.sp, l.weight.value
	ch, ki, kj := l.decode(idx)
	hw, ohw := l.h*l.w, l.oh*l.ow
	for i := range n {
		for o := range l.out {
			yp := y[(o*n+i)*ohw : (o*n+i+1)*ohw]
			if !add {
				clear(yp)
			}
			for j := idx.csrPtr[o]; j < idx.csrPtr[o+1]; j++ {
				oh0, oh1, ow0, ow1, in0 := l.window(int(ki[j]), int(kj[j]))
				if oh1 <= oh0 || ow1 <= ow0 {
					continue
				}
				c := int(ch[j])
				xp := l.x[(c*n+i)*hw : (c*n+i+1)*hw]
				axpyRows(yp[oh0*l.ow+ow0:], l.ow, xp[in0:], l.w, oh1-oh0, ow1-ow0, th[idx.csrPos[j]])
			}
		}
	}
}

func (l *conv2d) backwardDirect(dy, dx []float32, n int) {
	idx, th := l.weight.sp, l.weight.value
	ch, ki, kj := l.decode(idx)
	hw, ohw := l.h*l.w, l.oh*l.ow
	clear(idx.grad)
	if dx != nil {
		clear(dx)
	}
	for i := range n {
		for o := range l.out {
			dyp := dy[(o*n+i)*ohw : (o*n+i+1)*ohw]
			for j := idx.csrPtr[o]; j < idx.csrPtr[o+1]; j++ {
				oh0, oh1, ow0, ow1, in0 := l.window(int(ki[j]), int(kj[j]))
				if oh1 <= oh0 || ow1 <= ow0 {
					continue
				}
				c := int(ch[j])
				off := oh0*l.ow + ow0
				xp := l.x[(c*n+i)*hw : (c*n+i+1)*hw]
				idx.grad[j] += dotRows(dyp[off:], l.ow, xp[in0:], l.w, oh1-oh0, ow1-ow0)
				if dx != nil {
					axpyRows(dx[(c*n+i)*hw+in0:(c*n+i+1)*hw], l.w, dyp[off:], l.ow, oh1-oh0, ow1-ow0, th[idx.csrPos[j]])
				}
			}
		}
	}
	l.weight.scatter = true
}

func (l *conv2d) forwardSparse(y []float32, n int, add bool) {
	if l.direct1() {
		l.forwardDirect(y, n, add)
		return
	}
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
	if l.direct1() {
		l.backwardDirect(dy, dx, n)
		return
	}
	if l.direct {
		sddmmRows(idx.grad, idx.csrPtr, idx.csrIdx, dy, cols, l.x, l.in, cols, cols, false)
		l.weight.scatter = true
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
	l.weight.scatter = true
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
