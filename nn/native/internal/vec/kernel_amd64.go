//go:build !noasm

package vec

import "golang.org/x/sys/cpu"

// asmAvailable reports whether the CPU (and the OS, which must save the YMM
// registers) has AVX2, which kernel_amd64.s needs.
var asmAvailable = cpu.X86.HasAVX2

// The routines in Go assembly (kernel_amd64.s). They trust their
// arguments: the exported wrappers check the extents they touch, and rows,
// cols, n ≥ 1.

//go:noescape
func addRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)

//go:noescape
func copyRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)

//go:noescape
func reluAVX2(n int, y, x *float32)

//go:noescape
func reluGradAVX2(n int, dx, dy, y *float32)

// The batch-norm loops, on n entries, n a multiple of 16 (the sums) or of 8
// (SumAndDot, NormAffine, NormGrad).

//go:noescape
func sumAVX2(n int, x *float32) float64

//go:noescape
func sumSquaredDevAVX2(n int, x *float32, mean float64) float64

//go:noescape
func sumAndDotAVX2(n int, gr, h *float32) (s, sx float64)

//go:noescape
func normAffineAVX2(n int, xhat, y, x *float32, mean, inv float64, gamma, beta float32)

//go:noescape
func normGradAVX2(n int, dx, dy, xhat *float32, k, a, b float32)

//go:noescape
func addToAVX2(n int, dst, a, b *float32)

//go:noescape
func copyRowsStride2AVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)
