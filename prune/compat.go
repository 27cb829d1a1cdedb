package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Compatibility rules (docs/methods/conventions.md#compatibility-rules)
// emulate how one reference implementation turns scores into a mask,
// off-by-ones, float truncation and tie behaviour included. They exist for
// `reference` mode only, to replicate a paper's numbers; `clean` mode always
// uses SelectTop. Each rule is a named function below and is registered by
// its rule id in CompatRules.
//
// Conventions shared by all rules:
//   - weights, scores and masks are one flat slice: a single tensor for a
//     per-tensor rule, the concatenation in canonical order of the tensors
//     the reference pools for a global one (the caller concatenates, e.g.
//     with the prunable set minus open_lth's ignored layers);
//   - a nil mask means all ones; the result is always a new slice;
//   - magnitude rules take |·| of their input where the reference does;
//   - a NaN input is an error, as in clean mode (the references would
//     produce an arbitrary mask);
//   - where the reference would crash (an index past the end of a sorted
//     array), the rule returns an error that says so;
//   - arithmetic that decides counts is done in float64 exactly as the
//     reference's Python does it (so int((1 − 0.9)·10) is 0 there and
//     here), comparisons on float32 values as the reference's tensors are.
//   - where the reference's tie order is unspecified (an unstable sort or a
//     top-k), the rule uses the canonical tie-break of SelectTop.

// CompatRule is a registered compatibility rule.
type CompatRule struct {
	// Name is the rule id (docs/methods/conventions.md#compatibility-rules).
	Name string
	// Source is the reference code it emulates.
	Source string
	// Scope is "global" (the caller passes the concatenation of the
	// pooled tensors) or "per-tensor".
	Scope string
	// Amount says what the amount argument of Apply means for this rule.
	Amount string
	// Apply computes the new mask from scores (or weights), the current
	// mask and the amount. Rules that rebuild the mask from scratch ignore
	// the current mask; their doc says so.
	Apply func(scores, mask []float32, amount float64) ([]float32, error)
}

// CompatRules maps rule ids to rules, for a pipeline's `reference` mode.
var CompatRules = map[string]CompatRule{
	"openlth": {"openlth", "facebookresearch/open_lth: pruning/sparse_global.py", "global",
		"fraction of the alive weights to prune (pruning_fraction)", OpenLTHPrune},
	"googlelth": {"googlelth", "google-research/lottery-ticket-hypothesis: foundations/pruning.py", "per-tensor",
		"fraction of the alive weights to prune (percent)", GoogleLTHPrune},
	"synflow": {"synflow", "apd10/Synaptic-Flow: Pruners/pruners.py _global_mask", "global",
		"kept fraction (the code's `sparsity`)", SynflowGlobalMask},
	"granet_global": {"granet_global", "Shiweiliuiiiiiii/GraNet: CIFAR/sparselearning/core.py pruning", "global",
		"kept fraction d_t (1 − curr_prune_rate)", func(s, _ []float32, d float64) ([]float32, error) { return GraNetGlobalPrune(s, d) }},
	"granet_death": {"granet_death", "Shiweiliuiiiiiii/GraNet: CIFAR/sparselearning/core.py magnitude_death", "per-tensor",
		"death rate r_t", GraNetDeath},
	"bip": {"bip", "OPTML-Group/BiP: models/layers.py GetSubnetUnstructured", "per-tensor",
		"kept fraction k (--k)", func(s, _ []float32, k float64) ([]float32, error) { return BiPSubnet(s, k) }},
	"jackpots_init": {"jackpots_init", "zyxxmu/lottery-jackpots: utils/conv_type.py set_prune_rate", "per-tensor",
		"pruned fraction (prune_rate)", JackpotsInitPrune},
	"rethinking": {"rethinking", "Eric-mingjie/rethinking-network-pruning: cifar/weight-level/cifar_prune.py", "global",
		"pruned fraction (--percent)", func(s, _ []float32, p float64) ([]float32, error) { return RethinkingPrune(s, p) }},
	"renda": {"renda", "lottery-ticket/rewinding-iclr20-public: vision/lottery/lottery/prune_functions.py prune_all_to_global_x", "global",
		"percent kept X (prune_all_to_global_X)", RendaPruneAllToGlobal},
}

// CompatRuleNames lists the registered rule ids, sorted.
func CompatRuleNames() []string { return sortedMapKeys(CompatRules) }

// GetCompatRule returns the rule registered under id; an unknown id lists
// the known ones.
func GetCompatRule(id string) (CompatRule, error) {
	r, ok := CompatRules[id]
	if !ok {
		return CompatRule{}, fmt.Errorf("compatibility rule %q: want one of %s", id, strings.Join(CompatRuleNames(), ", "))
	}
	return r, nil
}

// OpenLTHPrune is open_lth's sparse_global pruning step: over the alive
// entries, q = ceil(f · n_alive); threshold = the alive |w| sorted
// ascending at 0-based position q; alive entries with |w| > threshold stay.
// Net effect: q + 1 entries are pruned plus every alive tie of the
// threshold; even f = 0 prunes the smallest entry. q ≥ n_alive is an error
// (an IndexError in the reference).
func OpenLTHPrune(weights, mask []float32, fraction float64) ([]float32, error) {
	if err := compatInputs("openlth", weights, mask); err != nil {
		return nil, err
	}
	alive := aliveAbs(weights, mask)
	q := int(math.Ceil(fraction * float64(len(alive))))
	if q < 0 || q >= len(alive) {
		return nil, fmt.Errorf("compat openlth: q = ceil(%v · %d) = %d is past the %d alive weights (the reference indexes out of range)", fraction, len(alive), q, len(alive))
	}
	slices.Sort(alive)
	thr := alive[q]
	out := onesIfNil(mask, len(weights))
	for i, w := range weights {
		if absF32(w) <= thr {
			out[i] = 0
		}
	}
	return out, nil
}

// GoogleLTHPrune is the google LTH reimplementation's prune_by_percent_once,
// per layer: idx = round-half-to-even(p · n_alive) (NumPy's round); cutoff =
// the alive |w| sorted ascending at idx; every entry with |w| ≤ cutoff is
// pruned. Net effect: idx + 1 pruned plus ties (this changes the LeNet
// level-18 label from 1.9 to 1.8, docs/methods/imp.md#rounding-rules). idx ≥
// n_alive is an error (an IndexError in the reference).
func GoogleLTHPrune(weights, mask []float32, percent float64) ([]float32, error) {
	if err := compatInputs("googlelth", weights, mask); err != nil {
		return nil, err
	}
	alive := aliveAbs(weights, mask)
	idx := int(math.RoundToEven(percent * float64(len(alive))))
	if idx < 0 || idx >= len(alive) {
		return nil, fmt.Errorf("compat googlelth: cutoff index round(%v · %d) = %d is past the %d alive weights (the reference indexes out of range)", percent, len(alive), idx, len(alive))
	}
	slices.Sort(alive)
	cut := alive[idx]
	out := onesIfNil(mask, len(weights))
	for i, w := range weights {
		if absF32(w) <= cut {
			out[i] = 0
		}
	}
	return out, nil
}

// SynflowGlobalMask is Synaptic-Flow's Pruner._global_mask: over all N
// entries (already pruned ones included), k = int((1 − d) · N); if k < 1
// the mask is left as it is; otherwise threshold = the k-th smallest score
// (1-based, torch.kthvalue) and the mask is rebuilt from scratch as
// score > threshold, the current mask ignored (a pruned entry with a high
// score comes back). Net effect: k pruned plus ties. Scores are used as
// given (SynFlow scores are non-negative).
func SynflowGlobalMask(scores, mask []float32, density float64) ([]float32, error) {
	if err := compatInputs("synflow", scores, mask); err != nil {
		return nil, err
	}
	k := int((1.0 - density) * float64(len(scores)))
	if k < 1 {
		return onesIfNil(mask, len(scores)), nil
	}
	if k > len(scores) {
		return nil, fmt.Errorf("compat synflow: k = %d of %d scores (density %v)", k, len(scores), density)
	}
	sorted := slices.Clone(scores)
	slices.Sort(sorted)
	thr := sorted[k-1]
	out := make([]float32, len(scores))
	for i, s := range scores {
		if s > thr {
			out[i] = 1
		}
	}
	return out, nil
}

// SynflowCheck is the check Synaptic-Flow's prune.py runs after pruning:
// it aborts when |remaining − total · d| ≥ 5.
func SynflowCheck(remaining, total int, density float64) error {
	want := float64(total) * density
	if math.Abs(float64(remaining)-want) >= 5 {
		return fmt.Errorf("compat synflow: %d prunable parameters remaining, expected %v (the reference aborts)", remaining, want)
	}
	return nil
}

// GraNetGlobalPrune is GraNet's gradual global pruning step: K = int(N · d)
// over all entries (zeros included); acceptable = the K-th largest |w|;
// the mask is rebuilt as |w| > acceptable (strict, "to prevent
// acceptable_score is zero"), without intersecting the old mask (pruned
// weights are exactly zero under P3). Net effect: K − 1 kept minus ties; if
// fewer than K weights are non-zero, every non-zero weight is kept. K < 1 is
// an error (an IndexError in the reference).
func GraNetGlobalPrune(weights []float32, density float64) ([]float32, error) {
	if err := compatInputs("granet_global", weights, nil); err != nil {
		return nil, err
	}
	k := int(float64(len(weights)) * density)
	if k < 1 || k > len(weights) {
		return nil, fmt.Errorf("compat granet_global: K = int(%d · %v) = %d, want 1 … %d (the reference indexes out of range)", len(weights), density, k, len(weights))
	}
	a := absF32All(weights)
	slices.Sort(a)
	acc := a[len(a)-k]
	out := make([]float32, len(weights))
	for i, w := range weights {
		if absF32(w) > acc {
			out[i] = 1
		}
	}
	return out, nil
}

// GraNetDeath is GraNet's magnitude_death for one tensor: nnz = alive
// count, zeros = N − nnz; q = ceil(r · nnz); if q = 0 the mask becomes
// w ≠ 0; otherwise k = zeros + q, threshold = the k-th smallest |w| over the
// whole tensor (1-based) and the mask becomes |w| > threshold. The result
// reads the weights, not the old mask (pruned weights are zero under P3),
// so an alive weight that is exactly zero is removed too. Net effect: q
// removed plus ties.
func GraNetDeath(weights, mask []float32, rate float64) ([]float32, error) {
	if err := compatInputs("granet_death", weights, mask); err != nil {
		return nil, err
	}
	nnz := len(weights)
	if mask != nil {
		nnz = maskOnes(mask)
	}
	zeros := len(weights) - nnz
	q := int(math.Ceil(rate * float64(nnz)))
	out := make([]float32, len(weights))
	if q == 0 {
		for i, w := range weights {
			if w != 0 {
				out[i] = 1
			}
		}
		return out, nil
	}
	k := zeros + q
	if q < 0 || k > len(weights) {
		return nil, fmt.Errorf("compat granet_death: k = %d + ceil(%v · %d) = %d, want ≤ %d", zeros, rate, nnz, k, len(weights))
	}
	a := absF32All(weights)
	slices.Sort(a)
	thr := a[k-1]
	for i, w := range weights {
		if absF32(w) > thr {
			out[i] = 1
		}
	}
	return out, nil
}

// BiPSubnet is BiP's GetSubnetUnstructured for one tensor (called on
// |scores|): j = int((1 − k) · N); the j smallest |s| are zeroed, the rest
// kept: exactly N − j kept, so (1 − 0.9)·10 truncates to j = 0 and k = 0.9
// keeps all 10. The reference's tie order is PyTorch's unstable sort; here
// it is SelectTop's (ties kept by lower index first).
func BiPSubnet(scores []float32, k float64) ([]float32, error) {
	if err := compatInputs("bip", scores, nil); err != nil {
		return nil, err
	}
	j := int((1 - k) * float64(len(scores)))
	if j < 0 || j > len(scores) {
		return nil, fmt.Errorf("compat bip: j = int((1 − %v) · %d) = %d, want 0 … %d", k, len(scores), j, len(scores))
	}
	return SelectTop(absF32All(scores), nil, len(scores)-j, nil)
}

// JackpotsInitPrune is Lottery Jackpots' set_prune_rate for one layer: the
// int(N · rate) smallest |w| over all entries (torch.topk, largest =
// False) are set to 0 in the current mask (all ones at initialization).
// Exact count; the reference's tie order is unspecified, here it is
// SelectTop's.
func JackpotsInitPrune(weights, mask []float32, rate float64) ([]float32, error) {
	if err := compatInputs("jackpots_init", weights, mask); err != nil {
		return nil, err
	}
	c := int(float64(len(weights)) * rate)
	if c < 0 || c > len(weights) {
		return nil, fmt.Errorf("compat jackpots_init: int(%d · %v) = %d entries to prune, want 0 … %d", len(weights), rate, c, len(weights))
	}
	sel, err := SelectTop(absF32All(weights), nil, len(weights)-c, nil)
	if err != nil {
		return nil, err
	}
	out := onesIfNil(mask, len(weights))
	for i := range out {
		out[i] *= sel[i]
	}
	return out, nil
}

// RethinkingPrune is rethinking-network-pruning's weight-level
// cifar_prune.py over the concatenated conv weights: threshold = |w|
// sorted ascending at index int(total · percent); the mask is rebuilt as
// |w| > threshold. Net effect: int(total · percent) + 1 pruned plus ties.
// An index past the end is an error (an IndexError in the reference).
func RethinkingPrune(weights []float32, percent float64) ([]float32, error) {
	if err := compatInputs("rethinking", weights, nil); err != nil {
		return nil, err
	}
	idx := int(float64(len(weights)) * percent)
	if idx < 0 || idx >= len(weights) {
		return nil, fmt.Errorf("compat rethinking: threshold index int(%d · %v) = %d is past the %d weights (the reference indexes out of range)", len(weights), percent, idx, len(weights))
	}
	a := absF32All(weights)
	slices.Sort(a)
	thr := a[idx]
	out := make([]float32, len(weights))
	for i, w := range weights {
		if absF32(w) > thr {
			out[i] = 1
		}
	}
	return out, nil
}

// RendaPruneAllToGlobal is prune_all_to_global_X of Renda et al.: threshold
// = the linear-interpolation percentile (NumPy's default) 100 − X of
// |w| ⊙ m over all entries, pruned zeros included; then every entry with
// |w| < threshold is set to 0 in the current mask. Net effect:
// approximately X% kept (7 of 10 at X = 75), and nothing at all is pruned
// once pruned entries make up at least 100 − X percent (the threshold is
// then 0). The percentile is computed in float64.
func RendaPruneAllToGlobal(weights, mask []float32, x float64) ([]float32, error) {
	if err := compatInputs("renda", weights, mask); err != nil {
		return nil, err
	}
	if !(x >= 0 && x <= 100) {
		return nil, fmt.Errorf("compat renda: percent kept %v, want 0 … 100", x)
	}
	out := onesIfNil(mask, len(weights))
	if len(weights) == 0 {
		return out, nil
	}
	concat := make([]float64, len(weights))
	for i, w := range weights {
		concat[i] = float64(absF32(w) * out[i])
	}
	slices.Sort(concat)
	thr := percentileLinear(concat, 100-x)
	for i, w := range weights {
		if float64(absF32(w)) < thr {
			out[i] = 0
		}
	}
	return out, nil
}

// percentileLinear is numpy.percentile(a, q) with the default 'linear'
// method on sorted a, including NumPy's two-sided lerp.
func percentileLinear(sorted []float64, q float64) float64 {
	n := len(sorted)
	vi := q / 100 * float64(n-1)
	lo := int(math.Floor(vi))
	lo = min(max(lo, 0), n-1)
	hi := min(lo+1, n-1)
	t := vi - float64(lo)
	a, b := sorted[lo], sorted[hi]
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

func compatInputs(rule string, scores, mask []float32) error {
	if mask != nil && len(mask) != len(scores) {
		return fmt.Errorf("compat %s: mask has %d entries for %d scores", rule, len(mask), len(scores))
	}
	for i, s := range scores {
		if isNaN32(s) {
			return fmt.Errorf("compat %s: %w", rule, &NaNScoreError{Index: i})
		}
	}
	for i, v := range mask {
		if v != 0 && v != 1 {
			return fmt.Errorf("compat %s: mask entry %d is %v, want 0 or 1", rule, i, v)
		}
	}
	return nil
}

// aliveAbs returns |w| of the alive entries (mask nil: all).
func aliveAbs(w, mask []float32) []float32 {
	out := make([]float32, 0, len(w))
	for i, v := range w {
		if mask == nil || mask[i] == 1 {
			out = append(out, absF32(v))
		}
	}
	return out
}

func absF32All(w []float32) []float32 {
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = absF32(v)
	}
	return out
}

func absF32(v float32) float32 { return float32(math.Abs(float64(v))) }

func onesIfNil(mask []float32, n int) []float32 {
	if mask != nil {
		return slices.Clone(mask)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
