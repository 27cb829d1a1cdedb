// Package search holds methods that optimize a mask or an architecture rather
// than compute one from a criterion: BiP (bi-level optimization), Lottery
// Jackpots (score search on frozen weights) and the layer lottery (block
// removal). See shared/specs/bip.md, baselines.md and layer-lottery.md.
package search
