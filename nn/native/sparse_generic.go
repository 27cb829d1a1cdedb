package native

// spmmRowGo is spmmRow in Go: dst = (dst if add) + Σ_j θ[pos[j]]·x[idx[j]·ldx:][:len(dst)].
func spmmRowGo(dst []float32, idx, pos []int32, theta []float32, x []float32, ldx int, add bool) {
	if !add {
		clear(dst)
	}
	l := len(dst)
	for j, k := range idx {
		v := theta[pos[j]]
		row := x[int(k)*ldx : int(k)*ldx+l]
		for t := range dst {
			dst[t] += v * row[t]
		}
	}
}

// sddmmRowGo is sddmmRow in Go: out[j] = (out[j] if add) + a·x[idx[j]·ldx:][:len(a)].
func sddmmRowGo(out []float32, a []float32, idx []int32, x []float32, ldx int, add bool) {
	l := len(a)
	for j, k := range idx {
		row := x[int(k)*ldx : int(k)*ldx+l]
		var s float32
		for t, v := range a {
			s += v * row[t]
		}
		if add {
			out[j] += s
		} else {
			out[j] = s
		}
	}
}

// spmvGo is spmv in Go: y[r] = Σ_j θ[pos[j]]·x[idx[j]] over the entries of
// row r, the product of the index's matrix with one vector.
func spmvGo(y []float32, ptr, idx, pos []int32, theta, x []float32) {
	for r := range len(ptr) - 1 {
		var s float32
		for j := ptr[r]; j < ptr[r+1]; j++ {
			s += theta[pos[j]] * x[idx[j]]
		}
		y[r] = s
	}
}

// axpyRowsGo: y[r·ys + t] += v·x[r·xs + t] for r < rows, t < n.
func axpyRowsGo(y []float32, ys int, x []float32, xs, rows, n int, v float32) {
	for r := range rows {
		yr, xr := y[r*ys:r*ys+n], x[r*xs:r*xs+n]
		for t := range yr {
			yr[t] += v * xr[t]
		}
	}
}

// dotRowsGo: Σ_r Σ_t a[r·as + t]·b[r·bs + t] over r < rows, t < n.
func dotRowsGo(a []float32, as int, b []float32, bs, rows, n int) float32 {
	var s float32
	for r := range rows {
		ar, br := a[r*as:r*as+n], b[r*bs:r*bs+n]
		for t := range ar {
			s += ar[t] * br[t]
		}
	}
	return s
}
