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
