// Package optkernel holds the loops of the native engine's optimizer step:
// SGD (plain, heavy-ball and Nesterov momentum) and Adam/AdamW, over every
// entry of a tensor with the dense gradient or the gradient times a mask
// (MaskedForward), and over a list of alive entries (ZeroAfterStep). The
// update rules and the choice of loop per mask pattern are nn/native's
// (optimizer.go); this package only runs them.
//
// # Implementations
//
// The loops over every entry are in Go assembly (kernel_amd64.s) where the
// CPU has AVX2 and FMA: 8 entries per step in YMM registers, the last n mod
// 8 through masked loads and stores with the same arithmetic, so an
// entry's result does not depend on its position or on the tensor's length.
// Elsewhere, on other architectures and under -tags noasm (the tag of
// internal/gemm, which leaves every assembly routine of the engine out),
// the Go loops of generic.go run instead. [Impl] names the one in use.
//
// The assembly fuses multiply-adds (g + wd·θ, β1·s1 + (1−β1)·g, θ·decay −
// step, θ − lr·b) that the Go loops round twice, so the two differ in the
// last bits, by a few float32 roundings at most; each is deterministic. The
// square root and the division of Adam are IEEE-exact in both (VSQRTPS,
// VDIVPS). The tests compare the two on random data at odd lengths.
//
// The loops over alive lists stay in Go: an AVX2 version with gathers
// (VGATHERDPS) and scalar stores measured no faster than the Go loop on
// LeNet-300-100's first weight at densities 0.05, 0.2 and 0.5, the
// gathers and the stores costing what the vector arithmetic saves.
//
// # Why a package of its own
//
// The kernels are kept apart from nn/native, as the GEMM is in
// internal/gemm, so that the build-tag pattern (kernel_amd64.go and .s
// under !noasm, kernel_noasm.go otherwise), the switch between the
// assembly and the Go loops that the tests use, and the tests and
// benchmarks of the kernels themselves live in one small package, and
// nn/native only dispatches to them.
//
// Every routine runs on the calling goroutine and allocates nothing.
package optkernel
