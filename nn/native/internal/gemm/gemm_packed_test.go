//go:build !openblas

package gemm

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// TestSgemmBlocking runs shapes just below, at and above every blocking
// boundary of the packed driver (MR, NR, mcBlock, ncBlock, kcBlock and
// multiples), one dimension at a time and all together, on every
// implementation.
func TestSgemmBlocking(t *testing.T) {
	var shapes [][3]int // m, n, k
	for _, m := range []int{1, mr - 1, mr, mr + 1, 2*mr + 1, mcBlock - 1, mcBlock, mcBlock + 1, 2*mcBlock + mr + 1} {
		shapes = append(shapes, [3]int{m, 2*nr + 1, 20})
	}
	for _, n := range []int{1, nr - 1, nr, nr + 1, 3*nr - 1, ncBlock - 1, ncBlock, ncBlock + 1, 2*ncBlock + nr + 1} {
		shapes = append(shapes, [3]int{mr + 1, n, 9})
	}
	for _, k := range []int{1, 7, 8, 9, kcBlock - 1, kcBlock, kcBlock + 1, 2*kcBlock + 9} {
		shapes = append(shapes, [3]int{2*mr + 1, 2*nr + 3, k})
	}
	shapes = append(shapes,
		[3]int{mcBlock + 1, ncBlock + 1, kcBlock + 1},
		[3]int{2 * mcBlock, 2 * nr, 2 * kcBlock},
	)
	var cases []testCase
	for _, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			cases = append(cases,
				testCase{m: s[0], n: s[1], k: s[2], transA: tr[0], transB: tr[1], alpha: 1, beta: 0},
				testCase{m: s[0], n: s[1], k: s[2], transA: tr[0], transB: tr[1], alpha: -0.5, beta: 0.7, padA: 1, padB: 3, padC: 5})
		}
	}
	runCases(t, rand.New(rand.NewPCG(11, 12)), cases)
}

// TestImpl checks that the implementation in use is the one the CPU calls
// for.
func TestImpl(t *testing.T) {
	want := "gonum"
	if asmKernels != nil {
		want = "avx2"
	}
	if Impl != want || active.name != want {
		t.Errorf("Impl = %q, active %q, want %q", Impl, active.name, want)
	}
	t.Logf("Impl = %s", Impl)
}

// TestMicroKernel checks the assembly micro-kernel against the Go one on
// random panels, for short and long k, each beta, and C both as a tile
// buffer (ldc = NR) and inside a larger matrix whose other elements must
// stay untouched.
func TestMicroKernel(t *testing.T) {
	if asmKernels == nil {
		t.Skip("no assembly kernel on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 63, kcBlock - 1, kcBlock} {
		for _, beta := range []float32{0, 1, -0.3} {
			for _, ldc := range []int{nr, nr + 7} {
				a := make([]float32, max(1, k*mr))
				b := make([]float32, max(1, k*nr))
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				// C with a guard row above and below and ldc-nr guard
				// columns.
				c := make([]float32, (mr+2)*ldc)
				for i := range c {
					c[i] = cSentinel
					if r, j := i/ldc-1, i%ldc; r >= 0 && r < mr && j < nr {
						c[i] = float32(rng.NormFloat64())
						if beta == 0 {
							c[i] = nan32
						}
					}
				}
				cGo := append([]float32(nil), c...)
				kernelGo(k, &a[0], &b[0], &cGo[ldc], ldc, beta)
				asmKernels.micro(k, &a[0], &b[0], &c[ldc], ldc, beta)
				for i := range c {
					r, j := i/ldc-1, i%ldc
					if r < 0 || r >= mr || j >= nr {
						if math.Float32bits(c[i]) != cSentinelB {
							t.Fatalf("k=%d beta=%v ldc=%d: C[%d] outside the tile written: %v", k, beta, ldc, i, c[i])
						}
						continue
					}
					// Both sum the same products in the same order;
					// only the fused multiply-adds differ.
					var scale float64
					for l := 0; l < k; l++ {
						scale += math.Abs(float64(a[l*mr+r]) * float64(b[l*nr+j]))
					}
					if d := math.Abs(float64(c[i]) - float64(cGo[i])); !(d <= 4*float64(k+2)*0x1p-24*(scale+2)) {
						t.Fatalf("k=%d beta=%v ldc=%d: C(%d,%d) = %v, Go kernel %v", k, beta, ldc, r, j, c[i], cGo[i])
					}
				}
			}
		}
	}
}

// TestPackB checks the assembly packing of op(B) against the Go packing,
// bit for bit, including the zero padding of the last panel, for both
// transposes and shapes around the 8×8 blocks of the transposing packer.
func TestPackB(t *testing.T) {
	if asmKernels == nil {
		t.Skip("no assembly kernel on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, kb := range []int{1, 7, 8, 9, 16, 23, kcBlock} {
		for _, nb := range []int{1, 15, 16, 17, 40, 64} {
			for _, trans := range []bool{false, true} {
				rows, cols := kb, nb
				if trans {
					rows, cols = nb, kb
				}
				const pad, off = 3, 5 // a sub-block at row 1, column 2
				ld := cols + pad
				b := make([]float32, off+(rows-1)*ld+cols)
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				size := roundUp(nb, nr) * kb
				want := make([]float32, size+4)
				got := make([]float32, size+4)
				for i := range want {
					want[i] = nan32 // stale contents must be overwritten
					got[i] = nan32
				}
				want[size], got[size] = cSentinel, cSentinel
				if trans {
					goKernels.packBT(kb, nb, b, ld, off, want)
					asmKernels.packBT(kb, nb, b, ld, off, got)
				} else {
					goKernels.packBN(kb, nb, b, ld, off, want)
					asmKernels.packBN(kb, nb, b, ld, off, got)
				}
				for i := 0; i <= size; i++ {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("kb=%d nb=%d trans=%v: packed[%d] = %v, want %v", kb, nb, trans, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestSgemmDeterministic checks that repeated calls, also from several
// goroutines at once (each with its own workspace), give the same bits.
func TestSgemmDeterministic(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		const m, n, k = 61, 301, 300
		a := newMatrix(rng, m, k, 0, 0)
		b := newMatrix(rng, n, k, 0, 0)
		c0 := newMatrix(rng, m, n, 0, 0)
		ref := c0.clone()
		Sgemm(false, true, m, n, k, 0.5, a.data, a.ld, b.data, b.ld, 0.25, ref.data, ref.ld)
		workers := max(4, runtime.GOMAXPROCS(0))
		var wg sync.WaitGroup
		errs := make([]int, workers)
		for w := range workers {
			wg.Go(func() {
				for range 5 {
					c := c0.clone()
					Sgemm(false, true, m, n, k, 0.5, a.data, a.ld, b.data, b.ld, 0.25, c.data, c.ld)
					for i := range c.data {
						if math.Float32bits(c.data[i]) != math.Float32bits(ref.data[i]) {
							errs[w]++
						}
					}
				}
			})
		}
		wg.Wait()
		for w, e := range errs {
			if e != 0 {
				t.Errorf("goroutine %d: %d elements differ from the first call", w, e)
			}
		}
	})
}

// TestPackA checks the assembly packing of A (not transposed) against the
// Go packing, bit for bit, including the zero rows of the last panel and
// the columns after the last block of 8, and that nothing after the packed
// block is written.
func TestPackA(t *testing.T) {
	if asmKernels == nil {
		t.Skip("no assembly kernel on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(19, 20))
	for _, mb := range []int{1, 5, 6, 7, 12, 13, 17, mcBlock} {
		for _, kb := range []int{1, 7, 8, 9, 16, 23, kcBlock} {
			for _, alpha := range []float32{1, -0.5} {
				const pad, off = 3, 5
				lda := kb + pad
				a := make([]float32, off+(mb-1)*lda+kb)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				size := roundUp(mb, mr) * kb
				want := make([]float32, size+4)
				got := make([]float32, size+4)
				for i := range want {
					want[i] = nan32 // stale contents must be overwritten
					got[i] = nan32
				}
				want[size], got[size] = cSentinel, cSentinel
				goKernels.packAN(mb, kb, alpha, a, lda, off, want)
				asmKernels.packAN(mb, kb, alpha, a, lda, off, got)
				for i := 0; i <= size; i++ {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("mb=%d kb=%d alpha=%v: packed[%d] = %v, want %v", mb, kb, alpha, i, got[i], want[i])
					}
				}
			}
		}
	}
}
