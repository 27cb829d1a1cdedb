package optkernel

import "math"

// The pure-Go loops: the kernels' fallback, and the reference their tests
// compare the assembly with. Each multiplication and addition is rounded to
// float32 on its own (the Go compiler fuses nothing here on amd64 at the
// default GOAMD64=v1). The loops reslice their operands to len(th) so that
// the compiler drops the bounds checks inside; a nil mask selects the dense
// loop.

func sgdGo(th, g, m []float32, lr, wd float32) {
	g = g[:len(th)]
	if m == nil {
		for i, p := range th {
			th[i] = p - lr*(g[i]+wd*p)
		}
		return
	}
	m = m[:len(th)]
	for i, p := range th {
		th[i] = p - lr*(g[i]*m[i]+wd*p)
	}
}

func momentumGo(th, g, m, v []float32, lr, wd, mu float32) {
	g, v = g[:len(th)], v[:len(th)]
	if m == nil {
		for i, p := range th {
			b := mu*v[i] + (g[i] + wd*p)
			v[i] = b
			th[i] = p - lr*b
		}
		return
	}
	m = m[:len(th)]
	for i, p := range th {
		b := mu*v[i] + (g[i]*m[i] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func nesterovGo(th, g, m, v []float32, lr, wd, mu float32) {
	g, v = g[:len(th)], v[:len(th)]
	if m == nil {
		for i, p := range th {
			gi := g[i] + wd*p
			b := mu*v[i] + gi
			v[i] = b
			th[i] = p - lr*(gi+mu*b)
		}
		return
	}
	m = m[:len(th)]
	for i, p := range th {
		gi := g[i]*m[i] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

func adamGo(th, g, m, s1, s2 []float32, c *AdamConsts) {
	wd, decay, b1, c1, b2, c2 := c.WD, c.Decay, c.B1, c.C1, c.B2, c.C2
	step, isb, eps := c.StepSize, c.InvSqrtBc2, c.Eps
	g, s1, s2 = g[:len(th)], s1[:len(th)], s2[:len(th)]
	if m == nil {
		for i, p := range th {
			gi := g[i] + wd*p
			a := b1*s1[i] + c1*gi
			s := b2*s2[i] + c2*(gi*gi)
			s1[i], s2[i] = a, s
			th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
		}
		return
	}
	m = m[:len(th)]
	for i, p := range th {
		gi := g[i]*m[i] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

// The loops over the alive entries of a ZeroAfterStep tensor. They keep
// their bounds checks (the indices are data), a predictable compare per
// access.

func sgdAliveGo(th, g []float32, alive []int32, lr, wd float32) {
	for _, i := range alive {
		p := th[i]
		th[i] = p - lr*(g[i]+wd*p)
	}
}

func momentumAliveGo(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	for _, i := range alive {
		p := th[i]
		b := mu*v[i] + (g[i] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func nesterovAliveGo(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	for _, i := range alive {
		p := th[i]
		gi := g[i] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

func adamAliveGo(th, g, s1, s2 []float32, alive []int32, c *AdamConsts) {
	wd, decay, b1, c1, b2, c2 := c.WD, c.Decay, c.B1, c.C1, c.B2, c.C2
	step, isb, eps := c.StepSize, c.InvSqrtBc2, c.Eps
	for _, i := range alive {
		p := th[i]
		gi := g[i] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

// The loops over kept entries with a compact gradient: gk[j] belongs to
// entry pos[j] (the callers reslice gk to len(pos)).

func sgdKeptGo(th, gk []float32, pos []int32, lr, wd float32) {
	for j, i := range pos {
		p := th[i]
		th[i] = p - lr*(gk[j]+wd*p)
	}
}

func momentumKeptGo(th, gk, v []float32, pos []int32, lr, wd, mu float32) {
	for j, i := range pos {
		p := th[i]
		b := mu*v[i] + (gk[j] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func nesterovKeptGo(th, gk, v []float32, pos []int32, lr, wd, mu float32) {
	for j, i := range pos {
		p := th[i]
		gi := gk[j] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

func adamKeptGo(th, gk, s1, s2 []float32, pos []int32, c *AdamConsts) {
	wd, decay, b1, c1, b2, c2 := c.WD, c.Decay, c.B1, c.C1, c.B2, c.C2
	step, isb, eps := c.StepSize, c.InvSqrtBc2, c.Eps
	for j, i := range pos {
		p := th[i]
		gi := gk[j] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

// sqrt32 is a float32 square root; the compiler turns the conversions
// around math.Sqrt into one SQRTSS.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
