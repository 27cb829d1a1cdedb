//go:build !noasm

package optkernel

import "golang.org/x/sys/cpu"

// asmAvailable reports whether the CPU (and the OS, which must save the YMM
// registers) has AVX2 and FMA, which the kernels in kernel_amd64.s need.
var asmAvailable = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The kernels in Go assembly (kernel_amd64.s). Each updates n ≥ 1 entries
// and trusts its arguments: the exported wrappers check that every operand
// holds n entries.

//go:noescape
func sgdAVX2(n int, th, gr *float32, lr, wd float32)

//go:noescape
func sgdMaskedAVX2(n int, th, gr, m *float32, lr, wd float32)

//go:noescape
func momentumAVX2(n int, th, gr, v *float32, lr, wd, mu float32)

//go:noescape
func momentumMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32)

//go:noescape
func nesterovAVX2(n int, th, gr, v *float32, lr, wd, mu float32)

//go:noescape
func nesterovMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32)

//go:noescape
func adamAVX2(n int, th, gr, s1, s2 *float32, c *AdamConsts)

//go:noescape
func adamMaskedAVX2(n int, th, gr, m, s1, s2 *float32, c *AdamConsts)
