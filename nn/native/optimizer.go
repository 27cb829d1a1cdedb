package native

import (
	"fmt"
	"math"
	"slices"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/optkernel"
)

// The optimizers follow nn.Optimizer's update rules (PyTorch's torch.optim
// semantics, no dampening, Adam's bias correction with t = 1 at the first
// step):
//
//	sgd:   g ← g + wd·θ; v ← μ·v + g; θ ← θ − lr·(nesterov ? g + μ·v : v)
//	adam:  g ← g + wd·θ; m ← β1·m + (1−β1)·g; s ← β2·s + (1−β2)·g²;
//	       θ ← θ − (lr/(1−β1ᵗ))·m / (sqrt(s)/sqrt(1−β2ᵗ) + ε)
//	adamw: θ ← θ·(1 − lr·wd), then the adam update without the wd term
//
// Weight decay applies to every parameter, biases and norm parameters
// included, as with a single torch.optim parameter group (a per-kind
// exclusion may come later).
//
// Arithmetic is float32 per element; the per-step constants (lr, 1−β, the
// bias corrections, 1 − lr·wd) are computed in float64 and rounded once.
//
// Mask enforcement is fused into the update: each tensor is visited by one
// loop per step, chosen per (optimizer, mask pattern), and the gradient
// buffers are only read, so Param.Grad keeps the dense gradient:
//
//	dense, ZeroBeforeForward (P2): every entry, with the dense gradient g.
//	MaskedForward (P1):            every entry, with g ⊙ m (the gradient
//	                               with respect to θ through W = θ ⊙ m); θ
//	                               and the state are not masked, so pruned
//	                               entries decay and carry momentum.
//	ZeroAfterStep (P3):            the alive entries only, through an index
//	                               list built when the mask is set.
//
// The P3 loop is "update with g ⊙ m, then multiply θ and every state buffer
// by m" with the pruned half left out: at a pruned position θ and the state
// are zero on entry (SetParametrization zeroes them, SetValues and SetState
// apply the mask), so the masked update would compute exactly zero there
// for every optimizer here (g ⊙ m = 0, wd·θ = 0, μ·v = 0, Adam's m and s
// stay 0 and its step is 0/(0+ε) = 0). Skipping them gives the same values
// and costs nothing for the pruned entries. The one thing it relies on is
// that nobody writes non-zero values into pruned entries through the live
// Values slice, which Param.Values documents.
//
// The loops themselves are in internal/optkernel: over every entry, AVX2/FMA
// assembly 8 entries at a time where the CPU has it (the fused
// multiply-adds round once where the Go loops round twice, so the bits
// differ from the Go fallback's in the last places, deterministically), the
// Go loops elsewhere and with -tags noasm; over an alive list, Go (gathers
// measured no faster). On LeNet-300-100's 235,200-entry first weight the
// assembly takes dense Adam from about 3.3 to 0.4 ns per entry and SGD with
// momentum from 0.9 to 0.2 ns (internal/optkernel's BenchmarkKernels,
// 2026-12-06). The alive loop costs about 3.5 ns per alive Adam entry, so it
// beats the assembly over every entry only below a density of about 0.15;
// at LeNet-300-100's density 0.2 a P3 Adam step (BenchmarkOptimizer) takes
// somewhat longer than a dense one. Running the masked kernel over every
// entry above that density would give the same values for finite gradients,
// but would write NaN into pruned entries where the dense gradient there is
// not finite, so P3 keeps the alive loop.

type optKind int

const (
	optSGD         optKind = iota // no momentum: no state
	optSGDMomentum                // one buffer: "momentum"
	optAdam                       // two buffers: "exp_avg", "exp_avg_sq" (adam and adamw)
)

// optimizer is an installed optimizer: its hyperparameters in float32 and
// the constants of the current step.
type optimizer struct {
	spec     nn.Optimizer
	kind     optKind
	nesterov bool
	adamw    bool

	mu, wd            float32 // wd is the coupled (L2) weight decay; 0 for adamw
	beta1, beta2, eps float32
	// 1−β1 and 1−β2, computed in float64 and rounded once (as PyTorch
	// does with Python floats): 1 − float32(0.999) would be off by 1.3e-5
	// relative.
	c1, c2 float32

	// Per step (prepare).
	lr   float32
	adam optkernel.AdamConsts // adam: the constants of the step (wd, β, stepSize = lr/(1−β1ᵗ), ...)
}

// slotNames returns the State slot names of the optimizer's buffers s1, s2.
func (o *optimizer) slotNames() []string {
	switch o.kind {
	case optSGDMomentum:
		return []string{"momentum"}
	case optAdam:
		return []string{"exp_avg", "exp_avg_sq"}
	}
	return nil
}

// SetOptimizer installs o with fresh state: the momentum and moment buffers
// are allocated zero (SGD without momentum keeps none), for every parameter
// but the shared ones and for every shared array, and the step counter
// restarts at 0, as with a new torch.optim optimizer (Adam's bias correction
// and the dropout stream restart with it). To resume, call SetOptimizer with
// the optimizer the State was saved with, then SetState.
func (n *Net) SetOptimizer(o nn.Optimizer) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("native: optimizer: %w", err)
	}
	opt := &optimizer{spec: o, nesterov: o.Nesterov}
	switch o.Name {
	case "sgd":
		opt.kind = optSGD
		if o.Momentum > 0 {
			opt.kind = optSGDMomentum
		}
		opt.mu, opt.wd = float32(o.Momentum), float32(o.WeightDecay)
	case "adam", "adamw":
		opt.kind = optAdam
		opt.adamw = o.Name == "adamw"
		if !opt.adamw {
			opt.wd = float32(o.WeightDecay)
		}
		opt.beta1, opt.beta2, opt.eps = float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
		opt.c1, opt.c2 = float32(1-o.Beta1), float32(1-o.Beta2)
	}
	nslots := len(opt.slotNames())
	entries := slices.Clip(n.entries) // the first append copies
	for _, a := range n.arrayList {
		entries = append(entries, a.e)
	}
	for _, e := range entries {
		e.s1, e.s2 = nil, nil
		if e.p.sh != nil {
			continue // a shared tensor's state is its array's
		}
		size := len(e.p.value)
		if nslots >= 1 {
			e.s1 = make([]float32, size)
		}
		if nslots >= 2 {
			e.s2 = make([]float32, size)
		}
	}
	n.opt = opt
	n.step = 0
	return nil
}

// prepare computes the constants of step t (t ≥ 1) at learning rate lr.
func (o *optimizer) prepare(lr float64, t int64) {
	o.lr = float32(lr)
	if o.kind != optAdam {
		return
	}
	bc1 := 1 - math.Pow(o.spec.Beta1, float64(t))
	bc2 := 1 - math.Pow(o.spec.Beta2, float64(t))
	decay := float32(1)
	if o.adamw {
		decay = float32(1 - lr*o.spec.WeightDecay)
	}
	o.adam = optkernel.AdamConsts{
		WD: o.wd, Decay: decay,
		B1: o.beta1, C1: o.c1, B2: o.beta2, C2: o.c2,
		StepSize: float32(lr / bc1), InvSqrtBc2: float32(1 / math.Sqrt(bc2)), Eps: o.eps,
	}
}

// update applies the step prepared by prepare to one tensor, with its mask,
// through the kernels of internal/optkernel.
func (o *optimizer) update(e *entry) {
	th, g, m := e.p.value, e.p.grad, e.mask
	// 0: every entry with the dense gradient; 1: every entry with the
	// masked gradient (P1); 2: the alive entries (P3).
	mode := 0
	if m != nil {
		switch e.pattern {
		case nn.MaskedForward:
			mode = 1
		case nn.ZeroAfterStep:
			mode = 2
		}
	}
	if mode == 0 {
		m = nil // the kernels take a nil mask for the dense gradient
	}
	if mode == 2 && e.p.scatter {
		o.updateKept(e)
		return
	}
	e.p.scatterKept()
	switch o.kind {
	case optSGD:
		if mode == 2 {
			optkernel.SGDAlive(th, g, e.alive, o.lr, o.wd)
			return
		}
		optkernel.SGD(th, g, m, o.lr, o.wd)
	case optSGDMomentum:
		switch {
		case mode == 2 && o.nesterov:
			optkernel.NesterovAlive(th, g, e.s1, e.alive, o.lr, o.wd, o.mu)
		case mode == 2:
			optkernel.MomentumAlive(th, g, e.s1, e.alive, o.lr, o.wd, o.mu)
		case o.nesterov:
			optkernel.Nesterov(th, g, m, e.s1, o.lr, o.wd, o.mu)
		default:
			optkernel.Momentum(th, g, m, e.s1, o.lr, o.wd, o.mu)
		}
	case optAdam:
		if mode == 2 {
			optkernel.AdamAlive(th, g, e.s1, e.s2, e.alive, &o.adam)
			return
		}
		optkernel.Adam(th, g, m, e.s1, e.s2, &o.adam)
	}
}

// updateKept is the P3 update of a weight whose last backward ran the
// sparse kernels: the kept entries are the alive ones, and their gradient
// is read where the backward left it, compact in the index's order
// (sp.grad, entry sp.csrPos[j]), rather than scattered into the dense
// gradient and read back at random positions. The values are the alive
// loop's, bit for bit.
func (o *optimizer) updateKept(e *entry) {
	th, sp := e.p.value, e.p.sp
	gk, pos := sp.grad, sp.csrPos
	switch o.kind {
	case optSGD:
		optkernel.SGDKept(th, gk, pos, o.lr, o.wd)
	case optSGDMomentum:
		if o.nesterov {
			optkernel.NesterovKept(th, gk, e.s1, pos, o.lr, o.wd, o.mu)
		} else {
			optkernel.MomentumKept(th, gk, e.s1, pos, o.lr, o.wd, o.mu)
		}
	case optAdam:
		optkernel.AdamKept(th, gk, e.s1, e.s2, pos, &o.adam)
	}
}
