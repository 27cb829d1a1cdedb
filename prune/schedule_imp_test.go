package prune

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// lthRates returns the LTH paper's per-layer rates
// (docs/methods/imp.md#conv-2-conv-4-conv-6; paper: LTH Figure 2):
// convolutions conv, hidden FC layers 20%, the output layer 10% ("connections
// to outputs are pruned at half of the rate of the rest of the network").
func lthRates(ts []nn.ParamInfo, conv float64) []float64 {
	rates := make([]float64, len(ts))
	for i, p := range ts {
		switch {
		case i == len(ts)-1:
			rates[i] = 0.1
		case len(p.Shape) == 4:
			rates[i] = conv
		default:
			rates[i] = 0.2
		}
	}
	return rates
}

// TestIMPLeNetTable checks the table of docs/methods/imp.md#lenet-300-100 row
// by row: the exact integer counts of LeNet-300-100 at rates (0.2, 0.2, 0.1)
// with the canonical rounding, and the paper's labels 51.3, 21.1, 13.5, 7.0,
// 3.6, 1.9 at rounds 3, 7, 9, 12, 15, 18.
func TestIMPLeNetTable(t *testing.T) {
	ts := schedPrunable(t, "lenet-300-100")
	if got := sizes(ts); !slices.Equal(got, []int{235200, 30000, 1000}) {
		t.Fatalf("LeNet-300-100 prunable sizes %v", got)
	}
	s, err := IMPLayerwise(ts, []float64{0.2, 0.2, 0.1}, 20, IMPRoundHalfAway)
	if err != nil {
		t.Fatal(err)
	}
	table := []struct {
		fc1, fc2, out, total int
		pm                   float64
		label                string
	}{
		{235200, 30000, 1000, 266200, 100.0000, "100.0"},
		{188160, 24000, 900, 213060, 80.0376, ""},
		{150528, 19200, 810, 170538, 64.0639, ""},
		{120422, 15360, 729, 136511, 51.2814, "51.3"},
		{96338, 12288, 656, 109282, 41.0526, ""},
		{77070, 9830, 590, 87490, 32.8663, ""},
		{61656, 7864, 531, 70051, 26.3152, ""},
		{49325, 6291, 478, 56094, 21.0721, "21.1"},
		{39460, 5033, 430, 44923, 16.8757, ""},
		{31568, 4026, 387, 35981, 13.5165, "13.5"},
		{25254, 3221, 348, 28823, 10.8276, ""},
		{20203, 2577, 313, 23093, 8.6751, ""},
		{16162, 2062, 282, 18506, 6.9519, "7.0"},
		{12930, 1650, 254, 14834, 5.5725, ""},
		{10344, 1320, 229, 11893, 4.4677, ""},
		{8275, 1056, 206, 9537, 3.5826, "3.6"},
		{6620, 845, 185, 7650, 2.8738, ""},
		{5296, 676, 166, 6138, 2.3058, ""},
		{4237, 541, 149, 4927, 1.8509, "1.9"},
		{3390, 433, 134, 3957, 1.4865, ""},
		{2712, 346, 121, 3179, 1.1942, ""},
	}
	if s.Levels() != len(table)-1 {
		t.Fatalf("%d levels, want %d", s.Levels(), len(table)-1)
	}
	for n, row := range table {
		if want := []int{row.fc1, row.fc2, row.out}; !slices.Equal(s.Keep[n], want) || s.Kept(n) != row.total {
			t.Errorf("round %d: kept %v (total %d), want %v (total %d)", n, s.Keep[n], s.Kept(n), want, row.total)
		}
		if got := s.Percent(n); math.Abs(got-row.pm) > 5e-5 {
			t.Errorf("round %d: Pm %.4f, want %.4f", n, got, row.pm)
		}
		if row.label != "" {
			if got := fmt.Sprintf("%.1f", s.Percent(n)); got != row.label {
				t.Errorf("round %d: Pm label %s, want the paper's %s", n, got, row.label)
			}
		}
		if n > 0 {
			if got := s.Removed(n, 0) + s.Removed(n, 1) + s.Removed(n, 2); got != table[n-1].total-row.total {
				t.Errorf("round %d removes %d, want %d", n, got, table[n-1].total-row.total)
			}
		}
	}
	// Rounds 3, 7, 9, 12, 15, 18 are the only ones that carry these labels.
	labels := map[string]int{"51.3": 3, "21.1": 7, "13.5": 9, "7.0": 12, "3.6": 15, "1.9": 18}
	for n := 0; n <= s.Levels(); n++ {
		l := fmt.Sprintf("%.1f", s.Percent(n))
		if want, ok := labels[l]; ok && want != n {
			t.Errorf("label %s at round %d, want round %d", l, n, want)
		}
	}
	// The real-valued form (docs/methods/imp.md#remaining-weights).
	for _, c := range []struct {
		n    int
		want float64
	}{{3, 51.28}, {7, 21.07}, {9, 13.52}, {12, 6.95}, {15, 3.58}, {18, 1.85}} {
		if got := IMPRealPercent(ts, s.Rates, c.n); math.Abs(got-c.want) > 0.005 {
			t.Errorf("real-valued Pm(%d) = %.4f, want %.2f", c.n, got, c.want)
		}
	}
}

// TestIMPReferenceRounding checks docs/methods/imp.md#rounding-rules: at
// round 18 ceil keeps 4,920 (label 1.8), the google reimplementation's rule
// (round-half-even + 1, rule googlelth) 4,908 (1.8, not the paper's 1.9) and
// floor 4,936 (1.9).
func TestIMPReferenceRounding(t *testing.T) {
	ts := schedPrunable(t, "lenet-300-100")
	for _, tc := range []struct {
		r     IMPRounding
		kept  int
		label string
	}{
		{IMPRoundHalfAway, 4927, "1.9"},
		{IMPRoundCeil, 4920, "1.8"},
		{IMPRoundGoogleLTH, 4908, "1.8"},
		{IMPRoundFloor, 4936, "1.9"},
		{IMPRoundOpenLTH, 4901, "1.8"}, // ceil + 1 (derived here)
	} {
		s, err := IMPLayerwise(ts, []float64{0.2, 0.2, 0.1}, 18, tc.r)
		if err != nil {
			t.Fatalf("%v: %v", tc.r, err)
		}
		if got := s.Kept(18); got != tc.kept {
			t.Errorf("%v: round 18 keeps %d, want %d", tc.r, got, tc.kept)
		}
		if got := fmt.Sprintf("%.1f", s.Percent(18)); got != tc.label {
			t.Errorf("%v: round 18 label %s, want %s", tc.r, got, tc.label)
		}
		r, err := ParseIMPRounding(tc.r.String())
		if err != nil || r != tc.r {
			t.Errorf("ParseIMPRounding(%q) = %v, %v", tc.r.String(), r, err)
		}
	}
	// Hand-computed single rounds.
	for _, tc := range []struct {
		r     IMPRounding
		p     float64
		alive int
		want  int
	}{
		{IMPRoundHalfAway, 0.1, 25, 3},  // 2.5 → 3
		{IMPRoundGoogleLTH, 0.1, 25, 3}, // 2.5 → 2 (to even) + 1
		{IMPRoundGoogleLTH, 0.1, 35, 5}, // 3.5 → 4 + 1
		{IMPRoundCeil, 0.1, 21, 3},
		{IMPRoundFloor, 0.1, 29, 2},
		{IMPRoundOpenLTH, 0.1, 20, 3},
		{IMPRoundGoogleLTH, 0, 20, 1}, // the reference prunes the smallest weight even at rate 0
		{IMPRoundHalfAway, 0, 20, 0},
		{IMPRoundOpenLTH, 0.5, 1, 1}, // capped at alive
		{IMPRoundHalfAway, 0.29, 50, 15},
	} {
		if got := tc.r.Remove(tc.p, tc.alive); got != tc.want {
			t.Errorf("%v.Remove(%v, %d) = %d, want %d", tc.r, tc.p, tc.alive, got, tc.want)
		}
	}
	if _, err := ParseIMPRounding("banker"); err == nil {
		t.Error("ParseIMPRounding(banker): no error")
	}
	if r, err := ParseIMPRounding(""); err != nil || r != IMPRoundHalfAway {
		t.Errorf("ParseIMPRounding(\"\") = %v, %v", r, err)
	}
}

// TestIMPConvTable checks the exact integer Pm of Conv-2 and Conv-4 in
// docs/methods/imp.md#conv-2-conv-4-conv-6 (conv 10%, FC 20%, output 10%),
// including the paper's labels 8.8 and 4.6 (Conv-2) and 11.1 and 9.2
// (Conv-4), and Conv-6's derived values (conv 15%) without its unresolved
// paper labels.
func TestIMPConvTable(t *testing.T) {
	rounds := []int{3, 7, 9, 10, 11, 12, 14, 18}
	for _, tc := range []struct {
		model  string
		conv   float64
		total  int
		pm     []float64
		labels map[int]string
	}{
		{"conv2", 0.1, 4300992, []float64{51.41, 21.23, 13.66, 10.97, 8.81, 7.08, 4.57, 1.93}, map[int]string{11: "8.8", 14: "4.6"}},
		{"conv4", 0.1, 2425024, []float64{53.55, 23.88, 16.16, 13.35, 11.06, 9.18, 6.40, 3.23}, map[int]string{11: "11.1", 12: "9.2"}},
		{"conv6", 0.15, 2261184, []float64{56.39, 26.61, 18.38, 15.29, 12.74, 10.62, 7.39, 3.62}, nil},
	} {
		ts := schedPrunable(t, tc.model)
		s, err := IMPLayerwise(ts, lthRates(ts, tc.conv), 18, IMPRoundHalfAway)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		if s.Total() != tc.total {
			t.Errorf("%s: %d prunable weights, want %d", tc.model, s.Total(), tc.total)
		}
		for i, n := range rounds {
			if got := fmt.Sprintf("%.2f", s.Percent(n)); got != fmt.Sprintf("%.2f", tc.pm[i]) {
				t.Errorf("%s round %d: Pm %s, want %.2f", tc.model, n, got, tc.pm[i])
			}
			if l, ok := tc.labels[n]; ok {
				if got := fmt.Sprintf("%.1f", s.Percent(n)); got != l {
					t.Errorf("%s round %d: label %s, want the paper's %s", tc.model, n, got, l)
				}
			}
		}
	}
}

// TestIMPGlobal checks a global 20% schedule on LeNet-300-100's 266,200
// weights, remove = round(0.2 · alive) over the union each level
// (docs/methods/imp.md#per-round-rates-and-scope). Its Pm are the real-valued
// 0.8^n values of docs/methods/imp.md#lenet-300-100 (51.20, 20.97, 13.42,
// 6.87, 3.52, 1.80); the counts are those of the iterative rule, which differ
// from round(0.8^n · N) by one at rounds 4, 6 and 14.
func TestIMPGlobal(t *testing.T) {
	ts := schedPrunable(t, "lenet-300-100")
	s, err := IMPGlobal(ts, 0.2, 20, IMPRoundHalfAway)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{266200, 212960, 170368, 136294, 109035, 87228, 69782, 55826, 44661, 35729, 28583,
		22866, 18293, 14634, 11707, 9366, 7493, 5994, 4795, 3836, 3069}
	for n, w := range want {
		if s.Kept(n) != w || len(s.Keep[n]) != 1 {
			t.Errorf("round %d: %v, want [%d]", n, s.Keep[n], w)
		}
		closed := int(math.Round(math.Pow(0.8, float64(n)) * 266200))
		if d := s.Kept(n) - closed; d < -1 || d > 1 || (d != 0) != (n == 4 || n == 6 || n == 14) {
			t.Errorf("round %d: iterative %d vs round(0.8^n·N) %d", n, s.Kept(n), closed)
		}
	}
	for n, l := range map[int]string{3: "51.20", 7: "20.97", 9: "13.42", 12: "6.87", 15: "3.52", 18: "1.80"} {
		if got := fmt.Sprintf("%.2f", s.Percent(n)); got != l {
			t.Errorf("round %d: Pm %s, want %s", n, got, l)
		}
	}
	if got := s.Units(); !slices.Equal(got, []string{GlobalUnit}) {
		t.Errorf("units %v", got)
	}
	// Rate 0 in one layer keeps it dense.
	z, err := IMPLayerwise(schedTensors("a", 10, "b", 10), []float64{0, 0.5}, 2, IMPRoundHalfAway)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(z.Keep[1], []int{10, 5}) || !slices.Equal(z.Keep[2], []int{10, 2}) { // 5 − round(2.5) = 2
		t.Errorf("rate 0 layer: %v", z.Keep)
	}
	// Below rate ½ the canonical rule stalls: once p · alive < ½ a round
	// removes nothing, so a 20% layer never reaches 0 (2 → 2 → …).
	st, err := IMPLayerwise(schedTensors("a", 10), []float64{0.2}, 30, IMPRoundHalfAway)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{st.Kept(1), st.Kept(2), st.Kept(5), st.Kept(6), st.Kept(30)}; !slices.Equal(got, []int{8, 6, 3, 2, 2}) {
		t.Errorf("stalling 20%% schedule of 10 weights: %v, want 8, 6, …, 3, 2, 2", got) // 10 8 6 5 4 3 2 2
	}
}

func TestIMPErrors(t *testing.T) {
	ts := schedTensors("fc1.weight", 100, "fc2.weight", 2)
	for _, tc := range []struct {
		desc  string
		rates []float64
		parts []string
	}{
		{"rate 1", []float64{1, 0.2}, []string{"rate of fc1.weight = 1", "[0, 1)"}},
		{"negative rate", []float64{0.2, -0.1}, []string{"rate of fc2.weight = -0.1"}},
		{"NaN rate", []float64{math.NaN(), 0.2}, []string{"rate of fc1.weight = NaN"}},
		{"rate count", []float64{0.2}, []string{"1 per-tensor rates for 2 prunable tensors"}},
	} {
		_, err := IMPLayerwise(ts, tc.rates, 3, IMPRoundHalfAway)
		schedWantErr(t, tc.desc, err, tc.parts...)
	}
	// 2 → 1 (remove round(0.5·2) = 1) → 0 (remove round(0.5) = 1).
	_, err := IMPLayerwise(ts, []float64{0.2, 0.5}, 5, IMPRoundHalfAway)
	schedWantErr(t, "layer emptied", err, "level 2", "leaves fc2.weight with 0 of 2 weights", "fewer levels")
	// LeNet at 20/20/10 under the google rule, which prunes at least one
	// weight per round: 60 levels empty a layer, and the error names it.
	lenet := schedPrunable(t, "lenet-300-100")
	_, err = IMPLayerwise(lenet, []float64{0.2, 0.2, 0.1}, 60, IMPRoundGoogleLTH)
	schedWantErr(t, "too many LeNet levels", err, "leaves fc", "googlelth rounding")
	_, err = IMPLayerwise(ts, []float64{0.2, 0.2}, -1, IMPRoundHalfAway)
	schedWantErr(t, "negative levels", err, "-1 levels")
	_, err = IMPLayerwise(ts, []float64{0.2, 0.2}, 1, IMPRounding(9))
	schedWantErr(t, "unknown rounding", err, "unknown rounding")
	_, err = IMPGlobal(ts, 1.2, 1, IMPRoundHalfAway)
	schedWantErr(t, "global rate", err, "imp: rate = 1.2")
	// Global: 4 → 2 → 1 < 2 tensors.
	_, err = IMPGlobal(schedTensors("a", 2, "b", 2), 0.5, 3, IMPRoundHalfAway)
	schedWantErr(t, "global emptied", err, "level 2", "keeps 1 of 4 weights globally")
	_, err = IMPGlobal(nil, 0.2, 1, IMPRoundHalfAway)
	schedWantErr(t, "no tensors", err, "no prunable tensors")
}
