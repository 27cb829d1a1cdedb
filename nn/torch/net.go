//go:build torch

package torch

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn"
)

// Net is a network built by the torch engine. It implements nn.Net with the
// semantics of the native engine (nn/native.Net documents the mask
// patterns); θ, buffers, masks and optimizer state live in libtorch tensors
// on the net's device, and the host sees copies.
//
// A Net is not safe for concurrent use. Every libtorch call of a net runs
// on the net's worker, one OS thread that holds the net's intra-op thread
// count (worker.go): libtorch's thread count, error slot and autograd mode
// are all per OS thread. Nets used from different goroutines run in
// parallel, each on its own worker. A Net has no Close: when it becomes
// garbage, a cleanup frees its tensors and ends its worker.
type Net struct {
	arch    *nn.Arch
	cfg     nn.Config
	dev     int
	temp    float64
	inSize  int
	classes int

	layers []layer
	st     *store // entries in canonical order, buffers
	params []nn.Param
	byName map[string]*entry

	pcg  *rand.PCG // the dropout stream, reseeded from (DropoutSeed, step) before each training forward
	opt  *optimizer
	step int64

	w *worker // runs every libtorch call of the net
}

// runErr calls f in a fresh scope on the net's worker thread, frees the
// scope's temporaries afterwards and returns the scope's error.
func (n *Net) runErr(f func(s *scope)) error { return n.w.run(f) }

// run is runErr for methods that cannot return an error (Param accessors,
// Step): a libtorch failure there is an engine bug or an exhausted device,
// and it panics.
func (n *Net) run(f func(s *scope)) {
	if err := n.runErr(f); err != nil {
		panic(fmt.Sprintf("torch: model %s: %v", n.arch.Name, err))
	}
}

// Arch returns the architecture the net was built from.
func (n *Net) Arch() *nn.Arch { return n.arch }

// Params returns the parameters in canonical order (a new slice).
func (n *Net) Params() []nn.Param { return append([]nn.Param(nil), n.params...) }

// Param returns the parameter with the given name, or nil.
func (n *Net) Param(name string) nn.Param {
	e, ok := n.byName[name]
	if !ok {
		return nil
	}
	return param{n: n, e: e}
}

// checkBatch returns an error when b does not fit the net: N outside
// [1, MaxBatch], X too short, or (with labels) Y too short or a label
// outside [0, Classes).
func (n *Net) checkBatch(op string, b nn.Batch, labels bool) error {
	if b.N < 1 || b.N > n.cfg.MaxBatch {
		return fmt.Errorf("torch: %s on model %s: batch of %d examples, want 1 to %d (the net's MaxBatch)", op, n.arch.Name, b.N, n.cfg.MaxBatch)
	}
	if len(b.X) < b.N*n.inSize {
		return fmt.Errorf("torch: %s on model %s: X has %d values, want %d (%d examples of %v)", op, n.arch.Name, len(b.X), b.N*n.inSize, b.N, n.arch.Input)
	}
	if !labels {
		return nil
	}
	if len(b.Y) < b.N {
		return fmt.Errorf("torch: %s on model %s: Y has %d labels, want %d", op, n.arch.Name, len(b.Y), b.N)
	}
	for i, y := range b.Y[:b.N] {
		if y < 0 || int(y) >= n.classes {
			return fmt.Errorf("torch: %s on model %s: label %d of example %d, want 0 to %d", op, n.arch.Name, y, i, n.classes-1)
		}
	}
	return nil
}

// forward applies the ZeroBeforeForward and MaskedForward masks, uploads
// the batch and runs the layers, returning the N×Classes logits.
func (n *Net) forward(s *scope, b nn.Batch, train bool) ct {
	s.noGrad(func() {
		for _, e := range n.st.entries {
			switch {
			case e.masked(nn.ZeroBeforeForward):
				s.mul_(e.theta, e.mask)
			case e.masked(nn.MaskedForward):
				s.copyFrom(e.w, s.mul(e.theta, e.mask))
			}
		}
	})
	n.gatherShared(s)
	if s.err != nil {
		return nil
	}
	x := s.upload(b.X[:b.N*n.inSize], shapeOf(b.N, n.arch.Input)...)
	if train {
		nn.Reseed(n.pcg, n.cfg.DropoutSeed, uint64(n.step))
	}
	return forwardAll(s, n.layers, x, b.N, train)
}

// backprop computes the gradients of the scalar root with respect to every
// leaf (the unshared parameters' and the shared arrays') and makes them their
// gradients (freeing the previous ones).
func (n *Net) backprop(s *scope, root ct) {
	var owners []*entry // the unshared entries, then the arrays' entries
	for _, e := range n.st.entries {
		if e.sh == nil {
			owners = append(owners, e)
		}
	}
	for _, a := range n.st.arrayList {
		owners = append(owners, &a.e)
	}
	leaves := make([]ct, len(owners))
	for i, e := range owners {
		leaves[i] = e.leaf()
	}
	gs := s.gradients(root, leaves)
	if s.err != nil {
		return
	}
	s.own(gs...)
	for i, e := range owners {
		free(e.grad)
		e.grad = gs[i]
	}
}

// Gradients runs forward and backward on b in training mode and returns the
// mean cross-entropy of softmax(logits/T). Afterwards every Param's Grad
// holds the dense gradient with respect to its effective weight.
func (n *Net) Gradients(b nn.Batch) (float64, error) {
	if err := n.checkBatch("gradients", b, true); err != nil {
		return 0, err
	}
	var loss [1]float32
	err := n.runErr(func(s *scope) {
		logits := n.forward(s, b, true)
		if n.temp != 1 {
			logits = s.mulScalar(logits, 1/n.temp)
		}
		l := s.nllMean(s.logSoftmax(logits), s.uploadLabels(b.Y[:b.N]))
		n.backprop(s, l)
		s.download(loss[:], l)
	})
	return float64(loss[0]), err
}

// Backward runs b forward in training or evaluation mode and backpropagates
// dLogits (see nn.Net): the objective Σ dLogits ⊙ logits has exactly that
// gradient with respect to the logits.
func (n *Net) Backward(b nn.Batch, train bool, dLogits []float32) error {
	if err := n.checkBatch("backward", b, false); err != nil {
		return err
	}
	if len(dLogits) < b.N*n.classes {
		return fmt.Errorf("torch: backward on model %s: dLogits has %d entries, want %d (%d examples × %d classes)", n.arch.Name, len(dLogits), b.N*n.classes, b.N, n.classes)
	}
	return n.runErr(func(s *scope) {
		logits := n.forward(s, b, train)
		dl := s.upload(dLogits[:b.N*n.classes], int64(b.N), int64(n.classes))
		obj := s.sum(s.mul(logits, dl))
		n.backprop(s, obj)
	})
}

// logits runs b in evaluation mode, without autograd, into dst.
func (n *Net) logits(dst []float32, b nn.Batch) error {
	return n.runErr(func(s *scope) {
		s.noGrad(func() { s.download(dst[:b.N*n.classes], n.forward(s, b, false)) })
	})
}

// Evaluate runs b in evaluation mode and returns the summed loss and the
// number of correct top-1 predictions (ties to the lower class), both
// computed on the host in float64 from the logits.
func (n *Net) Evaluate(b nn.Batch) (lossSum float64, correct int, err error) {
	if err := n.checkBatch("evaluate", b, true); err != nil {
		return 0, 0, err
	}
	z := make([]float32, b.N*n.classes)
	if err := n.logits(z, b); err != nil {
		return 0, 0, err
	}
	for i := 0; i < b.N; i++ {
		row := z[i*n.classes : (i+1)*n.classes]
		best := 0
		mx := float64(row[0]) / n.temp
		for j, v := range row {
			if v > row[best] {
				best = j
			}
			mx = math.Max(mx, float64(v)/n.temp)
		}
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v)/n.temp - mx)
		}
		lossSum += math.Log(se) - (float64(row[b.Y[i]])/n.temp - mx)
		if best == int(b.Y[i]) {
			correct++
		}
	}
	return lossSum, correct, nil
}

// Logits runs b in evaluation mode and writes the N×Classes logits (before
// the temperature) to dst. Labels are not read.
func (n *Net) Logits(dst []float32, b nn.Batch) error {
	if err := n.checkBatch("logits", b, false); err != nil {
		return err
	}
	if len(dst) < b.N*n.classes {
		return fmt.Errorf("torch: logits on model %s: dst has %d entries, want %d (%d examples × %d classes)", n.arch.Name, len(dst), b.N*n.classes, b.N, n.classes)
	}
	return n.logits(dst, b)
}
