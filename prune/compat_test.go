package prune

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// oneToTen is |w| = 1 … 10 with alternating signs.
func oneToTen() []float32 {
	w := make([]float32, 10)
	for i := range w {
		w[i] = float32(i + 1)
		if i%2 == 1 {
			w[i] = -w[i]
		}
	}
	return w
}

func ones(n int) []float32 { return onesIfNil(nil, n) }

// TestCompatRules reproduces each reference's quirk on a hand-computed
// example (docs/methods/conventions.md#compatibility-rules). An exact-count
// rule would remove round(f·n).
func TestCompatRules(t *testing.T) {
	nine := 0.9
	tests := []struct {
		name string
		rule func() ([]float32, error)
		want []float32
	}{
		// q = ceil(0.2·10) = 2, threshold = sorted[2] = 3: prunes q + 1.
		{"openlth prunes q + 1", func() ([]float32, error) { return OpenLTHPrune(oneToTen(), nil, 0.2) },
			[]float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},
		// With a tie at the threshold: |w| = 1 2 3 3 5 …: prunes q + 1 plus the tie.
		{"openlth prunes ties", func() ([]float32, error) {
			return OpenLTHPrune([]float32{1, 2, 3, -3, 5, 6, 7, 8, 9, 10}, nil, 0.2)
		}, []float32{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}},
		// Over the alive only: alive |w| = 2 4 6 8 10 (n 5), q = ceil(1) = 1,
		// threshold 4; dead entries stay dead.
		{"openlth counts the alive", func() ([]float32, error) {
			return OpenLTHPrune(oneToTen(), []float32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 0.2)
		}, []float32{0, 0, 0, 0, 0, 1, 0, 1, 0, 1}},
		// Even f = 0 prunes the smallest.
		{"openlth at fraction 0", func() ([]float32, error) { return OpenLTHPrune(oneToTen(), nil, 0) },
			[]float32{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}},

		// idx = round-half-even(0.25·10 = 2.5) = 2 (math.Round would say 3),
		// cutoff = sorted[2] = 3, prune ≤ 3: idx + 1.
		{"googlelth rounds half to even, prunes idx + 1", func() ([]float32, error) { return GoogleLTHPrune(oneToTen(), nil, 0.25) },
			[]float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},
		// idx = round(0.35·10 = 3.5) = 4 (even), cutoff 5: prunes 5.
		{"googlelth half to even upwards", func() ([]float32, error) { return GoogleLTHPrune(oneToTen(), nil, 0.35) },
			[]float32{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}},

		// k = int(0.3·10) = 3, threshold = 3rd smallest = 3, prune ≤ 3.
		{"synflow prunes k", func() ([]float32, error) { return SynflowGlobalMask(absF32All(oneToTen()), nil, 0.7) },
			[]float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},
		{"synflow prunes ties", func() ([]float32, error) {
			return SynflowGlobalMask([]float32{1, 2, 3, 3, 5, 6, 7, 8, 9, 10}, nil, 0.7)
		}, []float32{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}},
		// k = int((1 − 0.9)·10) = int(0.9999999999999998) = 0 < 1: no-op.
		{"synflow truncation is a no-op", func() ([]float32, error) {
			return SynflowGlobalMask(absF32All(oneToTen()), nil, nine)
		}, ones(10)},
		// The mask is rebuilt: a pruned entry with a high score comes back.
		{"synflow ignores the old mask", func() ([]float32, error) {
			return SynflowGlobalMask(absF32All(oneToTen()), []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, 0.7)
		}, []float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},

		// K = int(10·0.5) = 5, acceptable = 5th largest = 6, keep > 6: K − 1.
		{"granet_global keeps K − 1", func() ([]float32, error) { return GraNetGlobalPrune(oneToTen(), 0.5) },
			[]float32{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}},
		// Fewer than K non-zero: acceptable = 0, every non-zero kept.
		{"granet_global keeps every non-zero", func() ([]float32, error) {
			return GraNetGlobalPrune([]float32{0, 0, 0, 0, 0, 0, 0, 0, 3, -4}, 0.5)
		}, []float32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}},

		// nnz 8, q = ceil(0.3·8 = 2.4) = 3, k = 2 + 3, threshold = |w|
		// sorted[4] = 3: removes q.
		{"granet_death removes q", func() ([]float32, error) {
			return GraNetDeath([]float32{0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, []float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, 0.3)
		}, []float32{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}},
		{"granet_death removes ties", func() ([]float32, error) {
			return GraNetDeath([]float32{0, 0, 1, 2, 3, -3, 5, 6, 7, 8}, []float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, 0.3)
		}, []float32{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}},
		// q = 0: the mask becomes w ≠ 0, dropping an alive exact zero.
		{"granet_death at q = 0 reads the weights", func() ([]float32, error) {
			return GraNetDeath([]float32{0, 0, 1, 0, 3}, []float32{0, 1, 1, 1, 1}, 0)
		}, []float32{0, 0, 1, 0, 1}},

		// j = int((1 − 0.9)·10) = 0: k = 0.9 keeps all 10.
		{"bip truncates (1 − k)·N", func() ([]float32, error) { return BiPSubnet(oneToTen(), nine) },
			ones(10)},
		// j = int(0.5·10) = 5 of |s|, ties by canonical index.
		{"bip keeps N − j", func() ([]float32, error) { return BiPSubnet([]float32{1, -1, 1, -1, 1, -1, 1, -1, 1, 2}, 0.5) },
			[]float32{1, 1, 1, 1, 0, 0, 0, 0, 0, 1}},

		// int(10·0.25) = int(2.5) = 2 smallest pruned (exact, floor).
		{"jackpots_init floors N·rate", func() ([]float32, error) { return JackpotsInitPrune(oneToTen(), nil, 0.25) },
			[]float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
		// Chosen over all entries, then cleared in the current mask.
		{"jackpots_init over all entries", func() ([]float32, error) {
			return JackpotsInitPrune(oneToTen(), []float32{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 0.25)
		}, []float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}},

		// idx = int(10·0.2) = 2, threshold 3, keep > 3: floor + 1.
		{"rethinking prunes floor + 1", func() ([]float32, error) { return RethinkingPrune(oneToTen(), 0.2) },
			[]float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},

		// percentile 25 of 1…10: index 2.25 → 3.25; prune < 3.25: 7 of 10 kept, not 7.5.
		{"renda keeps approximately X%", func() ([]float32, error) { return RendaPruneAllToGlobal(oneToTen(), nil, 75) },
			[]float32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}},
		// percentile 20 of 1…10: 2.8, prune 1 and 2: 80% exactly.
		{"renda at 80", func() ([]float32, error) { return RendaPruneAllToGlobal(oneToTen(), nil, 80) },
			[]float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
		// 4 of 10 pruned already, X = 80: the 20th percentile of |w|·m is 0
		// and nothing more is pruned.
		{"renda counts pruned zeros", func() ([]float32, error) {
			return RendaPruneAllToGlobal(oneToTen(), []float32{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, 80)
		}, []float32{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}},
		// NumPy's lerp from the upper end (t ≥ 0.5): percentile 85 of 1…10
		// is 9 − 0.35 = 8.65, prune < 8.65: keeps 9 and 10.
		{"renda at 15", func() ([]float32, error) { return RendaPruneAllToGlobal(oneToTen(), nil, 15) },
			[]float32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}},
	}
	for _, tc := range tests {
		got, err := tc.rule()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompatErrors(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"openlth past the end", second(OpenLTHPrune(oneToTen(), nil, 0.95)), "q = ceil(0.95 · 10) = 10"},
		{"googlelth past the end", second(GoogleLTHPrune(oneToTen(), nil, 0.96)), "round(0.96 · 10) = 10"},
		{"granet_global K = 0", second(GraNetGlobalPrune(oneToTen(), 0.05)), "K = int(10 · 0.05) = 0"},
		{"rethinking past the end", second(RethinkingPrune(oneToTen(), 1)), "int(10 · 1) = 10"},
		{"renda percent", second(RendaPruneAllToGlobal(oneToTen(), nil, 101)), "percent kept 101"},
		{"NaN", second(OpenLTHPrune([]float32{1, nan}, nil, 0.2)), "compat openlth: score 1 is NaN"},
		{"mask length", second(GraNetDeath(oneToTen(), ones(3), 0.2)), "mask has 3 entries for 10 scores"},
		{"mask values", second(JackpotsInitPrune(oneToTen(), slices.Repeat([]float32{0.5}, 10), 0.2)), "mask entry 0 is 0.5"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, tc.want)
		}
	}
	if err := SynflowCheck(95, 1000, 0.1); err == nil {
		t.Error("synflow check: 95 of an expected 100 passes")
	}
	if err := SynflowCheck(96, 1000, 0.1); err != nil {
		t.Errorf("synflow check: 96 of an expected 100: %v", err)
	}
}

func second(_ []float32, err error) error { return err }

// TestGoogleLTHLeNet runs the googlelth rule round by round on
// LeNet-300-100-sized layers with distinct magnitudes at the LTH rates:
// 4,908 weights remain at round 18 (label 1.8 instead of the paper's 1.9,
// docs/methods/imp.md#rounding-rules).
func TestGoogleLTHLeNet(t *testing.T) {
	sizes := []int{235_200, 30_000, 1_000}
	rates := []float64{0.2, 0.2, 0.1}
	total := 0
	for l, n := range sizes {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(i + 1)
		}
		var m []float32
		for range 18 {
			var err error
			if m, err = GoogleLTHPrune(w, m, rates[l]); err != nil {
				t.Fatal(err)
			}
		}
		total += maskOnes(m)
	}
	if total != 4_908 {
		t.Errorf("googlelth leaves %d weights at round 18, want 4,908", total)
	}
}

func TestCompatRegistry(t *testing.T) {
	want := []string{"bip", "googlelth", "granet_death", "granet_global", "jackpots_init", "openlth", "renda", "rethinking", "synflow"}
	if got := CompatRuleNames(); !slices.Equal(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	for _, id := range want {
		r, err := GetCompatRule(id)
		if err != nil || r.Name != id || r.Apply == nil || r.Source == "" || r.Amount == "" || (r.Scope != "global" && r.Scope != "per-tensor") {
			t.Errorf("rule %s: %+v, %v", id, r, err)
		}
	}
	// The registry entries are the named functions.
	r, _ := GetCompatRule("openlth")
	got, _ := r.Apply(oneToTen(), nil, 0.2)
	want2, _ := OpenLTHPrune(oneToTen(), nil, 0.2)
	if !slices.Equal(got, want2) {
		t.Errorf("registry openlth %v, want %v", got, want2)
	}
	r, _ = GetCompatRule("granet_global")
	got, _ = r.Apply(oneToTen(), ones(10), 0.5)
	if want2, _ = GraNetGlobalPrune(oneToTen(), 0.5); !slices.Equal(got, want2) {
		t.Errorf("registry granet_global %v, want %v", got, want2)
	}
	if _, err := GetCompatRule("open_lth"); err == nil || !strings.Contains(err.Error(), "want one of bip, googlelth") {
		t.Errorf("unknown rule: %v", err)
	}
}
