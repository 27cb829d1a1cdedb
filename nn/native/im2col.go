package native

// Column layout of a convolution over a block of nb examples i0…i0+nb−1 of
// a batch of n: col is a [C·K·K × nb·OH·OW] row-major matrix whose row
// (c·K + kh)·K + kw holds, for every output position (i, oy, ox) of the block
// in CNHW order, the input entry x[c, i, oy·S−P+kh, ox·S−P+kw] (zero in the
// padding). W[out × C·K·K]·col is then the block's columns of the CNHW
// output.

// convGeom is the geometry of a convolution: c input channels of h×w, a k×k
// kernel with stride s and padding p, output oh×ow.
type convGeom struct{ c, h, w, k, s, p, oh, ow int }

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

// im2col writes the columns of examples i0…i0+nb−1 of x (CNHW, n examples)
// into col.
func (g convGeom) im2col(col, x []float32, n, i0, nb int) {
	c, h, w, k, s, p, oh, ow := g.c, g.h, g.w, g.k, g.s, g.p, g.oh, g.ow
	cols := nb * oh * ow
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				dst := col[((ch*k+kh)*k+kw)*cols:][:cols]
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p // input column of output column ox is ox·s + off
				for i := i0; i < i0+nb; i++ {
					for oy := 0; oy < oh; oy++ {
						d := dst[((i-i0)*oh+oy)*ow:][:ow]
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

// col2im overwrites examples i0…i0+nb−1 of dx (CNHW, n examples) with the
// scatter-add of the block's columns col, the adjoint of im2col. Contributions
// are added in a fixed order (column rows in order, then output positions in
// order), so the result is deterministic.
func (g convGeom) col2im(dx, col []float32, n, i0, nb int) {
	c, h, w, k, s, p, oh, ow := g.c, g.h, g.w, g.k, g.s, g.p, g.oh, g.ow
	for ch := 0; ch < c; ch++ {
		clear(dx[(ch*n+i0)*h*w : (ch*n+i0+nb)*h*w])
	}
	cols := nb * oh * ow
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				src := col[((ch*k+kh)*k+kw)*cols:][:cols]
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p
				for i := i0; i < i0+nb; i++ {
					for oy := 0; oy < oh; oy++ {
						ih := oy*s - p + kh
						if ih < 0 || ih >= h {
							continue
						}
						d := src[((i-i0)*oh+oy)*ow:][:ow]
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
