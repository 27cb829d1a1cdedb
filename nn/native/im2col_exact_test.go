package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestIm2colBits checks im2col against its definition, and col2im bit for
// bit against its definition in float32: column rows in order, then output
// positions in order, each added into dx. Every path (strided, stride-1 blocks, "same") must keep
// that order, so that results stay the same across versions of the kernels.
func TestIm2colBits(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, c := range []struct{ n, ch, h, w, k, s, p, i0, nb int }{
		{3, 2, 5, 7, 3, 2, 1, 0, 3}, {3, 2, 5, 7, 3, 1, 1, 1, 2}, {2, 3, 4, 4, 3, 1, 1, 0, 2},
		{2, 1, 6, 5, 5, 1, 2, 1, 1}, {2, 2, 6, 6, 1, 1, 0, 0, 2}, {1, 2, 3, 3, 5, 1, 2, 0, 1},
		{4, 2, 8, 3, 3, 1, 1, 2, 2}, {2, 1, 2, 9, 3, 1, 1, 0, 2}, {2, 2, 5, 5, 3, 1, 0, 1, 1},
		{3, 3, 32, 32, 5, 1, 0, 0, 3}, {2, 4, 14, 14, 5, 1, 0, 1, 1}, {2, 3, 17, 19, 3, 1, 1, 0, 2},
		{2, 2, 11, 13, 5, 1, 1, 0, 2}, {2, 2, 9, 9, 3, 2, 1, 0, 2}, {2, 2, 12, 20, 4, 1, 3, 0, 2},
		{2, 3, 32, 32, 3, 2, 1, 0, 2}, {2, 2, 16, 16, 3, 2, 1, 1, 1}, {2, 2, 23, 21, 4, 2, 2, 0, 2}, {2, 2, 10, 10, 3, 3, 1, 0, 2},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			oh := (c.h+2*c.p-c.k)/c.s + 1
			ow := (c.w+2*c.p-c.k)/c.s + 1
			g := convGeom{c: c.ch, h: c.h, w: c.w, k: c.k, s: c.s, p: c.p, oh: oh, ow: ow}
			cols := c.nb * oh * ow
			dcol := make([]float32, c.ch*c.k*c.k*cols)
			fillNormal(dcol, r, 1)
			want := make([]float32, c.ch*c.n*c.h*c.w)
			fillNormal(want, r, 1)
			dx := append([]float32(nil), want...)
			for ch := 0; ch < c.ch; ch++ {
				clear(want[(ch*c.n+c.i0)*c.h*c.w : (ch*c.n+c.i0+c.nb)*c.h*c.w])
			}
			for ch := 0; ch < c.ch; ch++ {
				for kh := 0; kh < c.k; kh++ {
					for kw := 0; kw < c.k; kw++ {
						row := (ch*c.k+kh)*c.k + kw
						for i := c.i0; i < c.i0+c.nb; i++ {
							for oy := 0; oy < oh; oy++ {
								for ox := 0; ox < ow; ox++ {
									y, xx := oy*c.s-c.p+kh, ox*c.s-c.p+kw
									if y >= 0 && y < c.h && xx >= 0 && xx < c.w {
										want[((ch*c.n+i)*c.h+y)*c.w+xx] += dcol[row*cols+((i-c.i0)*oh+oy)*ow+ox]
									}
								}
							}
						}
					}
				}
			}
			x := make([]float32, len(want))
			fillNormal(x, r, 1)
			col := make([]float32, len(dcol))
			fillNormal(col, r, 1) // im2col must overwrite every entry
			g.im2col(col, x, c.n, c.i0, c.nb)
			for ch := 0; ch < c.ch; ch++ {
				for kh := 0; kh < c.k; kh++ {
					for kw := 0; kw < c.k; kw++ {
						row := (ch*c.k+kh)*c.k + kw
						for i := c.i0; i < c.i0+c.nb; i++ {
							for oy := 0; oy < oh; oy++ {
								for ox := 0; ox < ow; ox++ {
									y, xx := oy*c.s-c.p+kh, ox*c.s-c.p+kw
									var v float32
									if y >= 0 && y < c.h && xx >= 0 && xx < c.w {
										v = x[((ch*c.n+i)*c.h+y)*c.w+xx]
									}
									if got := col[row*cols+((i-c.i0)*oh+oy)*ow+ox]; math.Float32bits(got) != math.Float32bits(v) {
										t.Fatalf("col (ch %d kh %d kw %d i %d oy %d ox %d) = %v, want %v", ch, kh, kw, i, oy, ox, got, v)
									}
								}
							}
						}
					}
				}
			}
			g.col2im(dx, dcol, c.n, c.i0, c.nb)
			for i := range want {
				if math.Float32bits(dx[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dx[%d] = %v, want %v", i, dx[i], want[i])
				}
			}
		})
	}
}
