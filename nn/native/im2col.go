package native

// Column layout of a convolution over a batch: col is a [C·K·K × n·OH·OW]
// row-major matrix whose row (c·K + kh)·K + kw holds, for every output
// position (i, oy, ox) in CNHW order, the input entry x[c, i, oy·S−P+kh,
// ox·S−P+kw] (zero in the padding). W[out × C·K·K]·col is then the CNHW
// output.

// validRange returns the output columns [lo, hi) whose input column
// o·s − p + kk lies in [0, w).
func validRange(w, s, p, kk, ow int) (lo, hi int) {
	if a := p - kk; a > 0 {
		lo = (a + s - 1) / s
	}
	if b := w - 1 + p - kk; b >= 0 {
		hi = min(ow, b/s+1)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2col writes the columns of the n examples of x (CNHW, c channels of
// h×w) for a k×k kernel with stride s and padding p (output oh×ow) into col.
func im2col(col, x []float32, n, c, h, w, k, s, p, oh, ow int) {
	cols := n * oh * ow
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				dst := col[((ch*k+kh)*k+kw)*cols:][:cols]
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p // input column of output column ox is ox·s + off
				for i := 0; i < n; i++ {
					for oy := 0; oy < oh; oy++ {
						d := dst[(i*oh+oy)*ow:][:ow]
						ih := oy*s - p + kh
						if ih < 0 || ih >= h {
							clear(d)
							continue
						}
						src := x[((ch*n+i)*h+ih)*w:][:w]
						clear(d[:lo])
						if s == 1 {
							copy(d[lo:hi], src[lo+off:hi+off])
						} else {
							for ox := lo; ox < hi; ox++ {
								d[ox] = src[ox*s+off]
							}
						}
						clear(d[hi:])
					}
				}
			}
		}
	}
}

// col2im overwrites dx (CNHW, c channels of h×w, n examples) with the
// scatter-add of the columns col, the adjoint of im2col. Contributions are
// added in a fixed order (column rows in order, then output positions in
// order), so the result is deterministic.
func col2im(dx, col []float32, n, c, h, w, k, s, p, oh, ow int) {
	clear(dx[:c*n*h*w])
	cols := n * oh * ow
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				src := col[((ch*k+kh)*k+kw)*cols:][:cols]
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p
				for i := 0; i < n; i++ {
					for oy := 0; oy < oh; oy++ {
						ih := oy*s - p + kh
						if ih < 0 || ih >= h {
							continue
						}
						d := src[(i*oh+oy)*ow:][:ow]
						dst := dx[((ch*n+i)*h+ih)*w:][:w]
						if s == 1 {
							dd := dst[lo+off : hi+off]
							for j, v := range d[lo:hi] {
								dd[j] += v
							}
						} else {
							for ox := lo; ox < hi; ox++ {
								dst[ox*s+off] += d[ox]
							}
						}
					}
				}
			}
		}
	}
}
