package pipelines

import (
	"fmt"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/prune"
)

// The prune section is shared by the pruning pipelines. Each pipeline's
// prune section is a struct that embeds (`mapstructure:",squash"`) the
// parts below it reads, so a key is declared once, means one thing, and is
// refused by the pipelines that do not embed it.

// scopeKey is prune.scope.
type scopeKey struct {
	Scope string `mapstructure:"scope" help:"global (one top-k over all prunable weights) or layerwise (the density per tensor)"`
}

// excludeKey is prune.exclude.
type excludeKey struct {
	Exclude []string `mapstructure:"exclude" help:"weights never pruned, as globs on parameter names (e.g. fc3.weight: open_lth's ignored output layer)"`
}

// scoringData are the pruning data of the criteria that score on training
// data (pai; layer at initialization).
type scoringData struct {
	DataExamples int  `mapstructure:"data_examples" help:"criteria that score on training data ({data_criteria}): examples used for scoring (0: 100, as SNIP and the SynFlow harness)"`
	TrainMode    bool `mapstructure:"train_mode" help:"criteria that score on training data ({data_criteria}): score in training mode (batch statistics, dropout); the default is evaluation mode"`
}

// branchKeys are the control branches run off a pruned level.
type branchKeys struct {
	Branches        []string `mapstructure:"branches" help:"control branches off each pruned level: {branches}"`
	MaxBudgetFactor *float64 `mapstructure:"max_budget_factor" help:"scratch_b: cap on the budget factor FLOPs_dense / FLOPs_pruned (empty: no cap)"`
}

// amount resolves the prune amount a pruning pipeline needs: an error when
// none is set, naming the keys.
func amount(pipeline string, a experiments.AmountSpec, what string) (experiments.Amount, error) {
	am, ok, err := a.Resolve()
	if err != nil {
		return am, err
	}
	if !ok {
		return am, fmt.Errorf("pipeline %s needs %s: set one of prune.density, prune.sparsity, prune.compression, ... (the prune amount keys)", pipeline, what)
	}
	return am, nil
}

// pruneScope resolves prune.scope.
func pruneScope(s string) (prune.Scope, error) {
	switch s {
	case "", "global":
		return prune.Global, nil
	case "layerwise":
		return prune.LayerWise, nil
	}
	return "", fmt.Errorf("prune.scope = %q: want global or layerwise", s)
}
