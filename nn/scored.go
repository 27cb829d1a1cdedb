package nn

import (
	"fmt"
	"math"
)

// The scored parametrization W = θ ⊙ topk(S) (BiP, Lottery Jackpots;
// specs/bip.md, specs/baselines.md §2).
//
// The method owns the scores and sets them with SetParametrization whenever
// they change; the engine derives the mask, exactly Keep entries, and
// forwards W = θ ⊙ m with θ left intact (pattern MaskedForward: pruned θ
// keep their values, the optimizer moves them by weight decay and momentum
// only, and they re-enter when the mask changes). Param.Grad holds the
// dense gradient g = ∂L/∂W, so the straight-through gradient of the scores,
// ∂L/∂m = θ ⊙ g, is formed by the method from θ and g; engines compute
// no score gradients and keep no score optimizer. This keeps the
// upper-level optimizers (BiP's score SGD with its own learning rate and
// schedule, the jackpots' weight decay on scores) in one place for every
// engine, at the cost of one host pass over the scores per update, which
// is small next to a forward and backward.

// Validate checks scores against the size of their tensor: the right length,
// no NaN, and 1 ≤ Keep ≤ size (a scored tensor keeps at least one weight;
// specs/README.md §1.1).
func (s Scored) Validate(name string, size int) error {
	if len(s.Scores) != size {
		return fmt.Errorf("scores for %s: %d entries, want %d", name, len(s.Scores), size)
	}
	if s.Keep < 1 || s.Keep > size {
		return fmt.Errorf("scores for %s: keep %d, want 1 to %d", name, s.Keep, size)
	}
	for i, v := range s.Scores {
		if math.IsNaN(float64(v)) {
			return fmt.Errorf("scores for %s: entry %d is NaN", name, i)
		}
	}
	return nil
}

// Mask returns the 0/1 mask of the Keep largest scores (TopKMask).
func (s Scored) Mask() []float32 { return TopKMask(s.Scores, s.Keep) }

// TopKMask returns a 0/1 mask with ones at the keep largest entries of
// scores, ties broken towards the lower index (the exact-count rule of
// specs/README.md §3.1), in expected O(n): a quickselect finds the keep-th
// largest value t, every entry above t is kept, and the entries equal to t
// fill the remaining places in index order. keep is clamped to [0, n];
// scores must hold no NaN (Scored.Validate checks).
func TopKMask(scores []float32, keep int) []float32 {
	n := len(scores)
	mask := make([]float32, n)
	keep = max(0, min(keep, n))
	if keep == 0 {
		return mask
	}
	if keep == n {
		for i := range mask {
			mask[i] = 1
		}
		return mask
	}
	buf := append([]float32(nil), scores...)
	t := KthLargest(buf, keep)
	left := keep
	for i, v := range scores {
		if v > t {
			mask[i] = 1
			left--
		}
	}
	for i, v := range scores {
		if left == 0 {
			break
		}
		if v == t {
			mask[i] = 1
			left--
		}
	}
	return mask
}

// KthLargest returns the k-th largest value of a (1 ≤ k ≤ len(a); a holds
// no NaN), reordering a: Hoare's quickselect with a median-of-three pivot,
// which splits runs of equal values evenly, in expected O(len(a)).
func KthLargest(a []float32, k int) float32 {
	lo, hi, want := 0, len(a)-1, k-1 // index of the answer in descending order
	for lo < hi {
		mid := lo + (hi-lo)/2
		p := median3(a[lo], a[mid], a[hi])
		i, j := lo, hi
		for i <= j {
			for a[i] > p {
				i++
			}
			for a[j] < p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] ≥ p, a[j+1..i-1] = p, a[i..hi] ≤ p.
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return p
		}
	}
	return a[want]
}

func median3(a, b, c float32) float32 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		b = a
	}
	return b
}
