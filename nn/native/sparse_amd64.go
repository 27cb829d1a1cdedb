//go:build amd64 && !noasm

package native

import "golang.org/x/sys/cpu"

// The kernels in Go assembly (sparse_amd64.s), which need AVX2 and FMA and
// trust their arguments: spmmRows and sddmmRows check the extents they
// touch once per call.

//go:noescape
func spmmRowAVX(dst *float32, l int, idx *int32, pos *int32, theta *float32, nnz int, x *float32, ldx int, add int)

//go:noescape
func spmvRowsAVX(y *float32, rows int, ptr *int32, idx *int32, pos *int32, theta *float32, x *float32)

//go:noescape
func axpyRowsAVX(y *float32, ys int, x *float32, xs int, rows, n int, v float32)

//go:noescape
func dotRowsAVX(a *float32, as int, b *float32, bs int, rows, n int) float32

//go:noescape
func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int)

//go:noescape
func sddmmRowAVX(out *float32, a *float32, l int, idx *int32, nnz int, x *float32, ldx int, add int)

// haveSparseAsm says whether the CPU (and the OS, which must save the YMM
// registers) has AVX2 and FMA.
var haveSparseAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func spmmRow(dst []float32, idx, pos []int32, theta []float32, x []float32, ldx int, add bool) {
	if !haveSparseAsm || len(dst) == 0 {
		spmmRowGo(dst, idx, pos, theta, x, ldx, add)
		return
	}
	if len(idx) == 0 {
		if !add {
			clear(dst)
		}
		return
	}
	_ = pos[len(idx)-1]
	spmmRowAVX(&dst[0], len(dst), &idx[0], &pos[0], &theta[0], len(idx), &x[0], ldx, b2i(add))
}

func sddmmRow(out []float32, a []float32, idx []int32, x []float32, ldx int, add bool) {
	if !haveSparseAsm || len(a) == 0 || len(idx) == 0 {
		sddmmRowGo(out, a, idx, x, ldx, add)
		return
	}
	_ = out[len(idx)-1]
	sddmmRowAVX(&out[0], &a[0], len(a), &idx[0], len(idx), &x[0], ldx, b2i(add))
}

// transpose has transposeGo's contract: full 8×8 blocks in assembly, the
// edges in Go.
func transpose(dst []float32, ldd int, src []float32, lds, r, c int) {
	if !haveSparseAsm || r < 8 || c < 8 {
		transposeGo(dst, ldd, src, lds, r, c)
		return
	}
	_ = src[(r-1)*lds+c-1]
	_ = dst[(c-1)*ldd+r-1]
	r8, c8 := r&^7, c&^7
	for i := 0; i < r8; i += 8 {
		for j := 0; j < c8; j += 8 {
			transpose8x8AVX(&dst[j*ldd+i], ldd, &src[i*lds+j], lds)
		}
	}
	if c8 < c { // the last columns of every row
		transposeGo(dst[c8*ldd:], ldd, src[c8:], lds, r, c-c8)
	}
	if r8 < r { // the last rows, first columns
		transposeGo(dst[r8:], ldd, src[r8*lds:], lds, r-r8, c8)
	}
}

// spmv has spmvGo's contract for a row-major weight, where pos[j] − idx[j]
// is the same for every entry of a row (sparseIndex.build of a Linear
// weight, the only caller): the assembly reads θ at the row's start plus
// idx[j], four entries at a time.
func spmv(y []float32, ptr, idx, pos []int32, theta, x []float32) {
	rows := len(ptr) - 1
	if !haveSparseAsm || rows <= 0 || len(idx) == 0 {
		spmvGo(y, ptr, idx, pos, theta, x)
		return
	}
	_ = y[rows-1]
	_ = pos[len(idx)-1]
	spmvRowsAVX(&y[0], rows, &ptr[0], &idx[0], &pos[0], &theta[0], &x[0])
}

// axpyRows has axpyRowsGo's contract.
func axpyRows(y []float32, ys int, x []float32, xs, rows, n int, v float32) {
	if !haveSparseAsm || rows <= 0 || n <= 0 {
		axpyRowsGo(y, ys, x, xs, rows, n, v)
		return
	}
	_ = y[(rows-1)*ys+n-1]
	_ = x[(rows-1)*xs+n-1]
	axpyRowsAVX(&y[0], ys, &x[0], xs, rows, n, v)
}

// dotRows has dotRowsGo's contract.
func dotRows(a []float32, as int, b []float32, bs, rows, n int) float32 {
	if !haveSparseAsm || rows <= 0 || n <= 0 {
		return dotRowsGo(a, as, b, bs, rows, n)
	}
	_ = a[(rows-1)*as+n-1]
	_ = b[(rows-1)*bs+n-1]
	return dotRowsAVX(&a[0], as, &b[0], bs, rows, n)
}
