//go:build torch && !pbshim_loop

package torch

import (
	"testing"

	"github.com/sugarme/gotch/pbshim"
)

// TestShimNative checks that, without the pbshim_loop tag, the shim steps
// with libtorch's _foreach_* ops wherever the libtorch it was compiled
// against has them (1.7 on), so that a GPU timing never measures the
// one-op-per-tensor path by mistake. gpu_check.sh runs it on the GPU.
func TestShimNative(t *testing.T) {
	v := pbshim.TorchVersion()
	t.Logf("shim compiled against libtorch %d.%d, _foreach_* ops: %v", v/100, v%100, pbshim.Native())
	if v < 107 {
		t.Skipf("libtorch %d.%d has no _foreach_* ops", v/100, v%100)
	}
	if !pbshim.Native() {
		t.Fatalf("libtorch %d.%d has _foreach_* ops, but the shim steps one op per tensor", v/100, v%100)
	}
}
