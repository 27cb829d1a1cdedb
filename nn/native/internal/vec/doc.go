// Package vec holds the element-wise loops of the native engine's layers
// that Go does not vectorize, in AVX2 Go assembly (kernel_amd64.s) where the
// CPU has it, and in Go elsewhere and with -tags noasm (generic.go):
// adding and copying blocks of rows (im2col and col2im), and ReLU.
//
// Every routine gives the same bits as its Go loop: each output entry is
// one IEEE operation (an addition, a copy, a masking of bits) of the same
// operands, so the assembly changes only the speed. The tests check that,
// bit for bit, at odd lengths and strides.
//
// Like internal/gemm and internal/optkernel, it runs on the calling
// goroutine and allocates nothing.
package vec
