package native

import "github.com/prunebench/prunebench/nn/native/internal/gemm"

// The sparse path of a Linear layer (sparse.go). The kernels run over rows
// of the batch, so the layer works on transposes: xᵀ (In × n), yᵀ = W·xᵀ
// (Out × n), dyᵀ (Out × n), dW at kept entries = dyᵀ·x and dxᵀ = Wᵀ·dyᵀ
// (In × n). The transposes (8×8 blocks in assembly) cost O(n·(In+Out)), a
// small part of the dense product's O(n·In·Out) that the path saves. The
// transposed rows are padded with zeros to a multiple of 8 entries, so the
// kernels run whole vectors (a batch of 60 is one pass of 64 lanes per kept
// entry rather than seven of 8 and four single lanes); the zeros add
// nothing to any sum.

// linearSparse holds a Linear layer's buffers for the sparse path,
// allocated the first time its weight takes it.
type linearSparse struct {
	xT, yT, dyT, dxT []float32
	dy               []float32 // the output gradient of the last backward (caller's view)
	n                int       // its batch
}

// pad8 rounds n up to a multiple of 8.
func pad8(n int) int { return (n + 7) &^ 7 }

func (l *linear) setupSparse() {
	mb := pad8(l.maxBatch)
	l.sp = &linearSparse{xT: make([]float32, mb*l.in), yT: make([]float32, mb*l.out), dyT: make([]float32, mb*l.out)}
	if l.needDx {
		l.sp.dxT = make([]float32, mb*l.in)
	}
	l.pendingFn = l.denseWeightGrad
}

// transposeIn writes src (n × c) transposed into dst (c × ld), zeroing the
// padding columns n…ld−1.
func transposeIn(dst []float32, src []float32, n, c, ld int) {
	transpose(dst, ld, src, c, n, c)
	if ld > n {
		for k := range c {
			clear(dst[k*ld+n : (k+1)*ld])
		}
	}
}

func (l *linear) forwardSparse(x, y []float32, n int) {
	sp, idx := l.sp, l.weight.sp
	if n == 1 {
		// One example (inference of a single input): a matrix–vector
		// product, with no transposes.
		spmv(y[:l.out], idx.csrPtr, idx.csrIdx, idx.csrPos, l.weight.value, x[:l.in])
		l.addBias(y, n)
		return
	}
	ld := pad8(n)
	xT, yT := sp.xT[:l.in*ld], sp.yT[:l.out*ld]
	transposeIn(xT, x, n, l.in, ld)
	// The bias starts each row of yᵀ (one value per row, a fill), and the
	// product adds to it: cheaper than adding it to y afterwards, a
	// strided read-modify-write of every entry.
	add := l.bias != nil
	if add {
		for o, b := range l.bias.w {
			fill(yT[o*ld:(o+1)*ld], b)
		}
	}
	spmmRows(yT, ld, idx.csrPtr, idx.csrIdx, idx.csrPos, l.weight.value, xT, l.in, ld, ld, add)
	transpose(y, l.out, yT, ld, l.out, n)
}

// fill sets every entry of d to v.
func fill(d []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}

// addBias adds the bias to every row of y (n × out).
func (l *linear) addBias(y []float32, n int) {
	if l.bias == nil {
		return
	}
	b := l.bias.w
	for i := range n {
		row := y[i*l.out : (i+1)*l.out]
		for j, v := range b {
			row[j] += v
		}
	}
}

// backwardSparse computes the weight gradient at kept entries and, when
// the layer needs it, dx; the bias gradient is the caller's.
func (l *linear) backwardSparse(dy []float32, n int) []float32 {
	sp, idx := l.sp, l.weight.sp
	ld := pad8(n)
	dyT, xT := sp.dyT[:l.out*ld], sp.xT[:l.in*ld]
	transposeIn(dyT, dy, n, l.out, ld)
	sddmmRows(idx.grad, idx.csrPtr, idx.csrIdx, dyT, ld, xT, l.in, ld, ld, false)
	l.weight.scatter = true
	sp.dy, sp.n = dy, n
	l.weight.pending = l.pendingFn
	if !l.needDx {
		return nil
	}
	dxT, dx := sp.dxT[:l.in*ld], l.dx[:n*l.in]
	spmmRows(dxT, ld, idx.cscPtr, idx.cscIdx, idx.cscPos, l.weight.value, dyT, l.out, ld, ld, false)
	transpose(dx, l.in, dxT, ld, l.in, n)
	return dx
}

// denseWeightGrad computes the dense dW = dyᵀ·x of the last backward, which
// the sparse backward left out: what Param.Grad returns.
func (l *linear) denseWeightGrad() {
	sp := l.sp
	gemm.Sgemm(true, false, l.out, l.in, sp.n, 1, sp.dy, l.out, l.x, l.in, 0, l.weight.grad, l.in)
}
