// Package nn is the engine contract of prunebench and everything about a
// network that does not depend on the engine that runs it.
//
// # The contract
//
// A Backend builds a Net from an Arch (a declarative description of the
// layers). A Net runs training steps (forward, loss, backward, optimizer
// step, mask enforcement), evaluates, exposes its Params in canonical order
// and saves and restores its State. Each prunable weight has a
// Parametrization that says how the effective weight W is produced from what
// is trained: Dense (W = θ), Masked (W = θ ⊙ m, with one of the three mask
// enforcement patterns of docs/methods/conventions.md#mask-enforcement),
// Scored (W = θ ⊙ topk(s)) and Shared (W = λ·g ⊙ z[h]). Every backend runs
// the conformance suite in nn/nntest.
//
// # What lives here
//
// Besides the contract: initializers (applied through Param.SetValues, so
// both engines start from identical weights), optimizer specifications,
// seeded random streams per namespace, and parameter and FLOP counting. The
// architectures are in nn/zoo and the training loop, its learning-rate
// schedules, Step strings such as "2ep100it" and checkpoints in nn/train.
//
// # Layout of tensors
//
// Parameters use PyTorch's shapes and row-major order: Linear weights are
// [out, in], Conv2d weights [out, in, kh, kw]. The canonical order of all
// parameters is the order in which the Arch declares them (depth first), which
// is the order of Net.Params and of every saved mask. Input batches are NCHW
// row-major float32; labels are int32 class indices.
package nn
