//go:build !openblas

package gemm

import "testing"

// testImpls lists the implementations of this build that run here: gonum,
// the packed driver with the Go micro-kernel and, where the CPU has it, the
// assembly one.
func testImpls() []implementation {
	impls := []implementation{gonumImpl, packedImpl}
	if asmKernels != nil {
		impls = append(impls, avx2Impl)
	}
	return impls
}

// forEachImpl runs f as a subtest once per implementation, with Sgemm (and
// Impl) switched to it.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, im := range testImpls() {
		t.Run(im.name, func(t *testing.T) {
			useImpl(t, im)
			f(t)
		})
	}
}

// useImpl switches Sgemm to im until the end of the (sub)test.
func useImpl(tb testing.TB, im implementation) {
	saved, savedName := active, Impl
	active, Impl = im, im.name
	tb.Cleanup(func() { active, Impl = saved, savedName })
}

// benchImpls runs the benchmark f once per implementation, as sub-benchmarks
// named after them.
func benchImpls(b *testing.B, f func(b *testing.B)) {
	for _, im := range testImpls() {
		b.Run(im.name, func(b *testing.B) {
			useImpl(b, im)
			f(b)
		})
	}
}
