//go:build torch

package torch

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
// Defined by gotch's libtch (torch_api.cpp), which is linked into the same
// binary; the Go side of libtch exports neither.
char *get_and_reset_last_err();
void at_set_num_threads(int n_threads);
int at_get_num_threads();
void at_free(void *t);
void ats_free(void *s);
int at_defined(void *t);

// Sets defined[i] to whether ts[i] is a defined tensor, for n handles in
// one call (autograd returns an undefined gradient for a leaf the loss does
// not reach).
static void pb_defined(void **ts, int n, int *defined) {
	for (int i = 0; i < n; i++) defined[i] = at_defined(ts[i]);
}

// Frees n tensor handles and m scalars in one call from Go: a scope's
// release is one host crossing instead of one per temporary.
static void pb_free_all(void **ts, int n, void **ss, int m) {
	for (int i = 0; i < n; i++) if (ts[i] != NULL) at_free(ts[i]);
	for (int i = 0; i < m; i++) ats_free(ss[i]);
}

// OpenBLAS keeps its own thread pool, sized from OPENBLAS_NUM_THREADS or
// OMP_NUM_THREADS, else one thread per core, and at::set_num_threads does
// not resize it (it only knows MKL). Looked up at run time: a libtorch on
// MKL or another BLAS has no such symbol, and then nothing is done.
static int pb_set_openblas_threads(int n) {
	void (*f)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
	if (f == NULL) return 0;
	f(n);
	return 1;
}
static int pb_openblas_threads(void) {
	int (*f)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
	return f == NULL ? -1 : f();
}

// Keeps freed memory in the process (see keepHeap). 32 MiB is glibc's
// largest mmap threshold (half a thread arena's heap); 1 GiB trim and pad
// mean "never give back" for the sizes a step frees.
static int pb_keep_heap(void) {
	return mallopt(M_MMAP_THRESHOLD, 32 << 20) &&
	       mallopt(M_TRIM_THRESHOLD, 1 << 30) &&
	       mallopt(M_TOP_PAD, 256 << 20);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// ct is a handle to a libtorch tensor (a heap-allocated torch::Tensor, which
// shares storage with the tensor it came from). Every handle an op returns,
// in-place ops included, must be freed once; scope does it.
type ct = lib.Ctensor

// libtorch scalar types (c10::ScalarType) and devices (gotch's encoding:
// -1 is the CPU, n ≥ 0 is cuda:n).
const (
	kLong  = 4
	kFloat = 6
	cpu    = -1
)

// lastErr returns and clears the error libtch recorded on this OS thread
// (callers hold the thread with runtime.LockOSThread).
func lastErr() error {
	p := C.get_and_reset_last_err()
	if p == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(p))
	return errors.New(C.GoString(p))
}

// setThreads sets libtorch's intra-op thread count for the calling OS
// thread (OpenMP's count is per thread; libtorch also keeps the value as the
// default for threads that have not asked yet). Call it on a locked thread.
func setThreads(n int) { C.at_set_num_threads(C.int(n)) }

// numThreads returns libtorch's intra-op thread count on the calling OS
// thread (initializing it from libtorch's default on the thread's first
// call).
func numThreads() int { return int(C.at_get_num_threads()) }

// setBLASThreadsC sets OpenBLAS's thread count (process-wide) when the BLAS
// linked in is OpenBLAS.
func setBLASThreadsC(n int) { C.pb_set_openblas_threads(C.int(n)) }

// blasThreads returns OpenBLAS's thread count, or -1 when the BLAS is not
// OpenBLAS.
func blasThreads() int { return int(C.pb_openblas_threads()) }

// keepHeap makes glibc's malloc keep the memory a training step frees, once
// per process, before the first net's worker starts (mallopt is
// process-wide). libtorch's CPU allocator mallocs every activation and
// gradient and frees it within the step, and a worker thread allocates from
// its own glibc arena, whose heaps glibc shrinks (MADV_DONTNEED) as soon as
// the top of a heap is free: the next step faults the same pages back in and
// the kernel zeroes them. On ResNet-20 (batch 128, CPU) that was about 20,000
// page faults (80 MB) a step and 10 to 20% of its time, in the kernel
// (clear_page); with the thresholds here the steps fault no pages. PyTorch
// runs its ops on the main thread, whose arena grows with brk and is trimmed
// less eagerly. A trim threshold alone is worse (it turns off glibc's
// dynamic mmap threshold, so every tensor above 128 KiB would be mmapped and
// faulted); the mmap threshold goes with it, and the top pad stops the
// arena heaps from shrinking. Memory is then held at its high-water mark,
// as a training process wants. Settings the user made through
// GLIBC_TUNABLES or MALLOC_*_ win: nothing is changed then.
var keepHeap = sync.OnceValue(func() bool {
	if strings.Contains(os.Getenv("GLIBC_TUNABLES"), "glibc.malloc.") {
		return false
	}
	for _, v := range []string{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX"} {
		if os.Getenv(v) != "" {
			return false
		}
	}
	return C.pb_keep_heap() != 0
})

// scope runs libtorch ops with a sticky error: after the first failure every
// op returns nil without calling libtorch, so a sequence of ops is checked
// once at its end. It records the handles the ops return and the scalars it
// made; release frees them. The gotch Go API (package ts) is not used: it
// exits the process on errors and leaks a small C allocation per op.
type scope struct {
	dev     int
	err     error
	gradOff bool // inside noGrad
	tmp     []ct
	scalars []lib.Cscalar
}

func (s *scope) fail(op string, err error) {
	if s.err == nil {
		s.err = fmt.Errorf("torch: %s: %w", op, outOfMemory(err))
	}
}

// op runs f, which writes one result handle, and tracks the result.
//
// A libtch function writes its result only when the op succeeded (its
// PROTECT catches the exception before the assignment), so a nil result is
// the failure, and only then is the error slot read: one host crossing
// per op instead of two.
func (s *scope) op(name string, f func(out *ct)) ct {
	if s.err != nil {
		return nil
	}
	var out ct
	f(&out)
	if out == nil {
		err := lastErr()
		if err == nil {
			err = errors.New("no result and no error recorded")
		}
		s.fail(name, err)
		return nil
	}
	s.tmp = append(s.tmp, out)
	return out
}

// do runs an op without a result.
func (s *scope) do(name string, f func()) {
	if s.err != nil {
		return
	}
	f()
	if err := lastErr(); err != nil {
		s.fail(name, err)
	}
}

// release frees the handles and scalars made since the last release, in
// one cgo call.
func (s *scope) release() {
	if len(s.tmp) == 0 && len(s.scalars) == 0 {
		return
	}
	var ts, ss *unsafe.Pointer // the handles are C pointers: no Go pointer crosses
	if len(s.tmp) > 0 {
		ts = (*unsafe.Pointer)(unsafe.Pointer(&s.tmp[0]))
	}
	if len(s.scalars) > 0 {
		ss = (*unsafe.Pointer)(unsafe.Pointer(&s.scalars[0]))
	}
	C.pb_free_all(ts, C.int(len(s.tmp)), ss, C.int(len(s.scalars)))
	clear(s.tmp)
	clear(s.scalars)
	s.tmp, s.scalars = s.tmp[:0], s.scalars[:0]
}

// own takes handles out of the scope: release will not release them, the
// caller keeps them (nil handles are ignored).
func (s *scope) own(ts ...ct) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		for i := len(s.tmp) - 1; i >= 0; i-- {
			if s.tmp[i] == t {
				s.tmp = append(s.tmp[:i], s.tmp[i+1:]...)
				break
			}
		}
	}
}

// free releases handles a net owns (nil ones are skipped).
func free(ts ...ct) {
	for _, t := range ts {
		if t != nil {
			lib.AtFree(t)
		}
	}
}

func (s *scope) scalar(v float64) lib.Cscalar {
	c := lib.AtsFloat(v)
	s.scalars = append(s.scalars, c)
	return c
}

// noGrad runs f with autograd recording off (thread-local in libtorch), as
// the optimizer and every write into a leaf tensor need.
// libtch's AtGradSetEnabled reads its C int result as a Go int, so the
// previous mode it returns is unreliable: the scope tracks the mode itself
// (on outside noGrad, the default).
func (s *scope) noGrad(f func()) {
	if s.gradOff {
		f()
		return
	}
	s.gradOff = true
	lib.AtGradSetEnabled(0)
	defer func() { lib.AtGradSetEnabled(1); s.gradOff = false }()
	f()
}

// upload copies host data into a new tensor of the given shape on the
// scope's device.
func (s *scope) upload(data []float32, shape ...int64) ct {
	return s.uploadRaw(unsafe.Pointer(&data[0]), 4, kFloat, len(data), shape)
}

// uploadLabels copies labels into a new int64 tensor on the device.
func (s *scope) uploadLabels(y []int32) ct {
	l := make([]int64, len(y))
	for i, v := range y {
		l[i] = int64(v)
	}
	return s.uploadRaw(unsafe.Pointer(&l[0]), 8, kLong, len(l), []int64{int64(len(l))})
}

func (s *scope) uploadRaw(p unsafe.Pointer, elt uint, kind, n int, shape []int64) ct {
	if s.err != nil {
		return nil
	}
	if size := prod(shape); size != int64(n) {
		s.fail("upload", fmt.Errorf("%d values for shape %v (engine bug)", n, shape))
		return nil
	}
	t := lib.AtTensorOfData(p, shape, uint(len(shape)), elt, kind)
	if err := lastErr(); err != nil {
		s.fail("upload", err)
		return nil
	}
	s.tmp = append(s.tmp, t)
	if s.dev == cpu {
		return t
	}
	return s.op("to", func(o *ct) { lib.AtgTo(o, t, int32(s.dev)) })
}

// download copies the first len(dst) values of a float32 tensor to dst.
func (s *scope) download(dst []float32, t ct) {
	if len(dst) == 0 {
		return
	}
	s.do("copy to host", func() { lib.AtCopyData(t, unsafe.Pointer(&dst[0]), uint(len(dst)), 4) })
}

// set copies host data into an existing tensor (a leaf included).
func (s *scope) set(dst ct, data []float32, shape []int64) {
	src := s.uploadRaw(unsafe.Pointer(&data[0]), 4, kFloat, len(data), shape)
	s.noGrad(func() { s.do("copy", func() { lib.AtCopy_(dst, src) }) })
}

func (s *scope) zeros(shape ...int64) ct {
	return s.op("zeros", func(o *ct) { lib.AtgZeros(o, shape, len(shape), kFloat, int32(s.dev)) })
}

func (s *scope) requireGrad(t ct) {
	s.op("set_requires_grad", func(o *ct) { lib.AtgSetRequiresGrad(o, t, 1) })
}

// gradients returns the gradients of the scalar root with respect to the
// leaves, as torch.autograd.grad does: the leaves' own .grad is neither read
// nor written, so nothing accumulates and nothing needs zeroing. A leaf the
// root does not depend on gets nil. The results are tracked.
func (s *scope) gradients(root ct, leaves []ct) []ct {
	if s.err != nil {
		return nil
	}
	outs := make([]ct, len(leaves))
	roots := []ct{root}
	s.do("backward", func() { lib.AtRunBackward(&roots[0], 1, &leaves[0], len(leaves), &outs[0], 0, 0) })
	if s.err != nil {
		return nil
	}
	s.tmp = append(s.tmp, outs...)
	defined := make([]C.int, len(outs))
	C.pb_defined((*unsafe.Pointer)(unsafe.Pointer(&outs[0])), C.int(len(outs)), &defined[0])
	for i := range outs {
		if defined[i] == 0 {
			outs[i] = nil
		}
	}
	return outs
}

// The ops, named after libtorch's.

func (s *scope) linear(x, w, b ct) ct {
	return s.op("linear", func(o *ct) { lib.AtgLinear(o, x, w, b) })
}

func (s *scope) conv2d(x, w, b ct, stride, pad int) ct {
	st, pd, dl := []int64{int64(stride), int64(stride)}, []int64{int64(pad), int64(pad)}, []int64{1, 1}
	return s.op("conv2d", func(o *ct) { lib.AtgConv2d(o, x, w, b, st, 2, pd, 2, dl, 2, 1) })
}

func (s *scope) batchNorm(x, w, b, mean, variance ct, train bool, momentum, eps float64) ct {
	return s.op("batch_norm", func(o *ct) {
		lib.AtgBatchNorm(o, x, w, b, mean, variance, b2i(train), momentum, eps, 1)
	})
}

func (s *scope) relu(x ct) ct { return s.op("relu", func(o *ct) { lib.AtgRelu(o, x) }) }

func (s *scope) maxPool2d(x ct, kernel, stride int) ct {
	k, st, pd, dl := []int64{int64(kernel), int64(kernel)}, []int64{int64(stride), int64(stride)}, []int64{0, 0}, []int64{1, 1}
	return s.op("max_pool2d", func(o *ct) { lib.AtgMaxPool2d(o, x, k, 2, st, 2, pd, 2, dl, 2, 0) })
}

func (s *scope) meanDims(x ct, dims ...int64) ct {
	return s.op("mean", func(o *ct) { lib.AtgMeanDim(o, x, dims, len(dims), 0, kFloat) })
}

func (s *scope) reshape(x ct, shape ...int64) ct {
	return s.op("reshape", func(o *ct) { lib.AtgReshape(o, x, shape, len(shape)) })
}

func (s *scope) permute(x ct, dims ...int64) ct {
	return s.op("permute", func(o *ct) { lib.AtgPermute(o, x, dims, len(dims)) })
}

// every keeps every step-th entry along dim (x[..., ::step]).
func (s *scope) every(x ct, dim int64, step int) ct {
	return s.op("slice", func(o *ct) { lib.AtgSlice(o, x, dim, 0, 0, 0, 1, int64(step)) })
}

func (s *scope) pad(x ct, pad ...int64) ct {
	return s.op("constant_pad_nd", func(o *ct) { lib.AtgConstantPadNd(o, x, pad, len(pad)) })
}

func (s *scope) add(a, b ct) ct { return s.op("add", func(o *ct) { lib.AtgAdd(o, a, b) }) }
func (s *scope) mul(a, b ct) ct { return s.op("mul", func(o *ct) { lib.AtgMul(o, a, b) }) }
func (s *scope) div(a, b ct) ct { return s.op("div", func(o *ct) { lib.AtgDiv(o, a, b) }) }

func (s *scope) mulScalar(a ct, v float64) ct {
	c := s.scalar(v)
	return s.op("mul", func(o *ct) { lib.AtgMulScalar(o, a, c) })
}

func (s *scope) sum(a ct) ct { return s.op("sum", func(o *ct) { lib.AtgSum(o, a, kFloat) }) }

func (s *scope) logSoftmax(x ct) ct {
	return s.op("log_softmax", func(o *ct) { lib.AtgLogSoftmax(o, x, 1, kFloat) })
}

// nllMean is the mean negative log-likelihood of the labels y (int64).
func (s *scope) nllMean(logp, y ct) ct {
	return s.op("nll_loss", func(o *ct) { lib.AtgNllLoss(o, logp, y, nil, 1, -100) })
}

// In-place ops (self is modified; the returned alias is tracked and freed).

func (s *scope) copyFrom(dst, src ct) { s.do("copy_", func() { lib.AtCopy_(dst, src) }) }

func (s *scope) mul_(a, b ct) { s.op("mul_", func(o *ct) { lib.AtgMul_(o, a, b) }) }

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func prod(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
