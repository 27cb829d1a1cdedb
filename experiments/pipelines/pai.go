package pipelines

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/prune"
)

func init() {
	experiments.RegisterPipeline("pai", paiPipeline{Prune: paiPrune{patternKeys: patternKeys{Pattern: patternUnstructured}}})
}

// paiPipeline is pruning at initialization (docs/methods/pai.md): score the
// initialized network with prune.criterion, keep the top entries at the
// density of the prune section (global or layer-wise), then train with the
// mask enforced after every step (pattern P3, the clean mode of
// docs/methods/conventions.md#which-method-uses-which-pattern).
// One level, level 0, which saves its mask (masks.bin); the result's method
// is the criterion's name. prune.branches (branches.go) run off that mask:
// Scratch-E/B, and the random controls (which start at step 0).
//
// Choices recorded here (docs/methods/pai.md#the-pipeline): the prune loop
// (docs/methods/pai.md#the-prune-loop) runs prune.iterations scoring
// iterations on the exponential schedule (0: the criterion's default, 100 for
// synflow and 1 otherwise), rescoring the network with the previous masks
// applied (P1) each time, and ends at exactly the one-shot count. Scoring is
// in evaluation mode (batch norm with running statistics, dropout off) unless
// prune.train_mode, which only snip and grasp accept: synflow scores in
// evaluation mode by definition, magnitude and random run no network. The
// pruning data of snip and grasp are the first prune.data_examples (default
// 100) of a permutation of the training split drawn from the prune_data seed
// namespace, without augmentation, in batches of at most 256; they are scored
// on a second net built for those batches (GraSP's at temperature 200) with
// the first net's state.
//
// N:M masks (docs/methods/pai.md#nm-masks): with prune.pattern nm the
// criterion scores the network once and every group of prune.m consecutive
// input weights keeps its prune.n highest scores (prune.NMMasks, ties to the
// lower index). The amount is n/m (an amount key, when set, must agree);
// the prune loop is one scoring iteration whatever the criterion (no layer
// can collapse under n:m, which is what SynFlow's iterations guard
// against), so prune.iterations above 1 is refused, as are prune.scope and
// prune.allow_empty, which do not apply.
type paiPipeline struct {
	Prune paiPrune `mapstructure:"prune"`
}

// paiPrune is the prune section of pipeline pai.
type paiPrune struct {
	experiments.AmountSpec `mapstructure:",squash"`
	Criterion              string `mapstructure:"criterion" help:"pai: scoring criterion: {criteria} (synflow: 100 scoring iterations by default, see prune.iterations)"`
	scopeKey               `mapstructure:",squash"`
	patternKeys            `mapstructure:",squash"`
	excludeKey             `mapstructure:",squash"`
	scoringData            `mapstructure:",squash"`
	AllowEmpty             bool `mapstructure:"allow_empty" help:"pai, global scope: train a network whose criterion left a tensor with no weights (layer collapse) instead of stopping with an error"`
	Iterations             int  `mapstructure:"iterations" help:"pai: scoring iterations on the exponential schedule (0: the criterion's default, 100 for synflow, 1 otherwise)"`
	branchKeys             `mapstructure:",squash"`
}

func (c paiPipeline) Validate(s experiments.Spec) error {
	p := c.Prune
	nm, isNM, err := p.nm()
	if err != nil {
		return err
	}
	if isNM {
		if err := nmAmount(nm, p.AmountSpec); err != nil {
			return err
		}
	} else if _, err := amount("pai", p.AmountSpec, "an amount of pruning (or prune.pattern: nm with prune.n and prune.m)"); err != nil {
		return err
	}
	if p.Criterion == "" {
		return fmt.Errorf("pipeline pai needs prune.criterion: one of %s", strings.Join(prune.CriterionNames(), ", "))
	}
	crit, err := prune.CriterionByName(p.Criterion)
	if err != nil {
		return fmt.Errorf("prune.criterion: %w", err)
	}
	if _, err := pruneScope(p.Scope); err != nil {
		return err
	}
	if p.DataExamples < 0 {
		return fmt.Errorf("prune.data_examples = %d: want ≥ 0", p.DataExamples)
	}
	if p.Iterations < 0 {
		return fmt.Errorf("prune.iterations = %d: want ≥ 1 scoring iterations, or 0 for the criterion's default (%d for %s)", p.Iterations, crit.Needs().Iterations, crit.Name())
	}
	if err := checkTrainMode(crit, p.TrainMode); err != nil {
		return err
	}
	if isNM {
		switch {
		case p.Iterations > 1:
			return fmt.Errorf("prune.iterations = %d with prune.pattern nm: the n:m selection is one scoring pass for every criterion (each group keeps prune.n, so no layer can collapse); remove prune.iterations or set it to 1", p.Iterations)
		case p.Scope != "":
			return fmt.Errorf("prune.scope = %q does not apply to prune.pattern nm: every group of prune.m keeps prune.n, whatever the scope; remove prune.scope", p.Scope)
		case p.AllowEmpty:
			return fmt.Errorf("prune.allow_empty does not apply to prune.pattern nm: every group keeps at least one weight, so no tensor can be left empty; remove it")
		}
	}
	return validateBranches(p.branchKeys)
}

// iterations is prune.iterations with 0 resolved to the criterion's
// default.
func (c paiPipeline) iterations(crit prune.Criterion) int {
	if c.Prune.Iterations > 0 {
		return c.Prune.Iterations
	}
	return crit.Needs().Iterations
}

func (c paiPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, err := experiments.Prepare(r.Spec)
		if err != nil {
			return results.Result{}, err
		}
		masks, err := c.masks(p)
		if err != nil {
			return results.Result{}, err
		}
		h, err := trainMasked(ctx, p, masks, dir, cbs)
		if err != nil {
			return results.Result{}, err
		}
		return experiments.Measure(p, h, c.Prune.Criterion, masks.Density()), nil
	})
	if err != nil || len(c.Prune.Branches) == 0 {
		return err
	}
	masks, err := prune.LoadMasks(filepath.Join(r.UnitDir(0, ""), masksFile))
	if err != nil {
		return err
	}
	return runBranches(ctx, r, c.Prune.branchKeys, trunk{level: 0, method: c.Prune.Criterion, masks: masks})
}

// masks runs the prune loop on the freshly initialized network and
// returns the final masks (the loop leaves its intermediate masks on the
// scored net as MaskedForward, which the caller replaces with the training
// pattern).
func (c paiPipeline) masks(p *experiments.Prepared) (*prune.Masks, error) {
	am, _, err := c.Prune.Resolve()
	if err != nil {
		return nil, err
	}
	nm, isNM, err := c.Prune.nm()
	if err != nil {
		return nil, err
	}
	scope, err := pruneScope(c.Prune.Scope)
	if err != nil {
		return nil, err
	}
	set, err := prunableSet(p.Arch, c.Prune.Exclude)
	if err != nil {
		return nil, err
	}
	crit, err := prune.CriterionByName(c.Prune.Criterion)
	if err != nil {
		return nil, fmt.Errorf("prune.criterion: %w", err)
	}
	sc, err := scoreContext(p, crit, set, c.Prune.scoringData)
	if err != nil {
		return nil, err
	}
	if isNM {
		return nmSelect(sc, crit, nm)
	}
	loop := prune.PruneLoop{Criterion: crit, Density: am.Density, Scope: scope, Iterations: c.iterations(crit), Schedule: prune.PAIExponential, AllowEmpty: c.Prune.AllowEmpty}
	return loop.Run(sc)
}
