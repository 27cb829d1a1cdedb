package native_test

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/nntest"
)

// TestConformance runs the engine conformance suite on the native engine.
func TestConformance(t *testing.T) { nntest.TestBackend(t, native.Backend{}) }

// TestConformanceSparse runs the suite with every masked layer on the
// sparse kernels, whatever its density (Sparse "on" wherever the suite
// leaves the mode to the engine): the same computation as the dense path.
func TestConformanceSparse(t *testing.T) { nntest.TestBackend(t, sparseOn{}) }

// sparseOn builds native nets with Config.Sparse "on" unless the caller
// chose a mode.
type sparseOn struct{ native.Backend }

func (b sparseOn) Build(cfg nn.Config) (nn.Net, error) {
	if cfg.Sparse == "" {
		cfg.Sparse = "on"
	}
	return b.Backend.Build(cfg)
}

// TestRegistered checks that importing the package registers the engine.
func TestRegistered(t *testing.T) {
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "native" {
		t.Errorf("backend %q registered as native", b.Name())
	}
}
