//go:build torch

package torch_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/torch"
	"github.com/prunebench/prunebench/nn/zoo"
)

// stepCgoCalls builds model on the CPU with the optimizer, takes one
// warm-up step and returns the number of cgo calls (runtime.NumCgoCall,
// every call from Go into libtorch, gotch's wrappers and this package's C)
// that one more training step makes: Gradients and Step at batch size
// batch.
func stepCgoCalls(t *testing.T, model string, opt nn.Optimizer, batch int) int64 {
	t.Helper()
	arch, err := zoo.Build(model, zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	net, err := torch.Backend{}.Build(nn.Config{Arch: arch, MaxBatch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, zoo.DefaultInit(model), nn.NewRand(1)); err != nil {
		t.Fatal(err)
	}
	if err := net.SetOptimizer(opt); err != nil {
		t.Fatal(err)
	}
	data := nntest.RandomBatch(arch, batch, nntest.NewRand(2))
	step := func() {
		if _, err := net.Gradients(data); err != nil {
			t.Fatal(err)
		}
		net.Step(0.01)
	}
	step()
	before := runtime.NumCgoCall()
	step()
	return runtime.NumCgoCall() - before
}

// TestStepCgoCalls pins the host crossings of one training step: every
// cgo call is a handoff to libtorch that a GPU step pays for in launch
// latency, so a change that adds calls shows here. The counts are exact
// (one step's ops do not depend on the data); update them when a change
// means to move them, and say why.
func TestStepCgoCalls(t *testing.T) {
	for _, tc := range []struct {
		model string
		opt   nn.Optimizer
		batch int
		want  int64
	}{
		{"lenet-300-100", nn.Adam(0), 60, 29},   // 272 before the shim and batched frees
		{"resnet20", nn.SGD(0.9, 1e-4), 8, 150}, // 1,776 before
	} {
		if got := stepCgoCalls(t, tc.model, tc.opt, tc.batch); got != tc.want {
			t.Errorf("%s, %s: %d cgo calls per step, want %d", tc.model, tc.opt.Name, got, tc.want)
		}
	}
}

// TestOutOfMemoryError checks that libtorch's out-of-memory errors become
// nn.ErrOutOfMemory (which a sweep retries) and no other error does, and
// that the CPU reports no device memory.
func TestOutOfMemoryError(t *testing.T) {
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A layer of 2^40 weights (4 TiB): the CPU allocator refuses it.
	huge := &nn.Arch{Name: "huge", Input: []int{1 << 20}, Classes: 1 << 20, Layers: []nn.Layer{nn.Linear{Name: "fc", In: 1 << 20, Out: 1 << 20}}}
	if _, err := (torch.Backend{}).Build(nn.Config{Arch: huge, MaxBatch: 1}); !errors.Is(err, nn.ErrOutOfMemory) {
		t.Errorf("a 4 TiB layer: error %v, want one wrapping nn.ErrOutOfMemory", err)
	}
	net, err := torch.Backend{}.Build(nn.Config{Arch: arch, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Gradients(nn.Batch{X: make([]float32, 784), Y: []int32{3, 4}, N: 2}); err == nil || errors.Is(err, nn.ErrOutOfMemory) {
		t.Errorf("a bad batch: error %v, want one that is not out of memory", err)
	}
	if _, _, ok, err := (torch.Backend{}).DeviceMemory("cpu"); ok || err != nil {
		t.Errorf("DeviceMemory(cpu) = ok %v, err %v; want no report", ok, err)
	}
}
