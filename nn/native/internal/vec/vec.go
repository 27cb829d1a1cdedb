package vec

// Impl names the routines in use, chosen once at package initialization:
// "avx2" (Go assembly, on amd64 CPUs with AVX2) or "go".
var Impl = implName()

// useAsm selects the assembly; tests switch it off to run the Go loops on
// the same data.
var useAsm = asmAvailable

func implName() string {
	if asmAvailable {
		return "avx2"
	}
	return "go"
}

// checkRows panics unless a rows×cols block with row stride stride fits in
// a slice of length n.
func checkRows(what string, n, stride, rows, cols int) {
	if rows < 0 || cols < 0 || stride < cols || (rows > 0 && cols > 0 && (rows-1)*stride+cols > n) {
		panic("vec: " + what + " block out of range")
	}
}

// AddRows adds a rows×cols block of src (row stride srcStride) into the
// same block of dst (row stride dstStride): dst[r·dstStride + j] +=
// src[r·srcStride + j]. The blocks must not overlap.
func AddRows(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	checkRows("AddRows dst", len(dst), dstStride, rows, cols)
	checkRows("AddRows src", len(src), srcStride, rows, cols)
	if rows == 0 || cols == 0 {
		return
	}
	if useAsm {
		addRowsAVX2(rows, cols, &dst[0], dstStride, &src[0], srcStride)
		return
	}
	addRowsGo(dst, dstStride, src, srcStride, rows, cols)
}

// Add adds src into dst: dst[j] += src[j] for j < len(dst); src must be at
// least as long.
func Add(dst, src []float32) {
	AddRows(dst, len(dst), src, len(dst), 1, len(dst))
}

// AddTo writes a + b into dst for the len(dst) entries; a and b must be at
// least as long.
func AddTo(dst, a, b []float32) {
	n := len(dst)
	if !useAsm || n == 0 {
		addToGo(dst, a, b)
		return
	}
	_, _ = a[n-1], b[n-1]
	addToAVX2(n, &dst[0], &a[0], &b[0])
}

// CopyRows copies a rows×cols block of src (row stride srcStride) into dst
// (row stride dstStride). The blocks must not overlap.
func CopyRows(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	checkRows("CopyRows dst", len(dst), dstStride, rows, cols)
	checkRows("CopyRows src", len(src), srcStride, rows, cols)
	if rows == 0 || cols == 0 {
		return
	}
	if useAsm {
		copyRowsAVX2(rows, cols, &dst[0], dstStride, &src[0], srcStride)
		return
	}
	copyRowsGo(dst, dstStride, src, srcStride, rows, cols)
}

// CopyRowsStride2 copies every other entry of a block of src into dst:
// dst[r·dstStride + j] = src[r·srcStride + 2j] for r < rows, j < cols (the
// im2col of a stride-2 convolution). The blocks must not overlap.
func CopyRowsStride2(dst []float32, dstStride int, src []float32, srcStride, rows, cols int) {
	checkRows("CopyRowsStride2 dst", len(dst), dstStride, rows, cols)
	if cols > 0 {
		checkRows("CopyRowsStride2 src", len(src), srcStride, rows, 2*cols-1)
	}
	if rows == 0 || cols == 0 {
		return
	}
	if useAsm {
		copyRowsStride2AVX2(rows, cols, &dst[0], dstStride, &src[0], srcStride)
		return
	}
	copyRowsStride2Go(dst, dstStride, src, srcStride, rows, cols)
}

// ReLU writes max(x, 0) into y for the first len(y) entries of x, as
// PyTorch's relu except that −0 and NaNs with the sign bit set give +0: the
// sign bit, spread over the word, masks the entry.
func ReLU(y, x []float32) {
	n := len(y)
	if !useAsm || n == 0 {
		reluGo(y, x)
		return
	}
	_ = x[n-1]
	reluAVX2(n, &y[0], &x[0])
}

// ReLUGrad writes the ReLU's input gradient into dx, from the output
// gradient dy and the ReLU's output y (≥ +0): dx = dy where y > 0, else +0
// (the gradient at 0 is 0, as in PyTorch), by masking bits.
func ReLUGrad(dx, dy, y []float32) {
	n := len(dx)
	if !useAsm || n == 0 {
		reluGradGo(dx, dy, y)
		return
	}
	_, _ = dy[n-1], y[n-1]
	reluGradAVX2(n, &dx[0], &dy[0], &y[0])
}

// Sum returns Σ x in float64, in a fixed order: sixteen partial sums over
// the entries at each position mod 16 of the whole blocks of 16, combined
// in a fixed tree, then the last len(x) mod 16 entries in order. The order
// depends only on len(x), so the result does too, and the assembly and the
// Go loop give the same bits.
func Sum(x []float32) float64 {
	n := len(x) &^ 15
	var s float64
	if useAsm && n > 0 {
		s = sumAVX2(n, &x[0])
	} else {
		s = sumGo(x[:n])
	}
	for _, v := range x[n:] {
		s += float64(v)
	}
	return s
}

// SumSquaredDev returns Σ (x − mean)² in float64, each term computed in
// float64, in Sum's order.
func SumSquaredDev(x []float32, mean float64) float64 {
	n := len(x) &^ 15
	var s float64
	if useAsm && n > 0 {
		s = sumSquaredDevAVX2(n, &x[0], mean)
	} else {
		s = sumSquaredDevGo(x[:n], mean)
	}
	for _, v := range x[n:] {
		d := float64(v) - mean
		s += d * d
	}
	return s
}

// SumAndDot returns Σ g and Σ g·h in float64 (each product in float64), in
// a fixed order like Sum's with blocks of 8; h must be at least as long as
// g.
func SumAndDot(g, h []float32) (s, sx float64) {
	n := len(g) &^ 7
	h = h[:len(g)]
	if useAsm && n > 0 {
		s, sx = sumAndDotAVX2(n, &g[0], &h[0])
	} else {
		s, sx = sumAndDotGo(g[:n], h[:n])
	}
	for j, v := range g[n:] {
		s += float64(v)
		sx += float64(v) * float64(h[n+j])
	}
	return s, sx
}

// NormAffine is batch norm's forward on one channel: x̂ = float32((x −
// mean)·inv) in float64, then y = γ·x̂ + β in float32, for the len(xhat)
// entries; y and x must be at least as long.
func NormAffine(xhat, y, x []float32, mean, inv float64, gamma, beta float32) {
	n := len(xhat)
	y, x = y[:n], x[:n]
	m := n &^ 7
	if useAsm && m > 0 {
		normAffineAVX2(m, &xhat[0], &y[0], &x[0], mean, inv, gamma, beta)
	} else {
		m = 0
	}
	normAffineGo(xhat[m:], y[m:], x[m:], mean, inv, gamma, beta)
}

// NormGrad is batch norm's training backward on one channel: dx =
// k·((dy − a) − x̂·b) in float32, for the len(dx) entries; dy and xhat must
// be at least as long.
func NormGrad(dx, dy, xhat []float32, k, a, b float32) {
	n := len(dx)
	dy, xhat = dy[:n], xhat[:n]
	m := n &^ 7
	if useAsm && m > 0 {
		normGradAVX2(m, &dx[0], &dy[0], &xhat[0], k, a, b)
	} else {
		m = 0
	}
	normGradGo(dx[m:], dy[m:], xhat[m:], k, a, b)
}
