package search

// Layer pruning, part 4: block importance at initialization from a
// weight-level criterion (docs/methods/layer.md#scoring-at-initialization,
// docs/methods/layer.md#aggregation).

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

// Aggregations of weight scores into a block score, the values of layer.agg
// (docs/methods/layer.md#aggregation; the paper does not say, so it is an
// explicit field).
const (
	// AggSum sums the scores of the block's weights.
	AggSum = "sum"
	// AggMean averages them per weight. On a CIFAR ResNet a block of stage
	// s has 4^(s−1) times the weights of a stage-1 block, so sum and mean
	// rank blocks of different stages differently.
	AggMean = "mean"
)

// Aggregations lists the accepted aggregations, the default first.
var Aggregations = []string{AggSum, AggMean}

// WeightSet is the criterion's pass of step 3 of
// docs/methods/layer.md#scoring-at-initialization: every Linear and Conv2d
// weight of the network, in canonical order, so that GraSP's Hessian-gradient
// product and SNIP's normalization see the whole network and not just the
// candidate blocks.
func WeightSet(a *nn.Arch) []nn.ParamInfo {
	var set []nn.ParamInfo
	for _, p := range a.Params() {
		if p.Kind == nn.Weight {
			set = append(set, p)
		}
	}
	return set
}

// ScoreBlocksAtInit scores ctx.Net with a weight-level criterion over
// WeightSet (ctx.Set is overwritten) and aggregates per block
// (AggregateBlocks). The orientation is the criterion's "higher = keep":
// SNIP's |g ⊙ θ| and GraSP's signed θ ⊙ Hg, so the block with the most
// negative aggregated θ ⊙ Hg (the largest −θ ⊙ Hg, what GraSP removes first
// at the weight level) is removed first. ctx carries the pruning data, the
// evaluation or training mode and, for GraSP, temperature 200, as for the pai
// pipeline (docs/methods/pai.md#scoring-mode).
func ScoreBlocksAtInit(ctx prune.ScoreContext, crit prune.Criterion, bs *Blocks, agg string) ([]float64, error) {
	if !slices.Contains(Aggregations, agg) {
		return nil, fmt.Errorf("layer.agg = %q: want one of %s", agg, strings.Join(Aggregations, ", "))
	}
	ctx.Set = WeightSet(bs.Arch)
	scores, err := crit.Scores(ctx)
	if err != nil {
		return nil, fmt.Errorf("layer pruning: scoring blocks with %s: %w", crit.Name(), err)
	}
	byName := make(map[string][]float32, len(ctx.Set))
	for i, p := range ctx.Set {
		byName[p.Name] = scores[i]
	}
	return bs.AggregateBlocks(byName, agg)
}

// AggregateBlocks turns weight scores (by tensor name) into one score per
// block: the sum, or the mean per weight, over the block's Weights, in
// float64. A block without weights scores NaN; a missing tensor is an
// error.
func (bs *Blocks) AggregateBlocks(scores map[string][]float32, agg string) ([]float64, error) {
	if !slices.Contains(Aggregations, agg) {
		return nil, fmt.Errorf("layer.agg = %q: want one of %s", agg, strings.Join(Aggregations, ", "))
	}
	out := make([]float64, len(bs.Blocks))
	for i, b := range bs.Blocks {
		var sum float64
		n := 0
		for _, w := range b.Weights {
			s, ok := scores[w]
			if !ok {
				return nil, fmt.Errorf("layer pruning: no scores for %s (block %s)", w, b.Name)
			}
			for _, v := range s {
				sum += float64(v)
			}
			n += len(s)
		}
		switch {
		case n == 0:
			out[i] = math.NaN()
		case agg == AggMean:
			out[i] = sum / float64(n)
		default:
			out[i] = sum
		}
	}
	return out, nil
}
