//go:build openblas

package gemm

import "testing"

// forEachImpl runs f as a subtest named after the only implementation of
// the openblas build.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	t.Run(Impl, f)
}

// benchImpls runs the benchmark f as a sub-benchmark named after the only
// implementation of the openblas build.
func benchImpls(b *testing.B, f func(b *testing.B)) { b.Run(Impl, f) }
