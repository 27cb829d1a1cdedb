// Package prune holds masks, density and exact-count top-k selection, the
// pruning criteria (magnitude, random, SNIP, GraSP, SynFlow), allocation
// (global, layer-wise, ERK, per-layer overrides, ignore lists), schedules
// (one-shot, IMP levels, cubic GMP) and the pipelines built from them (IMP,
// GMP, GraNet, Scratch-E/B). It is filled in by the pruning issues; see
// shared/specs/lth.md, pai.md, granet.md and baselines.md.
package prune
