package search

import (
	"cmp"
	"math"
	"slices"

	"github.com/prunebench/prunebench/nn"
)

// jackpotSwap is the reference's per-layer swap after every score step
// (PretrainConv.final_pop_up, docs/methods/jackpot.md#swaps) on scores s and
// mask b of a tensor with prune pruned entries:
//
//   - τ = the prune-th smallest score (1-based);
//   - P0 = pruned entries with s > τ, P1 = kept entries with s ≤ τ;
//   - if both are non-empty and |P0| = |P1| = q: when q > 1, q ← ceil(q·rate)
//     (rate 1: every pair); the q entries of P0 with the highest scores are
//     activated and the q entries of P1 with the lowest scores pruned;
//   - otherwise (ties at τ make the sets differ in size) nothing changes.
//
// Either way the kept count is unchanged. Within equal scores the lower
// index is activated first and pruned last (the tie-break of
// docs/methods/conventions.md#exact-top-k; the reference's torch.sort leaves
// it unspecified).
// It returns the number of pairs swapped. buf is scratch for the selection.
func jackpotSwap(s, b []float32, prune int, rate float64, buf *[]float32) int {
	if prune <= 0 || prune >= len(s) {
		return 0 // a dense tensor, or one with nothing kept: nothing to swap
	}
	tau := jackpotKthSmallest(s, prune, buf)
	var p0, p1 []int
	for i, v := range s {
		switch {
		case b[i] == 0 && v > tau:
			p0 = append(p0, i)
		case b[i] != 0 && v <= tau:
			p1 = append(p1, i)
		}
	}
	if len(p0) == 0 || len(p0) != len(p1) {
		return 0
	}
	q := len(p0)
	if q > 1 {
		q = min(q, jackpotCeilCount(float64(q)*rate))
	}
	if q < len(p0) {
		// Highest scores first, lower index first among ties.
		slices.SortFunc(p0, func(x, y int) int { return cmp.Or(cmp.Compare(s[y], s[x]), cmp.Compare(x, y)) })
		// Lowest scores first, higher index first among ties (so the lower
		// index stays kept).
		slices.SortFunc(p1, func(x, y int) int { return cmp.Or(cmp.Compare(s[x], s[y]), cmp.Compare(y, x)) })
	}
	for _, i := range p0[:q] {
		b[i] = 1
	}
	for _, i := range p1[:q] {
		b[i] = 0
	}
	return q
}

// jackpotCeilCount is ceil(x) for a count computed in floating point, at least 1:
// x within 1e-9 above an integer counts as that integer, so float error in
// q·rate never adds a swap (3·(1 − 0)⁴ is 3, not 4).
func jackpotCeilCount(x float64) int {
	return max(1, int(math.Ceil(x-1e-9)))
}

// jackpotKthSmallest returns the k-th smallest value of s (1 ≤ k ≤ len(s))
// without modifying s: nn.KthLargest's quickselect on a copy in *buf,
// expected O(n). The scores hold no NaN (Update checks them).
func jackpotKthSmallest(s []float32, k int, buf *[]float32) float32 {
	a := append((*buf)[:0], s...)
	*buf = a
	return nn.KthLargest(a, len(a)-k+1)
}
