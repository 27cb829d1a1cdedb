package search

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

// MagnitudeMasks is the starting mask of a jackpot search, and the one-shot
// magnitude baseline evaluated without fine-tuning: the entries of largest
// |θ| of the searched set at density d (exact count, ties to the lower
// index; prune.DensityPlan and Plan.Select).
//
//   - prune.Global is the reference's `layerwise: l1`: one magnitude
//     threshold over every searched tensor, which fixes each tensor's kept
//     count (the reference computes per-layer rates from the threshold and
//     then prunes each layer's smallest |θ|; the kept sets are the same).
//   - prune.LayerWise is `layerwise: uniform`: every tensor keeps
//     round(d · N_l) (docs/methods/conventions.md#from-a-density-to-a-count;
//     the reference floors, and its uniform path fails on its own model
//     names, docs/methods/jackpot.md#start-mask).
//
// The kept count of every tensor is fixed from here on: the search swaps
// entries within a tensor, never across tensors. Errors (before any search
// step): a density outside (0, 1], and a tensor left with no kept entry.
func MagnitudeMasks(net nn.Net, set []nn.ParamInfo, d float64, scope prune.Scope) (*prune.Masks, error) {
	plan, err := prune.DensityPlan(set, d, scope, nil)
	if err != nil {
		return nil, fmt.Errorf("jackpot: initial mask: %w", err)
	}
	scores := make([][]float32, len(set))
	for i, t := range set {
		p := net.Param(t.Name)
		if p == nil {
			return nil, fmt.Errorf("jackpot: the model has no parameter %q", t.Name)
		}
		w := p.Values()
		sc := make([]float32, len(w))
		for k, v := range w {
			if v < 0 {
				v = -v
			}
			sc[k] = v
		}
		scores[i] = sc
	}
	m, err := plan.Select(scores, nil)
	if err != nil {
		return nil, fmt.Errorf("jackpot: initial mask: %w", err)
	}
	return m, nil
}
