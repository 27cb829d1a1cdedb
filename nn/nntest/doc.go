// Package nntest is the conformance suite that every engine (nn.Backend)
// runs, in the style of gonum's blas/testblas: exported functions take a
// *testing.T and the Backend under test, so the native engine and the torch
// engine check the same contract against the same expectations:
//
//	func TestConformance(t *testing.T) { nntest.TestBackend(t, native.Backend{}) }
//
// The suite builds tiny architectures that it defines itself (an MLP with
// biases, a conv net with batch norm, max pooling and option-A and identity
// residual blocks, an MLP with dropout), sets their weights deterministically
// with Param.SetValues from a seeded math/rand/v2 source in canonical order,
// and checks:
//
//   - the canonical parameter list (names, shapes, kinds, fans) against
//     Arch.Params;
//   - logits, losses and gradients against an engine-independent float64
//     reference implemented here (analytic backward for the MLP, float64
//     central differences of the reference forward for the conv net, batch
//     norm running statistics included), and against finite differences of
//     the engine's own loss;
//   - SGD (plain, momentum, Nesterov), Adam and AdamW updates and optimizer
//     state against the nn.Optimizer formulas evaluated in float64;
//   - the three mask enforcement patterns of
//     docs/methods/conventions.md#mask-enforcement, including the test that
//     they train alike under a fixed mask;
//   - bit-identical resumption through State and SetState;
//   - that Scored and Shared either work or fail with nn.ErrNotImplemented,
//     and where they work, their contracts: for Shared, logits and ∂ℓ/∂z of
//     two tensors on one array against the reference with explicit tables,
//     the gradient divisors in Step, the shared Params (W on demand, no
//     gradient), nn.SharedNet, State round trips and leaving Shared;
//   - errors (never panics) for bad batches, masks, names and states.
//
// Tolerances are those of float32 arithmetic against float64 references;
// resumption must be bit-identical.
package nntest
