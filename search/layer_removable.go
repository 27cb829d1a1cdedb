package search

// Layer pruning, part 2: which blocks may be removed and in which order
// (docs/methods/layer.md#removability).

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// MinBlocksPerStage is the fewest blocks a stage keeps: the authors'
// utility removes a candidate only while num_blocks[stage] − 1 > 1
// (code: arturjordao/TinyTitans: rebuild_layers.py, new_blocks).
const MinBlocksPerStage = 2

// Removability rules (docs/methods/layer.md#removability), the values of
// layer.removable.
const (
	// RemovableUtility is the authors' utility: every block whose input
	// and output shapes are equal (and whose shortcut is the identity),
	// except the very first block of the network.
	RemovableUtility = "utility"
	// RemovableStrict also excludes the block right after each
	// downsampling block (the paper's "adjacent to a downsampling block",
	// read as the neighbour after it).
	RemovableStrict = "strict"
)

// RemovableRules lists the accepted rules, the default first.
var RemovableRules = []string{RemovableUtility, RemovableStrict}

// Candidates returns the indices of the blocks that rule allows to
// remove, in block order. An unknown rule is an error listing the
// accepted ones.
func (bs *Blocks) Candidates(rule string) ([]int, error) {
	if !slices.Contains(RemovableRules, rule) {
		return nil, fmt.Errorf("layer.removable = %q: want one of %s", rule, strings.Join(RemovableRules, ", "))
	}
	var c []int
	for i, b := range bs.Blocks {
		if i == 0 || b.Downsampling {
			continue
		}
		if rule == RemovableStrict && bs.Blocks[i-1].Downsampling && bs.Blocks[i-1].Stage == b.Stage {
			continue
		}
		c = append(c, i)
	}
	return c, nil
}

// MaxRemovable is the largest number of blocks rule lets the greedy order
// remove: per stage, its candidates, but no more than leave MinBlocksPerStage
// blocks. ResNet-20/32/56 under the utility rule: 3, 9, 21
// (docs/methods/layer.md#removability).
func (bs *Blocks) MaxRemovable(rule string) (int, error) {
	c, err := bs.Candidates(rule)
	if err != nil {
		return 0, err
	}
	perStage := make([]int, len(bs.Stages))
	for _, i := range c {
		perStage[bs.Blocks[i].Stage]++
	}
	q := 0
	for s, n := range perStage {
		q += max(0, min(n, len(bs.Stages[s])-MinBlocksPerStage))
	}
	return q, nil
}

// CheckRemovable returns the error a removal of p blocks would end with,
// before any scoring: p below 0, or more than MaxRemovable ("asked to
// remove p blocks, only q removable").
func (bs *Blocks) CheckRemovable(p int, rule string) error {
	if p < 0 {
		return fmt.Errorf("layer.blocks = %d: want the number of blocks to remove, ≥ 1", p)
	}
	q, err := bs.MaxRemovable(rule)
	if err != nil {
		return err
	}
	if p > q {
		return fmt.Errorf("layer.blocks: asked to remove %d blocks, only %d removable in model %s (blocks per stage %v, removable = %s, at least %d blocks kept per stage)",
			p, q, bs.Arch.Name, bs.PerStage(), rule, MinBlocksPerStage)
	}
	return nil
}

// SelectRemoval is the greedy order of docs/methods/layer.md#removability:
// candidates by increasing importance (ties: the lower block index first),
// each removed if its stage keeps at least MinBlocksPerStage blocks
// afterwards and skipped otherwise, until p are removed. scores holds one
// importance per block (higher = more important; only candidates are read). A
// NaN score of a candidate is an error naming the block. The result is the
// removed block indices in removal order.
func (bs *Blocks) SelectRemoval(scores []float64, p int, rule string) ([]int, error) {
	if len(scores) != len(bs.Blocks) {
		return nil, fmt.Errorf("layer pruning: %d block scores for %d blocks", len(scores), len(bs.Blocks))
	}
	if err := bs.CheckRemovable(p, rule); err != nil {
		return nil, err
	}
	cand, _ := bs.Candidates(rule)
	for _, i := range cand {
		if math.IsNaN(scores[i]) {
			return nil, fmt.Errorf("layer pruning: block %s has a NaN score", bs.Blocks[i].Name)
		}
	}
	slices.SortStableFunc(cand, func(a, b int) int {
		return cmp.Or(cmp.Compare(scores[a], scores[b]), cmp.Compare(a, b))
	})
	left := bs.PerStage()
	var removed []int
	for _, i := range cand {
		if len(removed) == p {
			break
		}
		s := bs.Blocks[i].Stage
		if left[s]-1 < MinBlocksPerStage {
			continue // ineligible: its stage is at the minimum
		}
		left[s]--
		removed = append(removed, i)
	}
	if len(removed) < p { // unreachable after CheckRemovable; kept as a guard
		return nil, fmt.Errorf("layer.blocks: asked to remove %d blocks, only %d removable", p, len(removed))
	}
	return removed, nil
}
