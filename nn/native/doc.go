// Package native is prunebench's pure-Go float32 engine, the zero-setup
// default backend ("native").
//
// It is hand-written on purpose: every layer is a small struct with a forward
// and a backward pass over preallocated buffers (nothing is allocated per
// training step), matrix products go through one GEMM function
// (internal/gemm: a packed GEMM with an AVX2/FMA Go-assembly micro-kernel
// where the CPU has them, gonum's pure-Go sgemm elsewhere or with -tags
// noasm, OpenBLAS through cgo with -tags openblas), the optimizer step
// through internal/optkernel (AVX2/FMA assembly, Go loops elsewhere or with
// -tags noasm), and the element-wise loops that Go does not vectorize
// (im2col's and col2im's block copies and adds, ReLU, batch norm's
// per-channel loops, the residual sum) through internal/vec (AVX2 assembly
// giving the Go loops' bits), and results are bit-identical for the same
// seed because every reduction has a fixed order and one training run uses
// one goroutine. Builds with and without the assembly agree only to within
// float32 rounding (fused multiply-adds in the GEMM and the optimizer).
//
// Feature maps are stored channel-major, CNHW: entry (c, i, h, w) of a batch
// of n examples is at ((c·n + i)·H + h)·W + w. With that layout a convolution
// over the whole batch is one im2col and one GEMM whose output is already in
// place, and batch norm reads each channel contiguously. Vectors are N×D row
// major. The net converts its NCHW input once and Flatten converts back to
// torch's (c, h, w) feature order, so weights mean the same on every engine.
//
// Every parametrization of nn is implemented. Shared weights (randomized
// parameter sharing) hold no tensor of their own size: the Linear and
// Conv2d kernels gather W from the shared array in blocks of rows and
// scatter-add its gradient back, computing indices and signs on the fly
// (shared.go). Masked weights whose density is below a measured crossover
// run their layer's three products over the kept entries only, with
// row-wise sparse indices and AVX2 kernels (sparse.go explains the format,
// the choice of path and what happens to Param.Grad; Config.Sparse or the
// spec key sparse switches it).
package native
