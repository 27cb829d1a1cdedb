package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
	"github.com/prunebench/prunebench/search"
)

func init() { RegisterPipeline("jackpot", jackpotPipeline{}) }

// jackpotPipeline is Lottery Jackpots (specs/baselines.md §2; search
// package, jackpot*.go): a mask search on the frozen weights of a pretrained
// model.
//
//   - Level 0 is the pretrained dense model (pipeline_search.go), or none
//     when jackpot.pretrained names a checkpoint.
//   - Level 1, branch "magnitude": the starting mask, the magnitude mask of
//     the pretrained weights at the prune amount's density, evaluated
//     without any training (method "magnitude (no fine-tuning)"), so that a
//     board compares the search with one-shot magnitude pruning from the
//     same run. Magnitude with fine-tuning is pipeline imp with the same
//     density and scope and prune.rewind: finetune (the paper configs run
//     both).
//   - Level 1: the search (method "jackpot"), jackpot.steps of the frozen
//     training loop with the scores' own SGD (pipeline_jackpot_unit.go).
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
type jackpotPipeline struct{}

func (jackpotPipeline) Validate(s Spec) error {
	p := s.Prune
	if _, ok, err := p.Resolve(); err != nil {
		return err
	} else if !ok {
		return errors.New("pipeline jackpot needs a density: set one of prune.density, prune.sparsity, prune.prune_rate (the reference's key), ...")
	}
	if p.IMPRate != nil {
		return errors.New("pipeline jackpot searches once at one density: give prune.density (or sparsity, prune_rate, ...), not prune.imp_rate/imp_rounds")
	}
	for key, set := range map[string]bool{"criterion": p.Criterion != "", "branches": len(p.Branches) > 0,
		"rewind": p.Rewind != "", "output_rate": p.OutputRate != nil, "max_budget_factor": p.MaxBudgetFactor != nil,
		"data_examples": p.DataExamples != 0, "train_mode": p.TrainMode, "iterations": p.Iterations != 0, "allow_empty": p.AllowEmpty} {
		if set {
			return fmt.Errorf("pipeline jackpot does not read prune.%s (it starts from the magnitude mask and searches on frozen weights); remove it", key)
		}
	}
	if _, err := paiScope(p.Scope); err != nil {
		return fmt.Errorf("%w (global: the reference's layerwise l1, layerwise: its uniform)", err)
	}
	j := s.Jackpot
	if _, err := train.ParseStep(j.Steps); err != nil {
		return fmt.Errorf("jackpot.steps: %w", err)
	}
	if j.BatchSize < 1 {
		return fmt.Errorf("jackpot.batch_size = %d: want at least 1", j.BatchSize)
	}
	if err := jackpotConfig(j).Validate(); err != nil {
		return fmt.Errorf("jackpot.%w", err)
	}
	return checkPretrained("jackpot.pretrained", j.Pretrained, s.Replicates)
}

// jackpotConfig is the score optimizer of the spec.
func jackpotConfig(j JackpotSpec) search.JackpotConfig {
	return search.JackpotConfig{LR: j.LR, Momentum: j.Momentum, WeightDecay: j.WeightDecay, Restriction: search.Restriction(j.ShortRestriction)}
}

// jackpotMethods are the result methods of the search and of its magnitude
// baseline.
func jackpotMethods(s Spec) (jackpot, magnitude string) {
	var v []string
	magnitude = "magnitude (no fine-tuning)"
	if s.Prune.Scope == string(prune.LayerWise) {
		v = append(v, "uniform")
		magnitude = "magnitude layerwise (no fine-tuning)"
	}
	if s.Jackpot.ShortRestriction == string(search.RestrictionOff) {
		v = append(v, "reference restriction")
	}
	jackpot = "jackpot"
	if len(v) > 0 {
		jackpot += " (" + strings.Join(v, ", ") + ")"
	}
	return jackpot, magnitude
}

func (jackpotPipeline) Run(ctx context.Context, r *Replicate) error {
	s := r.Spec
	if err := jackpotPrecheck(s); err != nil {
		return err
	}
	if err := pretrainUnit(ctx, r, s.Jackpot.Pretrained); err != nil {
		return err
	}
	_, magnitude := jackpotMethods(s)
	if _, err := r.Unit(ctx, 1, jackpotBaselineBranch, func(ctx context.Context, dir string, cbs []Callback) (Result, error) {
		return jackpotMagnitude(r, dir, magnitude)
	}); err != nil {
		return err
	}
	_, err := r.Unit(ctx, 1, "", func(ctx context.Context, dir string, cbs []Callback) (Result, error) {
		return jackpotLevel(ctx, r, dir, cbs)
	})
	return err
}

// jackpotBaselineBranch is the branch of level 1 that holds the magnitude
// mask evaluated without training.
const jackpotBaselineBranch = "magnitude"

// jackpotPrecheck catches, before level 0 trains, what needs the data and
// the model: an empty searched set, a search shorter than one iteration, a
// tensor that a layer-wise density leaves empty. (A global start that
// leaves a tensor empty depends on the pretrained weights; it is an error
// after level 0.)
func jackpotPrecheck(s Spec) error {
	p, err := jackpotPrepare(s)
	if err != nil {
		return err
	}
	set, err := jackpotSet(p.Arch, s)
	if err != nil {
		return err
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return err
	}
	if n := p.Config.Budget.Iters(ipe); n < 1 {
		return fmt.Errorf("jackpot.steps = %s: want at least one iteration", s.Jackpot.Steps)
	}
	am, _, _ := s.Prune.Resolve()
	scope, _ := paiScope(s.Prune.Scope)
	if _, err := prune.DensityPlan(set, am.Density, scope, nil); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// jackpotSet is the searched set: the prunable set minus the output layer's
// weight unless jackpot.search_output.
func jackpotSet(arch *nn.Arch, s Spec) ([]nn.ParamInfo, error) {
	set, err := prunableSet(arch, s)
	if err != nil {
		return nil, err
	}
	if !s.Jackpot.SearchOutput {
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

// jackpotPrepare prepares the search's network: the spec with the search's
// batch size (the net's buffers are sized for it), and the training loop
// frozen (search.FreezeWeights) over jackpot.steps. Evaluation interval,
// data order and temperature are the training section's.
func jackpotPrepare(s Spec) (*Prepared, error) {
	ss := s
	ss.Training.BatchSize = s.Jackpot.BatchSize
	p, err := Prepare(ss)
	if err != nil {
		return nil, err
	}
	if p.Config.Budget, err = train.ParseStep(s.Jackpot.Steps); err != nil {
		return nil, fmt.Errorf("jackpot.steps: %w", err)
	}
	search.FreezeWeights(&p.Config)
	return p, nil
}

// jackpotMagnitude evaluates the starting mask of the search, the magnitude
// mask of the pretrained weights, without any training: validation and test
// metrics at iteration 0. The mask is saved to dir/masks.bin.
func jackpotMagnitude(r *Replicate, dir, method string) (Result, error) {
	p, masks, err := jackpotStart(r)
	if err != nil {
		return Result{}, err
	}
	if err := masks.Save(filepath.Join(dir, masksFile)); err != nil {
		return Result{}, err
	}
	if err := masks.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		return Result{}, err
	}
	pt := train.EvalPoint{ValLoss: math.NaN(), ValAcc: math.NaN()}
	if p.Splits.Val != nil && p.Splits.Val.Len() > 0 {
		if pt.ValLoss, pt.ValAcc, err = train.Evaluate(p.Net, p.Splits.Val, p.Config.BatchSize); err != nil {
			return Result{}, err
		}
	}
	if pt.TestLoss, pt.TestAcc, err = train.Evaluate(p.Net, p.Splits.Test, p.Config.BatchSize); err != nil {
		return Result{}, err
	}
	h := &train.History{Points: []train.EvalPoint{pt}}
	return Measure(p, h, method, masks.Density()), nil
}

// jackpotStart prepares the search's network with the pretrained model
// loaded and returns it with the starting (magnitude) masks.
func jackpotStart(r *Replicate) (*Prepared, *prune.Masks, error) {
	s := r.Spec
	p, err := jackpotPrepare(s)
	if err != nil {
		return nil, nil, err
	}
	if err := loadPretrained(p.Net, pretrainedCheckpoint(r, s.Jackpot.Pretrained)); err != nil {
		return nil, nil, err
	}
	set, err := jackpotSet(p.Arch, s)
	if err != nil {
		return nil, nil, err
	}
	am, _, _ := s.Prune.Resolve()
	scope, _ := paiScope(s.Prune.Scope)
	masks, err := search.MagnitudeMasks(p.Net, set, am.Density, scope)
	if err != nil {
		return nil, nil, fmt.Errorf("prune: %w", err)
	}
	return p, masks, nil
}
