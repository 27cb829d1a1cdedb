// Package gemm is the single matrix-multiply function of the native engine.
//
// Every matrix product of nn/native (dense layers, im2col convolutions, and
// their backward passes) goes through [Sgemm], which has the meaning of
// cblas_sgemm on row-major float32 matrices. Keeping it to one function is
// what makes the two implementations swappable at build time:
//
//   - the default build is pure Go: it delegates to gonum's float32 BLAS
//     (gonum.org/v1/gonum/blas/gonum), so the engine needs no C toolchain;
//   - the build with -tags openblas calls cblas_sgemm from OpenBLAS through
//     cgo (Debian: libopenblas-dev), which is several times faster.
//
// [Impl] names the implementation compiled in.
//
// Both implementations run on exactly one core and allocate nothing. One
// training run uses one goroutine (its results are then reproducible), and a
// sweep gets its parallelism by running several runs side by side, one per
// core; a GEMM that spawned goroutines or threads of its own would oversubscribe
// the cores and make the runs interfere. So:
//
//   - gonum's Sgemm splits large products into 64×64 blocks and computes
//     them on freshly spawned goroutines (allocating a closure, a channel and
//     a WaitGroup each call). The gonum build therefore tiles C into tiles
//     small enough (at most 64 rows × 192 columns, fewer than the 4 blocks at
//     which gonum goes parallel) that gonum always takes its serial path, and
//     calls it once per tile and per slice of the inner dimension;
//   - the OpenBLAS build sets OpenBLAS to one thread once, at init.
//
// Arguments are validated in Go, identically for both builds, and a bad call
// panics (cblas would only print an error and return).
package gemm
