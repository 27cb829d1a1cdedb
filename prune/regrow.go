package prune

import (
	"fmt"
	"slices"
)

// The two mask updates of GMP, GraNet and RigL-style dynamic sparse training
// (docs/methods/gradual.md#cubic-schedule,
// docs/methods/gradual.md#prune-and-regrow), in `clean` mode, on plain slices
// so that they are engine-free and testable by hand. A pipeline reads θ, the
// dense gradient G and the masks from its Net, calls these, and installs the
// result as nn.Masked parametrizations with pattern ZeroAfterStep (P3), which
// zeroes θ and the optimizer state wherever the new mask is 0. The
// `reference` rules (granet_global, granet_death of
// docs/methods/conventions.md#compatibility-rules) are GraNetGlobalPrune and
// GraNetDeath in compat.go.

// GlobalMagnitudePrune is the gradual pruning step (a) of
// docs/methods/gradual.md#cubic-schedule in `clean` mode: one SelectTop over
// the concatenation of the tensors (in canonical order, so ties go to the
// lower global index) with scores |θ|, candidates the alive entries, keeping
// keep of them; pruned entries stay pruned.
//
// keep is round(N · density_j) over all N entries of the masked set, zeros
// included (GradualSchedule.PruneKeep). When keep is not below the alive
// count the step is a no-op (the density is non-increasing, so this only
// happens through rounding) and copies of masks come back.
//
// Errors: slices that do not fit, a mask entry other than 0 and 1, keep < 0,
// a NaN weight (a *NaNScoreError naming the tensor), and a tensor left with
// no alive entry: every prunable tensor keeps at least one
// (docs/methods/conventions.md#density), and a global criterion that empties
// a layer is reported rather than allowed.
func GlobalMagnitudePrune(names []string, weights, masks [][]float32, keep int) ([][]float32, error) {
	if len(weights) != len(names) || len(masks) != len(names) {
		return nil, fmt.Errorf("global magnitude pruning: %d names, %d weight tensors, %d masks", len(names), len(weights), len(masks))
	}
	alive := 0
	eligible := make([][]bool, len(names))
	scores := make([][]float32, len(names))
	for t, name := range names {
		if len(weights[t]) != len(masks[t]) {
			return nil, fmt.Errorf("global magnitude pruning: %s has %d weights and a mask of %d entries", name, len(weights[t]), len(masks[t]))
		}
		if err := checkMask(name, masks[t]); err != nil {
			return nil, err
		}
		eligible[t] = aliveFlags(masks[t])
		alive += countTrue(eligible[t])
		scores[t] = absF32All(weights[t])
	}
	if keep < 0 {
		return nil, fmt.Errorf("global magnitude pruning: keep %d, want ≥ 0", keep)
	}
	if keep >= alive {
		out := make([][]float32, len(masks))
		for t, m := range masks {
			out[t] = slices.Clone(m)
		}
		return out, nil
	}
	out, err := SelectTopGlobal(names, scores, eligible, keep, masks)
	if err != nil {
		return nil, err
	}
	for t, name := range names {
		if maskOnes(out[t]) == 0 {
			return nil, fmt.Errorf("global magnitude pruning to %d of %d entries leaves %s (%d entries) with no kept entry; every prunable tensor must keep at least one", keep, alive, name, len(out[t]))
		}
	}
	return out, nil
}

// Regrowth is the outcome of PruneRegrow on one tensor.
type Regrowth struct {
	// Mask is the tensor's mask after death and growth.
	Mask []float32
	// Removed is the number of alive entries death removed (q).
	Removed int
	// Grown lists, ascending, the entries growth activated: exactly
	// Removed of them, each inactive after death.
	Grown []int
	// Revived lists, ascending, the grown entries that were alive before the
	// call (removed by death and regrown at once). They keep their value and
	// optimizer state; every other grown entry was inactive before the call,
	// so under pattern P3 it is exactly zero with zero state and starts from
	// there (docs/methods/gradual.md#prune-and-regrow, step 4).
	Revived []int
}

// PruneRegrow is zero-cost neuroregeneration (b) on one tensor
// (docs/methods/gradual.md#prune-and-regrow; code: Shiweiliuiiiiiii/GraNet:
// CIFAR/sparselearning/core.py `truncate_weights`, `magnitude_death`,
// `gradient_growth`), in `clean` mode:
//
//  1. death: of the nnz alive entries, keep the nnz − q with the largest
//     |θ| (SelectTop among the alive entries, ties to the lower index), so
//     the q smallest die;
//  2. growth: among every entry whose mask is now 0 (the q that just died
//     and every entry that was already inactive, including those pruned by
//     (a) in the same iteration) activate exactly q with the largest |G|,
//     G the dense gradient of the iteration's minibatch.
//
// q is ceil(r_t · nnz) (GradualSchedule.DeathCount); q = 0 leaves the
// tensor as it is. The alive count is the same after the call as before.
//
// Where `clean` and GraNet's code differ: the code sorts |G ⊙ 1[mask = 0]|
// over the whole tensor, so when fewer than q inactive entries have a
// non-zero gradient it can pick active entries and regrow fewer than it
// removed; here growth selects among inactive entries only (ties, such as
// many zero gradients, to the lower index) and always regrows exactly q.
// The death step is exact-count too, where the code's threshold removes q
// plus ties (`granet_death`).
//
// Errors: slices of different lengths, a mask entry other than 0 and 1,
// q outside [0, nnz], and NaN in weights or grad (a *NaNScoreError; the
// caller names the tensor).
func PruneRegrow(mask, weights, grad []float32, q int) (*Regrowth, error) {
	n := len(mask)
	if len(weights) != n || len(grad) != n {
		return nil, fmt.Errorf("prune and regrow: mask of %d entries, %d weights, %d gradients", n, len(weights), len(grad))
	}
	if err := checkMask("prune and regrow", mask); err != nil {
		return nil, err
	}
	alive := aliveFlags(mask)
	nnz := countTrue(alive)
	if q < 0 || q > nnz {
		return nil, fmt.Errorf("prune and regrow: death count %d, want 0 … %d (the alive entries)", q, nnz)
	}
	out := &Regrowth{Mask: slices.Clone(mask), Removed: q}
	if q == 0 {
		if err := checkNaN("weights", weights); err != nil {
			return nil, err
		}
		return out, checkNaN("gradient", grad)
	}
	// Death: keep the nnz − q largest |θ| among the alive entries; the
	// inactive entries keep their 0.
	afterDeath, err := SelectTop(absF32All(weights), alive, nnz-q, mask)
	if err != nil {
		return nil, fmt.Errorf("prune and regrow: death by |θ|: %w", err)
	}
	inactive := make([]bool, n)
	for i, v := range afterDeath {
		inactive[i] = v == 0
	}
	// Growth: q of the inactive entries by |G|; the survivors keep their 1.
	final, err := SelectTop(absF32All(grad), inactive, q, afterDeath)
	if err != nil {
		return nil, fmt.Errorf("prune and regrow: growth by |G|: %w", err)
	}
	out.Mask = final
	for i := range final {
		if inactive[i] && final[i] == 1 {
			out.Grown = append(out.Grown, i)
			if alive[i] {
				out.Revived = append(out.Revived, i)
			}
		}
	}
	return out, nil
}

// checkMask rejects mask entries other than 0 and 1.
func checkMask(what string, m []float32) error {
	for i, v := range m {
		if v != 0 && v != 1 {
			return fmt.Errorf("%s: mask entry %d is %v, want 0 or 1", what, i, v)
		}
	}
	return nil
}

// checkNaN reports a NaN in v as a *NaNScoreError (the caller names the
// tensor), so that a diverged run is an error even when no entry is
// selected.
func checkNaN(what string, v []float32) error {
	for i, x := range v {
		if isNaN32(x) {
			return fmt.Errorf("prune and regrow: %s: %w", what, &NaNScoreError{Index: i})
		}
	}
	return nil
}
