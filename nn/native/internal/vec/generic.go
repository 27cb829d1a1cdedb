package vec

import "math"

func addRowsGo(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	for r := 0; r < rows; r++ {
		d := dst[r*dstStride:][:cols]
		for j, v := range src[r*srcStride:][:cols] {
			d[j] += v
		}
	}
}

func copyRowsGo(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*dstStride:][:cols], src[r*srcStride:][:cols])
	}
}

// reluGo: the sign bit, spread over the word, masks negatives (and −0, and
// NaNs with the sign bit set) to +0; branch-free, because on real
// activations the sign is a coin flip.
func reluGo(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		b := math.Float32bits(v)
		y[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluGradGo: y ≥ +0 always, and y > 0 exactly when its bits are non-zero,
// so (0 − bits) has the sign bit set exactly then.
func reluGradGo(dx, dy, y []float32) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	for i, g := range dy {
		keep := uint32(-int32(math.Float32bits(y[i])) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(g) & keep)
	}
}

// The float64 reductions run over blocks of 16 entries (sums) or 8 (the
// two sums of SumAndDot) with one accumulator per position in the block,
// the order the assembly keeps in its lanes; then the accumulators are
// combined in a fixed tree (fold16, fold8) and the entries after the last
// whole block are added one at a time.

func sumGo(x []float32) float64 {
	var a [16]float64
	for ; len(x) >= 16; x = x[16:] {
		for k := range a {
			a[k] += float64(x[k])
		}
	}
	return fold16(&a)
}

func sumSquaredDevGo(x []float32, mean float64) float64 {
	var a [16]float64
	for ; len(x) >= 16; x = x[16:] {
		for k := range a {
			d := float64(x[k]) - mean
			a[k] += d * d
		}
	}
	return fold16(&a)
}

func sumAndDotGo(g, h []float32) (s, sx float64) {
	var a, b [8]float64
	h = h[:len(g)]
	for ; len(g) >= 8; g, h = g[8:], h[8:] {
		for k := range a {
			v := float64(g[k])
			a[k] += v
			b[k] += v * float64(h[k])
		}
	}
	return fold8(&a), fold8(&b)
}

// fold16 combines 16 accumulators as the assembly does: 4 registers of 4
// lanes added pairwise, (r0+r1) + (r2+r3), then the lanes, (l0+l2) +
// (l1+l3).
func fold16(a *[16]float64) float64 {
	var t [4]float64
	for k := range t {
		t[k] = (a[k] + a[4+k]) + (a[8+k] + a[12+k])
	}
	return (t[0] + t[2]) + (t[1] + t[3])
}

// fold8 combines 8 accumulators as the assembly does: 2 registers of 4
// lanes added, then the lanes, (l0+l2) + (l1+l3).
func fold8(a *[8]float64) float64 {
	var t [4]float64
	for k := range t {
		t[k] = a[k] + a[4+k]
	}
	return (t[0] + t[2]) + (t[1] + t[3])
}

func normAffineGo(xhat, y, x []float32, mean, inv float64, gamma, beta float32) {
	y, x = y[:len(xhat)], x[:len(xhat)]
	for j, v := range x {
		h := float32((float64(v) - mean) * inv)
		xhat[j] = h
		y[j] = gamma*h + beta
	}
}

func normGradGo(dx, dy, xhat []float32, k, a, b float32) {
	dy, xhat = dy[:len(dx)], xhat[:len(dx)]
	for j, g := range dy {
		dx[j] = k * (g - a - xhat[j]*b)
	}
}

func addToGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i, v := range a {
		dst[i] = v + b[i]
	}
}

func copyRowsStride2Go(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	for r := 0; r < rows; r++ {
		d := dst[r*dstStride:][:cols]
		s := src[r*srcStride:][:2*cols-1]
		for j := range d {
			d[j] = s[2*j]
		}
	}
}
