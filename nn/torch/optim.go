//go:build torch

package torch

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/nn"
)

// The optimizers are nn.Optimizer's update rules (PyTorch's torch.optim
// without dampening) written as libtorch tensor ops under no-grad, so that
// mask enforcement fuses into them and the state stays readable by State.
// torch::optim is not used: its state is not reachable through gotch, and
// the masked gradient of MaskedForward and ZeroAfterStep would need a
// second copy of every gradient anyway.
//
// The gradient an update uses is the leaf's dense gradient g for a dense
// tensor and under ZeroBeforeForward, and g ⊙ m under MaskedForward (the
// gradient with respect to θ through W = θ ⊙ m) and ZeroAfterStep. Under
// ZeroAfterStep θ is multiplied by m after the update; the optimizer state
// needs no masking there: it is zero at pruned positions on entry
// (SetParametrization and SetState zero it) and the masked update keeps it
// zero for every rule here (g ⊙ m = 0, wd·θ = 0, μ·v = 0, and Adam's
// moments stay 0), as the native engine relies on too.
type optimizer struct {
	spec  nn.Optimizer
	slots []string
	// oneMinusBeta1 is Adam's 1−β1 as a one-element tensor (owned by the
	// net's store), for m ← m·β1 + g·(1−β1) as mul_ and addcmul_ (see adam).
	oneMinusBeta1 ct
}

// SetOptimizer installs o with fresh (zero) state and restarts the step
// counter, as a new torch.optim optimizer would (Adam's bias correction and
// the dropout stream restart with it). To resume, call SetOptimizer with
// the optimizer the State was saved with, then SetState.
func (n *Net) SetOptimizer(o nn.Optimizer) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("torch: optimizer: %w", err)
	}
	opt := &optimizer{spec: o}
	switch {
	case o.Name == "sgd" && o.Momentum > 0:
		opt.slots = []string{"momentum"}
	case o.Name == "adam" || o.Name == "adamw":
		opt.slots = []string{"exp_avg", "exp_avg_sq"}
	}
	err := n.runErr(func(s *scope) {
		owners := n.optimized()
		news := make([][2]ct, len(owners))
		for i, e := range owners {
			for k := range opt.slots {
				news[i][k] = s.zeros(e.shape...)
				s.own(news[i][k])
			}
		}
		var consts []ct
		if o.Name == "adam" || o.Name == "adamw" {
			opt.oneMinusBeta1 = s.upload([]float32{float32(1 - o.Beta1)}, 1)
			s.own(opt.oneMinusBeta1)
			consts = append(consts, opt.oneMinusBeta1)
		}
		if s.err != nil {
			for _, nw := range news {
				free(nw[0], nw[1])
			}
			free(consts...)
			return
		}
		for i, e := range owners {
			free(e.s1, e.s2)
			e.s1, e.s2 = news[i][0], news[i][1]
		}
		free(n.st.consts...)
		n.st.consts = consts
	})
	if err != nil {
		return err
	}
	n.opt, n.step = opt, 0
	return nil
}

// optimized lists what the optimizer steps: the unshared parameters' entries
// and the shared arrays'.
func (n *Net) optimized() []*entry {
	var es []*entry
	for _, e := range n.st.entries {
		if e.sh == nil {
			es = append(es, e)
		}
	}
	for _, a := range n.st.arrayList {
		es = append(es, &a.e)
	}
	return es
}

// Step applies one optimizer update with learning rate lr to every
// parameter, fused with mask enforcement. It panics if no optimizer was
// installed.
func (n *Net) Step(lr float64) {
	if n.opt == nil {
		panic("torch: Step before SetOptimizer")
	}
	n.step++
	o := n.opt.spec
	n.run(func(s *scope) {
		s.noGrad(func() {
			for _, e := range n.st.entries {
				if e.sh != nil {
					continue // its array is stepped below
				}
				g := e.grad
				if g == nil {
					g = s.zeros(e.shape...)
				}
				if e.masked(nn.MaskedForward) || e.masked(nn.ZeroAfterStep) {
					g = s.mul(g, e.mask)
				}
				switch o.Name {
				case "sgd":
					sgd(s, e, g, o, lr)
				default:
					adam(s, e, g, n.opt, lr, n.step)
				}
				if e.masked(nn.ZeroAfterStep) {
					s.mul_(e.theta, e.mask)
				}
			}
			n.stepArrays(s, lr)
		})
	})
}

// sgd: g ← g + wd·θ; v ← μ·v + g; θ ← θ − lr·(nesterov ? g + μ·v : v).
func sgd(s *scope, e *entry, g ct, o nn.Optimizer, lr float64) {
	if o.WeightDecay != 0 {
		g = s.add(g, s.mulScalar(e.theta, o.WeightDecay))
	}
	d := g
	if o.Momentum > 0 {
		s.mulScalar_(e.s1, o.Momentum)
		s.add_(e.s1, g)
		d = e.s1
		if o.Nesterov {
			d = s.add(g, s.mulScalar(e.s1, o.Momentum))
		}
	}
	s.sub_(e.theta, s.mulScalar(d, lr))
}

// adam: g ← g + wd·θ (adam) or θ ← θ·(1 − lr·wd) (adamw);
// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// θ ← θ − (lr/(1−β1ᵗ))·m / (sqrt(v)/sqrt(1−β2ᵗ) + ε).
//
// In fused in-place ops, as torch.optim does it (one temporary for g² and
// one for the denominator): m with mul_ and addcmul_ by the one-element
// tensor 1−β1 (libtch's add_ and addcmul_ have no alpha or value argument),
// v with addcmul_, and θ with addcdiv_ by a denominator that carries −1/step
// size. A first version with one op per term cost 2× PyTorch's Adam on
// LeNet-300-100. m was lerp_ toward g, one op, but libtorch 1.13's lerp_
// with a scalar weight is not vectorized: 230 µs on a 300×784 tensor against
// 20 µs for mul_ and 27 µs for addcmul_, 12% of a LeNet-300-100 step.
func adam(s *scope, e *entry, g ct, opt *optimizer, lr float64, t int64) {
	o := opt.spec
	if o.WeightDecay != 0 {
		if o.Name == "adamw" {
			s.mulScalar_(e.theta, 1-lr*o.WeightDecay)
		} else {
			g = s.add(g, s.mulScalar(e.theta, o.WeightDecay))
		}
	}
	s.mulScalar_(e.s1, o.Beta1)
	s.addcmul_(e.s1, g, opt.oneMinusBeta1)
	s.mulScalar_(e.s2, o.Beta2)
	s.addcmul_(e.s2, g, s.mulScalar(g, 1-o.Beta2))
	bc1 := 1 - math.Pow(o.Beta1, float64(t))
	bc2 := 1 - math.Pow(o.Beta2, float64(t))
	step := lr / bc1
	// denom = −(sqrt(v)/sqrt(bc2) + ε)/step, so θ + m/denom is the update,
	// as sqrt(v)·(−1/(sqrt(bc2)·step)) − ε/step: two passes over the
	// temporary instead of three.
	denom := s.sqrt(e.s2)
	s.mulScalar_(denom, -1/(math.Sqrt(bc2)*step))
	s.addScalar_(denom, -o.Eps/step)
	s.addcdiv_(e.theta, e.s1, denom)
}
