package nn

import "fmt"

// Parametrization says how the effective weight W of a prunable tensor is
// produced from what is trained (ARCHITECTURE.md#concepts). Methods choose
// one per tensor with Net.SetParametrization; every backend implements each.
//
// The concrete types are Dense, Masked, Scored and Shared. A backend that does
// not implement one yet returns an error that says so from
// SetParametrization; it never falls back to another.
type Parametrization interface {
	// Describe is a one-line human description, used in logs.
	Describe() string
	isParametrization()
}

// Dense is W = θ, the default of every tensor.
type Dense struct{}

// MaskPattern is how a mask is enforced during training
// (docs/methods/conventions.md#mask-enforcement).
type MaskPattern int

const (
	// ZeroAfterStep (P3, the default): after every optimizer step θ ← θ ⊙ m
	// and every optimizer buffer ← buffer ⊙ m. The gradient is masked before
	// the step (clean mode), so coupled operations see only alive
	// coordinates; the dense gradient stays readable through Param.Grad.
	ZeroAfterStep MaskPattern = iota
	// MaskedForward (P1): the forward uses W = θ ⊙ m; θ is never overwritten,
	// the optimizer updates all of θ (weight decay and momentum included), so
	// pruned entries keep a decaying value and re-enter with it.
	MaskedForward
	// ZeroBeforeForward (P2, open_lth): θ ← θ ⊙ m before every forward; the
	// optimizer moves pruned entries with their dense gradient and the next
	// forward zeroes them again.
	ZeroBeforeForward
)

func (p MaskPattern) String() string {
	switch p {
	case ZeroAfterStep:
		return "zero_after_step"
	case MaskedForward:
		return "masked_forward"
	case ZeroBeforeForward:
		return "zero_before_forward"
	}
	return fmt.Sprintf("MaskPattern(%d)", int(p))
}

// Masked is W = θ ⊙ m with a 0/1 mask in the tensor's row-major order.
type Masked struct {
	Mask    []float32
	Pattern MaskPattern
}

// Scored is W = θ ⊙ topk(s): the mask is the Keep largest scores of S (exact
// count, ties to the lower index), recomputed every forward; the gradient
// reaches S straight through the top-k (BiP, Lottery Jackpots).
type Scored struct {
	Scores []float32
	Keep   int
}

// Shared is W_i = Scale · Sign_i · z[Index_i]: every virtual weight reads one
// entry of a trained shared array z of length ArraySize (HashedNet, ROAST,
// STABLE-RPS; docs/methods/rps.md#parametrization). Tensors that name the
// same Array share it. The trained values are z, reached through
// SharedNet.SharedArray; the tensor's own θ and dense gradient do not exist
// while it is shared (nn/shared.go says what its Param returns).
//
// The index and sign of every virtual weight come from Map, which the engine
// calls inside its forward and backward kernels, so that no O(n) index or
// sign tensor is stored (docs/methods/rps.md#memory-accounting; share.Mapper
// provides one per shared tensor). For small cases and tests, Map can be a
// TableMap of full explicit tables of the tensor's size: materializing them
// is the simplest correct form (a reference for tests, share.Mapper.Shared);
// engines copy a TableMap's tables, as they copy masks.
//
// GradDivisor, nil or one positive entry per array entry, is the STABLE-RPS
// gradient scaler (docs/methods/rps.md#gradient-scaler): the engine divides
// ∂ℓ/∂z by it after the backward pass and before the optimizer step and its
// weight decay. It is a property of the array, so every tensor that names the
// array must give the same divisors (or none), as they must give the same
// ArraySize.
type Shared struct {
	Array     string
	ArraySize int
	// Map gives the indices and signs on the fly; it must be deterministic
	// and safe to call from the engine's kernels at every step (it is kept,
	// not copied, unless it is a TableMap, whose tables are copied).
	Map   SharedMap
	Scale float32
	// GradDivisor is the scaler's s_j per array entry; nil: no scaling.
	GradDivisor []float32
}

func (Dense) Describe() string { return "dense" }
func (m Masked) Describe() string {
	return fmt.Sprintf("masked (%s, density %.4g)", m.Pattern, maskDensity(m.Mask))
}
func (s Scored) Describe() string {
	return fmt.Sprintf("scored (keep %d of %d)", s.Keep, len(s.Scores))
}
func (s Shared) Describe() string {
	return fmt.Sprintf("shared (array %q of %d)", s.Array, s.ArraySize)
}

func (Dense) isParametrization()  {}
func (Masked) isParametrization() {}
func (Scored) isParametrization() {}
func (Shared) isParametrization() {}

// Validate checks a mask against the size of its tensor: the right length and
// only 0 and 1 entries.
func (m Masked) Validate(name string, size int) error {
	if len(m.Mask) != size {
		return fmt.Errorf("mask for %s: %d entries, want %d", name, len(m.Mask), size)
	}
	for i, v := range m.Mask {
		if v != 0 && v != 1 {
			return fmt.Errorf("mask for %s: entry %d is %v, want 0 or 1", name, i, v)
		}
	}
	switch m.Pattern {
	case ZeroAfterStep, MaskedForward, ZeroBeforeForward:
	default:
		return fmt.Errorf("mask for %s: unknown pattern %d", name, int(m.Pattern))
	}
	return nil
}

func maskDensity(m []float32) float64 {
	if len(m) == 0 {
		return 0
	}
	var k float64
	for _, v := range m {
		k += float64(v)
	}
	return k / float64(len(m))
}

// ConcreteParametrization turns a pointer to one of the four parametrization
// types into its value, so that engines switch on values only, and rejects
// nil and types the contract does not define.
func ConcreteParametrization(p Parametrization) (Parametrization, error) {
	switch q := p.(type) {
	case Dense, Masked, Scored, Shared:
		return p, nil
	case *Dense:
		if q != nil {
			return *q, nil
		}
	case *Masked:
		if q != nil {
			return *q, nil
		}
	case *Scored:
		if q != nil {
			return *q, nil
		}
	case *Shared:
		if q != nil {
			return *q, nil
		}
	case nil:
	default:
		return nil, fmt.Errorf("unknown parametrization type %T", p)
	}
	return nil, fmt.Errorf("nil parametrization")
}
