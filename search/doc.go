// Package search holds the methods that optimize a mask or an architecture
// instead of reading it off a fixed criterion (ARCHITECTURE.md#packages):
//
//   - BiP (docs/methods/bip.md#overview): bi-level optimization of a score
//     tensor per prunable weight, alternating a weight step and a score step
//     on two independent batches, on the scored parametrization
//     W = θ ⊙ topk(s) (bip*.go).
//   - Lottery Jackpots (docs/methods/jackpot.md#overview): a score search on
//     frozen pretrained weights with per-layer exact-density masks
//     (jackpot*.go).
//   - Layer pruning ("When Layers Play the Lottery";
//     docs/methods/layer.md#the-algorithms): scoring residual blocks at
//     initialization or after training and removing them physically by
//     rebuilding a smaller network (layer*.go).
//
// The methods work through the engine contract of package nn only, so they
// run on every engine that implements the parametrizations they need. The
// experiments package wraps each one as a pipeline.
package search
