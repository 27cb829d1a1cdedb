//go:build torch

package torch

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/sugarme/gotch/pbshim"

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
	lists stepLists
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
		if s.err != nil {
			for _, nw := range news {
				free(nw[0], nw[1])
			}
			return
		}
		for i, e := range owners {
			free(e.s1, e.s2)
			e.s1, e.s2 = news[i][0], news[i][1]
		}
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
			n.divideArrayGrads(s)
			n.stepEntries(s, o, lr)
		})
	})
}

// stepEntries steps every unshared parameter and every shared array in one
// call into the C++ shim (scripts/torch/_shim), which runs nn.Optimizer's
// update rule over all of them with libtorch's _foreach_* ops, fused with
// the masks: the gradient is multiplied by the mask under MaskedForward and
// ZeroAfterStep, and θ after the update under ZeroAfterStep. One host
// crossing instead of about ten per tensor, which on a GPU is launch
// latency (see the package doc, "Host crossings").
//
// The rules, as the shim runs them (PyTorch's torch.optim without
// dampening):
//
//	sgd:   g ← g + wd·θ; v ← μ·v + g; θ ← θ − lr·(nesterov ? g + μ·v : v)
//	adam:  g ← g + wd·θ (adam) or θ ← θ·(1 − lr·wd) (adamw);
//	       m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//	       θ ← θ + m / (sqrt(v)·c1 + c2), with c1, c2 from adamDenom
//
// in fused in-place ops, as torch.optim's foreach path does it. Adam's m
// was once lerp_ toward g, one op, but libtorch 1.13's lerp_ with a scalar
// weight is not vectorized on the CPU (230 µs on a 300×784 tensor against
// 20 µs for mul_ and 27 µs for addcmul_, the op m used before the scaled
// add_ it uses now).
func (n *Net) stepEntries(s *scope, o nn.Optimizer, lr float64) {
	if s.err != nil {
		return
	}
	l := &n.opt.lists
	l.theta, l.grad, l.s1, l.s2, l.gmask, l.tmask = l.theta[:0], l.grad[:0], l.s1[:0], l.s2[:0], l.gmask[:0], l.tmask[:0]
	add := func(e *entry) {
		var gm, tm ct
		if e.masked(nn.MaskedForward) || e.masked(nn.ZeroAfterStep) {
			gm = e.mask
		}
		if e.masked(nn.ZeroAfterStep) {
			tm = e.mask
		}
		l.theta = append(l.theta, unsafe.Pointer(e.theta))
		l.grad = append(l.grad, unsafe.Pointer(e.grad))
		l.s1 = append(l.s1, unsafe.Pointer(e.s1))
		l.s2 = append(l.s2, unsafe.Pointer(e.s2))
		l.gmask = append(l.gmask, unsafe.Pointer(gm))
		l.tmask = append(l.tmask, unsafe.Pointer(tm))
	}
	for _, e := range n.st.entries {
		if e.sh == nil {
			add(e)
		}
	}
	for _, a := range n.st.arrayList {
		add(&a.e) // an array has no mask
	}
	var err error
	switch o.Name {
	case "sgd":
		err = pbshim.SGD(l.theta, l.grad, l.s1, l.gmask, l.tmask, lr, o.Momentum, o.WeightDecay, o.Nesterov)
	default:
		c1, c2 := adamDenom(o, lr, n.step)
		err = pbshim.Adam(l.theta, l.grad, l.s1, l.s2, l.gmask, l.tmask,
			lr, o.Beta1, o.Beta2, o.WeightDecay, o.Name == "adamw", c1, c2)
	}
	if err != nil {
		s.fail("optimizer step", err)
	}
}

// stepLists are the handles stepEntries hands to the shim, kept between
// steps so that a step allocates nothing.
type stepLists struct {
	theta, grad, s1, s2, gmask, tmask []unsafe.Pointer
}

// adamDenom returns c1 and c2 of Adam's denominator at step t:
// denom = sqrt(v)·c1 + c2 = −(sqrt(v)/sqrt(bc2) + ε)/step with step =
// lr/bc1, so θ + m/denom is the update: two passes over the temporary
// instead of three.
func adamDenom(o nn.Optimizer, lr float64, t int64) (c1, c2 float64) {
	bc1 := 1 - math.Pow(o.Beta1, float64(t))
	bc2 := 1 - math.Pow(o.Beta2, float64(t))
	step := lr / bc1
	return -1 / (math.Sqrt(bc2) * step), -o.Eps / step
}
