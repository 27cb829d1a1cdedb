package share

import (
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// The fold of TestFoldByHand (fc1: L 0…2 ↦ 3, 0, 1; fc2: L 3…9 ↦ 2, 3, 0,
// 1, 2, 1, 2) with λ = 2 for fc1 and 0.5 for fc2:
//
//	slot 0: L1 (2), L5 (.5)       c 2, A 2.5, B 4.25
//	slot 1: L2 (2), L6, L8 (.5)   c 3, A 3,   B 4.5
//	slot 2: L3, L7, L9 (.5)       c 3, A 1.5, B 0.75
//	slot 3: L0 (2), L4 (.5)       c 2, A 2.5, B 4.25
func handStats(t *testing.T, mode string) SlotStats {
	t.Helper()
	mp := withHashers(t, mustMapper(t, []Tensor{lin("fc1", 1, 3), lin("fc2", 1, 7)}, Config{Mapper: Pareto, Ratio: 0.4, Mode: mode}), small)
	st, err := mp.SlotStats([]float64{2, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 {
		t.Fatalf("%d arrays, want 1", len(st))
	}
	return st[0]
}

func TestSlotStatsByHand(t *testing.T) {
	st := handStats(t, "clean")
	want := SlotStats{Count: []float64{2, 3, 3, 2}, A: []float64{2.5, 3, 1.5, 2.5}, B: []float64{4.25, 4.5, 0.75, 4.25}, Layers: 2, SumScale: 2.5, SumScale2: 4.25}
	for j := range 4 {
		if st.Count[j] != want.Count[j] || st.A[j] != want.A[j] || st.B[j] != want.B[j] {
			t.Errorf("slot %d: c %v A %v B %v, want %v %v %v", j, st.Count[j], st.A[j], st.B[j], want.Count[j], want.A[j], want.B[j])
		}
	}
	if st.Layers != 2 || st.SumScale != 2.5 || st.SumScale2 != 4.25 {
		t.Errorf("layers %d, Σλ %v, Σλ² %v; want 2, 2.5, 4.25", st.Layers, st.SumScale, st.SumScale2)
	}
}

func TestDivisorsByHand(t *testing.T) {
	st := handStats(t, "clean")
	r := math.Sqrt
	for _, c := range []struct {
		mode string
		want []float64
	}{
		{ScalerV1, []float64{6.25 / 2, 9.0 / 3, 2.25 / 3, 6.25 / 2}}, // A²/c
		{ScalerV2, []float64{2.5, 3, 1.5, 2.5}},                      // A
		{ScalerV3, []float64{1.25, 1, 0.5, 1.25}},                    // A/c
		{ScalerV4, []float64{r(4.25), r(4.5), r(0.75), r(4.25)}},     // √B
		{ScalerV5, []float64{4.25, 4.5, 0.75, 4.25}},                 // B
	} {
		got, err := Divisors(st, c.mode, "clean")
		if err != nil {
			t.Fatal(err)
		}
		for j := range c.want {
			if got[j] != float32(c.want[j]) {
				t.Errorf("%s slot %d: s = %v, want %v", c.mode, j, got[j], c.want[j])
			}
		}
	}
	// Reference v1, slot 0: c' = 2 + 2·1e-3 = 2.002, A' = 2.5 + 1e-3·2.5
	// = 2.5025; s = A'²/(c' + 1e-3) = 6.26250625/2.003, divided as
	// 1e-6 + s.
	got, _ := Divisors(st, ScalerV1, "reference")
	if want := 1e-6 + 6.26250625/2.003; got[0] != float32(want) {
		t.Errorf("reference v1 slot 0: %v, want %v", got[0], want)
	}
	// Reference v5 slot 2: B' = 0.75 + 1e-3·4.25.
	got, _ = Divisors(st, ScalerV5, "reference")
	if want := 1e-6 + 0.75 + 4.25e-3; got[2] != float32(want) {
		t.Errorf("reference v5 slot 2: %v, want %v", got[2], want)
	}
	if d, _ := Divisors(st, ScalerNone, "clean"); d != nil {
		t.Errorf("scaler none gives divisors %v, want nil", d)
	}
	if _, err := Divisors(st, "v6", "clean"); err == nil {
		t.Error("scaler v6 accepted")
	}
}

// Clean leaves an empty slot untouched (s = 1); reference divides it by
// 1e-6 + s' with the 1e-3 terms only.
func TestDivisorsEmptySlot(t *testing.T) {
	st := SlotStats{Count: []float64{0, 1}, A: []float64{0, 2}, B: []float64{0, 4}, Layers: 1, SumScale: 2, SumScale2: 4}
	d, _ := Divisors(st, ScalerV1, "clean")
	if d[0] != 1 || d[1] != 4 {
		t.Errorf("clean v1: %v, want [1 4]", d)
	}
	d, _ = Divisors(st, ScalerV2, "reference")
	if want := float32(1e-6 + 2e-3); d[0] != want {
		t.Errorf("reference v2 empty slot: %v, want %v", d[0], want)
	}
}

// docs/methods/rps.md#pareto-continuity (derived): at ρ = 1 with a
// bijective map, the reference's step on a weight is the dense step times
// λ²/(1e-6 + s'_j) = λ²(1 + 1e-3(L + 1))/(λ + 1e-3 Σλ)² (+ the 1e-6),
// 0.9901, 0.9970, 1.0005 for λ = 0.5, 1, 2 in a 3-layer model; clean's is
// exactly 1.
func TestReferenceScalerAtRatioOne(t *testing.T) {
	ts := []Tensor{lin("a", 3, 4), lin("b", 5, 3), lin("c", 2, 5)}
	lams := []float64{0.5, 1, 2}
	wantRef := []float64{0.9901, 0.9970, 1.0005}
	for _, mode := range ModeNames {
		mp := mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 1, Mode: mode, Seed: 2})
		if mode == "reference" {
			// Reference hashes per layer and is not a bijection; use the
			// clean map's slots with the reference's statistics.
			mp = mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 1, Seed: 2})
			mp.cfg.Mode = "reference"
		}
		div, err := mp.GradDivisors(lams)
		if err != nil {
			t.Fatal(err)
		}
		for l := range mp.NumLayers() {
			s := tables(mp.Shared(l, 1))
			for _, j := range s.Index {
				ratio := lams[l] * lams[l] / float64(div[0][j])
				want := 1.0
				tol := 1e-7
				if mode == "reference" {
					want, tol = wantRef[l], 5e-5
				}
				if math.Abs(ratio-want) > tol {
					t.Fatalf("%s λ = %v: step ratio %v, want %v", mode, lams[l], ratio, want)
				}
			}
		}
	}
}

// The invariance of docs/methods/rps.md#gradient-scaler (derived): with v1
// and λ_ℓ = σ_ℓ/a the step on each virtual weight,
// Δw_i = −η λ_i g_i Σ_{k→j} λ_k g_k ∂w_k / s_j, does not depend on a.
// Without the scaler it scales as 1/a².
func TestScalerInvariance(t *testing.T) {
	ts := []Tensor{lin("fc1", 20, 30), conv("conv", 4, 3, 3), lin("fc2", 10, 20)}
	sigmas := []float64{0.3, 0.05, 1.7}
	mp := mustMapper(t, ts, Config{Mapper: HashedNet, Ratio: 0.1, Seed: 7})
	rng := nn.NewRand(1)
	grads := make([][]float64, len(ts)) // ∂ℓ/∂w
	for l := range ts {
		grads[l] = make([]float64, ts[l].Size())
		for i := range grads[l] {
			grads[l][i] = rng.NormFloat64()
		}
	}
	step := func(a float64, scaler string) [][]float64 {
		lams := make([]float64, len(sigmas))
		for l := range sigmas {
			lams[l] = sigmas[l] / a
		}
		st, err := mp.SlotStats(lams)
		if err != nil {
			t.Fatal(err)
		}
		gz := make([]float64, mp.M())
		for l := range ts {
			s := tables(mp.Shared(l, 1))
			for i, j := range s.Index {
				gz[j] += lams[l] * float64(s.Sign[i]) * grads[l][i]
			}
		}
		for j := range gz {
			if st[0].Count[j] > 0 {
				d, _ := Divisor(scaler, st[0].Count[j], st[0].A[j], st[0].B[j])
				gz[j] /= d
			}
		}
		out := make([][]float64, len(ts))
		for l := range ts {
			s := tables(mp.Shared(l, 1))
			out[l] = make([]float64, len(s.Index))
			for i, j := range s.Index {
				out[l][i] = lams[l] * float64(s.Sign[i]) * gz[j]
			}
		}
		return out
	}
	small, big := step(1e-3, ScalerV1), step(1, ScalerV1)
	for l := range small {
		for i := range small[l] {
			if math.Abs(small[l][i]-big[l][i]) > 1e-12*max(1, math.Abs(big[l][i])) {
				t.Fatalf("v1: layer %d weight %d steps %v at a = 1e-3 and %v at a = 1", l, i, small[l][i], big[l][i])
			}
		}
	}
	small, big = step(1e-3, ScalerNone), step(1, ScalerNone)
	if r := small[0][0] / big[0][0]; math.Abs(r-1e6) > 1e-3 {
		t.Errorf("no scaler: step ratio %v between a = 1e-3 and a = 1, want 1e6", r)
	}
}

func TestScaleGrad(t *testing.T) {
	g := []float32{2, 3}
	ScaleGrad(g, []float32{4, 0.5})
	if g[0] != 0.5 || g[1] != 6 {
		t.Errorf("ScaleGrad: %v, want [0.5 6]", g)
	}
	ScaleGrad(g, nil)
	if g[0] != 0.5 || g[1] != 6 {
		t.Errorf("ScaleGrad with nil divisors changed %v", g)
	}
	defer func() {
		if recover() == nil {
			t.Error("length mismatch did not panic")
		}
	}()
	ScaleGrad(g, []float32{1})
}

func TestGradDivisorsErrors(t *testing.T) {
	mp := mustMapper(t, []Tensor{lin("fc1", 3, 4)}, Config{Ratio: 0.5})
	if _, err := mp.GradDivisors([]float64{1, 2}); err == nil {
		t.Error("two scales for one tensor accepted")
	}
	if _, err := mp.GradDivisors([]float64{0}); err == nil {
		t.Error("λ = 0 accepted")
	}
	mp = mustMapper(t, []Tensor{lin("fc1", 3, 4)}, Config{Ratio: 0.5, Scaler: ScalerNone})
	if d, err := mp.GradDivisors([]float64{1}); err != nil || len(d) != 1 || d[0] != nil {
		t.Errorf("scaler none: %v, %v; want one nil entry", d, err)
	}
}
