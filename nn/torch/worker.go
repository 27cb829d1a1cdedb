//go:build torch

package torch

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// worker runs every libtorch call of one net on one dedicated OS thread.
//
// libtorch's intra-op thread count is OpenMP's nthreads-var, which OpenMP
// keeps per OS thread: at::set_num_threads sets it for the calling thread
// only (plus a process-wide default that libtorch copies into a thread the
// first time that thread asks, and never again). Go runs successive cgo
// calls of a goroutine on whichever OS thread it happens to be on, so
// without a dedicated thread a net's ops run with whatever count the
// thread they land on was left with: OpenMP's default (one thread per core,
// spin-waiting on a loaded machine), the count of another net, or the value
// some other library set. The worker sets the count once on its own locked
// thread and runs everything there; the libtorch state that is thread-local
// besides (the error slot, autograd mode) stays on that thread too.
//
// Callers block until their call is done (run), so a net's methods keep
// their synchronous semantics; nets on different goroutines have different
// workers and run in parallel. A call costs two channel handoffs and no
// allocation beyond the closure it runs.
type worker struct {
	threads int // configured intra-op thread count
	got     int // at::get_num_threads() read back on the worker's thread

	mu     sync.Mutex // one call at a time (a Net is not for concurrent use; this keeps replies paired anyway)
	req    chan func(*scope)
	done   chan outcome
	exited chan struct{} // closed when the worker ends
	sc     scope         // touched only by the worker goroutine
}

// outcome is a call's result: the scope's error, or the value it panicked
// with.
type outcome struct {
	err      error
	panicked bool
	p        any
}

// threadsHook, when set (by tests), is called on the worker's thread before
// every call with the configured count and libtorch's count on that thread.
var threadsHook atomic.Pointer[func(want, got int)]

// startWorker starts a worker for a net on device dev with the given
// intra-op thread count and returns once the count is set.
func startWorker(dev, threads int) *worker {
	w := &worker{threads: threads, req: make(chan func(*scope)), done: make(chan outcome), exited: make(chan struct{})}
	w.sc.dev = dev
	ready := make(chan int)
	go w.loop(ready)
	w.got = <-ready
	return w
}

// loop is the worker goroutine. It references only the worker, never the
// net, so a dropped net becomes garbage and its cleanup stops the worker.
// The thread stays locked: when the worker ends, its OS thread ends with it
// (and OpenMP's team for that thread with it).
func (w *worker) loop(ready chan<- int) {
	runtime.LockOSThread()
	defer close(w.exited)
	// at::get_num_threads first: on a thread's first call libtorch copies
	// its process-wide default into the thread (which another net's Build
	// may have just changed); after that it never touches this thread's
	// count again.
	numThreads()
	setThreads(w.threads)
	setBLASThreads(w.threads)
	ready <- numThreads()
	for f := range w.req {
		w.done <- w.exec(f)
	}
}

// exec runs f in the worker's scope, frees the scope's temporaries and
// catches a panic for the caller to rethrow.
func (w *worker) exec(f func(*scope)) (o outcome) {
	s := &w.sc
	s.err = nil
	defer func() {
		s.release()
		if r := recover(); r != nil {
			o = outcome{panicked: true, p: r}
		}
	}()
	if h := threadsHook.Load(); h != nil {
		(*h)(w.threads, numThreads())
	}
	f(s)
	return outcome{err: s.err}
}

// run runs f on the worker's thread in a fresh scope and returns the
// scope's error; a panic in f is rethrown here, on the caller's goroutine.
func (w *worker) run(f func(*scope)) error {
	w.mu.Lock()
	w.req <- f
	o := <-w.done
	w.mu.Unlock()
	if o.panicked {
		panic(o.p)
	}
	return o.err
}

// stop ends the worker once its net is garbage (the net's cleanup).
func (w *worker) stop() { close(w.req) }

// blasMu serializes setting the BLAS library's (process-wide) thread count.
var blasMu sync.Mutex

func setBLASThreads(n int) {
	blasMu.Lock()
	defer blasMu.Unlock()
	setBLASThreadsC(n)
}
