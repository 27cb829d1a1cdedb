package search

import (
	"fmt"

	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn"
)

// A BlockCriterion scores the blocks of a trained network for layer
// pruning after training (layer.criterion, Algorithm 1 of
// docs/methods/layer.md); higher = more important. Block criteria register
// by name like every extension point.
type BlockCriterion struct {
	// Subsample: the criterion runs the network on the class-balanced
	// subsample (TrainedContext.Batches).
	Subsample bool
	// State: it reads the trained network's parameters and buffers
	// (random reads neither).
	State bool
	// AllBlocks: it scores every block, candidate or not (random's draws
	// depend on the seed alone, not on which blocks are candidates).
	AllBlocks bool
	// New prepares the criterion on the trained state st (nil unless
	// State) and returns the score of block i of bs.
	New func(ctx TrainedContext, bs *Blocks, st *nn.State) (func(i int) (float64, error), error)
	// Unimplemented, when set, says why a criterion that is listed (so
	// that asking for it is a clear error) is not implemented.
	Unimplemented string
}

var blockCriteria = registry.New[BlockCriterion]("block criterion")

// RegisterBlockCriterion makes an after-training block criterion
// available by name; it panics when the name is taken.
func RegisterBlockCriterion(name string, c BlockCriterion) { blockCriteria.Register(name, c) }

// BlockCriterionNames lists the registered block criteria, sorted.
func BlockCriterionNames() []string { return blockCriteria.Names() }

// BlockCriterionByName returns a registered, implemented block criterion.
// An unknown name is an error that lists the registered ones; a listed but
// unimplemented one wraps nn.ErrNotImplemented.
func BlockCriterionByName(name string) (BlockCriterion, error) {
	c, err := blockCriteria.Get(name)
	if err != nil {
		return c, fmt.Errorf("layer.criterion = %q: %w", name, err)
	}
	if c.Unimplemented != "" {
		return c, fmt.Errorf("layer.criterion = %s: %s is %w", name, c.Unimplemented, nn.ErrNotImplemented)
	}
	return c, nil
}

func init() {
	RegisterBlockCriterion(CritKL, BlockCriterion{Subsample: true, State: true, New: func(ctx TrainedContext, bs *Blocks, st *nn.State) (func(int) (float64, error), error) {
		s, err := newKL(ctx, bs.Arch, st)
		return byIndex(bs, s), err
	}})
	RegisterBlockCriterion(CritCKA, BlockCriterion{Subsample: true, State: true, New: func(ctx TrainedContext, bs *Blocks, st *nn.State) (func(int) (float64, error), error) {
		s, err := newCKA(ctx, bs.Arch, st)
		return byIndex(bs, s), err
	}})
	for _, name := range []string{CritHRank, CritExpectedABS} {
		RegisterBlockCriterion(name, BlockCriterion{Subsample: true, State: true, New: func(ctx TrainedContext, bs *Blocks, st *nn.State) (func(int) (float64, error), error) {
			return func(i int) (float64, error) { return featureScore(ctx, bs.Arch, st, bs.Blocks[i], name) }, nil
		}})
	}
	RegisterBlockCriterion(CritL1, BlockCriterion{New: func(ctx TrainedContext, bs *Blocks, _ *nn.State) (func(int) (float64, error), error) {
		return func(i int) (float64, error) { return l1Score(ctx.Net, bs.Blocks[i]) }, nil
	}})
	RegisterBlockCriterion(CritRandom, BlockCriterion{AllBlocks: true, New: func(ctx TrainedContext, bs *Blocks, _ *nn.State) (func(int) (float64, error), error) {
		if ctx.Rng == nil {
			return nil, fmt.Errorf("layer pruning: criterion random needs a random stream (the mask seed)")
		}
		draws := make([]float64, len(bs.Blocks))
		for i := range draws { // one draw per block, so the scores depend on the seed alone
			draws[i] = ctx.Rng.Float64()
		}
		return func(i int) (float64, error) { return draws[i], nil }, nil
	}})
	RegisterBlockCriterion(CritPLS, BlockCriterion{Unimplemented: "the PLS variable-importance criterion (its feature extraction is not specified; docs/methods/layer.md#scoring-after-training)"})
}

// byIndex adapts a score of a Block to a score of block i.
func byIndex(bs *Blocks, score func(Block) (float64, error)) func(int) (float64, error) {
	return func(i int) (float64, error) { return score(bs.Blocks[i]) }
}
