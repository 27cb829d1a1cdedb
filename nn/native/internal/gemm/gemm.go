package gemm

// checkArgs panics unless the arguments describe a valid row-major sgemm
// call: op(A) m×k, op(B) k×n, C m×n. It returns whether there is anything
// to do at all (m > 0 and n > 0), and whether the product term must be
// computed (k > 0 and alpha != 0); A and B are length-checked only then,
// since they are not read otherwise.
func checkArgs(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) (nonEmpty, product bool) {
	if m < 0 || n < 0 || k < 0 {
		panic("gemm: negative dimension")
	}
	// Stored shapes: A is m×k, or k×m when transposed; B is k×n, or n×k.
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	if lda < max(1, colsA) {
		panic("gemm: bad lda")
	}
	if ldb < max(1, colsB) {
		panic("gemm: bad ldb")
	}
	if ldc < max(1, n) {
		panic("gemm: bad ldc")
	}
	if m == 0 || n == 0 {
		return false, false
	}
	if len(c) < (m-1)*ldc+n {
		panic("gemm: C too short")
	}
	if k == 0 || alpha == 0 {
		return true, false
	}
	if len(a) < (rowsA-1)*lda+colsA {
		panic("gemm: A too short")
	}
	if len(b) < (rowsB-1)*ldb+colsB {
		panic("gemm: B too short")
	}
	return true, true
}

// scaleC sets C = beta·C, as BLAS does when k == 0 or alpha == 0: beta == 0
// stores zeros (whatever C held, NaN included) and beta == 1 is a no-op.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
		return
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}
