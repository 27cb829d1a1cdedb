package native_test

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/nntest"
)

// TestConformance runs the engine conformance suite on the native engine.
func TestConformance(t *testing.T) { nntest.TestBackend(t, native.Backend{}) }

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
