// Package torch is the libtorch engine of prunebench, through
// github.com/sugarme/gotch, built only with the "torch" build tag. It passes
// the same conformance suite (nn/nntest) as the native engine, and a
// cross-engine test trains the same nets on both and compares them.
//
// Without the tag the package is this file alone, so the default build
// (go build ./...) stays pure Go and never needs libtorch; nn.GetBackend then
// says that "torch" needs the tag.
//
// # Building
//
// gotch's cgo flags hard-code a libtorch folder and CUDA libraries, and its
// generated wrappers target one libtorch release, so gotch is built from a
// prepared copy that the main go.mod never mentions:
//
//	make torch        # scripts/torch/prepare.sh: bin/prunebench-torch
//	make test-torch   # go test -mod=mod -modfile=build/torch/go.mod -tags torch ./nn/torch/
//
// prepare.sh installs Debian's libtorch-dev when it is missing (or uses
// LIBTORCH=/path, e.g. a pip torch's site-packages/torch), copies gotch
// v0.7.0 from the module cache into build/torch/gotch, writes cgo flags for
// that libtorch (CUDA libraries only when it has them), replaces every
// generated wrapper that does not compile against it with one that returns
// an error naming the op, and writes build/torch/go.mod: the main go.mod
// plus gotch, replaced by the copy. Any go command takes the torch build
// with -mod=mod -modfile=build/torch/go.mod -tags torch. See the script's
// header for the details.
//
// # Running
//
// With `backend: torch` in a spec (or --set backend=torch), and `device:
// cuda` (nn.Config.Device) for a GPU. Two environment variables configure
// the engine when a net is built (the spec's device comes first):
//
//	PRUNEBENCH_TORCH_DEVICE   cpu (default), cuda or cuda:N
//	PRUNEBENCH_TORCH_THREADS  libtorch intra-op threads, default 1
//
// One intra-op thread by default, because a sweep runs one run per core.
// A device without CUDA support is an error at Build. OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS are not needed (see Threads below).
//
// # GPU
//
// A CUDA libtorch works the same way: LIBTORCH names it (a pip torch's
// site-packages/torch is one), prepare.sh links libtorch_cuda when the
// folder has it, and the stubbing adapts gotch v0.7.0 to that release. On
// an H200 with PyTorch 2.11.0+cu130, 46 generated wrappers were stubbed (none
// the engine uses) and the conformance and cross-engine tests passed with
// NVIDIA_TF32_OVERRIDE=0: cuDNN's default TF32 convolutions differ from
// float32 by about 1e-3, beyond the suite's tolerance, so runs that must
// match the native engine bit-closely set it. scripts/torch/gpu_check.sh
// does all of it from a carried Go toolchain (scripts/torch/gpu_pack.sh).
//
// # Design
//
// The package calls gotch's low-level libtch bindings directly: gotch's ts
// package exits the process on libtorch errors and leaks a small C
// allocation per op. Each method runs its ops in a scope (lib.go) that keeps
// the first error and frees the op results afterwards, on the net's worker
// thread (below; libtorch's error slot and autograd mode are thread-local
// too). Gradients come
// from autograd; the effective weight is the autograd leaf, so gradients are
// the dense gradients with respect to W, as on the native engine. Masks are
// libtorch tensors applied with libtorch ops; the optimizers are
// nn.Optimizer's rules written as fused in-place libtorch ops, with mask
// enforcement folded in (optim.go). Dropout masks are drawn on the host from
// the same stream as the native engine's, so both engines drop the same
// units. The Scored parametrization computes its top-k mask on the host
// with nn.TopKMask (the native engine's selection, so both engines keep the
// same entries) and uploads it as a MaskedForward mask; the method sets new
// scores once per score step. The Shared parametrization gathers W from
// the array with index_select over a device index tensor built when it is
// set, and autograd scatters the gradient back (shared.go); unlike the
// native engine it holds that O(n) map on the device.
//
// # Host crossings
//
// Every call from Go into libtorch is a cgo call, and on a GPU each is also
// host time between kernel launches: at the sizes of this workbench's
// models a step is bound by them. TestStepCgoCalls pins how many one
// training step makes (runtime.NumCgoCall, on the CPU). Three things keep
// the count down:
//
//   - an op's error slot is read only when the op returned no result
//     (scope.op), not after every op;
//   - a scope frees its temporaries and scalars in one call (pb_free_all),
//     and which gradients autograd left undefined is asked in one call
//     (pb_defined);
//   - the optimizer step of all the parameters and shared arrays is one
//     call into prunebench's C++ shim (scripts/torch/_shim, built by prepare.sh as the
//     package pbshim of the prepared gotch module), which runs the update
//     rule with libtorch's multi-tensor _foreach_* ops, the masks folded
//     in, or one op per tensor inside C++ on a libtorch older than 1.7
//     (pbshim.Native says which; TestShimNative fails if a libtorch that
//     has the ops got the loop, and the shim does not compile when the
//     headers give no version to decide by).
//
// LeNet-300-100 with Adam (batch 60) went from 272 cgo calls per step to
// 118 with the first two and to 29 with the shim; ResNet-20 with SGD and
// momentum (batch 8) from 1,776 to 739 and to 150.
//
// # Threads
//
// libtorch's intra-op thread count is OpenMP's, and OpenMP keeps it per OS
// thread: at::set_num_threads sets it for the calling thread and records a
// process-wide default that libtorch copies into a thread on that thread's
// first parallel op, never again. Go runs a goroutine's successive cgo calls
// on whichever OS thread it is on, so setting the count once (as the engine
// first did) leaves the ops to whatever count their thread holds: the
// default of a thread that asked before, OpenMP's one per core, another
// net's count, or another library's. With more than one thread per run on a
// loaded machine, libgomp's spin-waiting makes training 10 to 20 times
// slower (LeNet-300-100 on 2 busy cores: 45 s with 2 threads, 2.5 s with 1).
// Matrix products go to the BLAS, and Debian's libtorch uses OpenBLAS, whose
// own pool (one thread per core unless OPENBLAS_NUM_THREADS or
// OMP_NUM_THREADS says otherwise) at::set_num_threads never sizes: with it,
// sched_yield spinning made that run 1.7 times slower alone and 3 to 5 times
// slower two at a time (run --jobs 2).
//
// So each Net owns a worker (worker.go): a goroutine locked to its own OS
// thread, started by Build, that sets the net's count once on that thread
// and runs every libtorch call of the net, Build's included (only the CUDA
// availability check, which runs no ops, stays on the caller); the methods
// hand it a closure over a channel and wait. Nets on different goroutines
// (sweep or run with --jobs) have their own workers and run in parallel,
// each with its own OpenMP team. Build also sets OpenBLAS's count, looked
// up at run time (no-op for another BLAS; MKL follows at::set_num_threads);
// that pool is process-wide, so the last Build sizes it. A call costs two
// goroutine handoffs between OS threads and no allocation beyond its
// closure: tens of microseconds on a loaded machine (BenchmarkMLPStep, a
// tiny MLP, doubles), within the noise of LeNet-300-100's training. The
// alternative, re-setting the count on the caller's locked thread at every
// call, works too, but it leaves the net's count on Go's threads for anyone
// else, and with more than one thread gives every OS thread that ever ran
// an op its own OpenMP team; the worker keeps one team and one set of
// thread-local state per net.
//
// # Memory
//
// libtorch's CPU allocator is glibc's malloc, and a step allocates and frees
// every activation and gradient. The worker's OS thread allocates from its
// own glibc arena, which hands freed pages back to the kernel at once, so
// every step faulted them in again (20,000 zeroed pages a ResNet-20 step, 10
// to 20% of it). The first Build of a CPU net therefore sets glibc's mmap,
// trim and top-pad thresholds (mallopt, process-wide; lib.go's keepHeap), so
// the process keeps its high-water mark, unless GLIBC_TUNABLES or MALLOC_*_
// already configure malloc.
//
// Net has no Close: a cleanup (runtime.AddCleanup) frees a dropped net's
// tensors and ends its worker, whose OS thread then exits.
//
// More than one thread per run (PRUNEBENCH_TORCH_THREADS) only pays on idle
// cores; on a loaded machine also set OMP_WAIT_POLICY=passive, which stops
// libgomp's spin-waiting (read when the process starts).
package torch
