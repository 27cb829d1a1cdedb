package search

// Layer pruning, part 5: block importance after training (Algorithm 1,
// docs/methods/layer.md#scoring-after-training). Higher = more important;
// the lowest are removed. Definitions follow arturjordao/TinyTitans:
// pruning_vision_models/criteria_layer.py as that page reads it.
//
// The criteria need what the Net interface does not expose: the output of
// a network with one block turned off, and intermediate feature maps.
// Both are obtained through the engine contract alone, so they run on
// every engine: a block is turned off by zeroing its last batch norm's
// scale, shift and statistics in a scratch Net's state, and features are
// the "logits" of a truncated Arch (the layers up to the feature, then
// Flatten, with Classes set to the feature size).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/prunebench/prunebench/nn"
)

// After-training criteria (the values of layer.criterion for Algorithm 1).
const (
	CritKL          = "kl"
	CritCKA         = "cka"
	CritHRank       = "hrank"
	CritExpectedABS = "expected_abs"
	CritPLS         = "pls"
	CritRandom      = "random"
	CritL1          = "l1"
)

// NeedsSubsample reports whether an after-training criterion runs the
// network on the class-balanced subsample (random and l1 do not); false
// for an unknown one.
func NeedsSubsample(crit string) bool {
	c, err := BlockCriterionByName(crit)
	return err == nil && c.Subsample
}

// CheckTrainedCriterion returns an error for an unknown criterion, and for
// one that is known but not implemented.
func CheckTrainedCriterion(crit string) error {
	_, err := BlockCriterionByName(crit)
	return err
}

// TrainedContext is what the after-training criteria read.
type TrainedContext struct {
	// Net is the trained network; its state is read, never written.
	Net nn.Net
	// Build builds the scratch nets (a block turned off, a truncated
	// network) on the trained net's engine and device, for batches as
	// large as those of Batches.
	Build func(arch *nn.Arch) (nn.Net, error)
	// Batches are the class-balanced subsample (BalancedSubset), without
	// augmentation. Unused by random and l1.
	Batches []nn.Batch
	// Rng is the `mask` seed namespace's stream (random only).
	Rng *rand.Rand
}

// ScoreBlocksTrained scores the candidate blocks with an after-training
// criterion; other blocks score NaN (SelectRemoval reads candidates only).
func ScoreBlocksTrained(ctx TrainedContext, bs *Blocks, crit string, candidates []int) ([]float64, error) {
	c, err := BlockCriterionByName(crit)
	if err != nil {
		return nil, err
	}
	if c.Subsample && len(ctx.Batches) == 0 {
		return nil, fmt.Errorf("layer pruning: criterion %s needs the class-balanced subsample", crit)
	}
	var st *nn.State
	if c.State {
		if st, err = ctx.Net.State(); err != nil {
			return nil, err
		}
		for k := range st.Tensors {
			if !strings.HasPrefix(k, "param/") && !strings.HasPrefix(k, "buffer/") {
				delete(st.Tensors, k)
			}
		}
	}
	score, err := c.New(ctx, bs, st)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(bs.Blocks))
	for i := range out {
		out[i] = math.NaN()
	}
	if c.AllBlocks {
		candidates = make([]int, len(bs.Blocks))
		for i := range candidates {
			candidates[i] = i
		}
	}
	for _, i := range candidates {
		if out[i], err = score(i); err != nil {
			return nil, fmt.Errorf("layer pruning: criterion %s, block %s: %w", crit, bs.Blocks[i].Name, err)
		}
	}
	return out, nil
}

// BalancedSubset returns the indices of the first perClass examples of each
// class in a permutation of the labels drawn from rng, in permutation order
// (the class-balanced subsample of
// docs/methods/layer.md#scoring-after-training). A class with fewer examples
// is an error.
func BalancedSubset(labels []int32, classes, perClass int, rng *rand.Rand) ([]int, error) {
	if perClass < 1 {
		return nil, fmt.Errorf("layer.samples_per_class = %d: want ≥ 1", perClass)
	}
	taken := make([]int, classes)
	var idx []int
	for _, i := range rng.Perm(len(labels)) {
		c := labels[i]
		if c < 0 || int(c) >= classes {
			return nil, fmt.Errorf("label %d of example %d, want 0 to %d", c, i, classes-1)
		}
		if taken[c] < perClass {
			taken[c]++
			idx = append(idx, i)
		}
	}
	for c, n := range taken {
		if n < perClass {
			return nil, fmt.Errorf("layer.samples_per_class = %d: class %d has only %d training examples", perClass, c, n)
		}
	}
	return idx, nil
}

// l1Score is the sum over the block's weight tensors of the mean over
// output units (filters) of their ℓ1 norm.
func l1Score(net nn.Net, b Block) (float64, error) {
	var total float64
	for _, w := range b.Weights {
		p := net.Param(w)
		if p == nil {
			return 0, fmt.Errorf("no parameter %s", w)
		}
		v := p.Values()
		rows := p.Info().Shape[0]
		var sum float64
		for _, x := range v {
			sum += math.Abs(float64(x))
		}
		total += sum / float64(rows)
	}
	return total, nil
}

// zeroNorm zeroes (off) or restores (saved) a batch norm's scale, shift
// and running statistics in st; it returns the previous values.
func zeroNorm(st *nn.State, norm string, saved map[string][]float32) (map[string][]float32, error) {
	if norm == "" {
		return nil, fmt.Errorf("the block has no normalization layer to zero")
	}
	prev := map[string][]float32{}
	for _, k := range []string{"param/" + norm + ".weight", "param/" + norm + ".bias", "buffer/" + norm + ".running_mean", "buffer/" + norm + ".running_var"} {
		t, ok := st.Tensors[k]
		if !ok {
			return nil, fmt.Errorf("state has no %s", k)
		}
		prev[k] = slices.Clone(t)
		if saved != nil {
			copy(t, saved[k])
		} else {
			clear(t)
		}
	}
	return prev, nil
}

// outputs runs net on every batch in evaluation mode and returns the
// outputs as one n×width matrix in float64.
func outputs(net nn.Net, batches []nn.Batch) (*mat.Dense, error) {
	width := net.Arch().Classes
	n := 0
	for _, b := range batches {
		n += b.N
	}
	out := mat.NewDense(n, width, nil)
	raw := out.RawMatrix().Data
	row := 0
	for _, b := range batches {
		buf := make([]float32, b.N*width)
		if err := net.Logits(buf, b); err != nil {
			return nil, err
		}
		for i, v := range buf {
			raw[row*width+i] = float64(v)
		}
		row += b.N
	}
	return out, nil
}

// scratchNet builds a Net of arch on ctx's backend with st's tensors (the
// ones arch has).
func scratchNet(ctx TrainedContext, arch *nn.Arch, st *nn.State) (nn.Net, error) {
	net, err := ctx.Build(arch)
	if err != nil {
		return nil, err
	}
	if err := copyState(net, st, func(s string) string { return s }); err != nil {
		return nil, err
	}
	return net, nil
}

// truncated is arch up to and including layer last, flattened, as a
// network whose "logits" are that feature.
func truncated(arch *nn.Arch, last int) (*nn.Arch, []int, error) {
	layers := slices.Clone(arch.Layers[:last+1])
	shape := arch.Input
	for _, l := range layers {
		var err error
		if shape, err = l.OutShape(shape); err != nil {
			return nil, nil, err
		}
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	a := &nn.Arch{Name: fmt.Sprintf("%s[:%d]", arch.Name, last+1), Input: arch.Input, Classes: size, Layers: append(layers, nn.Flatten{})}
	return a, shape, a.Validate()
}
