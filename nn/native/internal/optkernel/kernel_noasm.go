//go:build noasm || !amd64

package optkernel

// There are no assembly kernels for this architecture, or they were left
// out with -tags noasm: the stubs below are never called.
const asmAvailable = false

func sgdAVX2(n int, th, gr *float32, lr, wd float32)             { panic("optkernel: no assembly") }
func sgdMaskedAVX2(n int, th, gr, m *float32, lr, wd float32)    { panic("optkernel: no assembly") }
func momentumAVX2(n int, th, gr, v *float32, lr, wd, mu float32) { panic("optkernel: no assembly") }
func momentumMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32) {
	panic("optkernel: no assembly")
}
func nesterovAVX2(n int, th, gr, v *float32, lr, wd, mu float32) { panic("optkernel: no assembly") }
func nesterovMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32) {
	panic("optkernel: no assembly")
}
func adamAVX2(n int, th, gr, s1, s2 *float32, c *AdamConsts) { panic("optkernel: no assembly") }
func adamMaskedAVX2(n int, th, gr, m, s1, s2 *float32, c *AdamConsts) {
	panic("optkernel: no assembly")
}
