//go:build openblas

package gemm

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import "unsafe"

// Impl names the implementation in use: "openblas" in this build ("avx2" or
// "gonum" in the default one, chosen at run time). A variable in every build;
// treat it as read-only.
var Impl = "openblas"

// maxBlasint is the largest value of OpenBLAS's integer type (int32, or int64
// in an OPENBLAS_USE64BITINT build).
const maxBlasint = 1<<(8*unsafe.Sizeof(C.blasint(0))-1) - 1

// OpenBLAS is made single-threaded once for the whole process. One training
// run uses one core (one goroutine), and a sweep runs several runs in
// parallel, one per core: OpenBLAS's own thread pool (one thread per core by
// default) would oversubscribe the machine, each run's GEMMs fighting the
// others' for every core, and make timings noisy and slower overall.
func init() {
	C.openblas_set_num_threads(1)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// the meaning of cblas_sgemm(CblasRowMajor, ...): op(A) is m×k, op(B) is k×n,
// C is m×n; lda, ldb, ldc are row strides. op(X) is Xᵀ when transX is set.
// As in BLAS, beta == 0 overwrites C without reading it, and A and B are not
// read when k == 0 or alpha == 0.
//
// It runs on the calling thread only (OpenBLAS is set to one thread) and
// allocates nothing.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nonEmpty, product := checkArgs(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
	if !nonEmpty {
		return
	}
	if !product {
		// Handled here so that A and B, possibly empty, are never
		// indexed: &a[0] below needs len(a) > 0, which checkArgs
		// guarantees when product is true (and len(c) > 0 when nonEmpty is).
		scaleC(m, n, beta, c, ldc)
		return
	}
	if max(m, n, k, lda, ldb, ldc) > maxBlasint {
		panic("gemm: dimension too large for OpenBLAS's blasint")
	}
	var tA, tB C.enum_CBLAS_TRANSPOSE = C.CblasNoTrans, C.CblasNoTrans
	if transA {
		tA = C.CblasTrans
	}
	if transB {
		tB = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, tA, tB,
		C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha),
		(*C.float)(&a[0]), C.blasint(lda),
		(*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta),
		(*C.float)(&c[0]), C.blasint(ldc))
}
