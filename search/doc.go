// Package search holds the methods that optimize a mask or an architecture
// instead of reading it off a fixed criterion (DESIGN.md, "search"):
//
//   - BiP (specs/bip.md): bi-level optimization of a score tensor per prunable
//     weight, alternating a weight step and a score step on two independent
//     batches, on the scored parametrization W = θ ⊙ topk(s) (bip*.go).
//   - Lottery Jackpots (specs/baselines.md §2): a score search on frozen
//     pretrained weights with per-layer exact-density masks (jackpot*.go).
//   - Layer pruning ("When Layers Play the Lottery", specs/layer-lottery.md):
//     scoring residual blocks at initialization or after training and
//     removing them physically by rebuilding a smaller network (layer*.go).
//
// The methods work through the engine contract of package nn only, so they
// run on every engine that implements the parametrizations they need. The
// experiments package wraps each one as a pipeline.
package search
