package nn

import (
	"fmt"
	"math"
	"slices"
)

// The shared parametrization W_i = Scale · Sign_i · z[Index_i] (randomized
// parameter sharing; docs/methods/rps.md#parametrization).
//
// The point of the method is memory, so the contract is shaped for engines
// that never hold an O(n) tensor for a shared weight: the mapping is a
// SharedMap that the forward and backward kernels query for a block of
// rows at a time (a Linear layer's output units, a convolution's filters),
// gather W for the block from z, multiply, and in the backward pass
// scatter-add Scale · Sign · ∂ℓ/∂W of the block into ∂ℓ/∂z. The tensor's θ
// and dense gradient are released while it is shared.
//
// # Arrays
//
// An array z is created, zero, when the first tensor names it, and dropped
// (with its optimizer state) when no tensor reads it any more. It is
// trained like a dense parameter: the optimizer steps z after dividing
// ∂ℓ/∂z by the GradDivisor, and shared tensors themselves are skipped.
// Engines that implement Shared implement SharedNet, through which z is
// initialized (SetValues), read and saved.
//
// # The Param of a shared tensor
//
// A shared tensor keeps its place in Net.Params (same name, shape and kind,
// so that counting and canonical order do not change), but it has no θ:
//
//   - Values returns a fresh slice holding the effective weight W,
//     materialized from z on demand (Shared.Weights); writing to it changes
//     nothing. It costs the dense size once per call, which is what code
//     that wants to look at W (magnitudes, plots) asks for.
//   - Grad returns nil: ∂ℓ/∂W is never formed in full; the gradient is
//     ∂ℓ/∂z, the Grad of the array.
//   - SetValues panics: there is no θ to write, and silently dropping the
//     values (or projecting them onto z) would hide a bug. Initialize the
//     net before sharing, and z through SharedArray(name).SetValues.
//
// Setting another parametrization on a shared tensor gives it a θ again,
// equal to its current W, so that leaving the shared parametrization does
// not change the function.
//
// # State
//
// A State holds z as "shared/<array>", its optimizer slots as
// "opt/<slot>/shared/<array>", and the counter "shared/<param>" (the
// array's size) for each shared parameter, which has no "param/<param>" and
// no optimizer slot of its own. The map is not part of a State (it is
// code, rebuilt from a configuration), so SetState needs the net's shared
// parametrizations to be set as when the State was taken, as it needs the
// optimizer to be installed.

// SharedMap is the mapping of one shared tensor: the array index and the
// sign of each of its virtual weights, in the tensor's row-major order
// ([out, in] for Linear, [out, in, kh, kw] for Conv2d).
type SharedMap interface {
	// Fill writes the index (in [0, ArraySize)) and the sign (±1) of the
	// virtual weights start, start+1, …, start+len(idx)−1 into idx and
	// sign, which have the same length. Engines call it in their forward
	// and backward kernels, so it must be deterministic and should not
	// allocate.
	Fill(start int, idx []int32, sign []float32)
}

// TableMap is a SharedMap read from explicit tables of the tensor's size. It
// stores 8 bytes per virtual weight, which defeats the memory saving of
// sharing: use it for tests and small cases. It is the simplest correct map
// (a reference for tests, share.Mapper.Shared); engines copy its tables when
// the parametrization is set, as they copy masks, where they keep other maps.
type TableMap struct {
	Index []int32
	Sign  []float32
}

// Fill copies the entries [start, start+len(idx)) of the tables.
func (t TableMap) Fill(start int, idx []int32, sign []float32) {
	copy(idx, t.Index[start:start+len(idx)])
	copy(sign, t.Sign[start:start+len(sign)])
}

// SharedNet is implemented by nets whose engine implements the Shared
// parametrization. The arrays are Params: Info names the array, with Shape
// [ArraySize] and Kind Weight; Values, SetValues and Grad are z and ∂ℓ/∂z
// under the same rules as other Params (live slices on the native engine).
type SharedNet interface {
	Net
	// SharedArrays lists the arrays that shared parameters read, sorted by
	// name.
	SharedArrays() []string
	// SharedArray returns the array with the given name, or nil when no
	// parameter reads it.
	SharedArray(name string) Param
}

// validateBlock is how many virtual weights Validate and Weights ask the map
// for at once.
const validateBlock = 4096

// Validate checks s for a tensor of size entries: an array name, 1 ≤
// ArraySize < 2³¹ (indices are int32), a Map (full tables when it is a
// TableMap), a finite Scale, divisors that are nil or one finite positive value per array
// entry, and, walking the whole map once (O(size) time, no O(size) memory),
// every index in [0, ArraySize) and every sign ±1. Errors name the tensor.
func (s Shared) Validate(name string, size int) error {
	what := "shared parametrization of " + name
	if s.Array == "" {
		return fmt.Errorf("%s: no array name", what)
	}
	if s.ArraySize < 1 || s.ArraySize > math.MaxInt32 {
		return fmt.Errorf("%s: array %q of %d entries, want 1 to %d", what, s.Array, s.ArraySize, math.MaxInt32)
	}
	if s.Map == nil {
		return fmt.Errorf("%s: no Map", what)
	}
	if t, ok := s.Map.(TableMap); ok && (len(t.Index) != size || len(t.Sign) != size) {
		return fmt.Errorf("%s: tables of %d indices and %d signs, want %d each", what, len(t.Index), len(t.Sign), size)
	}
	if math.IsNaN(float64(s.Scale)) || math.IsInf(float64(s.Scale), 0) {
		return fmt.Errorf("%s: scale %v, want a finite value", what, s.Scale)
	}
	if s.GradDivisor != nil {
		if len(s.GradDivisor) != s.ArraySize {
			return fmt.Errorf("%s: %d gradient divisors for array %q of %d entries", what, len(s.GradDivisor), s.Array, s.ArraySize)
		}
		for j, d := range s.GradDivisor {
			if !(d > 0) || math.IsInf(float64(d), 0) {
				return fmt.Errorf("%s: gradient divisor %d is %v, want a finite value > 0", what, j, d)
			}
		}
	}
	m := s.Map
	b := min(size, validateBlock)
	idx, sign := make([]int32, b), make([]float32, b)
	for start := 0; start < size; start += b {
		k := min(b, size-start)
		m.Fill(start, idx[:k], sign[:k])
		for i, j := range idx[:k] {
			if j < 0 || int(j) >= s.ArraySize {
				return fmt.Errorf("%s: virtual weight %d reads index %d, want 0 to %d (array %q)", what, start+i, j, s.ArraySize-1, s.Array)
			}
			if g := sign[i]; g != 1 && g != -1 {
				return fmt.Errorf("%s: virtual weight %d has sign %v, want ±1", what, start+i, g)
			}
		}
	}
	return nil
}

// CheckArray checks that s agrees with an array that other tensors already
// read: the same size and the same gradient divisors (both nil, or equal
// entry by entry).
func (s Shared) CheckArray(size int, divisor []float32) error {
	if s.ArraySize != size {
		return fmt.Errorf("shared array %q has %d entries, this parametrization gives %d (tensors that share an array give the same size)", s.Array, size, s.ArraySize)
	}
	if (s.GradDivisor == nil) != (divisor == nil) || !slices.Equal(s.GradDivisor, divisor) {
		return fmt.Errorf("shared array %q: the gradient divisors differ from those another tensor gave (tensors that share an array share its gradient scaler)", s.Array)
	}
	return nil
}

// Weights writes the effective weight W_i = Scale · Sign_i · z[Index_i] of
// every virtual weight into dst (the tensor's size), computed in float32 as
// engines compute it, so that a dense tensor set to these values forwards
// exactly as the shared one. z has ArraySize entries. It allocates a small
// block buffer, not O(len(dst)).
func (s Shared) Weights(dst, z []float32) {
	m := s.Map
	b := min(len(dst), validateBlock)
	idx, sign := make([]int32, b), make([]float32, b)
	for start := 0; start < len(dst); start += b {
		k := min(b, len(dst)-start)
		m.Fill(start, idx[:k], sign[:k])
		w := dst[start : start+k]
		for i, j := range idx[:k] {
			w[i] = s.Scale * sign[i] * z[j]
		}
	}
}
