//go:build !openblas

package gemm

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Tile sizes. gonum's Sgemm goes parallel (one goroutine per 64×64 block of
// C, allocating) as soon as C has blocks(m,64)·blocks(n,64) >= 4 blocks, so a
// tile of C must span fewer than 4 blocks: tileM×tileN = 64×192 is 1×3. The
// inner dimension does not count for gonum; it is sliced into tileK chunks
// only so that the panel of B a tile works on (tileK×tileN floats, 192 KiB)
// stays in the L2 cache.
const (
	tileM = 64
	tileN = 192
	tileK = 256
)

// sgemmGonum computes C = alpha·op(A)·op(B) + beta·C with gonum's serial
// sgemm, tile by tile. The arguments have passed checkArgs and describe a
// non-empty product (m, n, k > 0, alpha != 0).
func sgemmGonum(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	var impl gonum.Implementation
	// The tile of C at (i0, j0), of mb×nb entries, accumulates
	// op(A)[i0:i0+mb, l0:l0+kb]·op(B)[l0:l0+kb, j0:j0+nb] over the chunks l0
	// of the inner dimension; beta is applied by the first chunk only. The
	// sub-matrices keep the strides of the whole ones and start at:
	//   op(A)[i0, l0]: A[i0, l0], or A[l0, i0] when transA (A stored k×m);
	//   op(B)[l0, j0]: B[l0, j0], or B[j0, l0] when transB (B stored n×k).
	// Slicing only from the start leaves each sub-slice long enough for
	// gonum's length checks, since the whole slices passed checkArgs.
	for j0 := 0; j0 < n; j0 += tileN {
		nb := min(tileN, n-j0)
		for i0 := 0; i0 < m; i0 += tileM {
			mb := min(tileM, m-i0)
			cs := c[i0*ldc+j0:]
			bt := beta
			for l0 := 0; l0 < k; l0 += tileK {
				kb := min(tileK, k-l0)
				aOff := i0*lda + l0
				if transA {
					aOff = l0*lda + i0
				}
				bOff := l0*ldb + j0
				if transB {
					bOff = j0*ldb + l0
				}
				impl.Sgemm(tA, tB, mb, nb, kb, alpha, a[aOff:], lda, b[bOff:], ldb, bt, cs, ldc)
				bt = 1
			}
		}
	}
}
