//go:build torch

package torch

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// onFreshThread runs f on a goroutine locked to an OS thread that ends with
// it, so whatever f leaves in thread-local state dies with the thread.
func onFreshThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f()
	}()
	<-done
}

// exercise calls every method of nn.Net that reaches libtorch, on every
// mask pattern, and returns the first error.
func exercise(net nn.Net, seed uint64) error {
	arch := net.Arch()
	nntest.SetRandom(net, nntest.NewRand(seed))
	if err := net.SetOptimizer(nn.Adam(1e-3)); err != nil {
		return err
	}
	pats := []nn.MaskPattern{nn.ZeroAfterStep, nn.MaskedForward, nn.ZeroBeforeForward}
	k := 0
	for _, info := range arch.Params() {
		if info.Kind != nn.Weight {
			continue
		}
		m := nntest.RandomMask(info.Size(), 0.5, nntest.NewRand(seed+uint64(k)))
		if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: pats[k%len(pats)]}); err != nil {
			return err
		}
		k++
	}
	rng := nntest.NewRand(seed + 100)
	for range 3 {
		if _, err := net.Gradients(nntest.RandomBatch(arch, 8, rng)); err != nil {
			return err
		}
		net.Step(0.01)
	}
	b := nntest.RandomBatch(arch, 8, rng)
	dl := make([]float32, b.N*arch.Classes)
	for i := range dl {
		dl[i] = 1
	}
	for _, train := range []bool{false, true} {
		if err := net.Backward(b, train, dl); err != nil {
			return err
		}
	}
	if _, _, err := net.Evaluate(b); err != nil {
		return err
	}
	if err := net.Logits(dl, b); err != nil {
		return err
	}
	for _, p := range net.Params() {
		p.SetValues(p.Values())
		_ = p.Grad()
	}
	st, err := net.State()
	if err != nil {
		return err
	}
	return net.SetState(st)
}

// TestThreadsPerNet checks that every libtorch call of a net runs with the
// net's intra-op thread count: nets with 1, 2 (from PRUNEBENCH_TORCH_THREADS)
// and 3 threads, used at the same time from goroutines whose OS threads
// another library left at 5 threads, and then again from plain goroutines.
// Before the worker threads, the ops ran on the calling goroutine's OS
// thread with that thread's OpenMP count (5 here, the core count on a fresh
// thread, or the last Build's).
func TestThreadsPerNet(t *testing.T) {
	var mu sync.Mutex
	calls := map[int]int{}    // configured count → calls
	wrong := map[string]int{} // "want W, got G" → calls
	hook := func(want, got int) {
		mu.Lock()
		defer mu.Unlock()
		calls[want]++
		if got != want {
			wrong[fmt.Sprintf("configured %d threads, ran with %d", want, got)]++
		}
	}
	threadsHook.Store(&hook)
	defer threadsHook.Store(nil)

	arch := nntest.ConvNet()
	cfg := nn.Config{Arch: arch, MaxBatch: 8, DropoutSeed: 3}
	backends := []Backend{{Threads: 1}, {}, {Threads: 3}}
	t.Setenv("PRUNEBENCH_TORCH_THREADS", "2")
	want := []int{1, 2, 3}
	nets := make([]nn.Net, len(backends))
	for i, b := range backends {
		net, err := b.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := net.(*Net).w.got; got != want[i] {
			t.Errorf("net %d: %d threads on its worker after Build, want %d", i, got, want[i])
		}
		nets[i] = net
	}
	if n := blasThreads(); n != -1 && n != 3 {
		t.Errorf("OpenBLAS has %d threads after a Build with 3, want 3", n)
	}

	for pass, poison := range []bool{true, false} {
		var wg sync.WaitGroup
		errs := make([]error, len(nets))
		for i, net := range nets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !poison {
					errs[i] = exercise(net, uint64(10*pass+i))
					return
				}
				onFreshThread(func() {
					setThreads(5) // another library's setting on the caller's thread
					errs[i] = exercise(net, uint64(10*pass+i))
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("pass %d, net %d: %v", pass, i, err)
			}
		}
	}
	// Leave libtorch's default for fresh threads as other tests expect it.
	onFreshThread(func() { setThreads(1) })

	mu.Lock()
	defer mu.Unlock()
	for _, w := range want {
		if calls[w] < 20 {
			t.Errorf("%d libtorch calls seen for the net with %d threads, want at least 20 (is every call on the worker?)", calls[w], w)
		}
	}
	var msgs []string
	for m, c := range wrong {
		msgs = append(msgs, fmt.Sprintf("%s: %d calls", m, c))
	}
	sort.Strings(msgs)
	for _, m := range msgs {
		t.Error(m)
	}
}

// TestDroppedNetStopsWorker checks that the worker of a net that became
// garbage ends (Net has no Close).
func TestDroppedNetStopsWorker(t *testing.T) {
	var ws []*worker
	for i := range 3 {
		net, err := (Backend{Threads: 1}).Build(nn.Config{Arch: nntest.MLP(), MaxBatch: 8})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 { // one never used beyond Build
			if err := exercise(net, uint64(i)); err != nil {
				t.Fatal(err)
			}
		}
		ws = append(ws, net.(*Net).w)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, w := range ws {
		for {
			runtime.GC()
			select {
			case <-w.exited:
			case <-time.After(20 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				t.Fatalf("worker of dropped net %d still running after 10 s of GCs", i)
			}
			break
		}
	}
}

// TestWorkerPanic checks that a panic in a call reaches the caller's
// goroutine and leaves the worker usable.
func TestWorkerPanic(t *testing.T) {
	net, err := (Backend{}).Build(nn.Config{Arch: nntest.MLP(), MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	n := net.(*Net)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		n.run(func(*scope) { panic("boom") })
	}()
	if err := exercise(net, 1); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkMLPStep times and counts the allocations of one Gradients+Step of
// a small MLP (the worker handoff included).
func BenchmarkMLPStep(b *testing.B) {
	arch := nntest.MLP()
	net, err := (Backend{}).Build(nn.Config{Arch: arch, MaxBatch: 8})
	if err != nil {
		b.Fatal(err)
	}
	nntest.SetRandom(net, nntest.NewRand(1))
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		b.Fatal(err)
	}
	batch := nntest.RandomBatch(arch, 8, nntest.NewRand(2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := net.Gradients(batch); err != nil {
			b.Fatal(err)
		}
		net.Step(0.01)
	}
}
