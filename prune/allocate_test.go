package prune

import (
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// TestRounding pins docs/methods/conventions.md#from-a-density-to-a-count:
// snap to the nearest multiple of ½ within 1e-9, then round halves away from
// zero.
func TestRounding(t *testing.T) {
	nine := 0.9
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"0.29·50 keeps 15", keepCount(0.29, 50), 15},
		{"(1 − 0.9)·10 removes 1", RemoveCount(1-nine, 10), 1},
		{"0.5·1 keeps 1 (half away from zero)", keepCount(0.5, 1), 1},
		{"0.5·5 keeps 3 (not round-half-even's 2)", keepCount(0.5, 5), 3},
		{"0.25·10 keeps 3", keepCount(0.25, 10), 3},
		{"0.1·3 keeps 0 (0.30000000000000004 is no half)", keepCount(0.1, 3), 0},
		{"1·N keeps N", keepCount(1, 266_200), 266_200},
		{"0.2·235,200 removes 47,040", RemoveCount(0.2, 235_200), 47_040},
		{"0.1·1,000 removes 100", RemoveCount(0.1, 1_000), 100},
		{"0.35 is not near a half: rounds to 0", RoundCount(0.35), 0},
		{"2.4999999999 is a half after snapping", RoundCount(2.4999999999), 3},
		{"2.499999 is not", RoundCount(2.499999), 2},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// The products really are off the half / integer in float64; without
	// the snapping the first two cases would give 14 and 0.
	d, n := 0.29, 50.0
	if p := d * n; p == 14.5 || math.Round(p) != 14 {
		t.Errorf("0.29·50 = %v in float64; the test no longer exercises the snapping", p)
	}
	if p := (1 - nine) * 10; p == 1 || int(p) != 0 {
		t.Errorf("(1 − 0.9)·10 = %v in float64; the test no longer exercises the snapping", p)
	}
}

// TestKeepCountRat checks the float path against exact rational arithmetic
// on every three-decimal density and a range of sizes.
func TestKeepCountRat(t *testing.T) {
	for i := 1; i <= 1000; i++ {
		r := big.NewRat(int64(i), 1000)
		d := float64(i) / 1000
		for n := 1; n <= 5000; n += 37 {
			if a, b := KeepCount(d, n), KeepCountRat(r, n); a != b {
				t.Fatalf("density %v of %d: float %d, rational %d", d, n, a, b)
			}
		}
	}
	if got := KeepCountRat(big.NewRat(29, 100), 50); got != 15 {
		t.Errorf("rational 0.29·50 = %d, want 15", got)
	}
}

func pruneTestArch(t *testing.T, name string, o zoo.Options) *nn.Arch {
	t.Helper()
	a, err := zoo.Build(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestResolvePrunable(t *testing.T) {
	lenet5 := pruneTestArch(t, "lenet5", zoo.Options{}).Params()
	bn := true
	conv2bn := pruneTestArch(t, "conv2", zoo.Options{BatchNorm: &bn}).Params()
	tests := []struct {
		name             string
		params           []nn.ParamInfo
		include, exclude []string
		want             []string
		err              string
	}{
		{"default: weights only", lenet5, nil, nil,
			[]string{"conv1.weight", "conv2.weight", "fc3.weight", "fc4.weight"}, ""},
		{"default skips norm parameters", conv2bn, nil, nil,
			[]string{"conv1.weight", "conv2.weight", "fc3.weight", "fc4.weight", "fc5.weight"}, ""},
		{"exclude the output layer", lenet5, nil, []string{"fc4.weight"},
			[]string{"conv1.weight", "conv2.weight", "fc3.weight"}, ""},
		{"include conv only", lenet5, []string{"conv*.weight"}, nil,
			[]string{"conv1.weight", "conv2.weight"}, ""},
		{"include biases explicitly", lenet5, []string{"*.weight", "fc*.bias"}, []string{"conv1.*"},
			[]string{"conv2.weight", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"}, ""},
		{"star crosses dots", lenet5, []string{"*"}, []string{"*.bias"},
			[]string{"conv1.weight", "conv2.weight", "fc3.weight", "fc4.weight"}, ""},
		{"bad pattern", lenet5, []string{"fc[3"}, nil, nil, `prune.include: pattern "fc[3"`},
		{"pattern that matches nothing", lenet5, nil, []string{"fc.weight"}, nil,
			`prune.exclude: pattern "fc.weight" matches no parameter`},
		{"everything excluded", lenet5, nil, []string{"*"}, nil, "prunable set is empty"},
	}
	for _, tc := range tests {
		set, err := ResolvePrunable(tc.params, tc.include, tc.exclude)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := infoNames(set); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// threeTensors is the hand-computed 3-tensor example of
// docs/methods/conventions.md#tests (TestGlobalVersusLayerWise): a [2 2],
// b [2 3], c [1 2]; 12 entries.
func threeTensors() []nn.ParamInfo {
	return []nn.ParamInfo{
		{Name: "a.weight", Shape: []int{2, 2}, Kind: nn.Weight},
		{Name: "b.weight", Shape: []int{2, 3}, Kind: nn.Weight},
		{Name: "c.weight", Shape: []int{1, 2}, Kind: nn.Weight},
	}
}

func maskSlices(m *Masks) [][]float32 {
	out := make([][]float32, len(m.Names))
	for i, n := range m.Names {
		out[i] = m.M[n]
	}
	return out
}

// TestGlobalVersusLayerWise is the required hand-computed 3-tensor example.
// At d = 0.5 the global pool keeps 6 of 12 (the six largest scores
// anywhere: a takes 3), layer-wise keeps 2, 3 and 1.
func TestGlobalVersusLayerWise(t *testing.T) {
	set := threeTensors()
	scores := [][]float32{
		{0.9, 0.85, 0.8, 0.2},
		{0.3, 0.6, 0.05, 0.5, 0.3, 0.4},
		{0.45, 0.02},
	}
	tests := []struct {
		name   string
		d      float64
		scope  Scope
		scores [][]float32
		want   [][]float32
	}{
		{"global", 0.5, Global, scores,
			[][]float32{{1, 1, 1, 0}, {0, 1, 0, 1, 0, 0}, {1, 0}}},
		{"layer-wise", 0.5, LayerWise, scores,
			[][]float32{{1, 1, 0, 0}, {0, 1, 0, 1, 0, 1}, {1, 0}}},
		// keep 5: 0.9, 0.85, 0.8, 0.6, then b[3] = 0.5 ties c[0] = 0.5 and
		// b comes first in canonical order.
		{"global tie across tensors", 5.0 / 12, Global,
			[][]float32{{0.9, 0.85, 0.8, 0.2}, {0.3, 0.6, 0.05, 0.5, 0.3, 0.4}, {0.5, 0.02}},
			[][]float32{{1, 1, 1, 0}, {0, 1, 0, 1, 0, 0}, {0, 0}}},
	}
	for _, tc := range tests {
		p, err := DensityPlan(set, tc.d, tc.scope, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p.AllowEmpty = true
		m, err := p.Select(tc.scores, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := maskSlices(m); !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// The global pool may starve a tensor: that is an error naming it
	// unless the plan allows it.
	p, _ := DensityPlan(set, 5.0/12, Global, nil)
	_, err := p.Select([][]float32{{0.9, 0.85, 0.8, 0.2}, {0.3, 0.6, 0.05, 0.5, 0.3, 0.4}, {0.5, 0.02}}, nil)
	if err == nil || !strings.Contains(err.Error(), "c.weight is left with no kept entry") {
		t.Errorf("starved tensor: error %v, want one naming c.weight", err)
	}
	if k, ok := p.TensorKeep("a.weight"); ok {
		t.Errorf("TensorKeep of a pooled tensor = %d, true; want false", k)
	}
	lw, _ := DensityPlan(set, 0.5, LayerWise, nil)
	for name, want := range map[string]int{"a.weight": 2, "b.weight": 3, "c.weight": 1} {
		if k, ok := lw.TensorKeep(name); !ok || k != want {
			t.Errorf("layer-wise TensorKeep(%s) = %d, %v; want %d", name, k, ok, want)
		}
	}
	if !strings.Contains(p.String(), "global pool (a.weight, b.weight, c.weight): keep 5 of 12") {
		t.Errorf("plan description %q", p.String())
	}
}

func TestDensityPlan(t *testing.T) {
	set := pruneTestArch(t, "lenet-300-100", zoo.Options{}).Params()
	set, _ = ResolvePrunable(set, nil, nil)
	tests := []struct {
		name      string
		d         float64
		scope     Scope
		overrides map[string]float64
		want      []Unit
		err       string
	}{
		{"layer-wise", 0.1, LayerWise, nil,
			[]Unit{{[]int{0}, 23_520}, {[]int{1}, 3_000}, {[]int{2}, 100}}, ""},
		{"layer-wise with an override", 0.1, LayerWise, map[string]float64{"fc3.weight": 0.5},
			[]Unit{{[]int{0}, 23_520}, {[]int{1}, 3_000}, {[]int{2}, 500}}, ""},
		{"global", 0.1, Global, nil,
			[]Unit{{[]int{0, 1, 2}, 26_620}}, ""},
		{"global with an override: the pool is the rest", 0.1, Global, map[string]float64{"fc3*": 1},
			[]Unit{{[]int{0, 1}, 26_520}, {[]int{2}, 1000}}, ""},
		{"global with the first tensor overridden", 0.1, Global, map[string]float64{"fc1.weight": 0.05},
			[]Unit{{[]int{0}, 11_760}, {[]int{1, 2}, 3_100}}, ""},
		{"density 0", 0, LayerWise, nil, nil, "density 0: want 0 < density ≤ 1"},
		{"density above 1", 1.5, Global, nil, nil, "density 1.5"},
		{"density NaN", math.NaN(), Global, nil, nil, "density NaN"},
		{"override 0", 0.5, LayerWise, map[string]float64{"fc3.weight": 0}, nil, "override fc3.weight: density 0"},
		{"a layer left empty", 0.0004, LayerWise, nil, nil, "leaves fc3.weight (1000 entries) with no kept entry"},
		{"an override leaves a layer empty", 0.5, Global, map[string]float64{"fc3.weight": 0.0001}, nil,
			"density 0.0001 leaves fc3.weight"},
		{"unmatched override", 0.5, Global, map[string]float64{"fc.weight": 0.5}, nil, `override "fc.weight" matches no tensor`},
		{"two overrides on one tensor", 0.5, LayerWise, map[string]float64{"fc*": 0.5, "fc3.weight": 0.2}, nil,
			`overrides "fc*" and "fc3.weight" both match fc3.weight`},
		{"bad scope", 0.5, Scope("per-layer"), nil, nil, `scope "per-layer"`},
	}
	for _, tc := range tests {
		p, err := DensityPlan(set, tc.d, tc.scope, tc.overrides)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.EqualFunc(p.Units, tc.want, unitEqual) {
			t.Errorf("%s: units %v, want %v", tc.name, p.Units, tc.want)
		}
	}
}

func unitEqual(a, b Unit) bool { return a.Keep == b.Keep && slices.Equal(a.Tensors, b.Tensors) }

// TestRatePlanLTH runs two IMP rounds of the LTH LeNet-300-100 setup (fc 20%,
// output at half rate) through RatePlan and Select: exact counts of
// docs/methods/imp.md#lenet-300-100, smallest magnitudes removed, masks
// monotone.
func TestRatePlanLTH(t *testing.T) {
	set, _ := ResolvePrunable(pruneTestArch(t, "lenet-300-100", zoo.Options{}).Params(), nil, nil)
	ov := map[string]float64{"fc3.weight": 0.2 / 2}
	scores := make([][]float32, len(set))
	for i, p := range set {
		scores[i] = make([]float32, p.Size())
		for j := range scores[i] {
			// Distinct magnitudes, largest last.
			scores[i][j] = float32(j + 1)
		}
	}
	var cur *Masks
	wantCounts := [][]int{{188_160, 24_000, 900}, {150_528, 19_200, 810}}
	for round, want := range wantCounts {
		p, err := RatePlan(set, cur, 0.2, LayerWise, ov)
		if err != nil {
			t.Fatal(err)
		}
		next, err := p.Select(scores, cur)
		if err != nil {
			t.Fatal(err)
		}
		if got := next.KeptCounts(); !slices.Equal(got, want) {
			t.Errorf("round %d: kept %v, want %v", round+1, got, want)
		}
		if cur != nil {
			if err := next.Within(cur); err != nil {
				t.Errorf("round %d: %v", round+1, err)
			}
		}
		// The smallest magnitudes went: entry j survives iff j ≥ N − kept.
		for i, name := range next.Names {
			m := next.M[name]
			cut := len(m) - want[i]
			if m[cut-1] != 0 || m[cut] != 1 {
				t.Errorf("round %d: %s does not keep exactly its largest scores", round+1, name)
			}
		}
		cur = next
	}

	// Global IMP: one pool, remove round(0.2 · alive).
	p, err := RatePlan(set, cur, 0.2, Global, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Keep(), 170_538-RemoveCount(0.2, 170_538); got != want {
		t.Errorf("global round: keep %d, want %d", got, want)
	}

	errs := []struct {
		name  string
		rate  float64
		scope Scope
		ov    map[string]float64
		cur   *Masks
		want  string
	}{
		{"rate 1", 1, LayerWise, nil, nil, "pruning rate 1: want 0 ≤ rate < 1"},
		{"negative rate", -0.1, LayerWise, nil, nil, "pruning rate -0.1"},
		{"override rate 1", 0.2, LayerWise, map[string]float64{"fc3.weight": 1}, nil, "override fc3.weight: pruning rate 1"},
		{"masks of another set", 0.2, LayerWise, nil, NewMasks(set[:2]), "current masks cover fc1.weight, fc2.weight"},
		{"a layer pruned away", 0.6, LayerWise, nil, oneLeft(set), "pruning rate 0.6 leaves fc3.weight (1000 entries) with no kept entry"},
	}
	for _, tc := range errs {
		_, err := RatePlan(set, tc.cur, tc.rate, tc.scope, tc.ov)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// oneLeft returns masks of set where fc3.weight has a single alive entry.
func oneLeft(set []nn.ParamInfo) *Masks {
	m := NewMasks(set)
	v := m.M["fc3.weight"]
	for i := 1; i < len(v); i++ {
		v[i] = 0
	}
	return m
}

func TestQuotaPlan(t *testing.T) {
	set := threeTensors()
	p, err := QuotaPlan(set, map[string]int{"a.weight": 4, "b.weight": 1, "c.weight": 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Select([][]float32{{1, 2, 3, 4}, {6, 5, 4, 3, 2, 1}, {0, 0}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 1, 1, 1}, {1, 0, 0, 0, 0, 0}, {1, 1}}
	if got := maskSlices(m); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("quota: %v, want %v", got, want)
	}
	errs := []struct {
		name string
		keep map[string]int
		want string
	}{
		{"keep 0", map[string]int{"a.weight": 4, "b.weight": 0, "c.weight": 2}, "keep 0 for b.weight, want 1 … 6"},
		{"keep above N", map[string]int{"a.weight": 5, "b.weight": 1, "c.weight": 2}, "keep 5 for a.weight"},
		{"missing", map[string]int{"a.weight": 4, "c.weight": 2}, "no keep count for b.weight"},
		{"unknown", map[string]int{"a.weight": 4, "b.weight": 1, "c.weight": 2, "d.weight": 1}, "d.weight is not in the prunable set"},
	}
	for _, tc := range errs {
		_, err := QuotaPlan(set, tc.keep)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestPlanSelectErrors(t *testing.T) {
	set := threeTensors()
	lw, _ := DensityPlan(set, 0.5, LayerWise, nil)
	good := [][]float32{{1, 2, 3, 4}, {1, 2, 3, 4, 5, 6}, {1, 2}}

	_, err := lw.Select(good[:2], nil)
	if err == nil || !strings.Contains(err.Error(), "2 score tensors for a prunable set of 3") {
		t.Errorf("missing tensor: %v", err)
	}
	_, err = lw.Select([][]float32{{1, 2, 3, 4}, {1, 2, 3}, {1, 2}}, nil)
	if err == nil || !strings.Contains(err.Error(), "3 scores for b.weight, want 6") {
		t.Errorf("short tensor: %v", err)
	}
	nan := [][]float32{{1, 2, 3, 4}, {1, 2, 3, 4, 5, 6}, {1, float32(math.NaN())}}
	for _, p := range []*Plan{lw, mustPlanT(DensityPlan(set, 0.5, Global, nil))} {
		_, err = p.Select(nan, nil)
		var ne *NaNScoreError
		if !errors.As(err, &ne) || ne.Tensor != "c.weight" || ne.Index != 1 {
			t.Errorf("NaN: error %v, want one naming c.weight entry 1", err)
		}
	}
	// A unit that must keep more than it has alive.
	cur := NewMasks(set)
	copy(cur.M["b.weight"], []float32{1, 1, 0, 0, 0, 0})
	_, err = lw.Select(good, cur)
	if err == nil || !strings.Contains(err.Error(), "b.weight must keep 3 entries but has 2 alive") {
		t.Errorf("keep above alive: %v", err)
	}
	// Dead entries stay dead even with the highest scores.
	cur = NewMasks(set)
	copy(cur.M["a.weight"], []float32{1, 1, 1, 0})
	m, err := lw.Select(good, cur)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.M["a.weight"]; !slices.Equal(got, []float32{0, 1, 1, 0}) {
		t.Errorf("eligible subset: a.weight %v, want [0 1 1 0]", got)
	}
}

func mustPlanT(p *Plan, err error) *Plan {
	if err != nil {
		panic(err)
	}
	return p
}
