package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCol2imAdjoint checks ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im is the
// adjoint of im2col, which is what the convolution's backward needs.
func TestCol2imAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct{ n, ch, h, w, k, s, p int }{
		{2, 2, 5, 7, 3, 2, 1}, {1, 3, 4, 4, 3, 1, 1}, {2, 1, 6, 5, 2, 3, 0}, {1, 2, 3, 3, 5, 1, 2}, {2, 2, 4, 3, 1, 2, 1},
	} {
		oh := (c.h+2*c.p-c.k)/c.s + 1
		ow := (c.w+2*c.p-c.k)/c.s + 1
		x := make([]float32, c.ch*c.n*c.h*c.w)
		col := make([]float32, c.ch*c.k*c.k*c.n*oh*ow)
		g := make([]float32, len(col))
		dx := make([]float32, len(x))
		fillNormal(x, r, 1)
		fillNormal(g, r, 1)
		fillNormal(dx, r, 1) // col2im must overwrite
		geom := convGeom{c: c.ch, h: c.h, w: c.w, k: c.k, s: c.s, p: c.p, oh: oh, ow: ow}
		geom.im2col(col, x, c.n, 0, c.n)
		geom.col2im(dx, g, c.n, 0, c.n)
		var a, b float64
		for i := range col {
			a += float64(col[i]) * float64(g[i])
		}
		for i := range x {
			b += float64(x[i]) * float64(dx[i])
		}
		if d := a - b; d > 1e-4 || d < -1e-4 {
			t.Errorf("%+v: ⟨im2col x, g⟩ = %v, ⟨x, col2im g⟩ = %v", c, a, b)
		}
	}
}

// TestIm2colMatchesDefinition compares im2col and col2im on blocks of
// examples with the entry-by-entry definition of the column layout, for
// strided, padded and "same" geometries (the last take a faster path).
func TestIm2colMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range []struct{ n, ch, h, w, k, s, p, i0, nb int }{
		{3, 2, 5, 7, 3, 2, 1, 0, 3}, {3, 2, 5, 7, 3, 1, 1, 1, 2}, {2, 3, 4, 4, 3, 1, 1, 0, 2},
		{2, 1, 6, 5, 5, 1, 2, 1, 1}, {2, 2, 6, 6, 1, 1, 0, 0, 2}, {1, 2, 3, 3, 5, 1, 2, 0, 1},
		{4, 2, 8, 3, 3, 1, 1, 2, 2}, {2, 1, 2, 9, 3, 1, 1, 0, 2}, {2, 2, 5, 5, 3, 1, 0, 1, 1},
	} {
		oh := (c.h+2*c.p-c.k)/c.s + 1
		ow := (c.w+2*c.p-c.k)/c.s + 1
		g := convGeom{c: c.ch, h: c.h, w: c.w, k: c.k, s: c.s, p: c.p, oh: oh, ow: ow}
		x := make([]float32, c.ch*c.n*c.h*c.w)
		fillNormal(x, r, 1)
		cols := c.nb * oh * ow
		col := make([]float32, c.ch*c.k*c.k*cols)
		fillNormal(col, r, 1) // im2col must overwrite every entry
		g.im2col(col, x, c.n, c.i0, c.nb)
		// at returns x[ch, i, y, x], zero outside the image.
		at := func(ch, i, y, xx int) float32 {
			if y < 0 || y >= c.h || xx < 0 || xx >= c.w {
				return 0
			}
			return x[((ch*c.n+i)*c.h+y)*c.w+xx]
		}
		dcol := make([]float32, len(col))
		fillNormal(dcol, r, 1)
		want := make([]float64, len(x))
		for ch := 0; ch < c.ch; ch++ {
			for kh := 0; kh < c.k; kh++ {
				for kw := 0; kw < c.k; kw++ {
					row := (ch*c.k+kh)*c.k + kw
					for i := c.i0; i < c.i0+c.nb; i++ {
						for oy := 0; oy < oh; oy++ {
							for ox := 0; ox < ow; ox++ {
								j := row*cols + ((i-c.i0)*oh+oy)*ow + ox
								y, xx := oy*c.s-c.p+kh, ox*c.s-c.p+kw
								if got, w := col[j], at(ch, i, y, xx); got != w {
									t.Fatalf("%+v: col[%d] (ch %d kh %d kw %d i %d oy %d ox %d) = %v, want %v", c, j, ch, kh, kw, i, oy, ox, got, w)
								}
								if y >= 0 && y < c.h && xx >= 0 && xx < c.w {
									want[((ch*c.n+i)*c.h+y)*c.w+xx] += float64(dcol[j])
								}
							}
						}
					}
				}
			}
		}
		dx := make([]float32, len(x))
		const sentinel = 1234
		for i := range dx {
			dx[i] = sentinel // entries of other examples must stay untouched
		}
		g.col2im(dx, dcol, c.n, c.i0, c.nb)
		for ch := 0; ch < c.ch; ch++ {
			for i := 0; i < c.n; i++ {
				for j := 0; j < c.h*c.w; j++ {
					idx := (ch*c.n+i)*c.h*c.w + j
					inBlock := i >= c.i0 && i < c.i0+c.nb
					switch {
					case !inBlock && dx[idx] != sentinel:
						t.Fatalf("%+v: col2im wrote dx[%d] outside the block", c, idx)
					case inBlock && math.Abs(float64(dx[idx])-want[idx]) > 1e-5*(1+math.Abs(want[idx])):
						t.Fatalf("%+v: col2im dx[%d] = %v, want %v", c, idx, dx[idx], want[idx])
					}
				}
			}
		}
	}
}
