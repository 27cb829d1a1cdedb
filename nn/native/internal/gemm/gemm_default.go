//go:build !openblas

package gemm

// implementation is one way of computing a non-empty product: the arguments
// have passed checkArgs, and m, n, k > 0, alpha != 0.
type implementation struct {
	name    string
	product func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// The implementations of the default build. avx2 exists only where
// asmKernels is non-nil (amd64 with AVX2 and FMA, without -tags noasm).
var (
	gonumImpl  = implementation{"gonum", sgemmGonum}
	packedImpl = implementation{"go", sgemmPackedGo} // the packed driver with the Go micro-kernel; for tests
	avx2Impl   = implementation{"avx2", sgemmPackedAsm}
)

// active is the implementation Sgemm uses, chosen once at package
// initialization (tests swap it to check every implementation).
var active = defaultImpl()

func defaultImpl() implementation {
	if asmKernels != nil {
		return avx2Impl
	}
	return gonumImpl
}

// Impl names the implementation in use, chosen at run time: "avx2" (the Go
// assembly micro-kernel, on amd64 CPUs with AVX2 and FMA) or "gonum" (the
// fallback, and the only one under -tags noasm); "openblas" in the openblas
// build. It is set at package initialization; treat it as read-only.
var Impl = active.name

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// the meaning of cblas_sgemm(CblasRowMajor, ...): op(A) is m×k, op(B) is k×n,
// C is m×n; lda, ldb, ldc are row strides. op(X) is Xᵀ when transX is set.
// As in BLAS, beta == 0 overwrites C without reading it, and A and B are not
// read when k == 0 or alpha == 0.
//
// It runs on the calling goroutine only, allocates nothing (once warmed
// up), and is deterministic: the same call gives the same bits every time.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nonEmpty, product := checkArgs(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
	if !nonEmpty {
		return
	}
	if !product {
		scaleC(m, n, beta, c, ldc)
		return
	}
	active.product(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
