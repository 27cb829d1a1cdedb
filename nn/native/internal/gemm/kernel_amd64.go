//go:build !openblas && !noasm

package gemm

import "golang.org/x/sys/cpu"

// The routines in Go assembly (kernel_amd64.s). They need AVX2 and FMA, and
// trust their arguments: the Go wrappers below check the extents they touch.

// kernel6x16AVX2 is the MR×NR = 6×16 micro-kernel, with the contract of
// microKernel.
//
//go:noescape
func kernel6x16AVX2(k int, a, b, c *float32, ldc int, beta float32)

// packBN16AVX2 packs panels full panels of 16 columns of a k-row block of a
// row-major matrix: for l < k, q < panels, the 16 floats at src[l·ldb +
// 16q] go to dst[16k·q + 16l]. k, panels >= 1.
//
//go:noescape
func packBN16AVX2(k, panels int, src *float32, ldb int, dst *float32)

// packBT16AVX2 packs one full panel of 16 columns of op(B) = Bᵀ, 8·k8 deep:
// for j < 16, l < 8·k8, src[j·ldb + l] goes to dst[16l + j]. k8 >= 1.
//
//go:noescape
func packBT16AVX2(k8 int, src *float32, ldb int, dst *float32)

// packAN6AVX2 packs 8·k8 columns of one full panel of MR = 6 rows of A
// (row stride lda, first row at src), times alpha, into dst k-major: for
// r < 6, l < 8·k8, alpha·src[r·lda + l] goes to dst[6l + r]. k8 >= 1.
//
//go:noescape
func packAN6AVX2(k8 int, alpha float32, src *float32, lda int, dst *float32)

// asmKernels are the assembly routines, or nil where the CPU (or the OS,
// which must save the YMM registers) lacks AVX2 or FMA.
var asmKernels = func() *kernels {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return &kernels{micro: kernel6x16AVX2, packBN: packBNAVX2, packBT: packBTAVX2, packAN: packANAVX2}
	}
	return nil
}()

// packBNAVX2 has the contract of packBNGo; the full panels are packed in
// assembly, the last partial one in Go.
func packBNAVX2(kb, nb int, b []float32, ldb, off int, dst []float32) {
	full := nb / nr
	if full > 0 {
		_ = b[off+(kb-1)*ldb+full*nr-1] // last element read
		_ = dst[full*nr*kb-1]           // last element written
		packBN16AVX2(kb, full, &b[off], ldb, &dst[0])
	}
	if full*nr < nb {
		packBNGo(kb, nb-full*nr, b, ldb, off+full*nr, dst[full*nr*kb:])
	}
}

// packBTAVX2 has the contract of packBTGo; full panels are transposed in
// 8×8 blocks in assembly, what is left in Go.
func packBTAVX2(kb, nb int, b []float32, ldb, off int, dst []float32) {
	k8 := kb / 8
	q := 0
	for ; q+nr <= nb; q += nr {
		d := dst[q*kb : (q+nr)*kb]
		o := off + q*ldb
		if k8 > 0 {
			_ = b[o+(nr-1)*ldb+8*k8-1] // last element read
			packBT16AVX2(k8, &b[o], ldb, &d[0])
		}
		for j := 0; j < nr; j++ {
			for l := 8 * k8; l < kb; l++ {
				d[l*nr+j] = b[o+j*ldb+l]
			}
		}
	}
	if q < nb {
		packBTGo(kb, nb-q, b, ldb, off+q*ldb, dst[q*kb:])
	}
}

// packANAVX2 has the contract of packANGo; full panels are packed 8
// columns at a time in assembly, their last kb mod 8 columns and the last
// partial panel in Go.
func packANAVX2(mb, kb int, alpha float32, a []float32, lda, off int, dst []float32) {
	k8 := kb / 8
	full := mb / mr * mr
	for p := 0; p < full; p += mr {
		d := dst[p*kb : (p+mr)*kb]
		base := off + p*lda
		if k8 > 0 {
			_ = a[base+(mr-1)*lda+8*k8-1] // last element read
			packAN6AVX2(k8, alpha, &a[base], lda, &d[0])
		}
		if 8*k8 < kb {
			packAN6Go(kb, 8*k8, alpha, a, lda, base, d)
		}
	}
	if full < mb {
		packANGo(mb-full, kb, alpha, a, lda, off+full*lda, dst[full*kb:])
	}
}
