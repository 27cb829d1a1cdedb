package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Padding values. Padding columns of A and B (between the last column of a
// row and the row stride) hold NaN, so that reading them poisons the result;
// padding columns of C hold a sentinel that must survive bit for bit.
var (
	nan32      = float32(math.NaN())
	cSentinel  = float32(-7777.25)
	cSentinelB = math.Float32bits(cSentinel)
)

// matrix is a row-major rows×cols matrix with row stride ld >= cols, stored
// in a slice of the minimum length (rows-1)·ld + cols, so that an
// implementation reading or writing past the last element panics.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

func newMatrix(rng *rand.Rand, rows, cols, pad int, padVal float32) matrix {
	ld := max(1, cols+pad)
	size := 0
	if rows > 0 && cols > 0 {
		size = (rows-1)*ld + cols
	}
	m := matrix{rows: rows, cols: cols, ld: ld, data: make([]float32, size)}
	for i := range m.data {
		if i%ld < cols {
			m.data[i] = float32(rng.NormFloat64())
		} else {
			m.data[i] = padVal
		}
	}
	return m
}

func (m matrix) at(i, j int) float32 { return m.data[i*m.ld+j] }

func (m matrix) clone() matrix {
	m.data = append([]float32(nil), m.data...)
	return m
}

// naive returns alpha·op(A)·op(B) + beta·C0 in float64, along with
// |alpha|·|op(A)|·|op(B)| + |beta|·|C0| for the error bound, both m×n dense.
func naive(transA, transB bool, m, n, k int, alpha float32, a, b matrix, beta float32, c0 matrix) (want, scale []float64) {
	// Dense float64 copies of op(A) (m×k) and op(B)ᵀ (n×k), so that the
	// triple loop below runs over contiguous rows.
	opA := make([]float64, m*k)
	opBT := make([]float64, n*k)
	for l := 0; l < k; l++ {
		for i := 0; i < m; i++ {
			if transA {
				opA[i*k+l] = float64(a.at(l, i))
			} else {
				opA[i*k+l] = float64(a.at(i, l))
			}
		}
		for j := 0; j < n; j++ {
			if transB {
				opBT[j*k+l] = float64(b.at(j, l))
			} else {
				opBT[j*k+l] = float64(b.at(l, j))
			}
		}
	}
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := 0; i < m; i++ {
		ai := opA[i*k : i*k+k]
		for j := 0; j < n; j++ {
			bj := opBT[j*k : j*k+k]
			var s, abs float64
			for l, x := range ai {
				p := x * bj[l]
				s += p
				abs += math.Abs(p)
			}
			w := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * abs
			if beta != 0 { // beta == 0: C is not read (it may hold NaN).
				w += float64(beta) * float64(c0.at(i, j))
				sc += math.Abs(float64(beta) * float64(c0.at(i, j)))
			}
			want[i*n+j] = w
			scale[i*n+j] = sc
		}
	}
	return want, scale
}

type testCase struct {
	m, n, k     int
	transA      bool
	transB      bool
	alpha, beta float32
	padA        int // extra columns in A's row stride, beyond the minimum
	padB        int
	padC        int
}

func (tc testCase) String() string {
	return fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v/alpha=%v,beta=%v/pad=%d,%d,%d",
		tc.m, tc.n, tc.k, tc.transA, tc.transB, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC)
}

// fixture is the random data of a test case and its expected result.
type fixture struct {
	tc          testCase
	a0, b0, c0  matrix
	want, scale []float64
}

// newFixture draws the data for tc and computes the naive product.
func (tc testCase) newFixture(rng *rand.Rand) *fixture {
	rowsA, colsA := tc.m, tc.k
	if tc.transA {
		rowsA, colsA = tc.k, tc.m
	}
	rowsB, colsB := tc.k, tc.n
	if tc.transB {
		rowsB, colsB = tc.n, tc.k
	}
	a := newMatrix(rng, rowsA, colsA, tc.padA, nan32)
	b := newMatrix(rng, rowsB, colsB, tc.padB, nan32)
	c := newMatrix(rng, tc.m, tc.n, tc.padC, cSentinel)
	if tc.beta == 0 {
		// BLAS does not read C when beta == 0: NaN there must not leak.
		for i := range c.data {
			if i%c.ld < c.cols {
				c.data[i] = nan32
			}
		}
	}
	want, scale := naive(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c)
	return &fixture{tc: tc, a0: a, b0: b, c0: c, want: want, scale: scale}
}

// check performs the call of the fixture, with the current implementation,
// on copies of its data, and checks C against the naive product, and that A,
// B and the padding of C are untouched.
func (fx *fixture) check(t *testing.T) {
	t.Helper()
	tc, want, scale := fx.tc, fx.want, fx.scale
	a0, b0 := fx.a0, fx.b0
	a, b, c := fx.a0.clone(), fx.b0.clone(), fx.c0.clone()
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld)

	// Tolerance: a float32 dot product of length k, in any summation order
	// (blocked, FMA or not), has an error of at most about k·ε·Σ|a_l·b_l|
	// (ε = 2⁻²⁴, the unit roundoff), plus a few roundings for alpha, beta
	// and the final add; we allow 2·(k+4)·ε times that scale, plus a tiny
	// absolute term for results that are exactly zero.
	tol := func(sc float64) float64 { return 2*float64(tc.k+4)*0x1p-24*sc + 1e-30 }
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < c.ld && i*c.ld+j < len(c.data); j++ {
			got := c.data[i*c.ld+j]
			if j >= tc.n {
				if math.Float32bits(got) != cSentinelB {
					t.Errorf("C padding (%d,%d) written: %v", i, j, got)
					bad++
				}
				continue
			}
			w, sc := want[i*tc.n+j], scale[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol(sc)) {
				t.Errorf("C(%d,%d) = %v, want %v (|diff| %.3g > tol %.3g)", i, j, got, w, d, tol(sc))
				bad++
			}
			if bad > 10 {
				t.Fatal("too many errors")
			}
		}
	}
	for _, x := range []struct {
		name      string
		got, orig matrix
	}{{"A", a, a0}, {"B", b, b0}} {
		for i := range x.got.data {
			if math.Float32bits(x.got.data[i]) != math.Float32bits(x.orig.data[i]) {
				t.Fatalf("%s modified at %d", x.name, i)
			}
		}
	}
}

// TestSgemm runs the table of cases below on every implementation.
func TestSgemm(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{1, 1, 1},
		{3, 5, 7},
		{17, 33, 9},
		{65, 130, 67},
		{200, 3, 300},
		{3, 200, 300},
		{64, 192, 256},  // exactly one tile of the gonum build
		{129, 385, 513}, // one past the tile sizes in every dimension
		{60, 300, 784},  // LeNet-300-100 first layer, batch 60
		{1, 1, 600},
	}
	var cases []testCase
	for _, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, alpha := range []float32{1, 0.5} {
				for _, beta := range []float32{0, 1, -0.3} {
					cases = append(cases,
						testCase{m: s[0], n: s[1], k: s[2], transA: tr[0], transB: tr[1], alpha: alpha, beta: beta},
						testCase{m: s[0], n: s[1], k: s[2], transA: tr[0], transB: tr[1], alpha: alpha, beta: beta, padA: 3, padB: 5, padC: 2})
				}
			}
		}
	}
	runCases(t, rand.New(rand.NewPCG(1, 2)), cases)
}

// runCases runs each case, on the same data, with every implementation.
func runCases(t *testing.T, rng *rand.Rand, cases []testCase) {
	for _, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			forEachImpl(t, tc.newFixture(rng).check)
		})
	}
}

// TestSgemmPadding checks, on its own, that the padding columns of C (and the
// elements past the end of C's slice) are never written.
func TestSgemmPadding(t *testing.T) { forEachImpl(t, testSgemmPadding) }

func testSgemmPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n, k, ldc = 70, 200, 30, 211
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		for _, beta := range []float32{0, 1, -0.3} {
			rowsA, colsA := m, k
			if tr[0] {
				rowsA, colsA = k, m
			}
			rowsB, colsB := k, n
			if tr[1] {
				rowsB, colsB = n, k
			}
			a := newMatrix(rng, rowsA, colsA, 0, 0)
			b := newMatrix(rng, rowsB, colsB, 0, 0)
			// C has a full last row of padding too, and a guard row after it.
			c := make([]float32, (m+1)*ldc)
			for i := range c {
				c[i] = cSentinel
				if i < m*ldc && i%ldc < n {
					c[i] = 1
				}
			}
			Sgemm(tr[0], tr[1], m, n, k, 1, a.data, a.ld, b.data, b.ld, beta, c, ldc)
			for i, v := range c {
				inside := i < m*ldc && i%ldc < n
				if !inside && math.Float32bits(v) != cSentinelB {
					t.Fatalf("tA=%v tB=%v beta=%v: C[%d] (row %d, col %d) outside the matrix written: %v",
						tr[0], tr[1], beta, i, i/ldc, i%ldc, v)
				}
			}
		}
	}
}

// TestSgemmDegenerate covers m, n or k == 0 and alpha == 0: C = beta·C with A
// and B not read (they are empty or NaN), and nothing at all when m or n == 0.
func TestSgemmDegenerate(t *testing.T) { forEachImpl(t, testSgemmDegenerate) }

func testSgemmDegenerate(t *testing.T) {
	nanA := []float32{nan32, nan32, nan32, nan32, nan32, nan32}
	for _, tc := range []struct {
		name        string
		m, n, k     int
		alpha, beta float32
		a, b        []float32
		want        []float32 // C is 2×3, ldc 3, initially 1..6 (or NaN for beta 0)
	}{
		{"k=0,beta=1", 2, 3, 0, 1, 1, nil, nil, []float32{1, 2, 3, 4, 5, 6}},
		{"k=0,beta=0", 2, 3, 0, 1, 0, nil, nil, []float32{0, 0, 0, 0, 0, 0}},
		{"k=0,beta=-0.5", 2, 3, 0, 1, -0.5, nil, nil, []float32{-0.5, -1, -1.5, -2, -2.5, -3}},
		{"alpha=0,beta=2", 2, 3, 2, 0, 2, nanA, nanA, []float32{2, 4, 6, 8, 10, 12}},
		{"alpha=0,beta=0", 2, 3, 2, 0, 0, nanA, nanA, []float32{0, 0, 0, 0, 0, 0}},
		{"m=0", 0, 3, 2, 1, 0, nil, nil, []float32{1, 2, 3, 4, 5, 6}},
		{"n=0", 2, 0, 2, 1, 0, nil, nil, []float32{1, 2, 3, 4, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				c := []float32{1, 2, 3, 4, 5, 6}
				if tc.beta == 0 && tc.m > 0 && tc.n > 0 {
					for i := range c {
						c[i] = nan32
					}
				}
				lda, ldb := max(1, tc.k), max(1, tc.n)
				if tr[0] {
					lda = max(1, tc.m)
				}
				if tr[1] {
					ldb = max(1, tc.k)
				}
				Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, tc.alpha, tc.a, lda, tc.b, ldb, tc.beta, c, 3)
				for i := range c {
					if c[i] != tc.want[i] {
						t.Fatalf("tA=%v tB=%v: C = %v, want %v", tr[0], tr[1], c, tc.want)
					}
				}
			}
		})
	}
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 6)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"ldb too small", func() { Sgemm(false, true, 2, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"ldc too small", func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, a, 2, 0, a, 1) }},
		{"A too short", func() { Sgemm(false, false, 3, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"C too short", func() { Sgemm(false, false, 2, 4, 1, 1, a, 1, a, 4, 0, a, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmNoAllocs checks that a large call, which gonum alone would run on
// a goroutine per block, allocates nothing (the engine allocates nothing per
// training step).
func TestSgemmNoAllocs(t *testing.T) { forEachImpl(t, testSgemmNoAllocs) }

func testSgemmNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const s = 512
	a := newMatrix(rng, s, s, 0, 0)
	b := newMatrix(rng, s, s, 0, 0)
	c := newMatrix(rng, s, s, 0, 0)
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		allocs := testing.AllocsPerRun(3, func() {
			Sgemm(tr[0], tr[1], s, s, s, 1, a.data, s, b.data, s, 0.5, c.data, s)
		})
		if allocs != 0 {
			t.Errorf("%s: tA=%v tB=%v: %v allocations per %d³ call, want 0", Impl, tr[0], tr[1], allocs, s)
		}
	}
}

// benchSgemm measures C = op(A)·op(B) for each implementation of the build.
func benchSgemm(b *testing.B, transA, transB bool, m, n, k int) {
	benchImpls(b, func(b *testing.B) { benchSgemm1(b, transA, transB, m, n, k) })
}

func benchSgemm1(b *testing.B, transA, transB bool, m, n, k int) {
	rng := rand.New(rand.NewPCG(7, 8))
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	a := newMatrix(rng, rowsA, colsA, 0, 0)
	bm := newMatrix(rng, rowsB, colsB, 0, 0)
	c := newMatrix(rng, m, n, 0, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Sgemm(transA, transB, m, n, k, 1, a.data, a.ld, bm.data, bm.ld, 0, c.data, c.ld)
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// Square sizes.
func BenchmarkSgemmSmall(b *testing.B)  { benchSgemm(b, false, false, 64, 64, 64) }
func BenchmarkSgemmMedium(b *testing.B) { benchSgemm(b, false, false, 256, 256, 256) }
func BenchmarkSgemmLarge(b *testing.B)  { benchSgemm(b, false, false, 512, 512, 512) }

// LeNet-300-100's first dense layer (784→300) on a batch of 60: forward
// Y = X·W (60×784 · 784×300), weight gradient dW = Xᵀ·dY, input gradient
// dX = dY·Wᵀ.
func BenchmarkSgemmLeNetForward(b *testing.B) { benchSgemm(b, false, false, 60, 300, 784) }
func BenchmarkSgemmLeNetGradW(b *testing.B)   { benchSgemm(b, true, false, 784, 300, 60) }
func BenchmarkSgemmLeNetGradX(b *testing.B)   { benchSgemm(b, false, true, 60, 784, 300) }

// A 3×3 convolution, 16→16 channels, as im2col GEMM: W (16 × 9·16) times the
// column matrix (9·16 × batch·32·32), for a batch of 8 (small) and 128
// (large).
func BenchmarkSgemmConvSmall(b *testing.B) { benchSgemm(b, false, false, 16, 8*32*32, 9*16) }
func BenchmarkSgemmConvLarge(b *testing.B) { benchSgemm(b, false, false, 16, 128*32*32, 9*16) }
