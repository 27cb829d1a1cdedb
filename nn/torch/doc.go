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
// With `backend: torch` in a spec (or --set backend=torch). Two environment
// variables configure the engine when a net is built:
//
//	PRUNEBENCH_TORCH_DEVICE   cpu (default), cuda or cuda:N
//	PRUNEBENCH_TORCH_THREADS  libtorch intra-op threads, default 1
//
// One intra-op thread by default, because a sweep runs one run per core.
// A device without CUDA support is an error at Build.
//
// # Design
//
// The package calls gotch's low-level libtch bindings directly: gotch's ts
// package exits the process on libtorch errors and leaks a small C
// allocation per op. Each method runs its ops in a scope (lib.go) that keeps
// the first error and frees the op results afterwards, on a locked OS thread
// (libtorch's error slot and autograd mode are thread-local). Gradients come
// from autograd; the effective weight is the autograd leaf, so gradients are
// the dense gradients with respect to W, as on the native engine. Masks are
// libtorch tensors applied with libtorch ops; the optimizers are
// nn.Optimizer's rules written as fused in-place libtorch ops, with mask
// enforcement folded in (optim.go). Dropout masks are drawn on the host from
// the same stream as the native engine's, so both engines drop the same
// units. The Scored and Shared parametrizations are not implemented yet
// (nn.ErrNotImplemented).
package torch
