package native

import (
	"fmt"
	"math"
	"slices"

	"github.com/prunebench/prunebench/nn"
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
// and costs nothing for the pruned entries: on LeNet-300-100's 266,200
// weights at density 0.2 the Adam update takes about a fifth of the time of
// the multiply-by-m loop (BenchmarkOptimizer). The one thing it relies on is
// that nobody writes non-zero values into pruned entries through the live
// Values slice, which Param.Values documents.
//
// The loops over every entry run at the limit of scalar code: the SGD ones
// are bound by memory traffic (about 0.6 ns per entry on 266,200 entries;
// unrolling by four measured no gain), Adam's by the throughput of the
// square root and the division (about 2.4 ns per entry).

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
	lr         float32
	stepSize   float32 // adam: lr / (1 − β1ᵗ)
	invSqrtBc2 float32 // adam: 1 / sqrt(1 − β2ᵗ)
	decay      float32 // adam: 1 − lr·wd for adamw, 1 for adam
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
	o.stepSize = float32(lr / bc1)
	o.invSqrtBc2 = float32(1 / math.Sqrt(bc2))
	o.decay = 1
	if o.adamw {
		o.decay = float32(1 - lr*o.spec.WeightDecay)
	}
}

// update applies the step prepared by prepare to one tensor, with its mask.
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
	switch o.kind {
	case optSGD:
		switch mode {
		case 0:
			sgdDense(th, g, o.lr, o.wd)
		case 1:
			sgdMasked(th, g, m, o.lr, o.wd)
		case 2:
			sgdAlive(th, g, e.alive, o.lr, o.wd)
		}
	case optSGDMomentum:
		if o.nesterov {
			switch mode {
			case 0:
				nesterovDense(th, g, e.s1, o.lr, o.wd, o.mu)
			case 1:
				nesterovMasked(th, g, m, e.s1, o.lr, o.wd, o.mu)
			case 2:
				nesterovAlive(th, g, e.s1, e.alive, o.lr, o.wd, o.mu)
			}
			return
		}
		switch mode {
		case 0:
			momentumDense(th, g, e.s1, o.lr, o.wd, o.mu)
		case 1:
			momentumMasked(th, g, m, e.s1, o.lr, o.wd, o.mu)
		case 2:
			momentumAlive(th, g, e.s1, e.alive, o.lr, o.wd, o.mu)
		}
	case optAdam:
		c := adamConsts{
			wd: o.wd, decay: o.decay,
			b1: o.beta1, c1: o.c1, b2: o.beta2, c2: o.c2,
			stepSize: o.stepSize, invSqrtBc2: o.invSqrtBc2, eps: o.eps,
		}
		switch mode {
		case 0:
			adamDense(th, g, e.s1, e.s2, &c)
		case 1:
			adamMasked(th, g, m, e.s1, e.s2, &c)
		case 2:
			adamAlive(th, g, e.s1, e.s2, e.alive, &c)
		}
	}
}

// The loops. Those over every entry reslice their operands to len(th) so
// that the compiler drops the bounds checks inside; those over alive indices
// keep them (the indices are data), which costs a predictable compare per
// access.

func sgdDense(th, g []float32, lr, wd float32) {
	g = g[:len(th)]
	for i, p := range th {
		th[i] = p - lr*(g[i]+wd*p)
	}
}

func sgdMasked(th, g, m []float32, lr, wd float32) {
	g, m = g[:len(th)], m[:len(th)]
	for i, p := range th {
		th[i] = p - lr*(g[i]*m[i]+wd*p)
	}
}

func sgdAlive(th, g []float32, alive []int32, lr, wd float32) {
	for _, i := range alive {
		p := th[i]
		th[i] = p - lr*(g[i]+wd*p)
	}
}

func momentumDense(th, g, v []float32, lr, wd, mu float32) {
	g, v = g[:len(th)], v[:len(th)]
	for i, p := range th {
		b := mu*v[i] + (g[i] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func momentumMasked(th, g, m, v []float32, lr, wd, mu float32) {
	g, m, v = g[:len(th)], m[:len(th)], v[:len(th)]
	for i, p := range th {
		b := mu*v[i] + (g[i]*m[i] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func momentumAlive(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	for _, i := range alive {
		p := th[i]
		b := mu*v[i] + (g[i] + wd*p)
		v[i] = b
		th[i] = p - lr*b
	}
}

func nesterovDense(th, g, v []float32, lr, wd, mu float32) {
	g, v = g[:len(th)], v[:len(th)]
	for i, p := range th {
		gi := g[i] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

func nesterovMasked(th, g, m, v []float32, lr, wd, mu float32) {
	g, m, v = g[:len(th)], m[:len(th)], v[:len(th)]
	for i, p := range th {
		gi := g[i]*m[i] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

func nesterovAlive(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	for _, i := range alive {
		p := th[i]
		gi := g[i] + wd*p
		b := mu*v[i] + gi
		v[i] = b
		th[i] = p - lr*(gi+mu*b)
	}
}

// adamConsts are the per-step constants of an Adam or AdamW update.
type adamConsts struct {
	wd, decay            float32 // coupled weight decay (adam), θ factor (adamw)
	b1, c1, b2, c2       float32 // β1, 1−β1, β2, 1−β2
	stepSize, invSqrtBc2 float32
	eps                  float32
}

func adamDense(th, g, s1, s2 []float32, c *adamConsts) {
	wd, decay, b1, c1, b2, c2 := c.wd, c.decay, c.b1, c.c1, c.b2, c.c2
	step, isb, eps := c.stepSize, c.invSqrtBc2, c.eps
	g, s1, s2 = g[:len(th)], s1[:len(th)], s2[:len(th)]
	for i, p := range th {
		gi := g[i] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

func adamMasked(th, g, m, s1, s2 []float32, c *adamConsts) {
	wd, decay, b1, c1, b2, c2 := c.wd, c.decay, c.b1, c.c1, c.b2, c.c2
	step, isb, eps := c.stepSize, c.invSqrtBc2, c.eps
	g, m, s1, s2 = g[:len(th)], m[:len(th)], s1[:len(th)], s2[:len(th)]
	for i, p := range th {
		gi := g[i]*m[i] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

func adamAlive(th, g, s1, s2 []float32, alive []int32, c *adamConsts) {
	wd, decay, b1, c1, b2, c2 := c.wd, c.decay, c.b1, c.c1, c.b2, c.c2
	step, isb, eps := c.stepSize, c.invSqrtBc2, c.eps
	for _, i := range alive {
		p := th[i]
		gi := g[i] + wd*p
		a := b1*s1[i] + c1*gi
		s := b2*s2[i] + c2*(gi*gi)
		s1[i], s2[i] = a, s
		th[i] = p*decay - step*a/(sqrt32(s)*isb+eps)
	}
}

// sqrt32 is a float32 square root; the compiler turns the conversions
// around math.Sqrt into one SQRTSS.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
