package prune

import (
	"fmt"
	"math"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// IMPRounding is the rule that turns a per-round rate p and an alive count
// into the number of weights an IMP round removes from a scope unit.
//
// The zero value, IMPRoundHalfAway, is the `clean` rule
// (docs/methods/conventions.md#from-a-density-to-a-count) and reproduces the
// LTH paper's labels exactly. The others are `reference` emulations
// (docs/methods/imp.md#rounding-rules) for replicating a code base's counts;
// they model the count the reference prunes when |w| has no ties at its
// threshold (ties prune more there, which only the weights can tell).
// Reference rules use the product p·alive as computed in float64, unsnapped,
// as the references do.
type IMPRounding int

const (
	// IMPRoundHalfAway: remove = round(p · alive), snapped within 1e-9 to a
	// multiple of ½, halves away from zero
	// (docs/methods/conventions.md#from-a-density-to-a-count).
	IMPRoundHalfAway IMPRounding = iota
	// IMPRoundCeil: remove = ceil(p · alive) (the comparison of
	// docs/methods/imp.md#rounding-rules: 4,920 LeNet weights at round 18,
	// label 1.8).
	IMPRoundCeil
	// IMPRoundFloor: remove = floor(p · alive), Python's int()
	// (docs/methods/imp.md#rounding-rules: 4,936 at round 18, label 1.9).
	IMPRoundFloor
	// IMPRoundGoogleLTH: remove = round-half-even(p · alive) + 1, the
	// google-research/lottery-ticket-hypothesis foundations/pruning.py rule
	// `googlelth` (cutoff at sorted index np.round(p·n), prune |w| ≤ cutoff):
	// 4,908 at round 18, label 1.8 instead of the paper's 1.9. It prunes at
	// least one weight per round even at rate 0.
	IMPRoundGoogleLTH
	// IMPRoundOpenLTH: remove = ceil(p · alive) + 1, the count of
	// facebookresearch/open_lth pruning/sparse_global.py, rule `openlth`
	// (threshold at sorted index ceil(p·n), keep |w| > threshold).
	IMPRoundOpenLTH
)

var impRoundingNames = []string{"half_away", "ceil", "floor", "googlelth", "openlth"}

func (r IMPRounding) String() string {
	if r >= 0 && int(r) < len(impRoundingNames) {
		return impRoundingNames[r]
	}
	return fmt.Sprintf("IMPRounding(%d)", int(r))
}

// ParseIMPRounding reads a rounding rule by name: "half_away" (or "", the
// clean default), "ceil", "floor", "googlelth", "openlth".
func ParseIMPRounding(s string) (IMPRounding, error) {
	if s == "" {
		return IMPRoundHalfAway, nil
	}
	for i, n := range impRoundingNames {
		if s == n {
			return IMPRounding(i), nil
		}
	}
	return 0, fmt.Errorf("imp rounding %q: want one of %s", s, strings.Join(impRoundingNames, ", "))
}

// Remove returns the number of weights a round at rate p removes from a
// scope unit with alive weights, capped at alive.
func (r IMPRounding) Remove(p float64, alive int) int {
	x := p * float64(alive)
	var q int
	switch r {
	case IMPRoundHalfAway:
		q = RemoveCount(p, alive)
	case IMPRoundCeil:
		q = int(math.Ceil(x))
	case IMPRoundFloor:
		q = int(math.Floor(x))
	case IMPRoundGoogleLTH:
		q = int(math.RoundToEven(x)) + 1
	case IMPRoundOpenLTH:
		q = int(math.Ceil(x)) + 1
	default:
		panic(fmt.Sprintf("prune: unknown %v", r))
	}
	return min(max(q, 0), alive)
}

// IMPLayerwise is the IMP level schedule with layer-wise scope and one rate
// per tensor (docs/methods/imp.md#per-round-rates-and-scope): at every level
// L = 1..levels each tensor l removes rounding.Remove(r_l, alive_l) of its
// alive weights, so
// Keep[L][l] = Keep[L−1][l] − Remove(r_l, Keep[L−1][l]).
//
// The LTH paper's LeNet-300-100 uses rates (0.2, 0.2, 0.1): "connections to
// outputs are pruned at half of the rate of the rest of the network"; its
// Conv-2/4 use 0.1 for convolutions, 0.2 for hidden FC layers and 0.1 for the
// output (docs/methods/imp.md#conv-2-conv-4-conv-6). A rate of 0 keeps a
// tensor dense (except under IMPRoundGoogleLTH and IMPRoundOpenLTH, which
// prune one weight per round as their references do).
//
// Errors, before any training: no tensors, a rate count that differs from
// the tensor count, a rate outside [0, 1) (naming the tensor), levels < 0,
// and a level that leaves a tensor with 0 weights (naming the tensor and
// the level).
func IMPLayerwise(tensors []nn.ParamInfo, rates []float64, levels int, rounding IMPRounding) (*LevelSchedule, error) {
	if err := checkTensors(tensors); err != nil {
		return nil, fmt.Errorf("imp: %w", err)
	}
	if len(rates) != len(tensors) {
		return nil, fmt.Errorf("imp: %d per-tensor rates for %d prunable tensors", len(rates), len(tensors))
	}
	for i, p := range rates {
		if err := checkRate(fmt.Sprintf("rate of %s", tensors[i].Name), p); err != nil {
			return nil, fmt.Errorf("imp: %w", err)
		}
	}
	return impLevels(&LevelSchedule{Tensors: tensors, Rates: append([]float64(nil), rates...), Rounding: rounding}, levels)
}

// IMPGlobal is the IMP level schedule with global scope (open_lth's
// sparse_global): every level removes rounding.Remove(p, alive) of the
// weights alive over the union of tensors, chosen by one global SelectTop.
// Tensors left out of the scope (open_lth's pruning_layers_to_ignore) are
// simply not passed.
//
// Errors: as IMPLayerwise; since the split over tensors depends on the
// weights, a level is rejected here only when it keeps fewer weights than
// there are tensors (the pipeline checks the actual masks).
func IMPGlobal(tensors []nn.ParamInfo, rate float64, levels int, rounding IMPRounding) (*LevelSchedule, error) {
	if err := checkTensors(tensors); err != nil {
		return nil, fmt.Errorf("imp: %w", err)
	}
	if err := checkRate("rate", rate); err != nil {
		return nil, fmt.Errorf("imp: %w", err)
	}
	return impLevels(&LevelSchedule{Tensors: tensors, Global: true, Rates: []float64{rate}, Rounding: rounding}, levels)
}

func impLevels(s *LevelSchedule, levels int) (*LevelSchedule, error) {
	if levels < 0 {
		return nil, fmt.Errorf("imp: %d levels: want ≥ 0", levels)
	}
	if s.Rounding < 0 || int(s.Rounding) >= len(impRoundingNames) {
		return nil, fmt.Errorf("imp: unknown rounding %v: want one of %s", s.Rounding, strings.Join(impRoundingNames, ", "))
	}
	s.Keep = [][]int{s.unitSizes()}
	for level := 1; level <= levels; level++ {
		prev := s.Keep[level-1]
		keep := make([]int, len(prev))
		for u, alive := range prev {
			keep[u] = alive - s.Rounding.Remove(s.Rates[u], alive)
		}
		s.Keep = append(s.Keep, keep)
		if err := s.checkLevel(level, fmt.Sprintf("%s rounding", s.Rounding)); err != nil {
			return nil, fmt.Errorf("imp: %w", err)
		}
	}
	return s, nil
}

// IMPRealPercent is the real-valued remaining-weight formula of
// docs/methods/imp.md#remaining-weights,
// Pm(n) = 100 · Σ_l N_l (1 − r_l)^n / Σ_l N_l: the limit the exact integer
// schedule approximates (51.28, 21.07, 13.52, 6.95, 3.58, 1.85 for
// LeNet-300-100 at rounds 3, 7, 9, 12, 15, 18).
func IMPRealPercent(tensors []nn.ParamInfo, rates []float64, n int) float64 {
	var kept, total float64
	for i, t := range tensors {
		kept += float64(t.Size()) * math.Pow(1-rates[i], float64(n))
		total += float64(t.Size())
	}
	return 100 * kept / total
}

// checkRate checks a per-round rate p ∈ [0, 1)
// (docs/methods/conventions.md#input-checks).
func checkRate(what string, p float64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("%s = %v: want a value in [0, 1)", what, p)
	}
	return nil
}
