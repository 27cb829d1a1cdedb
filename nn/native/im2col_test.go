package native

import (
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
