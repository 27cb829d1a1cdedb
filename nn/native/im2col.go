package native

import "github.com/prunebench/prunebench/nn/native/internal/vec"

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
	same := g.same()
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				dst := col[((ch*k+kh)*k+kw)*cols:][:cols]
				if same {
					g.im2colSame(dst, x, n, i0, nb, ch, kh, kw)
					continue
				}
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p // input column of output column ox is ox·s + off
				if s <= 2 {
					g.im2colRows(dst, x, n, i0, nb, ch, kh, lo, hi, off)
					continue
				}
				for i := i0; i < i0+nb; i++ {
					for oy := 0; oy < oh; oy++ {
						d := dst[((i-i0)*oh+oy)*ow:][:ow]
						ih := oy*s - p + kh
						if ih < 0 || ih >= h {
							clear(d)
							continue
						}
						src := x[((ch*n+i)*h+ih)*w:][:w]
						zero(d[:lo])
						for ox := lo; ox < hi; ox++ {
							d[ox] = src[ox*s+off]
						}
						zero(d[hi:])
					}
				}
			}
		}
	}
}

// im2colRows fills one column-matrix row (channel ch, kernel row kh) of a
// stride-1 or stride-2 geometry: per example, the output rows that read the
// image are one block copy of hi − lo columns (vec.CopyRows, or
// vec.CopyRowsStride2 picking every other input entry of every other input
// row), the columns [0, lo) and [hi, ow) of those rows and the other rows
// are padding.
func (g convGeom) im2colRows(dst, x []float32, n, i0, nb, ch, kh, lo, hi, off int) {
	h, w, s, oh, ow := g.h, g.w, g.s, g.oh, g.ow
	ylo, yhi := validRange(h, s, g.p, kh, oh)
	for i := i0; i < i0+nb; i++ {
		d := dst[(i-i0)*oh*ow:][:oh*ow]
		clear(d[:ylo*ow])
		clear(d[yhi*ow:])
		if yhi == ylo || hi == lo {
			clear(d[ylo*ow : yhi*ow])
			continue
		}
		if lo > 0 || hi < ow {
			for oy := ylo; oy < yhi; oy++ {
				r := d[oy*ow:][:ow]
				zero(r[:lo])
				zero(r[hi:])
			}
		}
		src := x[((ch*n+i)*h+ylo*s-g.p+kh)*w+lo*s+off:]
		if s == 1 {
			vec.CopyRows(d[ylo*ow+lo:], ow, src, w, yhi-ylo, hi-lo)
		} else {
			vec.CopyRowsStride2(d[ylo*ow+lo:], ow, src, 2*w, yhi-ylo, hi-lo)
		}
	}
}

// zero sets the few entries of d to 0 in line: clear (or a range loop,
// which the compiler turns into clear) calls memclr, whose cost dominates
// on the one or two padding entries of an image row.
func zero(d []float32) {
	for j := 0; j < len(d); j++ {
		d[j] = 0
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
	same := g.same()
	for ch := 0; ch < c; ch++ {
		for kh := 0; kh < k; kh++ {
			for kw := 0; kw < k; kw++ {
				src := col[((ch*k+kh)*k+kw)*cols:][:cols]
				if same {
					g.col2imSame(dx, src, n, i0, nb, ch, kh, kw)
					continue
				}
				lo, hi := validRange(w, s, p, kw, ow)
				off := kw - p
				if s == 1 {
					g.col2imRows(dx, src, n, i0, nb, ch, kh, lo, hi, off)
					continue
				}
				for i := i0; i < i0+nb; i++ {
					for oy := 0; oy < oh; oy++ {
						ih := oy*s - p + kh
						if ih < 0 || ih >= h {
							continue
						}
						d := src[((i-i0)*oh+oy)*ow:][:ow]
						dst := dx[((ch*n+i)*h+ih)*w:][:w]
						for ox := lo; ox < hi; ox++ {
							dst[ox*s+off] += d[ox]
						}
					}
				}
			}
		}
	}
}

// col2imRows adds one column-matrix row (channel ch, kernel row kh) into dx
// for a stride-1 geometry, the adjoint of im2colRows: per example, one
// block add (vec.AddRows) of the rows and columns that read the image.
func (g convGeom) col2imRows(dx, src []float32, n, i0, nb, ch, kh, lo, hi, off int) {
	h, w, oh, ow := g.h, g.w, g.oh, g.ow
	ylo, yhi := g.rowsIn(kh)
	if yhi == ylo || hi == lo {
		return
	}
	for i := i0; i < i0+nb; i++ {
		s := src[((i-i0)*oh+ylo)*ow+lo:]
		d := dx[((ch*n+i)*h+ylo-g.p+kh)*w+lo+off:]
		vec.AddRows(d, w, s, ow, yhi-ylo, hi-lo)
	}
}

// same reports a stride-1 convolution whose output has the input's size
// (2p = k − 1, the 3×3 padding-1 convolutions of VGG and ResNet). Then the
// rows of one column-matrix row that read the image are a contiguous run of
// input rows shifted by kw − p, and im2col and col2im move whole blocks
// instead of one image row at a time.
func (g convGeom) same() bool { return g.s == 1 && g.oh == g.h && g.ow == g.w }

// rowsIn returns the output rows [lo, hi) whose input row oy − p + kh lies
// in the image.
func (g convGeom) rowsIn(kh int) (lo, hi int) {
	lo, hi = max(0, g.p-kh), min(g.oh, g.h+g.p-kh)
	return lo, max(lo, hi)
}

// im2colSame fills one column-matrix row (channel ch, kernel offset kh, kw)
// for a "same" geometry: one copy per example of the whole run of rows,
// shifted by off = kw − p, then the off entries per row that wrapped across a
// row boundary (which are padding) are zeroed.
func (g convGeom) im2colSame(dst, x []float32, n, i0, nb, ch, kh, kw int) {
	h, w := g.h, g.w
	lo, hi := g.rowsIn(kh)
	off := kw - g.p
	for i := i0; i < i0+nb; i++ {
		d := dst[(i-i0)*h*w:][:h*w]
		clear(d[:lo*w])
		clear(d[hi*w:])
		if hi == lo {
			continue
		}
		run := (hi - lo) * w
		src := x[((ch*n+i)*h+lo-g.p+kh)*w:][:run]
		dd := d[lo*w : hi*w]
		if off >= 0 {
			copy(dd[:run-off], src[off:])
			for r := w - off; r <= run; r += w {
				zero(dd[r : r+off])
			}
		} else {
			copy(dd[-off:], src[:run+off])
			for r := 0; r < run; r += w {
				zero(dd[r : r-off])
			}
		}
	}
}

// col2imSame adds one column-matrix row into dx for a "same" geometry, the
// adjoint of im2colSame: the entries that stand for padding are zeroed in src
// (scratch the caller discards) so that one contiguous shifted add per
// example is exact. Each dx entry receives at most one term here, so the
// order of additions is that of col2im's general path.
func (g convGeom) col2imSame(dx, src []float32, n, i0, nb, ch, kh, kw int) {
	h, w := g.h, g.w
	lo, hi := g.rowsIn(kh)
	if hi == lo {
		return
	}
	off := kw - g.p
	run := (hi - lo) * w
	for i := i0; i < i0+nb; i++ {
		s := src[((i-i0)*h+lo)*w:][:run]
		d := dx[((ch*n+i)*h+lo-g.p+kh)*w:][:run]
		if off >= 0 {
			for r := w - off; r <= run; r += w {
				zero(s[r : r+off])
			}
			vec.Add(d[off:], s[:run-off])
		} else {
			for r := 0; r < run; r += w {
				zero(s[r : r-off])
			}
			vec.Add(d[:run+off], s[-off:])
		}
	}
}
