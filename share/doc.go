// Package share implements randomized parameter sharing (RPS): HashedNet,
// ROAST and STABLE-RPS (docs/methods/rps.md#overview). Every shared weight
// W_ℓ of a model reads a trained array z through the parametrization
//
//	W_ℓ[i] = λ_ℓ · g(L) · z[h(L)],   L = off_ℓ + i
//
// with L the global location of entry i of the ℓ-th shared tensor in
// canonical order, h a mapper (HashedNet, ROAST tiles or the STABLE-RPS
// fold), g ∈ {−1, +1} a sign and λ_ℓ a per-layer scale. This package is the
// engine-independent part: the universal hash (Hasher), the mappers
// (Mapper), signs, scales (ScaleFromInit, ScaleFromWeights), the STABLE-RPS
// gradient scaler (SlotStats, Divisors, ScaleGrad), memory accounting
// (Account, Mapper.Memory) and the equal-parameter narrow baseline
// (NarrowWidth). Forward and backward passes belong to the engines.
//
// # For engine authors
//
// Build a Mapper once per model: Build(arch, cfg) (or NewMapper over
// hand-made Tensors). It holds no O(n) state, so kernels recompute indices
// and signs instead of storing them (docs/methods/rps.md#memory-accounting):
//
//   - Mapper.Arrays lists the shared arrays z (one in global scope, one per
//     tensor in local scope) with their sizes; Layer(ℓ).Array says which one
//     tensor ℓ reads.
//   - Mapper.Index(ℓ, i) returns (j, g) for one entry, i row-major in the
//     weight's native layout ([out, in], [out, in, kh, kw]). It does not
//     allocate and is safe for concurrent use.
//   - Mapper.Row(ℓ, r, idx, sign) fills the RowLen(ℓ) indices and signs of
//     row r (an output unit, a filter) into caller-owned buffers, and
//     Mapper.Fill does the same for any run of entries; both walk the
//     fold's shift table and ROAST's tile bases incrementally and cost a
//     few nanoseconds per entry for those mappers (HashedNet hashes every
//     entry; see the benchmarks). A forward pass gathers
//     W[r, :] = λ·sign·z[idx] row by row; a backward pass scatter-adds
//     λ·sign·∂ℓ/∂W[r, :] into ∂ℓ/∂z[idx], sequentially for determinism.
//   - λ_ℓ: Mapper.ScalesFromInit(scheme) (clean) or ScaleFromWeights on
//     the drawn dense weight (reference). z is drawn U(−a, a), a =
//     Config.InitStd, from the init stream.
//   - Gradient scaler: GradDivisors(scales) once at construction (O(n)
//     time, m float32 per array), then ScaleGrad(gradZ, divisors) after the
//     backward pass and before the optimizer step and its weight decay.
//   - Mapper.Shared(ℓ, λ) materializes the full nn.Shared parametrization
//     (an nn.TableMap of Index and Sign slices, 8 bytes per virtual weight)
//     for engines that store indices and for tests; it defeats the memory
//     saving.
//
// # Decisions
//
// Config.Scope is global or local and Config.Mode is clean or reference
// (the project-wide name of the mode switch). Clean global scope uses one
// hash function for the whole array; clean local scope uses one hash
// function per array applied to the tensor's own locations i, so that the
// fold stays balanced and is a bijection at ρ = 1 in both scopes; reference
// draws one hash function per tensor and applies it to global locations
// (FakeRoast reseeds each layer's mapper and passes the global offset in
// local mode too). Hash constants are drawn from nn.NewRand(Config.Seed) in
// canonical order, four per hash function. Signs are the top bit of
// SplitMix64(seed' ⊕ L), seed' derived from Config.Seed, in both modes.
// A ROAST tile larger than a layer is allowed (the layer uses part of one
// tile, as in the reference); a tile of at least the array's size is an
// error. The reference's bit-exact indices are out of scope (torch's
// generator; docs/methods/rps.md#departures).
package share
