package nn

import (
	"fmt"
	"math"
	"unsafe"
)

// The scored parametrization W = θ ⊙ topk(S) (BiP, Lottery Jackpots;
// docs/methods/bip.md#scored-parametrization).
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
// docs/methods/conventions.md#density).
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
// docs/methods/conventions.md#exact-top-k), in O(n): a radix select
// (KthLargest) finds the keep-th largest value t, every entry above t is
// kept, and the entries equal to t fill the remaining places in index order.
// keep is clamped to [0, n]; scores must hold no NaN (Scored.Validate
// checks).
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
// no NaN), overwriting a. It is a radix select on the order-preserving
// unsigned image of the float bits: four passes of 8 bits, each counting
// the candidates per digit and keeping those in the digit that holds the
// k-th largest, so after the first pass only a sliver of a is touched. It is
// about four times faster than a quickselect on the 266K weights of
// LeNet-300-100, which matters because BiP selects on every step. −0 ranks
// below +0 here; callers compare the returned value as a float, where the
// two are equal, and break such ties by index.
func KthLargest(a []float32, k int) float32 {
	keys := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
	for i, v := range keys {
		keys[i] = orderKey(v)
	}
	n := len(keys)
	var prefix uint32
	for shift := 24; shift >= 0; shift -= 8 {
		// (Counting in the conversion loop above is slower: measured.)
		var count [256]int
		for _, v := range keys[:n] {
			count[v>>uint(shift)&0xff]++
		}
		d := 255
		for ; d > 0 && k > count[d]; d-- {
			k -= count[d]
		}
		prefix |= uint32(d) << uint(shift)
		m := 0
		for _, v := range keys[:n] {
			if v>>uint(shift)&0xff == uint32(d) {
				keys[m] = v
				m++
			}
		}
		n = m
	}
	return math.Float32frombits(fromOrderKey(prefix))
}

// orderKey maps float32 bits to a uint32 that orders as the floats do:
// negative floats have all bits flipped, non-negative ones the sign bit set.
func orderKey(bits uint32) uint32 {
	if bits&0x80000000 != 0 {
		return ^bits
	}
	return bits | 0x80000000
}

func fromOrderKey(k uint32) uint32 {
	if k&0x80000000 != 0 {
		return k &^ 0x80000000
	}
	return ^k
}
