package pipelines

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/search"
)

func init() {
	experiments.RegisterPipeline("layer", layerPipeline{Layer: defaultLayerSpec()})
	experiments.RegisterNameList("layer_init_criteria", func() []string {
		return append(initCriteria(), search.CritRandom)
	})
	experiments.RegisterNameList("layer_trained_criteria", search.BlockCriterionNames)
}

// layerPipeline is layer pruning, "When Layers Play the Lottery"
// (docs/methods/layer.md): remove layer.blocks residual blocks, chosen by the
// greedy rule of docs/methods/layer.md#removability on a block score, by
// rebuilding a smaller network and copying the kept weights into it (package
// search, layer*.go), then train it with a fresh optimizer. No masks:
// parameters, FLOPs and step time really shrink.
//
//   - Algorithm 2, at initialization (layer.when init; grasp, snip or
//     random): level 1 scores the blocks of θ0, removes, and trains the
//     rebuilt network from its inherited θ0 for the full budget. There is
//     no level 0: the dense baseline is a `train` run with the same recipe
//     (the paper configs sweep it).
//   - Algorithm 1, after training (layer.when trained): level 0 trains the
//     dense network (method "dense") and saves θ_i at layer.rewind_step;
//     level 1 scores the blocks of θ_n, removes, sets the kept blocks to θ_i
//     (rewind weights_and_lr) or keeps θ_n (lr_only), and trains from
//     iteration i to the end of the budget, the schedule and data order
//     continuing from i.
//
// Scoring at initialization follows the pai pipeline's data rules
// (docs/methods/pai.md#pruning-data): the first prune.data_examples (default
// 100) of a prune_data-seeded permutation of the training split, evaluation
// mode unless prune.train_mode, GraSP at temperature 200, every Linear and
// Conv2d weight in the criterion's pass (search.WeightSet), aggregated per
// block with layer.agg. After training, kl, cka, hrank and expected_abs run
// on a class-balanced subsample of layer.samples_per_class images per class
// drawn with the prune_data seed; random draws from the mask seed.
//
// The result (level 1): method
// "layer-<criterion>[-mean][-strict][-lr_only][-rw<step>][-init]-p<blocks>",
// so that a board grouped by method separates every setting; params_total
// and flops_dense are the original dense network's, params_nonzero,
// flops_nonzero and bytes the rebuilt network's, and density = rebuilt
// parameters / dense parameters (d_all,
// docs/methods/layer.md#what-a-run-records). The unit folder's layer.yaml
// (LayerReport) holds blocks per stage, the removed blocks, the original →
// new block mapping, the block scores, and the step time of the rebuilt
// network relative to the dense one, both timed in that unit on this
// machine.
type layerPipeline struct {
	// Prune holds the pruning data of the criteria that score at
	// initialization (the pai keys); no amount: layer.blocks says how much.
	Prune struct {
		scoringData `mapstructure:",squash"`
	} `mapstructure:"prune"`
	Layer LayerSpec `mapstructure:"layer"`
}

// Algorithms, the values of layer.when.
const (
	layerWhenInit    = "init"
	layerWhenTrained = "trained"
)

var (
	layerRewinds    = []string{"weights_and_lr", "lr_only"}
	layerWhenValues = []string{layerWhenInit, layerWhenTrained}
)

// layerWhen resolves layer.when: explicit, or from the criterion.
func layerWhen(l LayerSpec) string {
	if l.When != "" {
		return l.When
	}
	if slices.Contains(initCriteria(), l.Criterion) {
		return layerWhenInit
	}
	return layerWhenTrained
}

func (c layerPipeline) Validate(s experiments.Spec) error {
	l, def := c.Layer, defaultLayerSpec()
	if l.Blocks < 1 {
		return fmt.Errorf("layer.blocks = %d: pipeline layer needs the number of residual blocks to remove, ≥ 1", l.Blocks)
	}
	if l.When != "" && !slices.Contains(layerWhenValues, l.When) {
		return fmt.Errorf("layer.when = %q: want init, trained, or empty (from the criterion)", l.When)
	}
	when := layerWhen(l)
	if when == layerWhenInit {
		if want := append(initCriteria(), search.CritRandom); !slices.Contains(want, l.Criterion) {
			return fmt.Errorf("layer.criterion = %q: at initialization (layer.when = init), want one of %s", l.Criterion, strings.Join(want, ", "))
		}
		for key, set := range map[string]bool{"rewind": l.Rewind != def.Rewind, "rewind_step": l.RewindStep != def.RewindStep, "samples_per_class": l.SamplesPerClass != def.SamplesPerClass} {
			if set {
				return fmt.Errorf("layer.%s is read after training only, and criterion %s scores at initialization; remove it or set layer.when = trained", key, l.Criterion)
			}
		}
	} else {
		if err := search.CheckTrainedCriterion(l.Criterion); err != nil {
			return err
		}
		if l.Agg != def.Agg {
			return fmt.Errorf("layer.agg is read by the initialization criteria (grasp, snip) only; criterion %s scores blocks as a whole", l.Criterion)
		}
		if c.Prune.DataExamples != 0 || c.Prune.TrainMode {
			return fmt.Errorf("prune.data_examples and prune.train_mode are the initialization criteria's pruning data; after training, layer.samples_per_class sets the data")
		}
	}
	if !slices.Contains(search.Aggregations, l.Agg) {
		return fmt.Errorf("layer.agg = %q: want one of %s", l.Agg, strings.Join(search.Aggregations, ", "))
	}
	if !slices.Contains(search.RemovableRules, l.Removable) {
		return fmt.Errorf("layer.removable = %q: want one of %s", l.Removable, strings.Join(search.RemovableRules, ", "))
	}
	if !slices.Contains(layerRewinds, l.Rewind) {
		return fmt.Errorf("layer.rewind = %q: want one of %s", l.Rewind, strings.Join(layerRewinds, ", "))
	}
	if l.SamplesPerClass < 1 {
		return fmt.Errorf("layer.samples_per_class = %d: want ≥ 1", l.SamplesPerClass)
	}
	if _, err := train.ParseStep(l.TimingSteps); err != nil {
		return fmt.Errorf("layer.timing_steps: %w", err)
	}
	at, err := train.ParseStep(l.RewindStep)
	if err != nil {
		return fmt.Errorf("layer.rewind_step: %w", err)
	}
	if budget, err := train.ParseStep(s.Training.Steps); err == nil && budget.Epochs == 0 && at.Epochs == 0 && at.Iterations >= budget.Iterations {
		return fmt.Errorf("layer.rewind_step %s is past the training budget %s", at, budget)
	}
	return c.checkModel(s)
}

// checkModel checks the model's blocks without loading data, on the
// data set's shape when the spec gives it (synthetic) and the model's
// canonical input otherwise: no residual blocks, or more blocks asked
// for than removable, is an error here. A model that does not build on
// that input is checked again by Precheck on the real
// data.
func (c layerPipeline) checkModel(s experiments.Spec) error {
	a, err := zoo.Build(s.Model.Name, zoo.Options{Input: s.Dataset.Shape, Classes: s.Dataset.Classes,
		Widths: s.Model.Widths, WidthMultiplier: s.Model.WidthMultiplier, Shortcut: s.Model.Shortcut})
	if err != nil {
		return nil
	}
	return c.checkArch(s, a)
}

func (c layerPipeline) checkArch(s experiments.Spec, a *nn.Arch) error {
	bs, err := search.FindBlocks(a)
	if errors.Is(err, search.ErrNoBlocks) {
		return fmt.Errorf("model.name = %s: %w (pipeline layer needs a residual model: resnet20…110 or resmlp)", s.Model.Name, err)
	}
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return bs.CheckRemovable(c.Layer.Blocks, c.Layer.Removable)
}

// method is the result's method name (see layerPipeline).
func (c layerPipeline) method() string {
	l, def := c.Layer, defaultLayerSpec()
	m := "layer-" + l.Criterion
	if l.Agg != def.Agg {
		m += "-" + l.Agg
	}
	if l.Removable != def.Removable {
		m += "-" + l.Removable
	}
	if layerWhen(l) == layerWhenTrained {
		if l.Rewind != def.Rewind {
			m += "-" + l.Rewind
		}
		if at, _ := train.ParseStep(l.RewindStep); !at.IsZero() {
			m += "-rw" + l.RewindStep
		}
	} else if l.When == layerWhenInit && l.Criterion == search.CritRandom {
		m += "-init"
	}
	return fmt.Sprintf("%s-p%d", m, l.Blocks)
}

func (c layerPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	if layerWhen(c.Layer) == layerWhenTrained {
		if _, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
			return c.dense(ctx, r, dir, cbs)
		}); err != nil {
			return err
		}
	}
	_, err := r.Unit(ctx, 1, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		return c.pruned(ctx, r, dir, cbs)
	})
	return err
}

// Precheck checks on the real data, before anything of the run exists, what
// Validate could not: the blocks of the model as built for the data set,
// and the rewind step against the budget in iterations.
func (c layerPipeline) Precheck(r *experiments.Replicate) error {
	s := r.Spec
	p, err := r.Prepare(s)
	if err != nil {
		return err
	}
	if err := c.checkArch(s, p.Arch); err != nil {
		return err
	}
	if layerWhen(c.Layer) != layerWhenTrained {
		if c.Layer.Criterion == search.CritRandom {
			return nil
		}
		_, err := scoringBatches(p, c.Layer.Criterion, c.Prune.DataExamples) // prune.data_examples against the training split
		return err
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return err
	}
	at, _ := train.ParseStep(c.Layer.RewindStep)
	if total := p.Config.Budget.Iters(ipe); at.Iters(ipe) >= total {
		return fmt.Errorf("layer.rewind_step %s (%d iterations) is past the training budget %s (%d iterations)", at, at.Iters(ipe), p.Config.Budget, total)
	}
	if search.NeedsSubsample(c.Layer.Criterion) {
		trainSet := p.Splits.Train
		if _, err := search.BalancedSubset(trainSet.Y, trainSet.Classes, c.Layer.SamplesPerClass, nn.NewRand(0)); err != nil {
			return err
		}
	}
	return nil
}
