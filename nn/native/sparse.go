package native

import (
	"fmt"
	"strings"
)

// Sparse execution of masked layers.
//
// A Linear or Conv2d weight under a Masked parametrization whose pruned
// entries are exactly zero when the layer reads them (ZeroAfterStep, P3,
// and MaskedForward, P1) can run its three products over the kept entries
// only:
//
//	forward      y = W·X          for each output row o: y[o,:] = Σ_k W[o,k]·X[k,:]
//	input grad   dX = Wᵀ·dY       for each input k:      dX[k,:] = Σ_o W[o,k]·dY[o,:]
//	weight grad  dW = dY·Xᵀ at kept (o,k) only:          dW[o,k] = dY[o,:]·X[k,:]
//
// where X is the layer's input as rows of length L: the im2col columns of
// a convolution (K = C·kh·kw rows of n·OH·OW entries, already in that
// layout), or the transposed batch of a Linear layer (In rows of n
// entries; the layer transposes x, y, dy and dx around the products).
//
// The format is two index arrays of the kept entries, built once per mask:
// CSR (by output row: for each o the kept k) for the forward and the
// weight gradient, and CSC (by input column: for each k the kept o) for
// the input gradient, each with the positions of its entries in W, where
// the kernels read the values from θ (no copy per step) and where the
// weight gradient belongs in Param.Grad. Row-wise (CSR/CSC) rather than a
// blocked format because pruning masks are unstructured: a random 5% mask
// leaves almost every 8×1 or 4×4 block with one entry, and a blocked format
// would multiply zeros again; row-wise indices keep every product a sum of
// contiguous length-L vectors, which the kernels run with 8-wide FMAs
// (sparse_amd64.s), and the cost of an index is 8 bytes per kept entry.
//
// Whether a layer takes the sparse path is decided when its mask is set,
// by a table of crossover densities by layer shape (sparseCrossover), not
// by timing at run time: the choice must be the same on every run of a
// spec, since the sparse products sum in another order than the GEMM and
// a run must be bit-for-bit reproducible. Above the crossover the dense
// GEMM is faster and is used.
//
// Param.Grad is the dense gradient on every engine (nn.Param). The sparse
// backward computes the weight gradient at kept entries only, compact in
// CSR order, which is all the optimizer reads under P1 and P3: under P3 it
// reads it there (the kept entries are the alive ones), and it is
// scattered into the dense gradient only for P1 or a reader of Grad
// (param.scatter). The dense gradient is computed from
// the saved input and output gradient when somebody asks for it (Grad, or
// a forward in evaluation mode, which would overwrite the input), so a
// method that needs it (GraNet's regrowth, scoring by gradients) pays for
// it on those steps only.

// SparseMode selects when masked layers use the sparse kernels.
type SparseMode string

const (
	// SparseAuto uses them where the layer's density is below its
	// crossover (the default).
	SparseAuto SparseMode = "auto"
	// SparseOff always runs the dense GEMM.
	SparseOff SparseMode = "off"
	// SparseOn uses them for every masked layer whatever its density: for
	// tests that compare the two paths.
	SparseOn SparseMode = "on"
)

// parseSparseMode reads nn.Config.Sparse ("" is auto).
func parseSparseMode(s string) (SparseMode, error) {
	switch m := SparseMode(strings.ToLower(s)); m {
	case "", SparseAuto:
		return SparseAuto, nil
	case SparseOff, SparseOn:
		return m, nil
	}
	return "", fmt.Errorf("sparse = %q: want auto, off or on", s)
}

// sparseIndex is the index of a masked weight's kept entries, viewed as a
// rows × cols matrix (out × in·kh·kw).
type sparseIndex struct {
	rows, cols int
	// CSR: the kept columns of row o are csrIdx[csrPtr[o]:csrPtr[o+1]],
	// at positions csrPos in W.
	csrPtr, csrIdx, csrPos []int32
	// CSC: the kept rows of column k are cscIdx[cscPtr[k]:cscPtr[k+1]],
	// at positions cscPos in W.
	cscPtr, cscIdx, cscPos []int32
	// grad is the weight gradient at the kept entries in CSR order,
	// scattered into the dense gradient. The kernels read W's kept values
	// from θ by their positions (csrPos, cscPos): θ equals W there under
	// every masked pattern.
	grad []float32
	// builds counts the builds, for the tests that the index is rebuilt
	// when the mask changes and only then.
	builds int
}

// sameSupport says whether two masks keep the same entries.
func sameSupport(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] != 0) != (b[i] != 0) {
			return false
		}
	}
	return true
}

// nnz is the number of kept entries.
func (s *sparseIndex) nnz() int { return len(s.csrIdx) }

// build indexes the nonzero entries of mask (rows × cols, row major),
// reusing the index's arrays.
func (s *sparseIndex) build(mask []float32, rows, cols int) {
	s.rows, s.cols = rows, cols
	nnz := 0
	for _, m := range mask {
		if m != 0 {
			nnz++
		}
	}
	s.csrPtr = resize32(s.csrPtr, rows+1)
	s.cscPtr = resize32(s.cscPtr, cols+1)
	s.csrIdx, s.csrPos = resize32(s.csrIdx, nnz), resize32(s.csrPos, nnz)
	s.cscIdx, s.cscPos = resize32(s.cscIdx, nnz), resize32(s.cscPos, nnz)
	s.grad = resizeF(s.grad, nnz)
	clear(s.cscPtr)
	j := 0
	for o := range rows {
		s.csrPtr[o] = int32(j)
		for k, m := range mask[o*cols : (o+1)*cols] {
			if m != 0 {
				s.csrIdx[j], s.csrPos[j] = int32(k), int32(o*cols+k)
				s.cscPtr[k+1]++
				j++
			}
		}
	}
	s.csrPtr[rows] = int32(j)
	for k := range cols {
		s.cscPtr[k+1] += s.cscPtr[k]
	}
	next := append([]int32(nil), s.cscPtr[:cols]...) // once per mask, not per step
	for o := range rows {
		for j := s.csrPtr[o]; j < s.csrPtr[o+1]; j++ {
			k := s.csrIdx[j]
			p := next[k]
			next[k]++
			s.cscIdx[p], s.cscPos[p] = int32(o), s.csrPos[j]
		}
	}
}

// scatterGrad writes the kept entries' gradient into the dense gradient;
// the pruned entries are left as they are (see clearPruned).
func (s *sparseIndex) scatterGrad(grad []float32) {
	for j, p := range s.csrPos {
		grad[p] = s.grad[j]
	}
}

func resize32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func resizeF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// sparseCrossover is the density below which a layer's sparse path is
// faster than its dense GEMM: a table by layer kind and size, from
// TestSparseCrossovers (`make bench-sparse`) on this project's machine,
// where the two paths' times for one forward and backward meet
// (BENCHMARKS.md lists the measurements by layer shape):
//
//	Linear, rows·cols ≥ 30,000   0.25   (measured 0.28–0.31: LeNet-300-100 fc1, fc2, LeNet-5 fc1)
//	Linear, smaller              0.40   (measured above 0.5: the GEMM's fixed costs dominate)
//	Conv2d                       0.35   (measured 0.38–0.50: LeNet-5, ResNet-20's 3×3 layers)
//
// Each entry sits below the measured crossovers, so the sparse path is
// taken only where it is faster by more than the measurements' noise.
// The table is what decides, not a timing at run time: the choice must be
// the same on every run of a spec (see above).
func sparseCrossover(conv bool, rows, cols int) float64 {
	switch {
	case conv:
		return 0.35
	case rows*cols >= 30000:
		return 0.25
	}
	return 0.40
}

// sparseShape is what a layer tells the net about a weight's sparse path:
// rows × cols is the weight's matrix, conv says whether it is a
// convolution's (for the crossover), and setup allocates the layer's sparse
// buffers the first time the path is taken.
type sparseShape struct {
	rows, cols int
	conv       bool
	setup      func()
}

// useSparse decides whether a weight with this mask takes the sparse path
// under mode: never for an unmasked, shared or non-sparsable weight or
// under SparseOff; always under SparseOn; under SparseAuto when the mask's
// density is below the layer's crossover.
func useSparse(mode SparseMode, p *param, mask []float32) bool {
	sh := p.sparsable
	if mask == nil || p.sh != nil || sh.rows == 0 || mode == SparseOff {
		return false
	}
	if mode == SparseOn {
		return true
	}
	kept := 0
	for _, m := range mask {
		if m != 0 {
			kept++
		}
	}
	return float64(kept)/float64(len(mask)) < sparseCrossover(sh.conv, sh.rows, sh.cols)
}

// installSparse builds (or drops) p's sparse index for mask, and zeroes
// the gradient at pruned entries, which the sparse backward never writes
// (the optimizer multiplies them by the mask or skips them). old is the
// mask the index was built for: when mask has the same kept entries, the
// index stands (a method that sets the same mask again, as a jackpot
// search does every step, costs a comparison, not a rebuild).
func installSparse(mode SparseMode, p *param, mask, old []float32) {
	p.pending = nil
	p.scatterKept() // by the index the gradient was computed with
	if !useSparse(mode, p, mask) {
		p.sp = nil
		return
	}
	if p.sp != nil && sameSupport(mask, old) {
		return
	}
	if p.sp == nil {
		p.sp = &sparseIndex{}
		if p.sparsable.setup != nil {
			p.sparsable.setup()
		}
	}
	p.sp.build(mask, p.sparsable.rows, p.sparsable.cols)
	p.sp.builds++
	for i, m := range mask {
		if m == 0 {
			p.grad[i] = 0
		}
	}
}
