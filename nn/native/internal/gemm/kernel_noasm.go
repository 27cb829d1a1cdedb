//go:build !openblas && (noasm || !amd64)

package gemm

// asmKernels is nil: there are no assembly routines for this architecture,
// or they were left out with -tags noasm.
var asmKernels *kernels
