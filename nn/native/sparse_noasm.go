//go:build !amd64 || noasm

package native

func spmmRow(dst []float32, idx, pos []int32, theta []float32, x []float32, ldx int, add bool) {
	spmmRowGo(dst, idx, pos, theta, x, ldx, add)
}

func sddmmRow(out []float32, a []float32, idx []int32, x []float32, ldx int, add bool) {
	sddmmRowGo(out, a, idx, x, ldx, add)
}

func transpose(dst []float32, ldd int, src []float32, lds, r, c int) {
	transposeGo(dst, ldd, src, lds, r, c)
}

func spmv(y []float32, ptr, idx, pos []int32, theta, x []float32) {
	spmvGo(y, ptr, idx, pos, theta, x)
}

func axpyRows(y []float32, ys int, x []float32, xs, rows, n int, v float32) {
	axpyRowsGo(y, ys, x, xs, rows, n, v)
}

func dotRows(a []float32, as int, b []float32, bs, rows, n int) float32 {
	return dotRowsGo(a, as, b, bs, rows, n)
}
