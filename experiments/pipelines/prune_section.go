package pipelines

import (
	"fmt"
	"math"

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

// patternKeys are prune.pattern, prune.n and prune.m
// (docs/methods/conventions.md#nm-masks), read by imp and pai. At their
// defaults (unstructured, 0, 0) they change nothing, so no run name moves.
type patternKeys struct {
	Pattern string `mapstructure:"pattern" help:"imp, pai: mask pattern: unstructured (top-k over the scope, the default) or nm (keep the top prune.n of every prune.m consecutive input weights; the amount is n/m)"`
	N       int    `mapstructure:"n" help:"imp, pai, pattern nm: weights kept of every group, 1 ≤ n < m"`
	M       int    `mapstructure:"m" help:"imp, pai, pattern nm: group size, m ≥ 2: consecutive weights along the input dimension (a linear row; a conv's input channels at each kernel position, as NVIDIA ASP)"`
}

const (
	patternUnstructured = "unstructured"
	patternNM           = "nm"
)

// nm resolves the pattern keys: ok is false for the unstructured pattern
// (empty means unstructured). Errors name the keys.
func (k patternKeys) nm() (p prune.NM, ok bool, err error) {
	switch k.Pattern {
	case "", patternUnstructured:
		if k.N != 0 || k.M != 0 {
			return p, false, fmt.Errorf("prune.n and prune.m are the group of prune.pattern: nm; the pattern is %s (set prune.pattern: nm, or remove prune.n and prune.m)", patternUnstructured)
		}
		return p, false, nil
	case patternNM:
	default:
		return p, false, fmt.Errorf("prune.pattern = %q: want %s or %s", k.Pattern, patternUnstructured, patternNM)
	}
	p = prune.NM{N: k.N, M: k.M}
	switch {
	case k.M < 2:
		return p, false, fmt.Errorf("prune.m = %d: prune.pattern nm needs a group size prune.m ≥ 2", k.M)
	case k.N < 1:
		return p, false, fmt.Errorf("prune.n = %d: prune.pattern nm needs prune.n ≥ 1 weights kept of every prune.m = %d", k.N, k.M)
	case k.N >= k.M:
		return p, false, fmt.Errorf("prune.n = %d, prune.m = %d: want prune.n < prune.m (n = m keeps every weight)", k.N, k.M)
	}
	return p, true, nil
}

// nmAmount checks the prune amount against an n:m pattern: the amount of
// pattern nm is n/m, so no amount key is needed; one that is set must give
// density n/m (exactly: the conversion is exact, except log10_compression,
// which is a float64 power and may be off by 1e-9 relative). The density a
// run records is still the actual kept fraction (partial groups keep a
// little more).
func nmAmount(p prune.NM, a experiments.AmountSpec) error {
	am, ok, err := a.Resolve()
	if err != nil || !ok {
		return err
	}
	want := p.Density()
	agree := am.Density == want
	if am.Convention == "log10_compression" {
		agree = math.Abs(am.Density-want) <= 1e-9*want
	}
	if !agree {
		return fmt.Errorf("prune.%s gives density %v, but prune.pattern nm with prune.n = %d, prune.m = %d keeps n/m = %v: remove the amount key (pattern nm sets the amount) or make it agree", am.Convention, am.Density, p.N, p.M, want)
	}
	return nil
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
