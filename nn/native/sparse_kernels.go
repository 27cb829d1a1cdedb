package native

// The sparse products (sparse.go) over rows of length l. spmmRows and
// sddmmRows call one kernel per row of the index (sparse_amd64.s with AVX2
// and FMA, the Go loops of sparse_generic.go elsewhere).

// spmmRows computes, for every row r of the index (ptr, idx, pos),
// dst[r·ldd : r·ldd+l] = Σ_j θ[pos[j]]·x[idx[j]·ldx : idx[j]·ldx+l], over
// the row's entries j in order; with add the sum is added to dst instead.
// x has xRows rows, the index's entries are below xRows and its positions
// inside θ (it was built for this product): the extents are checked here
// once, since the assembly kernels check nothing.
func spmmRows(dst []float32, ldd int, ptr, idx, pos []int32, theta []float32, x []float32, xRows, ldx, l int, add bool) {
	rows := len(ptr) - 1
	if rows <= 0 || l <= 0 {
		return
	}
	_ = dst[(rows-1)*ldd+l-1]
	if len(idx) > 0 {
		_ = x[(xRows-1)*ldx+l-1]
		_ = pos[len(idx)-1]
	}
	for r := range rows {
		a, b := ptr[r], ptr[r+1]
		spmmRow(dst[r*ldd:r*ldd+l], idx[a:b], pos[a:b], theta, x, ldx, add)
	}
}

// sddmmRows computes, for every row r of the index (ptr, idx),
// out[j] = Σ_t a[r·lda+t]·b[idx[j]·ldb+t] over t < l, for the row's entries
// j; with add the dot product is added to out[j]. b has bRows rows, above
// every entry of the index (checked once, as in spmmRows).
func sddmmRows(out []float32, ptr, idx []int32, a []float32, lda int, b []float32, bRows, ldb, l int, add bool) {
	rows := len(ptr) - 1
	if rows <= 0 || l <= 0 || len(idx) == 0 {
		return
	}
	_ = a[(rows-1)*lda+l-1]
	_ = b[(bRows-1)*ldb+l-1]
	_ = out[len(idx)-1]
	for r := range rows {
		s, e := ptr[r], ptr[r+1]
		if s == e {
			continue
		}
		sddmmRow(out[s:e], a[r*lda:r*lda+l], idx[s:e], b, ldb, add)
	}
}

// transposeGo writes the r × c matrix src (row major, leading dimension
// lds) transposed into dst (c × r, leading dimension ldd), in blocks so
// that both sides stay in cache.
func transposeGo(dst []float32, ldd int, src []float32, lds, r, c int) {
	const bs = 16
	for i0 := 0; i0 < r; i0 += bs {
		i1 := min(i0+bs, r)
		for j0 := 0; j0 < c; j0 += bs {
			j1 := min(j0+bs, c)
			for i := i0; i < i1; i++ {
				row := src[i*lds : i*lds+j1]
				for j := j0; j < j1; j++ {
					dst[j*ldd+i] = row[j]
				}
			}
		}
	}
}
