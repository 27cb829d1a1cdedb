//go:build torch

package torch

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// entry is the net's record of one parameter: θ, the effective weight the
// forward reads, the mask and the optimizer state, all libtorch tensors.
//
// The effective weight is the autograd leaf, so its gradient is the dense
// gradient with respect to W that Param.Grad promises: θ itself for a dense
// tensor and under ZeroAfterStep (θ is zero at pruned positions) and
// ZeroBeforeForward (θ ← θ ⊙ m before each forward); under MaskedForward a
// separate leaf w that each forward refills with θ ⊙ m, so θ keeps its
// pruned values.
type entry struct {
	info  nn.ParamInfo
	shape []int64

	theta ct
	w     ct // MaskedForward's leaf; nil otherwise

	// mask is nil for a dense parameter; maskHost is its host copy
	// (Parametrization and State return it without a device round trip).
	mask     ct
	maskHost []float32
	// scores and keep are a Scored parametrization's (nil: not scored);
	// its mask, nn.TopKMask of the scores, is installed under
	// MaskedForward (see nn/scored.go).
	scores  []float32
	keep    int
	pattern nn.MaskPattern

	// grad is the gradient with respect to leaf() of the last Gradients or
	// Backward call (nil before the first).
	grad ct

	// s1, s2: SGD's momentum in s1; Adam's exp_avg and exp_avg_sq. nil
	// when the optimizer keeps none.
	s1, s2 ct

	// sh is the map of a shared tensor (shared.go), which has no θ,
	// gradient, mask or optimizer state of its own; nil otherwise.
	sh *sharedWeight
}

// leaf is the tensor the forward reads and autograd differentiates.
func (e *entry) leaf() ct {
	if e.sh != nil {
		return e.sh.w
	}
	if e.w != nil {
		return e.w
	}
	return e.theta
}

func (e *entry) masked(p nn.MaskPattern) bool { return e.mask != nil && e.pattern == p }

// param is the nn.Param of an entry. Values and Grad copy from the device;
// SetValues copies to it.
type param struct {
	n *Net
	e *entry
}

func (p param) Info() nn.ParamInfo { return p.e.info }

func (p param) Values() []float32 {
	v := make([]float32, p.e.info.Size())
	p.n.run(func(s *scope) {
		if p.e.sh != nil {
			v = p.n.sharedWeights(s, p.e.sh, len(v))
			return
		}
		s.download(v, p.e.theta)
	})
	return v
}

// SetValues copies src into θ; under ZeroAfterStep the mask is applied, so
// pruned entries stay zero. It panics if src has the wrong length (a
// programmer error, as on the native engine).
func (p param) SetValues(src []float32) {
	e := p.e
	if len(src) != e.info.Size() {
		panic(fmt.Sprintf("torch: SetValues on %s: %d values, want %d", e.info.Name, len(src), e.info.Size()))
	}
	if e.sh != nil {
		panic(fmt.Sprintf("torch: SetValues on %s: a shared parameter has no θ; set its array with SharedArray(%q).SetValues", e.info.Name, e.sh.arr.name()))
	}
	p.n.run(func(s *scope) {
		s.set(e.theta, src, e.shape)
		if e.masked(nn.ZeroAfterStep) {
			s.noGrad(func() { s.mul_(e.theta, e.mask) })
		}
	})
}

// Grad returns the dense gradient with respect to the effective weight of
// the last Gradients or Backward call (zeros before the first).
func (p param) Grad() []float32 {
	if p.e.sh != nil {
		return nil // ∂ℓ/∂W is not formed: the array's Grad is ∂ℓ/∂z
	}
	g := make([]float32, p.e.info.Size())
	p.n.run(func(s *scope) {
		if p.e.grad != nil {
			s.download(g, p.e.grad)
		}
	})
	return g
}

// SetParametrization sets how the effective weight of a parameter is
// produced: Dense for every parameter, Masked for weights (Kind Weight) with
// any of the three patterns, and Scored for weights (the mask of the Keep
// largest scores, computed on the host with nn.TopKMask as on the native
// engine so that both engines pick the same entries, then uploaded as a
// MaskedForward mask), and Shared for weights (shared.go). Leaving Shared
// gives the tensor a θ equal to its current W. Masks, scores and maps are
// validated and copied.
func (n *Net) SetParametrization(name string, p nn.Parametrization) error {
	e, ok := n.byName[name]
	if !ok {
		return fmt.Errorf("torch: set parametrization: model %s has no parameter %q", n.arch.Name, name)
	}
	p, err := nn.ConcreteParametrization(p)
	if err != nil {
		return fmt.Errorf("torch: set parametrization of %s: %w", name, err)
	}
	if _, dense := p.(nn.Dense); !dense && e.info.Kind != nn.Weight {
		return fmt.Errorf("torch: set parametrization of %s: %s is a %s; only weights of linear and convolutional layers take a %s", name, name, e.info.Kind, p.Describe())
	}
	if _, shared := p.(nn.Shared); !shared && e.sh != nil {
		// Leave the shared parametrization with θ = the current W.
		if err := n.runErr(func(s *scope) { n.unshare(s, e) }); err != nil {
			return err
		}
	}
	switch p := p.(type) {
	case nn.Dense:
		return n.runErr(func(s *scope) { n.setMask(s, e, nil, 0) })
	case nn.Masked:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("torch: %w", err)
		}
		return n.runErr(func(s *scope) { n.setMask(s, e, append([]float32(nil), p.Mask...), p.Pattern) })
	case nn.Scored:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("torch: %w", err)
		}
		scores := append([]float32(nil), p.Scores...)
		return n.runErr(func(s *scope) { n.setScored(s, e, scores, p.Keep) })
	case nn.Shared:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("torch: %w", err)
		}
		return n.runErr(func(s *scope) { n.setShared(s, e, p) })
	}
	return nil
}

// Parametrization returns the current parametrization of a parameter (a
// Masked one carries a copy of the mask), or nil for an unknown name.
func (n *Net) Parametrization(name string) nn.Parametrization {
	e, ok := n.byName[name]
	if !ok {
		return nil
	}
	if e.sh != nil {
		return sharedParametrization(e.sh)
	}
	if e.scores != nil {
		return nn.Scored{Scores: append([]float32(nil), e.scores...), Keep: e.keep}
	}
	if e.mask == nil {
		return nn.Dense{}
	}
	return nn.Masked{Mask: append([]float32(nil), e.maskHost...), Pattern: e.pattern}
}

// setMask installs mask (owned by e from now on; nil for dense) with
// pattern. The new tensors are the net's; the old ones are freed. Under
// ZeroAfterStep θ and the optimizer state are zeroed at pruned positions
// now; MaskedForward gets its own leaf.
func (n *Net) setMask(s *scope, e *entry, mask []float32, pattern nn.MaskPattern) {
	var m, w ct
	if mask != nil {
		m = s.upload(mask, e.shape...)
		if pattern == nn.MaskedForward {
			w = s.zeros(e.shape...)
			s.requireGrad(w)
		}
		if pattern == nn.ZeroAfterStep {
			s.noGrad(func() {
				for _, t := range []ct{e.theta, e.s1, e.s2} {
					if t != nil {
						s.mul_(t, m)
					}
				}
			})
		}
	}
	if s.err != nil {
		return
	}
	free(e.mask, e.w)
	s.own(m, w)
	e.mask, e.w, e.maskHost, e.pattern, e.scores = m, w, mask, pattern, nil
}

// setScored installs scores (owned by e from now on) and the mask of their
// keep largest entries under MaskedForward.
func (n *Net) setScored(s *scope, e *entry, scores []float32, keep int) {
	n.setMask(s, e, nn.TopKMask(scores, keep), nn.MaskedForward)
	if s.err == nil {
		e.scores, e.keep = scores, keep
	}
}
