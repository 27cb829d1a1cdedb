package pipelines

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
	"github.com/prunebench/prunebench/search"
)

func init() {
	experiments.RegisterPipeline("jackpot", jackpotPipeline{Jackpot: search.DefaultJackpotConfig()})
}

// jackpotPipeline is Lottery Jackpots (docs/methods/jackpot.md; search
// package, jackpot*.go): a mask search on the frozen weights of a pretrained
// model.
//
//   - Level 0 is the pretrained dense model (search.go), or none
//     when jackpot.pretrained names a checkpoint.
//   - Level 1, branch "magnitude": the starting mask, the magnitude mask of
//     the pretrained weights at the prune amount's density, evaluated
//     without any training (method "magnitude (no fine-tuning)"), so that a
//     board compares the search with one-shot magnitude pruning from the
//     same run. Magnitude with fine-tuning is pipeline imp with the same
//     density and scope and prune.rewind: finetune (the paper configs run
//     both).
//   - Level 1: the search (method "jackpot"), jackpot.steps of the frozen
//     training loop with the scores' own SGD (jackpot_unit.go).
//
// The searched set is the prunable set (prune.exclude applies) minus the
// output layer's weight, which the reference keeps as a plain dense layer,
// unless jackpot.search_output. The density counts the searched set only,
// as IMP's does with prune.exclude: [the output weight]. prune.scope global
// (the default) is the reference's `layerwise: l1` (per-layer counts from
// one magnitude threshold), layerwise its `uniform`. The method records the
// variants that change what is computed: "jackpot (uniform)" for a
// layer-wise start, "(reference restriction)" for short_restriction off,
// and "magnitude layerwise (no fine-tuning)" for the layer-wise baseline.
type jackpotPipeline struct {
	Prune   jackpotPrune         `mapstructure:"prune"`
	Jackpot search.JackpotConfig `mapstructure:"jackpot"`
}

// jackpotPrune is the prune section of pipeline jackpot: the density, the
// scope of the starting magnitude mask, the prunable set.
type jackpotPrune struct {
	experiments.AmountSpec `mapstructure:",squash"`
	scopeKey               `mapstructure:",squash"`
	excludeKey             `mapstructure:",squash"`
}

func (c jackpotPipeline) Validate(s experiments.Spec) error {
	p := c.Prune
	if _, ok, err := p.Resolve(); err != nil {
		return err
	} else if !ok {
		return errors.New("pipeline jackpot needs a density: set one of prune.density, prune.sparsity, prune.prune_rate (the reference's key), ...")
	}
	if p.IMPRate != nil {
		return errors.New("pipeline jackpot searches once at one density: give prune.density (or sparsity, prune_rate, ...), not prune.imp_rate/imp_rounds")
	}
	if _, err := pruneScope(p.Scope); err != nil {
		return fmt.Errorf("%w (global: the reference's layerwise l1, layerwise: its uniform)", err)
	}
	if err := c.Jackpot.Validate(); err != nil {
		return fmt.Errorf("jackpot.%w", err)
	}
	return checkPretrained("jackpot.pretrained", c.Jackpot.Pretrained, s.Replicates)
}

// methods are the result methods of the search and of its magnitude
// baseline.
func (c jackpotPipeline) methods() (jackpot, magnitude string) {
	var v []string
	magnitude = "magnitude (no fine-tuning)"
	if c.Prune.Scope == string(prune.LayerWise) {
		v = append(v, "uniform")
		magnitude = "magnitude layerwise (no fine-tuning)"
	}
	if c.Jackpot.Restriction == search.RestrictionOff {
		v = append(v, "reference restriction")
	}
	jackpot = "jackpot"
	if len(v) > 0 {
		jackpot += " (" + strings.Join(v, ", ") + ")"
	}
	return jackpot, magnitude
}

func (c jackpotPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	if err := pretrainUnit(ctx, r, c.Jackpot.Pretrained); err != nil {
		return err
	}
	_, magnitude := c.methods()
	if _, err := r.Unit(ctx, 1, jackpotBaselineBranch, func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		return c.magnitude(r, dir, magnitude)
	}); err != nil {
		return err
	}
	_, err := r.Unit(ctx, 1, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		return c.level(ctx, r, dir, cbs)
	})
	return err
}

// jackpotBaselineBranch is the branch of level 1 that holds the magnitude
// mask evaluated without training.
const jackpotBaselineBranch = "magnitude"

// Precheck catches, before anything of the run exists, what needs the data and
// the model: an empty searched set, a search shorter than one iteration, a
// tensor that a layer-wise density leaves empty. (A global start that
// leaves a tensor empty depends on the pretrained weights; it is an error
// after level 0.)
func (c jackpotPipeline) Precheck(r *experiments.Replicate) error {
	p, err := c.prepare(r)
	if err != nil {
		return err
	}
	set, err := c.searchedSet(p.Arch)
	if err != nil {
		return err
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return err
	}
	if n := p.Config.Budget.Iters(ipe); n < 1 {
		return fmt.Errorf("jackpot.steps = %s: want at least one iteration", c.Jackpot.Steps)
	}
	am, _, _ := c.Prune.Resolve()
	scope, _ := pruneScope(c.Prune.Scope)
	if _, err := prune.DensityPlan(set, am.Density, scope, nil); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// searchedSet is the searched set: the prunable set minus the output layer's
// weight unless jackpot.search_output.
func (c jackpotPipeline) searchedSet(arch *nn.Arch) ([]nn.ParamInfo, error) {
	set, err := prunableSet(arch, c.Prune.Exclude)
	if err != nil {
		return nil, err
	}
	if !c.Jackpot.SearchOutput {
		out, err := outputWeight(arch)
		if err != nil {
			return nil, err
		}
		set = slices.DeleteFunc(set, func(p nn.ParamInfo) bool { return p.Name == out })
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("pipeline jackpot: model %s has no weight to search besides the output layer's (prune.exclude, jackpot.search_output)", arch.Name)
	}
	return set, nil
}

// prepare prepares the search's network: the spec with the search's
// batch size (the net's buffers are sized for it), and the training loop
// frozen (search.FreezeWeights) over jackpot.steps. Evaluation interval,
// data order and temperature are the training section's.
func (c jackpotPipeline) prepare(r *experiments.Replicate) (*experiments.Prepared, error) {
	s := r.Spec
	ss := s
	ss.Training.BatchSize = c.Jackpot.BatchSize
	p, err := r.Prepare(ss)
	if err != nil {
		return nil, err
	}
	if p.Config.Budget, err = train.ParseStep(c.Jackpot.Steps); err != nil {
		return nil, fmt.Errorf("jackpot.steps: %w", err)
	}
	search.FreezeWeights(&p.Config)
	return p, nil
}

// magnitude evaluates the starting mask of the search, the magnitude
// mask of the pretrained weights, without any training: validation and test
// metrics at iteration 0. The mask is saved to dir/masks.bin.
func (c jackpotPipeline) magnitude(r *experiments.Replicate, dir, method string) (results.Result, error) {
	p, masks, err := c.start(r)
	if err != nil {
		return results.Result{}, err
	}
	if err := masks.Save(filepath.Join(dir, masksFile)); err != nil {
		return results.Result{}, err
	}
	if err := masks.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		return results.Result{}, err
	}
	pt := train.NewEvalPoint(0)
	if p.Splits.Val != nil && p.Splits.Val.Len() > 0 {
		if pt.ValLoss, pt.ValAcc, err = train.Evaluate(p.Net, p.Splits.Val, p.Config.BatchSize); err != nil {
			return results.Result{}, err
		}
	}
	if pt.TestLoss, pt.TestAcc, err = train.Evaluate(p.Net, p.Splits.Test, p.Config.BatchSize); err != nil {
		return results.Result{}, err
	}
	h := &train.History{Points: []train.EvalPoint{pt}}
	return experiments.Measure(p, h, method, masks.Density()), nil
}

// start prepares the search's network with the pretrained model
// loaded and returns it with the starting (magnitude) masks.
func (c jackpotPipeline) start(r *experiments.Replicate) (*experiments.Prepared, *prune.Masks, error) {
	p, err := c.prepare(r)
	if err != nil {
		return nil, nil, err
	}
	if err := loadPretrained(p.Net, r, c.Jackpot.Pretrained); err != nil {
		return nil, nil, err
	}
	set, err := c.searchedSet(p.Arch)
	if err != nil {
		return nil, nil, err
	}
	am, _, _ := c.Prune.Resolve()
	scope, _ := pruneScope(c.Prune.Scope)
	masks, err := search.MagnitudeMasks(p.Net, set, am.Density, scope)
	if err != nil {
		return nil, nil, fmt.Errorf("prune: %w", err)
	}
	return p, masks, nil
}
