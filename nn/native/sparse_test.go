package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// TestSparseIndex: the CSR and CSC orders of a small mask, by hand.
func TestSparseIndex(t *testing.T) {
	// 2×3:  [1 0 1]
	//       [0 1 1]
	mask := []float32{1, 0, 1, 0, 1, 1}
	var s sparseIndex
	s.build(mask, 2, 3)
	want := map[string][]int32{
		"csrPtr": {0, 2, 4}, "csrIdx": {0, 2, 1, 2}, "csrPos": {0, 2, 4, 5},
		"cscPtr": {0, 1, 2, 4}, "cscIdx": {0, 1, 0, 1}, "cscPos": {0, 4, 2, 5},
	}
	got := map[string][]int32{"csrPtr": s.csrPtr, "csrIdx": s.csrIdx, "csrPos": s.csrPos, "cscPtr": s.cscPtr, "cscIdx": s.cscIdx, "cscPos": s.cscPos}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	copy(s.grad, []float32{1, 2, 3, 4})
	g := []float32{9, 9, 9, 9, 9, 9}
	s.scatterGrad(g)
	if !slices.Equal(g, []float32{1, 9, 2, 9, 3, 4}) {
		t.Errorf("scattered %v", g)
	}
	// A rebuild with another mask reuses the arrays and forgets the old one.
	s.build([]float32{0, 0, 0, 0, 0, 1}, 2, 3)
	if s.nnz() != 1 || !slices.Equal(s.csrPtr, []int32{0, 0, 1}) || !slices.Equal(s.cscPtr, []int32{0, 0, 0, 1}) {
		t.Errorf("rebuilt: %+v", s)
	}
}

// TestSparseKernels: the products by hand on a 2×3 weight, then the
// assembly kernels against the Go loops on random data of many lengths.
func TestSparseKernels(t *testing.T) {
	var s sparseIndex
	s.build([]float32{1, 0, 1, 0, 1, 1}, 2, 3)
	theta := []float32{2, 0, 3, 0, 5, 7}
	x := []float32{ // 3 rows of length 2
		1, 2,
		10, 20,
		100, 200,
	}
	y := make([]float32, 4)
	spmmRows(y, 2, s.csrPtr, s.csrIdx, s.csrPos, theta, x, 3, 2, 2, false)
	// row 0: 2·x0 + 3·x2 = (302, 604); row 1: 5·x1 + 7·x2 = (750, 1500)
	if !slices.Equal(y, []float32{302, 604, 750, 1500}) {
		t.Errorf("W·X = %v", y)
	}
	dy := []float32{1, 1, 2, 2} // 2 rows of length 2
	dx := make([]float32, 6)
	spmmRows(dx, 2, s.cscPtr, s.cscIdx, s.cscPos, theta, dy, 2, 2, 2, false)
	// dX[k] = Σ_o W[o,k]·dY[o]: k0: 2·(1,1); k1: 5·(2,2); k2: 3·(1,1) + 7·(2,2)
	if !slices.Equal(dx, []float32{2, 2, 10, 10, 17, 17}) {
		t.Errorf("Wᵀ·dY = %v", dx)
	}
	g := make([]float32, 4)
	sddmmRows(g, s.csrPtr, s.csrIdx, dy, 2, x, 3, 2, 2, false)
	// dW[o,k] = dY[o]·X[k]: (0,0) 3, (0,2) 300, (1,1) 60, (1,2) 600
	if !slices.Equal(g, []float32{3, 300, 60, 600}) {
		t.Errorf("dY·Xᵀ at kept = %v", g)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []int{1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 130, 1000} {
		for _, nnz := range []int{0, 1, 5, 40} {
			for _, add := range []bool{false, true} {
				t.Run(fmt.Sprintf("l=%d/nnz=%d/add=%v", l, nnz, add), func(t *testing.T) {
					rows := 50
					ldx := l + 3
					x := randomF(rng, rows*ldx)
					idx, pos := make([]int32, nnz), make([]int32, nnz)
					theta := randomF(rng, 100)
					for j := range idx {
						idx[j], pos[j] = int32(rng.IntN(rows)), int32(rng.IntN(len(theta)))
					}
					start := randomF(rng, l)
					got, want := slices.Clone(start), slices.Clone(start)
					spmmRow(got, idx, pos, theta, x, ldx, add)
					spmmRowGo(want, idx, pos, theta, x, ldx, add)
					compareF(t, "spmmRow", got, want)
					a := randomF(rng, l)
					outStart := randomF(rng, nnz)
					got, want = slices.Clone(outStart), slices.Clone(outStart)
					sddmmRow(got, a, idx, x, ldx, add)
					sddmmRowGo(want, a, idx, x, ldx, add)
					compareF(t, "sddmmRow", got, want)
				})
			}
		}
	}
}

func randomF(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// compareF: the kernels sum in other orders (and with FMA), so they agree
// within float32 rounding of the sums, not bit for bit.
func compareF(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			return
		}
	}
}

// TestTranspose on shapes around the block size.
func TestTranspose(t *testing.T) {
	for _, rc := range [][2]int{{1, 1}, {3, 5}, {16, 16}, {17, 33}, {60, 784}} {
		r, c := rc[0], rc[1]
		src := make([]float32, r*(c+2))
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, c*(r+1))
		transpose(dst, r+1, src, c+2, r, c)
		for i := range r {
			for j := range c {
				if dst[j*(r+1)+i] != src[i*(c+2)+j] {
					t.Fatalf("%d×%d: dst[%d,%d] = %v, want %v", r, c, j, i, dst[j*(r+1)+i], src[i*(c+2)+j])
				}
			}
		}
	}
}

var crossoverReport = os.Getenv("PRUNEBENCH_CROSSOVERS") == "1"

// spmv (one example) by hand, and the assembly against the Go loop on
// rows of many lengths.
func TestSpmv(t *testing.T) {
	var s sparseIndex
	s.build([]float32{1, 0, 1, 0, 1, 1}, 2, 3)
	theta := []float32{2, 0, 3, 0, 5, 7}
	y := make([]float32, 2)
	spmv(y, s.csrPtr, s.csrIdx, s.csrPos, theta, []float32{1, 10, 100})
	if !slices.Equal(y, []float32{302, 750}) { // 2·1 + 3·100, 5·10 + 7·100
		t.Errorf("W·x = %v", y)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, cols := range []int{1, 7, 8, 9, 17, 100, 784} {
		mask := make([]float32, 13*cols)
		theta := randomF(rng, len(mask))
		for i := range mask {
			if rng.Float64() < 0.4 {
				mask[i] = 1
			}
		}
		s.build(mask, 13, cols)
		x := randomF(rng, cols)
		got, want := make([]float32, 13), make([]float32, 13)
		spmv(got, s.csrPtr, s.csrIdx, s.csrPos, theta, x)
		spmvGo(want, s.csrPtr, s.csrIdx, s.csrPos, theta, x)
		compareF(t, fmt.Sprintf("spmv cols=%d", cols), got, want)
	}
}

// axpyRows and dotRows (the direct convolution's kernels) by hand, and the
// assembly against the Go loops on windows of many widths.
func TestRowKernels(t *testing.T) {
	y := []float32{1, 1, 9, 1, 1, 9}
	axpyRows(y, 3, []float32{1, 2, 3, 4, 5, 6}, 4, 2, 2, 10) // rows of 2 at strides 3 and 4
	if !slices.Equal(y, []float32{11, 21, 9, 51, 61, 9}) {
		t.Errorf("axpyRows = %v", y)
	}
	if got := dotRows([]float32{1, 2, 0, 3, 4}, 3, []float32{5, 6, 7, 8}, 2, 2, 2); got != 1*5+2*6+3*7+4*8 {
		t.Errorf("dotRows = %v", got)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 8, 9, 10, 16, 28, 33} {
		for _, rows := range []int{1, 3, 28} {
			ys, xs := n+3, n+5
			x := randomF(rng, rows*xs)
			y0 := randomF(rng, rows*ys)
			got, want := slices.Clone(y0), slices.Clone(y0)
			axpyRows(got, ys, x, xs, rows, n, 0.75)
			axpyRowsGo(want, ys, x, xs, rows, n, 0.75)
			compareF(t, fmt.Sprintf("axpyRows n=%d rows=%d", n, rows), got, want)
			d, dw := dotRows(y0, ys, x, xs, rows, n), dotRowsGo(y0, ys, x, xs, rows, n)
			compareF(t, fmt.Sprintf("dotRows n=%d rows=%d", n, rows), []float32{d}, []float32{dw})
		}
	}
}
