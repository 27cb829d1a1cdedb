package native

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// SetParametrization sets how the effective weight of a parameter is
// produced.
//
//   - nn.Dense is accepted for every parameter; it drops a mask and makes the
//     layer read θ directly again (θ keeps its values).
//   - nn.Masked is accepted for weights of linear and convolutional layers
//     (Kind Weight). The mask is validated and copied. Under ZeroAfterStep θ
//     and the optimizer state are zeroed at the pruned positions at once;
//     under MaskedForward the layer reads θ ⊙ m from a separate buffer;
//     under ZeroBeforeForward θ is zeroed before the next forward.
//   - nn.Scored is accepted for weights too: the scores are validated and
//     copied, and the mask of their Keep largest entries (nn.TopKMask) is
//     installed under MaskedForward (see nn/scored.go for why the engine
//     stops there). Setting new scores recomputes the mask; θ is untouched.
//   - nn.Shared is accepted for weights (nn/shared.go, shared.go): it is
//     validated (nn.Shared.Validate walks the map once) and checked against
//     the tensors that already read the same array (same size and
//     divisors); the array is created zero when no tensor reads it yet, and
//     the tensor's θ, gradient, mask and optimizer state are released.
//     A TableMap's tables are copied; another Map is kept and called by
//     every forward and backward pass.
//
// Setting Dense, Masked or Scored on a shared tensor first gives it a θ
// equal to its current W (and zero optimizer state), then proceeds as
// above; an array no tensor reads any more is dropped.
//
// Pointers to these types are accepted too. On error nothing changes.
func (n *Net) SetParametrization(name string, p nn.Parametrization) error {
	e, ok := n.byName[name]
	if !ok {
		return fmt.Errorf("native: set parametrization: model %s has no parameter %q", n.arch.Name, name)
	}
	p, err := nn.ConcreteParametrization(p)
	if err != nil {
		return fmt.Errorf("native: set parametrization of %s: %w", name, err)
	}
	if _, dense := p.(nn.Dense); !dense && e.info.Kind != nn.Weight {
		return fmt.Errorf("native: set parametrization of %s: %s is a %s; only weights of linear and convolutional layers take a %s parametrization", name, name, e.info.Kind, parametrizationKind(p))
	}
	switch p := p.(type) {
	case nn.Dense:
		n.unshare(e)
		n.setDense(e)
	case nn.Masked:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("native: %w", err)
		}
		n.unshare(e)
		n.setMasked(e, append([]float32(nil), p.Mask...), p.Pattern)
	case nn.Scored:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("native: %w", err)
		}
		n.unshare(e)
		n.setScored(e, append([]float32(nil), p.Scores...), p.Keep)
	case nn.Shared:
		if err := p.Validate(name, e.info.Size()); err != nil {
			return fmt.Errorf("native: %w", err)
		}
		return n.setShared(e, p)
	}
	return nil
}

func parametrizationKind(p nn.Parametrization) string {
	switch p.(type) {
	case nn.Masked:
		return "masked"
	case nn.Scored:
		return "scored"
	case nn.Shared:
		return "shared"
	}
	return "dense"
}

// Parametrization returns the current parametrization of a parameter (a
// Masked one carries a copy of the mask; a Shared one the Map that was set,
// or a TableMap over copies of its tables, and a copy of the divisors), or
// nil for an unknown name.
func (n *Net) Parametrization(name string) nn.Parametrization {
	e, ok := n.byName[name]
	if !ok {
		return nil
	}
	if e.p.sh != nil {
		return sharedParametrization(e.p.sh)
	}
	if e.scores != nil {
		return nn.Scored{Scores: append([]float32(nil), e.scores...), Keep: e.keep}
	}
	if e.mask == nil {
		return nn.Dense{}
	}
	return nn.Masked{Mask: append([]float32(nil), e.mask...), Pattern: e.pattern}
}

// setDense drops the mask of e: the layer reads θ again, densely.
func (n *Net) setDense(e *entry) {
	e.mask, e.alive, e.scores = nil, nil, nil
	e.p.w = e.p.value
	installSparse(n.sparse, e.p, nil, nil)
	n.relist()
}

// setMasked installs mask (owned by e from now on) with pattern on e.
func (n *Net) setMasked(e *entry, mask []float32, pattern nn.MaskPattern) {
	old := e.mask
	e.mask, e.pattern, e.scores = mask, pattern, nil
	if pattern == nn.MaskedForward {
		if aliases(e.p.w, e.p.value) {
			e.p.w = make([]float32, len(e.p.value))
		}
		mulMaskTo(e.p.w, e.p.value, mask)
	} else {
		e.p.w = e.p.value
	}
	e.alive = e.alive[:0]
	if pattern == nn.ZeroAfterStep {
		// Step updates the alive entries only (optimizer.go); the pruned
		// ones are zeroed here and stay zero.
		for i, k := range mask {
			if k != 0 {
				e.alive = append(e.alive, int32(i))
			}
		}
		mulMask(e.p.value, mask)
		if e.s1 != nil {
			mulMask(e.s1, mask)
		}
		if e.s2 != nil {
			mulMask(e.s2, mask)
		}
	}
	// The sparse path needs W exactly zero at pruned entries whenever the
	// layer reads it, and the optimizer to read the gradient at kept
	// entries only: P1 and P3. Under P2 Step reads the dense gradient.
	if pattern == nn.ZeroBeforeForward {
		installSparse(n.sparse, e.p, nil, nil)
	} else {
		installSparse(n.sparse, e.p, mask, old)
	}
	n.relist()
}

// setScored installs scores (owned by e from now on) and the mask of their
// keep largest entries under MaskedForward.
func (n *Net) setScored(e *entry, scores []float32, keep int) {
	n.setMasked(e, nn.TopKMask(scores, keep), nn.MaskedForward)
	e.scores, e.keep = scores, keep
}

// relist rebuilds the lists of entries whose mask is applied before each
// forward.
func (n *Net) relist() {
	n.maskedForward, n.zeroBefore = n.maskedForward[:0], n.zeroBefore[:0]
	for _, e := range n.entries {
		if e.mask == nil {
			continue
		}
		switch e.pattern {
		case nn.MaskedForward:
			n.maskedForward = append(n.maskedForward, e)
		case nn.ZeroBeforeForward:
			n.zeroBefore = append(n.zeroBefore, e)
		}
	}
}

func aliases(a, b []float32) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// mulMask sets x ← x ⊙ m.
func mulMask(x, m []float32) {
	m = m[:len(x)]
	for i := range x {
		x[i] *= m[i]
	}
}

// mulMaskTo sets dst ← x ⊙ m.
func mulMaskTo(dst, x, m []float32) {
	x = x[:len(dst)]
	m = m[:len(dst)]
	for i := range dst {
		dst[i] = x[i] * m[i]
	}
}
