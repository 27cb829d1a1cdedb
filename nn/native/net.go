package native

import (
	"fmt"
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn"
)

// Net is a network built by the native engine. It implements nn.Net.
//
// A Net is not safe for concurrent use: one training run is one goroutine
// (ARCHITECTURE.md#engineering-conventions). Gradients followed by Step
// allocates nothing.
//
// Mask enforcement (docs/methods/conventions.md#mask-enforcement), per
// Masked tensor:
//
//   - ZeroAfterStep (P3): θ and the optimizer state are zero at pruned
//     positions from SetParametrization on; Step updates the alive entries
//     only, which is the update with the masked gradient g ⊙ m followed by
//     θ ← θ ⊙ m and state ← state ⊙ m, without the work on entries that are
//     zero (optimizer.go). Param.Grad keeps the dense gradient.
//     Param.SetValues and SetState apply the mask to what they write; writes
//     through the live Values slice must keep pruned entries zero.
//   - MaskedForward (P1): every forward (training and evaluation) reads
//     W = θ ⊙ m from a separate buffer; θ is never masked and Step updates it
//     with g ⊙ m, the gradient with respect to θ, plus weight decay and
//     momentum on every entry.
//   - ZeroBeforeForward (P2): every forward (training and evaluation, as
//     open_lth's PrunedModel.forward) first sets θ ← θ ⊙ m; Step updates θ
//     with the dense gradient. State saves θ ⊙ m.
type Net struct {
	arch *nn.Arch
	cfg  nn.Config

	layers  []layer
	ws      *workspace
	pcg     *rand.PCG // the dropout layers' source, reseeded before each training forward
	temp    float32
	classes int

	inSize   int       // entries per example
	channels int       // channels of an image input; 0 for vectors
	input    []float32 // CNHW copy of an image batch (nil for vectors)
	dlogits  []float32

	entries []*entry // canonical order
	params  []nn.Param
	byName  map[string]*entry
	buffers []buffer

	// maskedForward and zeroBefore list the entries whose mask is applied
	// before each forward (P1 and P2).
	maskedForward []*entry
	zeroBefore    []*entry

	opt  *optimizer // nil until SetOptimizer
	step int64      // optimizer steps taken since SetOptimizer

	// sparse is when masked layers take the sparse path (sparse.go).
	sparse SparseMode

	// arrays are the shared arrays by name, arrayList the same sorted by
	// name (the order of Step and State), scr the shared kernels' block
	// buffers (shared.go); all empty until a Shared parametrization is set.
	arrays    map[string]*sharedArray
	arrayList []*sharedArray
	scr       *sharedScratch
}

// entry is the net's record of one parameter: the layer's param, its
// parametrization and its optimizer state.
type entry struct {
	p     *param
	info  nn.ParamInfo
	index int

	// mask is nil for a dense parameter.
	mask    []float32
	pattern nn.MaskPattern
	// scores and keep are a Scored parametrization's (nil: not scored); its
	// mask is in mask, under MaskedForward.
	scores []float32
	keep   int
	// alive lists the kept indices under ZeroAfterStep, the entries Step
	// updates (the pruned ones are zero and stay zero).
	alive []int32

	// s1 and s2 are the optimizer state: SGD's momentum in s1; Adam's
	// exp_avg in s1 and exp_avg_sq in s2. nil when the optimizer keeps none.
	s1, s2 []float32
}

// netParam is the nn.Param of an entry: Values and Grad are the live slices.
type netParam struct{ e *entry }

func (p *netParam) Info() nn.ParamInfo { return p.e.info }

// Values returns θ itself; writes through it change the network. Under
// ZeroAfterStep, write with SetValues (which applies the mask) or keep the
// pruned entries zero. A shared tensor has no θ: Values returns a new slice
// holding its effective weight W (nn/shared.go).
func (p *netParam) Values() []float32 {
	if sh := p.e.p.sh; sh != nil {
		return sh.weights()
	}
	return p.e.p.value
}

// SetValues copies src into θ. Under ZeroAfterStep the mask is applied, so
// the pruned entries stay zero. It panics if src has the wrong length.
func (p *netParam) SetValues(src []float32) {
	e := p.e
	if sh := e.p.sh; sh != nil {
		panic(fmt.Sprintf("native: SetValues on %s: the tensor is shared (W = λ·g ⊙ z[h]) and has no θ; initialize before sharing, or write the array with SharedArray(%q).SetValues", e.info.Name, sh.arr.e.info.Name))
	}
	if len(src) != len(e.p.value) {
		panic(fmt.Sprintf("native: SetValues on %s: %d values, want %d", e.info.Name, len(src), len(e.p.value)))
	}
	copy(e.p.value, src)
	if e.mask != nil && e.pattern == nn.ZeroAfterStep {
		mulMask(e.p.value, e.mask)
	}
}

// Grad returns the dense gradient of the last Gradients call with respect to
// the effective weight, pruned positions included (live slice); nil for a
// shared tensor, whose gradient is the array's.
func (p *netParam) Grad() []float32 {
	p.e.p.completeGrad()
	return p.e.p.grad
}

// completeGrad computes the dense gradient a sparse backward left out, if
// it did (sparse.go): all of it while the layer's saved input allows,
// else the kept entries.
func (p *param) completeGrad() {
	if f := p.pending; f != nil {
		p.pending = nil
		p.scatter = false
		f()
		return
	}
	p.scatterKept()
}

// scatterKept writes the kept entries' gradient of a sparse backward into
// the dense gradient, if it is not there yet.
func (p *param) scatterKept() {
	if p.scatter {
		p.scatter = false
		p.sp.scatterGrad(p.grad)
	}
}

// Arch returns the architecture the net was built from.
func (n *Net) Arch() *nn.Arch { return n.arch }

// Params returns the parameters in canonical order. The slice is a copy;
// the Params are the net's own.
func (n *Net) Params() []nn.Param {
	return append([]nn.Param(nil), n.params...)
}

// Param returns the parameter with the given name, or nil.
func (n *Net) Param(name string) nn.Param {
	e, ok := n.byName[name]
	if !ok {
		return nil
	}
	return n.params[e.index]
}

// checkBatch returns an error when b does not fit the net: N outside
// [1, MaxBatch], X or Y too short, or a label outside [0, Classes).
func (n *Net) checkBatch(op string, b nn.Batch) error {
	if b.N < 1 || b.N > n.cfg.MaxBatch {
		return fmt.Errorf("native: %s on model %s: batch of %d examples, want 1 to %d (the net's MaxBatch)", op, n.arch.Name, b.N, n.cfg.MaxBatch)
	}
	if len(b.X) < b.N*n.inSize {
		return fmt.Errorf("native: %s on model %s: X has %d values, want %d (%d examples of %v)", op, n.arch.Name, len(b.X), b.N*n.inSize, b.N, n.arch.Input)
	}
	if len(b.Y) < b.N {
		return fmt.Errorf("native: %s on model %s: Y has %d labels, want %d", op, n.arch.Name, len(b.Y), b.N)
	}
	for i, y := range b.Y[:b.N] {
		if y < 0 || int(y) >= n.classes {
			return fmt.Errorf("native: %s on model %s: label %d of example %d, want 0 to %d", op, n.arch.Name, y, i, n.classes-1)
		}
	}
	return nil
}

// forward applies the P2 and P1 masks, converts the input and runs the
// layers. It returns the logits (a view of the last layer's output).
func (n *Net) forward(b nn.Batch, train bool) []float32 {
	for _, e := range n.entries {
		// A sparse backward's dense weight gradient is computed from the
		// layer's saved input, which this forward overwrites: compute it
		// now if it may still be asked for (an evaluation between
		// Gradients and the next one), or drop it (a new Gradients call).
		if e.p.pending != nil {
			if train {
				e.p.pending = nil
			} else {
				e.p.completeGrad()
			}
		}
	}
	for _, e := range n.zeroBefore {
		mulMask(e.p.value, e.mask)
	}
	for _, e := range n.maskedForward {
		if e.p.sp == nil { // the sparse path reads θ at kept entries, which is W there
			mulMaskTo(e.p.w, e.p.value, e.mask)
		}
	}
	x := b.X[:b.N*n.inSize]
	if n.input != nil {
		toCNHW(n.input, x, b.N, n.channels, n.inSize/n.channels)
		x = n.input[:b.N*n.inSize]
	}
	if train {
		nn.Reseed(n.pcg, n.cfg.DropoutSeed, uint64(n.step))
	}
	for _, l := range n.layers {
		x = l.forward(x, b.N, train)
	}
	return x[:b.N*n.classes]
}

// Gradients runs forward and backward on b in training mode and returns the
// mean loss. Afterwards every Param's Grad holds the dense gradient with
// respect to its effective weight. The dropout masks are drawn from
// (DropoutSeed, steps taken), so a resumed net draws the same ones.
func (n *Net) Gradients(b nn.Batch) (float64, error) {
	if err := n.checkBatch("gradients", b); err != nil {
		return 0, err
	}
	logits := n.forward(b, true)
	dl := n.dlogits[:b.N*n.classes]
	loss := softmaxCrossEntropy(dl, logits, b.Y, b.N, n.classes, n.temp)
	n.backprop(dl, b.N)
	return loss, nil
}

// Step applies one optimizer update with learning rate lr to every
// parameter, fused with mask enforcement (see Net and optimizer.go), and to
// every shared array after dividing its gradient by its GradDivisor
// (shared tensors have nothing to update). It
// panics if no optimizer was installed with SetOptimizer.
func (n *Net) Step(lr float64) {
	if n.opt == nil {
		panic("native: Step before SetOptimizer")
	}
	n.step++
	n.opt.prepare(lr, n.step)
	for _, e := range n.entries {
		if e.p.sh == nil {
			n.opt.update(e)
		}
	}
	n.stepArrays()
}

// Evaluate runs b in evaluation mode and returns the summed loss and the
// number of correct top-1 predictions (ties to the lower class).
func (n *Net) Evaluate(b nn.Batch) (lossSum float64, correct int, err error) {
	if err := n.checkBatch("evaluate", b); err != nil {
		return 0, 0, err
	}
	logits := n.forward(b, false)
	mean := softmaxCrossEntropy(nil, logits, b.Y, b.N, n.classes, n.temp)
	return mean * float64(b.N), correctCount(logits, b.Y, b.N, n.classes), nil
}

// Logits runs b in evaluation mode and writes the N×Classes logits (before
// the temperature) to dst. Labels are not read.
func (n *Net) Logits(dst []float32, b nn.Batch) error {
	if b.N < 1 || b.N > n.cfg.MaxBatch {
		return fmt.Errorf("native: logits on model %s: batch of %d examples, want 1 to %d (the net's MaxBatch)", n.arch.Name, b.N, n.cfg.MaxBatch)
	}
	if len(b.X) < b.N*n.inSize {
		return fmt.Errorf("native: logits on model %s: X has %d values, want %d (%d examples of %v)", n.arch.Name, len(b.X), b.N*n.inSize, b.N, n.arch.Input)
	}
	if len(dst) < b.N*n.classes {
		return fmt.Errorf("native: logits on model %s: dst has %d entries, want %d (%d examples × %d classes)", n.arch.Name, len(dst), b.N*n.classes, b.N, n.classes)
	}
	copy(dst, n.forward(b, false))
	return nil
}
