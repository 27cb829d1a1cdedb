// Package gemm is the single matrix-multiply function of the native engine.
//
// Every matrix product of nn/native (dense layers, im2col convolutions, and
// their backward passes) goes through [Sgemm], which has the meaning of
// cblas_sgemm on row-major float32 matrices. Keeping it to one function is
// what makes the implementations swappable. There are three:
//
//   - "avx2" (default build, amd64): a packed, cache-blocked GEMM driver in
//     Go around a 6×16 micro-kernel in Go assembly (kernel_amd64.s) that
//     uses AVX2 and FMA; no C toolchain needed. About 6× faster than gonum,
//     on a par with single-threaded OpenBLAS on the shapes of the engine;
//   - "gonum" (default build, fallback): gonum's float32 BLAS
//     (gonum.org/v1/gonum/blas/gonum), pure Go;
//   - "openblas" (-tags openblas): cblas_sgemm from OpenBLAS through cgo
//     (Debian: libopenblas-dev).
//
// The default build chooses at run time, once, at package initialization:
// avx2 when golang.org/x/sys/cpu reports AVX2 and FMA (which includes the
// operating system saving the YMM registers), gonum otherwise, and on every
// architecture other than amd64. Building with -tags noasm leaves the
// assembly out, so that the default build always uses gonum (to rule the
// assembly out when chasing a bug). noasm is gonum's tag too: it also turns
// off gonum's own assembly (internal/asm/f32), which makes that gonum path
// about 4× slower again than the gonum of a default build on a CPU without
// AVX2; the benchmarks of this package compare the implementations of one
// default build instead. [Impl] names the implementation in use.
//
// # The packed driver
//
// The avx2 implementation follows Goto & van de Geijn, "Anatomy of
// high-performance matrix multiplication" (ACM TOMS 34(3), 2008), in the
// loop structure and micro-kernel design of BLIS (Van Zee & van de Geijn,
// "BLIS: A framework for rapidly instantiating BLAS functionality", ACM TOMS
// 41(3), 2015). op(B) is packed, kcBlock×ncBlock at a time, into panels of
// NR = 16 columns, and alpha·op(A), mcBlock×kcBlock at a time, into panels of
// MR = 6 rows, both stored k-major and zero-padded to whole panels; the
// packing deals with the transposes and strides, so the micro-kernel only
// reads two contiguous panels. The micro-kernel keeps the 6×16 tile of C in
// 12 YMM registers and does 12 fused multiply-adds per step of k (two 8-float
// loads of B, six broadcasts of A), then stores beta·C + tile into C: beta
// is applied by the first kc slice only (beta == 0 overwrites C without
// reading it, NaN included, as in BLAS), later slices add. Edge tiles of C
// (fewer than 6 rows or 16 columns) are computed into a 6×16 buffer and added
// into C from there. The packing of op(B), which matters most when m is
// small (a batch of 60), is in assembly too (a copy, or 8×8 transposes), and
// so is that of the full 6-row panels of an untransposed A (8 columns at a
// time through an 8×8 transpose with two zero rows), which is all of A's
// packing in a convolution's weight gradient (A = dY, n·OH·OW deep); the
// rest of A's packing (Aᵀ, the last partial panel, the last k mod 8
// columns) is in Go.
//
// The blocking parameters (packed.go) are sized for one core's caches: KC =
// 256 (a 16 KiB B micro-panel stays in the 32 KiB L1 data cache), MC = 120
// (the 120 KiB packed A block stays in an L2 of 512 KiB or more while it
// meets every B micro-panel), NC = 2048 (the 2 MiB packed B block is meant
// for the L3, and bounds the buffers). The packed driver with a plain-Go
// micro-kernel and packing (implementation "go") exists for the tests, which
// check the driver with it independently of the assembly; it is not
// selected, being slower than gonum.
//
// # One core, no allocation, reproducible
//
// Every implementation runs on exactly one core and allocates nothing. One
// training run uses one goroutine (its results are then reproducible), and a
// sweep gets its parallelism by running several runs side by side, one per
// core; a GEMM that spawned goroutines or threads of its own would
// oversubscribe the cores and make the runs interfere. So:
//
//   - the avx2 driver is a plain loop nest on the calling goroutine. Its
//     packing buffers are kept in a free list, taken by a call and given
//     back at its end: after warm-up no call allocates, and calls from
//     several goroutines at once each get their own buffers (the list holds
//     as many as were ever in use at once). Its summation order depends only
//     on the shape (m, n, k), so a call gives the same bits every time;
//   - gonum's Sgemm splits large products into 64×64 blocks and computes
//     them on freshly spawned goroutines (allocating a closure, a channel and
//     a WaitGroup each call). The gonum path therefore tiles C into tiles
//     small enough (at most 64 rows × 192 columns, fewer than the 4 blocks at
//     which gonum goes parallel) that gonum always takes its serial path, and
//     calls it once per tile and per slice of the inner dimension;
//   - the OpenBLAS build sets OpenBLAS to one thread once, at init.
//
// The implementations round differently (fused multiply-adds, summation
// order), so their results agree only to within float32 rounding.
//
// Arguments are validated in Go, identically for all builds, and a bad call
// panics (cblas would only print an error and return).
package gemm
