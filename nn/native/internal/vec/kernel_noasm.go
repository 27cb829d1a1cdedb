//go:build noasm || !amd64

package vec

// There is no assembly for this architecture, or it was left out with
// -tags noasm: the stubs below are never called.
const asmAvailable = false

func addRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int) {
	panic("vec: no assembly")
}

func copyRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int) {
	panic("vec: no assembly")
}

func reluAVX2(n int, y, x *float32)          { panic("vec: no assembly") }
func reluGradAVX2(n int, dx, dy, y *float32) { panic("vec: no assembly") }

func sumAVX2(n int, x *float32) float64                         { panic("vec: no assembly") }
func sumSquaredDevAVX2(n int, x *float32, mean float64) float64 { panic("vec: no assembly") }
func sumAndDotAVX2(n int, gr, h *float32) (s, sx float64)       { panic("vec: no assembly") }
func normAffineAVX2(n int, xhat, y, x *float32, mean, inv float64, gamma, beta float32) {
	panic("vec: no assembly")
}
func normGradAVX2(n int, dx, dy, xhat *float32, k, a, b float32) { panic("vec: no assembly") }

func addToAVX2(n int, dst, a, b *float32) { panic("vec: no assembly") }

func copyRowsStride2AVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int) {
	panic("vec: no assembly")
}
