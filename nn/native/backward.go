package native

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// Backward runs b forward in training mode (train) or evaluation mode and
// backpropagates dLogits, the gradient of an objective with respect to the
// N×Classes logits before the temperature (see nn.Net). Every Param's Grad
// is overwritten with the dense gradient with respect to its effective
// weight, as by Gradients.
//
// Evaluation mode needs no new layer code: batch norm's backward with
// running statistics is the per-channel affine map dx = γ·invstd·dy (with
// dγ = Σ dy·x̂ and dβ = Σ dy as in training), and dropout's is the identity;
// both layers already branch on the mode of their last forward. In
// training mode the dropout stream is reseeded from (DropoutSeed, steps
// taken), so Backward right after Gradients at the same step sees the same
// dropout masks. dLogits is copied into the net's own buffer first, so the
// caller's slice is never written; nothing is allocated.
func (n *Net) Backward(b nn.Batch, train bool, dLogits []float32) error {
	if b.N < 1 || b.N > n.cfg.MaxBatch {
		return fmt.Errorf("native: backward on model %s: batch of %d examples, want 1 to %d (the net's MaxBatch)", n.arch.Name, b.N, n.cfg.MaxBatch)
	}
	if len(b.X) < b.N*n.inSize {
		return fmt.Errorf("native: backward on model %s: X has %d values, want %d (%d examples of %v)", n.arch.Name, len(b.X), b.N*n.inSize, b.N, n.arch.Input)
	}
	if len(dLogits) < b.N*n.classes {
		return fmt.Errorf("native: backward on model %s: dLogits has %d entries, want %d (%d examples × %d classes)", n.arch.Name, len(dLogits), b.N*n.classes, b.N, n.classes)
	}
	n.forward(b, train)
	dl := n.dlogits[:b.N*n.classes]
	copy(dl, dLogits)
	n.backprop(dl, b.N)
	return nil
}

// backprop runs the layers' backward passes from the gradient g of the
// logits of the last forward of n examples.
func (n *Net) backprop(g []float32, batch int) {
	n.clearArrayGrads()
	for i := len(n.layers) - 1; i >= 0; i-- {
		// The leading layers need no input gradient (buildLayers): the
		// first one with parameters returns nil and the rest have no work.
		if g = n.layers[i].backward(g, batch); g == nil {
			break
		}
	}
}
