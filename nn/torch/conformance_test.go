//go:build torch

package torch_test

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/torch"
)

// TestConformance runs the engine conformance suite on the torch engine.
func TestConformance(t *testing.T) { nntest.TestBackend(t, torch.Backend{}) }

// TestRegistered checks that importing the package registers the engine.
func TestRegistered(t *testing.T) {
	b, err := nn.GetBackend("torch")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "torch" {
		t.Errorf("backend %q registered as torch", b.Name())
	}
}

// TestBadSettings checks that a bad device or thread count is an error at
// Build, naming the setting.
func TestBadSettings(t *testing.T) {
	cfg := nn.Config{Arch: nntest.MLP(), MaxBatch: 4}
	for _, b := range []torch.Backend{{Device: "tpu"}, {Device: "cuda:x"}} {
		if _, err := b.Build(cfg); err == nil {
			t.Errorf("Build with device %q: no error", b.Device)
		}
	}
	t.Setenv("PRUNEBENCH_TORCH_THREADS", "0")
	if _, err := (torch.Backend{}).Build(cfg); err == nil {
		t.Errorf("Build with PRUNEBENCH_TORCH_THREADS=0: no error")
	}
}
