package share

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// Memory is the parameter accounting of a shared model
// (docs/methods/rps.md#memory-accounting). Counts are entries; bytes are
// float32 storage (4 per entry) plus the mapper's int32 tables.
type Memory struct {
	// Shared is n, the virtual weights; Array is m, the shared-array
	// entries (summed over arrays in local scope); Unshared is P_unshared,
	// every trainable parameter that is not shared (biases, norms,
	// weights below the module limit); Dense is P_dense = n + P_unshared.
	Shared, Array, Unshared, Dense int64
	// CShared = n/m is the compression of the shared tensors; CModel =
	// P_dense / (m + P_unshared) that of the whole model. Params =
	// m + P_unshared is the parameter count of the shared model (the
	// target of the equal-parameter baselines).
	CShared, CModel float64
	Params          int64
	// ParamBytes = 4·Params; TableBytes is the mapper's tables (fold
	// shifts, ROAST tile bases); DenseBytes = 4·P_dense. Optimizer state
	// and the scaler's divisors (4·m when a scaler is used) are the
	// engine's to add.
	ParamBytes, TableBytes, DenseBytes int64
}

// Account computes the memory of a shared model from n, m and the dense
// parameter count. It returns an error for counts that cannot come from a
// shared model (m < 1, m > n, n > P_dense).
func Account(n, m, pDense int64) (Memory, error) {
	if m < 1 || m > n || n > pDense {
		return Memory{}, fmt.Errorf("rps accounting: n = %d shared weights, m = %d array entries, %d dense parameters: want 1 ≤ m ≤ n ≤ P_dense", n, m, pDense)
	}
	u := pDense - n
	return Memory{
		Shared: n, Array: m, Unshared: u, Dense: pDense,
		CShared: float64(n) / float64(m), CModel: float64(pDense) / float64(m+u),
		Params: m + u, ParamBytes: 4 * (m + u), DenseBytes: 4 * pDense,
	}, nil
}

// Memory is Account for mp on the architecture it was built from, with the
// mapper's table bytes.
func (mp *Mapper) Memory(a *nn.Arch) (Memory, error) {
	mem, err := Account(mp.N(), mp.M(), nn.Count(a).Params)
	if err != nil {
		return Memory{}, err
	}
	mem.TableBytes = mp.TableBytes()
	return mem, nil
}

// NarrowWidth finds the width multiplier of the narrow-model baseline
// (docs/methods/rps.md#narrow): the multiplier whose architecture, model
// built with zoo.Build(model, o) and o.WidthMultiplier set, has the parameter
// count (nn.Count) closest to target, normally m + P_unshared of the shared
// model. Ties go to the smaller model. It returns the multiplier and the
// achieved count.
//
// The count is a non-decreasing step function of the multiplier (every
// width is max(1, round(c·w)), and counts grow with widths), so bisection
// on w finds the step that crosses the target; the integer widths make the
// answer a step, and the returned multiplier is the point of that step the
// bisection ended on. Multipliers are searched in (0, 64]; a target below
// the all-widths-1 model gives that model.
func NarrowWidth(model string, o zoo.Options, target int64) (float64, int64, error) {
	if target < 1 {
		return 0, 0, fmt.Errorf("narrow model %s: target parameter count %d, want ≥ 1", model, target)
	}
	count := func(w float64) (int64, error) {
		o.WidthMultiplier = w
		a, err := zoo.Build(model, o)
		if err != nil {
			return 0, fmt.Errorf("narrow model: %w", err)
		}
		return nn.Count(a).Params, nil
	}
	// lo: count ≤ target (or the smallest model); hi: count ≥ target.
	lo, hi := 1e-9, 64.0
	cLo, err := count(lo)
	if err != nil {
		return 0, 0, err
	}
	if cLo >= target {
		return lo, cLo, nil
	}
	cHi, err := count(hi)
	if err != nil {
		return 0, 0, err
	}
	if cHi <= target {
		return hi, cHi, nil
	}
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		c, err := count(mid)
		if err != nil {
			return 0, 0, err
		}
		if c <= target {
			lo, cLo = mid, c
		} else {
			hi, cHi = mid, c
		}
		if cLo == target {
			break
		}
	}
	if target-cLo <= cHi-target {
		return lo, cLo, nil
	}
	return hi, cHi, nil
}
