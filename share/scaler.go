package share

import (
	"fmt"
	"math"
	"strings"
)

// The STABLE-RPS gradient scaler (docs/methods/rps.md#gradient-scaler). In
// global scope layers with different λ write into the same slot; without
// correction the step on a virtual weight is ∝ 1/a². The scaler divides the
// loss gradient of each slot j of z by a divisor s_j computed once from the
// mapping, after the backward pass and before the optimizer step (before
// weight decay is added):
//
//	c_j = #{L : h(L) = j},  A_j = Σ_{L→j} λ_ℓ(L),  B_j = Σ_{L→j} λ_ℓ(L)²
//	v1: A_j²/c_j   v2: A_j   v3: A_j/c_j   v4: √B_j   v5: B_j   none: 1
//
// Clean uses these formulas for c_j > 0 and leaves slots with c_j = 0
// untouched (s_j = 1; they receive no gradient). Reference emulates
// FakeRoast, whose per-layer count carries +1e-3 on every slot: with L
// layers on the array, c'_j = c_j + 1e-3·L, A'_j = A_j + 1e-3·Σ_ℓ λ_ℓ,
// B'_j = B_j + 1e-3·Σ_ℓ λ_ℓ², v1 = A'²/(c' + 1e-3), v3 = A'/(c' + 1e-3),
// and the gradient is divided by 1e-6 + s_j (code: FakeRoast.py
// wt_orig_to_comp; FakeRoastUtil_v2.py ModelRoasterGradScaler,
// RoastGradScaler.scale_step). "none" is no scaling in both modes.
//
// The scaler is defined per array: in local scope each array gets its own
// statistics (clean only; Config.Validate rejects reference + local).

// SlotStats are the mapping statistics of one shared array.
type SlotStats struct {
	// Count, A and B are c_j, A_j and B_j per slot (float64: counts are
	// exact up to 2⁵³).
	Count, A, B []float64
	// Layers is the number of shared tensors that read the array;
	// SumScale and SumScale2 are Σ λ_ℓ and Σ λ_ℓ² over them (the
	// reference's 1e-3 terms).
	Layers              int
	SumScale, SumScale2 float64
}

// SlotStats computes the statistics of every array of mp (in the order of
// Arrays) for the per-layer scales λ (one per shared tensor). It visits
// every virtual weight once, in canonical order: O(n) time, O(m) memory.
func (mp *Mapper) SlotStats(scales []float64) ([]SlotStats, error) {
	if len(scales) != len(mp.layers) {
		return nil, fmt.Errorf("rps scaler: %d scales for %d shared tensors", len(scales), len(mp.layers))
	}
	st := make([]SlotStats, len(mp.arrays))
	for a, arr := range mp.arrays {
		st[a] = SlotStats{Count: make([]float64, arr.Size), A: make([]float64, arr.Size), B: make([]float64, arr.Size)}
	}
	buf := make([]int32, 4096)
	for l := range mp.layers {
		lm := &mp.layers[l]
		lam := scales[l]
		if !(lam > 0) || math.IsInf(lam, 0) {
			return nil, fmt.Errorf("rps scaler: scale of %s is %v, want a finite value > 0", lm.info.Tensor.Param.Name, lam)
		}
		s := &st[lm.info.Array]
		s.Layers++
		s.SumScale += lam
		s.SumScale2 += lam * lam
		for start := 0; start < lm.size; start += len(buf) {
			b := buf[:min(len(buf), lm.size-start)]
			lm.fill(start, b)
			for _, j := range b {
				s.Count[j]++
				s.A[j] += lam
				s.B[j] += lam * lam
			}
		}
	}
	return st, nil
}

// Divisor is the clean s_j of a slot with count c > 0, A and B (the table
// above). It returns an error for an unknown mode.
func Divisor(mode string, c, A, B float64) (float64, error) {
	switch mode {
	case ScalerV1:
		return A * A / c, nil
	case ScalerV2:
		return A, nil
	case ScalerV3:
		return A / c, nil
	case ScalerV4:
		return math.Sqrt(B), nil
	case ScalerV5:
		return B, nil
	case ScalerNone:
		return 1, nil
	}
	return 0, fmt.Errorf("rps.scaler = %q: want one of %s", mode, strings.Join(ScalerNames, ", "))
}

// ReferenceDivisor is FakeRoast's effective divisor 1e-6 + s'_j for a slot
// with count c, A and B on an array read by layers tensors with Σλ = sum1
// and Σλ² = sum2.
func ReferenceDivisor(mode string, c, A, B float64, layers int, sum1, sum2 float64) (float64, error) {
	cp := c + 1e-3*float64(layers)
	Ap := A + 1e-3*sum1
	Bp := B + 1e-3*sum2
	var s float64
	switch mode {
	case ScalerV1:
		s = Ap * Ap / (cp + 1e-3)
	case ScalerV2:
		s = Ap
	case ScalerV3:
		s = Ap / (cp + 1e-3)
	case ScalerV4:
		s = math.Sqrt(Bp)
	case ScalerV5:
		s = Bp
	case ScalerNone:
		return 1, nil
	default:
		return 0, fmt.Errorf("rps.scaler = %q: want one of %s", mode, strings.Join(ScalerNames, ", "))
	}
	return 1e-6 + s, nil
}

// Divisors returns the per-slot divisors of one array under a scaler mode
// and a Config mode ("clean" or "reference"), rounded to float32 for
// ScaleGrad. It returns nil for scaler none (nothing to do).
func Divisors(st SlotStats, scaler, mode string) ([]float32, error) {
	if err := oneOf("rps.scaler", scaler, ScalerNames); err != nil {
		return nil, err
	}
	if err := oneOf("rps.mode", mode, ModeNames); err != nil {
		return nil, err
	}
	if scaler == ScalerNone {
		return nil, nil
	}
	out := make([]float32, len(st.Count))
	for j, c := range st.Count {
		var s float64
		if mode == "reference" {
			s, _ = ReferenceDivisor(scaler, c, st.A[j], st.B[j], st.Layers, st.SumScale, st.SumScale2)
		} else if c == 0 {
			s = 1
		} else {
			s, _ = Divisor(scaler, c, st.A[j], st.B[j])
		}
		if !(s > 0) || math.IsInf(s, 0) || float32(s) == 0 {
			return nil, fmt.Errorf("rps.scaler %s: slot %d has divisor %v (c = %v, A = %v, B = %v), want a finite value > 0", scaler, j, s, c, st.A[j], st.B[j])
		}
		out[j] = float32(s)
	}
	return out, nil
}

// GradDivisors returns Divisors for every array of mp (in the order of
// Arrays) with the mapper's scaler and mode: nil entries for scaler none.
func (mp *Mapper) GradDivisors(scales []float64) ([][]float32, error) {
	if mp.cfg.Scaler == ScalerNone {
		return make([][]float32, len(mp.arrays)), nil
	}
	st, err := mp.SlotStats(scales)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(st))
	for a := range st {
		if out[a], err = Divisors(st[a], mp.cfg.Scaler, mp.cfg.Mode); err != nil {
			return nil, fmt.Errorf("array %s: %w", mp.arrays[a].Name, err)
		}
	}
	return out, nil
}

// ScaleGrad divides the gradient of z by the divisors in place:
// grad_j ← grad_j / s_j, a float32 division as the reference's. A nil
// divisors slice (scaler none) leaves grad unchanged. It does not allocate
// and panics on a length mismatch.
func ScaleGrad(grad, divisors []float32) {
	if divisors == nil {
		return
	}
	if len(grad) != len(divisors) {
		panic(fmt.Sprintf("share: ScaleGrad of %d entries with %d divisors", len(grad), len(divisors)))
	}
	for j, s := range divisors {
		grad[j] /= s
	}
}
