// Package prune holds masks, density and exact-count top-k selection, the
// pruning criteria (magnitude, random, SNIP, GraSP, SynFlow), allocation
// (global, layer-wise, ERK, per-layer overrides, ignore lists) and
// schedules (one-shot, IMP levels, cubic GMP, prune-and-regrow): the parts
// the pipelines of experiments/pipelines (IMP, PAI, GMP, GraNet, DST, the
// control branches) are built from. The methods are documented in
// docs/methods: conventions.md, imp.md, pai.md, gradual.md and scratch.md.
//
// Masks come from scores in one way only
// (docs/methods/conventions.md#exact-top-k): a Plan splits the prunable set
// (ResolvePrunable: Kind Weight by default, include/exclude globs) into units
// with exact keep counts (DensityPlan for a global or layer-wise density with
// per-tensor overrides, RatePlan for one IMP round, QuotaPlan and ERKPlan for
// given per-tensor counts), every count rounded by RoundCount; Plan.Select
// then runs SelectTop, the exact-count top-k with ties to the lower canonical
// index, once per unit, over the concatenation for the global pool. Masks
// holds the result in canonical order and is validated, saved, loaded and
// applied to a Net as nn.Masked parametrizations. The threshold rules of the
// reference implementations (CompatRules) exist only for `reference` mode.
package prune
