//go:build torch && pbshim_loop

package torch

import (
	"testing"

	"github.com/sugarme/gotch/pbshim"
)

// TestShimLoop checks that the pbshim_loop tag reached the C++ side, so that
// the conformance and cross-engine suites run with it really test the
// shim's one-op-per-tensor path.
func TestShimLoop(t *testing.T) {
	if pbshim.Native() {
		t.Fatal("built with pbshim_loop, the shim still reports _foreach_* ops (pbshim.Native)")
	}
}
