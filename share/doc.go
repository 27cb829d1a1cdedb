// Package share implements randomized parameter sharing: the mappers
// (HashedNet, ROAST blocks, STABLE-RPS fold), the shared-array
// parametrization W = λ·g ⊙ z[h], gradient scalers and memory accounting. See
// shared/specs/rps.md.
package share
