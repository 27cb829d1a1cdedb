package prune

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestNMGroupKeep pins the partial-group rule of
// docs/methods/conventions.md#nm-masks: a full group keeps n, a partial group
// of r < m entries keeps ceil(n·r/m), which is at least 1 and at most
// min(n, r).
func TestNMGroupKeep(t *testing.T) {
	tests := []struct {
		n, m, length, want int
	}{
		{2, 4, 4, 2}, {2, 4, 3, 2}, {2, 4, 2, 1}, {2, 4, 1, 1},
		{1, 4, 4, 1}, {1, 4, 3, 1}, {1, 4, 1, 1},
		{3, 4, 3, 3}, {3, 4, 2, 2}, {3, 4, 1, 1},
		{3, 8, 8, 3}, {3, 8, 7, 3}, {3, 8, 4, 2}, {3, 8, 3, 2}, {3, 8, 2, 1}, {3, 8, 1, 1},
		{1, 2, 2, 1}, {1, 2, 1, 1},
		{7, 8, 7, 7}, {7, 8, 1, 1},
		{4, 16, 16, 4}, {4, 16, 5, 2}, {4, 16, 4, 1},
	}
	for _, tc := range tests {
		p := NM{tc.n, tc.m}
		if got := p.GroupKeep(tc.length); got != tc.want {
			t.Errorf("%s: a group of %d keeps %d, want %d", p, tc.length, got, tc.want)
		}
	}
	// Exhaustively: ceil(n·r/m) ∈ [1, min(n, r)] for partial groups, n for a
	// full one.
	for m := 2; m <= 16; m++ {
		for n := 1; n < m; n++ {
			p := NM{n, m}
			if got := p.GroupKeep(m); got != n {
				t.Errorf("%s: a full group keeps %d", p, got)
			}
			for r := 1; r < m; r++ {
				k := p.GroupKeep(r)
				if k < 1 || k > min(n, r) || float64(k) < float64(n*r)/float64(m) || float64(k-1) >= float64(n*r)/float64(m) {
					t.Errorf("%s: a partial group of %d keeps %d, want ceil(%d·%d/%d)", p, r, k, n, r, m)
				}
			}
		}
	}
}

// TestNMSelectByHand checks N:M selection on small tensors computed by
// hand: the groups run along the input axis (a Linear row; a Conv2d's input
// channels at each kernel position, as NVIDIA ASP), each keeps its largest
// scores, ties go to the lower index, partial groups keep ceil(n·r/m), and
// pruned entries are never candidates.
func TestNMSelectByHand(t *testing.T) {
	tests := []struct {
		name    string
		p       NM
		shape   []int
		scores  []float32
		current []float32
		want    []float32
	}{
		{"2:4 linear 2x8: the two largest |w| of each 4", NM{2, 4}, []int{2, 8},
			abs32(0.1, -0.9, 0.3, 0.2, 0.5, -0.05, 0.6, -0.7,
				1, 1, 1, 1, -2, 0, 2, 0), nil,
			[]float32{0, 1, 1, 0, 0, 0, 1, 1,
				1, 1, 0, 0, 1, 0, 1, 0}},
		{"1:4 linear 2x8", NM{1, 4}, []int{2, 8},
			abs32(0.1, -0.9, 0.3, 0.2, 0.5, -0.05, 0.6, -0.7,
				1, 1, 1, 1, -2, 0, 2, 0), nil,
			[]float32{0, 1, 0, 0, 0, 0, 0, 1,
				1, 0, 0, 0, 1, 0, 0, 0}},
		{"3:4 linear 1x4", NM{3, 4}, []int{1, 4}, []float32{4, 1, 3, 2}, nil, []float32{1, 0, 1, 1}},
		{"2:4 row of 6: partial group of 2 keeps 1", NM{2, 4}, []int{1, 6},
			[]float32{0.4, 0.1, 0.3, 0.2, 0.5, 0.9}, nil,
			[]float32{1, 0, 1, 0, 0, 1}},
		{"2:4 row of 7: partial group of 3 keeps 2", NM{2, 4}, []int{1, 7},
			[]float32{0.4, 0.1, 0.3, 0.2, 0.5, 0.9, 0.7}, nil,
			[]float32{1, 0, 1, 0, 0, 1, 1}},
		{"2:4 row of 5: partial group of 1 keeps it", NM{2, 4}, []int{1, 5},
			[]float32{1, 2, 3, 4, 0}, nil,
			[]float32{0, 0, 1, 1, 1}},
		{"3:8 rows of 11: 3 of 8, then ceil(9/8) = 2 of 3", NM{3, 8}, []int{1, 11},
			[]float32{8, 7, 6, 5, 4, 3, 2, 1, 0, 2, 1}, nil,
			[]float32{1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1}},
		{"row shorter than m: one partial group", NM{2, 8}, []int{2, 3},
			[]float32{1, 3, 2, 5, 5, 5}, nil,
			[]float32{0, 1, 0, 1, 0, 0}},
		// Conv [out 2, in 4, kh 1, kw 2]: entry (o, c, s) is at o·8 + c·2 + s.
		// Fiber (o=0, s=0) is entries 0, 2, 4, 6 (scores 0.9, 0.8, 0.7, 0.6):
		// keep 0, 2. Fiber (0, 1) is 1, 3, 5, 7 (0.1, 0.2, 0.3, 0.4): keep 5,
		// 7. Groups of the flattened [in, kh, kw] would keep 0, 2, 4, 6.
		// Output channel 1 is all ties: each fiber keeps its first two
		// channels.
		{"2:4 conv groups input channels at each kernel position", NM{2, 4}, []int{2, 4, 1, 2},
			[]float32{0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4,
				1, 1, 1, 1, 1, 1, 1, 1}, nil,
			[]float32{1, 0, 1, 0, 0, 1, 0, 1,
				1, 1, 1, 1, 0, 0, 0, 0}},
		// Conv [1, 3, 2, 2]: 3 input channels, a partial group of 3 at each
		// of the 4 kernel positions keeps 2; entry (c, k) at c·4 + k.
		{"2:4 conv with 3 input channels keeps 2 of 3 per position", NM{2, 4}, []int{1, 3, 2, 2},
			[]float32{3, 1, 2, 2,
				2, 3, 1, 2,
				1, 2, 3, 2}, nil,
			[]float32{1, 0, 1, 1,
				1, 1, 0, 1,
				0, 1, 1, 0}},
		{"conv with one input channel stays dense under 2:4", NM{2, 4}, []int{2, 1, 3, 3},
			[]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1}, nil,
			[]float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"1-D tensor is one row", NM{1, 2}, []int{5}, []float32{1, 2, 2, 2, 7}, nil, []float32{0, 1, 1, 0, 1}},
		{"pruned entries are not candidates", NM{2, 4}, []int{1, 8},
			[]float32{9, 8, 1, 2, 5, 6, 7, 8},
			[]float32{0, 1, 1, 1, 1, 1, 1, 1},
			[]float32{0, 1, 0, 1, 0, 0, 1, 1}},
		{"ties: +Inf first, -0 equals +0, lower index first", NM{2, 4}, []int{1, 8},
			[]float32{0, negZero, posInf32, 0, -1, negZero, 0, -1}, nil,
			[]float32{1, 0, 1, 0, 0, 1, 1, 0}},
	}
	for _, tc := range tests {
		got, err := tc.p.Select(tc.shape, tc.scores, tc.current)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
		if tc.current == nil {
			if err := tc.p.Verify(tc.shape, got); err != nil {
				t.Errorf("%s: Verify: %v", tc.name, err)
			}
			k, err := tc.p.Kept(tc.shape)
			if err != nil || k != maskOnes(got) {
				t.Errorf("%s: Kept = %d, %v; the mask keeps %d", tc.name, k, err, maskOnes(got))
			}
		}
	}
}

// TestNMKept pins kept counts of whole tensors: the pipeline tests' MLP
// (36-16-3) and a conv net under 2:4 and 3:8.
func TestNMKept(t *testing.T) {
	tests := []struct {
		p     NM
		shape []int
		want  int
	}{
		{NM{2, 4}, []int{16, 36}, 16 * 18},
		{NM{2, 4}, []int{3, 16}, 3 * 8},
		{NM{3, 8}, []int{16, 36}, 16 * (4*3 + 2)}, // 36 = 4·8 + 4, ceil(12/8) = 2
		{NM{3, 8}, []int{3, 16}, 3 * 6},
		{NM{2, 4}, []int{8, 3, 3, 3}, 8 * 9 * 2},
		{NM{2, 4}, []int{8, 8, 3, 3}, 8 * 9 * 4},
		{NM{2, 4}, []int{20, 1, 5, 5}, 500},
		{NM{1, 2}, []int{7}, 4},
	}
	for _, tc := range tests {
		got, err := tc.p.Kept(tc.shape)
		if err != nil || got != tc.want {
			t.Errorf("%s on %v: kept %d, %v; want %d", tc.p, tc.shape, got, err, tc.want)
		}
	}
}

// TestNMSelectMatchesSelectTop checks, on random shapes and scores full of
// ties, that every group's selection is SelectTop on the group's scores
// (the same tie rule), with the groups built independently of the code
// under test: along axis 1, for every index of axis 0 and every position
// of the axes after it.
func TestNMSelectMatchesSelectTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 300 {
		m := 2 + rng.IntN(9)
		p := NM{1 + rng.IntN(m-1), m}
		var shape []int
		switch trial % 3 {
		case 0:
			shape = []int{1 + rng.IntN(4), 1 + rng.IntN(20)}
		case 1:
			shape = []int{1 + rng.IntN(3), 1 + rng.IntN(10), 1 + rng.IntN(3), 1 + rng.IntN(3)}
		default:
			shape = []int{1 + rng.IntN(30)}
		}
		size := 1
		for _, d := range shape {
			size *= d
		}
		scores := make([]float32, size)
		for i := range scores {
			scores[i] = float32(rng.IntN(4)) // many ties
		}
		var current []float32
		if trial%4 == 3 {
			current = make([]float32, size)
			for i := range current {
				if rng.IntN(5) > 0 {
					current[i] = 1
				}
			}
		}
		got, err := p.Select(shape, scores, current)
		want, werr := nmBySelectTop(p, shape, scores, current)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s %v: Select error %v, reference error %v", p, shape, err, werr)
		}
		if err == nil && !slices.Equal(got, want) {
			t.Fatalf("%s %v scores %v current %v:\n got %v\nwant %v", p, shape, scores, current, got, want)
		}
	}
}

// nmBySelectTop is the definition: gather each group, SelectTop it, scatter.
func nmBySelectTop(p NM, shape []int, scores, current []float32) ([]float32, error) {
	outer, length, inner := 1, shape[0], 1
	if len(shape) > 1 {
		outer, length = shape[0], shape[1]
		for _, d := range shape[2:] {
			inner *= d
		}
	}
	out := make([]float32, len(scores))
	for o := 0; o < outer; o++ {
		for pos := 0; pos < inner; pos++ {
			for g := 0; g*p.M < length; g++ {
				var idx []int
				for c := g * p.M; c < min((g+1)*p.M, length); c++ {
					idx = append(idx, (o*length+c)*inner+pos)
				}
				s := make([]float32, len(idx))
				var elig []bool
				alive := len(idx)
				if current != nil {
					elig = make([]bool, len(idx))
					alive = 0
				}
				for k, i := range idx {
					s[k] = scores[i]
					if current != nil {
						elig[k] = current[i] == 1
						if elig[k] {
							alive++
						}
					}
				}
				keep := int(math.Ceil(float64(p.N*len(idx)) / float64(p.M)))
				if alive < keep {
					return nil, errors.New("too few alive")
				}
				sel, err := SelectTop(s, elig, keep, nil)
				if err != nil {
					return nil, err
				}
				for k, i := range idx {
					out[i] = sel[k]
				}
			}
		}
	}
	return out, nil
}

func TestNMErrors(t *testing.T) {
	tests := []struct {
		name    string
		p       NM
		shape   []int
		scores  []float32
		current []float32
		want    string
	}{
		{"n = 0", NM{0, 4}, []int{1, 4}, make([]float32, 4), nil, "want n ≥ 1"},
		{"m = 1", NM{1, 1}, []int{1, 4}, make([]float32, 4), nil, "want m ≥ 2"},
		{"m = 0", NM{0, 0}, []int{1, 4}, make([]float32, 4), nil, "want m ≥ 2"},
		{"n = m", NM{4, 4}, []int{1, 4}, make([]float32, 4), nil, "want n < m"},
		{"n > m", NM{5, 4}, []int{1, 4}, make([]float32, 4), nil, "want n < m"},
		{"scores do not fit", NM{2, 4}, []int{2, 4}, make([]float32, 7), nil, "7 scores for shape [2 4]"},
		{"scalar", NM{2, 4}, []int{}, []float32{}, nil, "no input axis"},
		{"current does not fit", NM{2, 4}, []int{1, 4}, make([]float32, 4), make([]float32, 3), "current mask has 3 entries"},
		{"current not 0/1", NM{2, 4}, []int{1, 4}, make([]float32, 4), []float32{1, 1, 0.5, 1}, "entry 2 is 0.5"},
		{"too few alive in a group", NM{2, 4}, []int{1, 8}, make([]float32, 8), []float32{1, 1, 1, 1, 0, 0, 0, 1}, "starting at entry 4 has 1 alive, fewer than the 2"},
	}
	for _, tc := range tests {
		_, err := tc.p.Select(tc.shape, tc.scores, tc.current)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	// NaN: the offset in the tensor, and the tensor's name through NMMasks.
	nan := float32(math.NaN())
	_, err := NM{2, 4}.Select([]int{1, 4}, []float32{1, 2, nan, 3}, nil)
	var ne *NaNScoreError
	if !errors.As(err, &ne) || ne.Index != 2 || ne.Tensor != "" {
		t.Errorf("NaN: %v", err)
	}
	set := nmSet()
	scores := [][]float32{make([]float32, 8), make([]float32, 16)}
	scores[1][5] = nan
	_, err = NMMasks(set, NM{2, 4}, scores, nil)
	if !errors.As(err, &ne) || ne.Tensor != "conv.weight" || ne.Index != 5 {
		t.Errorf("NaN through NMMasks: %v", err)
	}
	if _, err := NMMasks(set, NM{2, 4}, scores[:1], nil); err == nil || !strings.Contains(err.Error(), "1 score tensors") {
		t.Errorf("missing scores: %v", err)
	}
	cur := NewMasks(set[:1])
	if _, err := NMMasks(set, NM{2, 4}, [][]float32{make([]float32, 8), make([]float32, 16)}, cur); err == nil || !strings.Contains(err.Error(), "current masks cover fc.weight") {
		t.Errorf("current of another set: %v", err)
	}
	alive := NewMasks(set)
	copy(alive.M["conv.weight"], []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if _, err := NMMasks(set, NM{2, 4}, [][]float32{make([]float32, 8), make([]float32, 16)}, alive); err == nil || !strings.Contains(err.Error(), "conv.weight [1 4 2 2]") {
		t.Errorf("too few alive through NMMasks: %v", err)
	}
}

// TestNMVerify checks that Verify accepts N:M masks and names the group
// of one that is not.
func TestNMVerify(t *testing.T) {
	p := NM{2, 4}
	if err := p.Verify([]int{1, 8}, []float32{1, 1, 0, 0, 0, 1, 0, 1}); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		shape []int
		mask  []float32
		want  string
	}{
		{[]int{1, 8}, []float32{1, 1, 1, 0, 0, 1, 0, 1}, "starting at entry 0 (stride 1) keeps 3, want 2"},
		{[]int{1, 6}, []float32{1, 1, 0, 0, 1, 1}, "group of 2 entries starting at entry 4 (stride 1) keeps 2, want 1"},
		// Conv [1, 4, 1, 2]: right counts along the flattened row, wrong
		// along the input channels.
		{[]int{1, 4, 1, 2}, []float32{1, 0, 1, 0, 1, 0, 1, 0}, "starting at entry 0 (stride 2) keeps 4, want 2"},
		{[]int{1, 4}, []float32{1, 2, 0, 0}, "entry 1 is 2"},
		{[]int{1, 4}, []float32{1, 1, 0}, "mask of 3 entries"},
	} {
		if err := p.Verify(tc.shape, tc.mask); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.shape, tc.mask, err, tc.want)
		}
	}
}

// TestNMMasks selects over a set with NMMasks: each tensor as NM.Select
// would, the density the actual kept fraction (partial groups keep more
// than n/m), and VerifyMasks agreeing.
func TestNMMasks(t *testing.T) {
	set := nmSet()
	scores := [][]float32{
		{1, 2, 3, 4, 5, 6, 7, 8},                         // fc [1, 8]: keep 2, 3 and 6, 7
		{1, 2, 3, 4, 4, 3, 2, 1, 1, 1, 1, 1, 9, 9, 9, 9}, // conv [1, 4, 2, 2]
	}
	p := NM{2, 4}
	got, err := NMMasks(set, p, scores, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Names, []string{"fc.weight", "conv.weight"}) {
		t.Fatalf("names %v", got.Names)
	}
	if want := []float32{0, 0, 1, 1, 0, 0, 1, 1}; !slices.Equal(got.M["fc.weight"], want) {
		t.Errorf("fc.weight %v, want %v", got.M["fc.weight"], want)
	}
	// Fiber k (k = 0 … 3) is entries k, 4 + k, 8 + k, 12 + k: channel 3
	// (score 9) and then the lowest-index best of the rest.
	// k=0: 1, 4, 1, 9 → 12, 4. k=1: 2, 3, 1, 9 → 13, 5. k=2: 3, 2, 1, 9 → 14, 2.
	// k=3: 4, 1, 1, 9 → 15, 3.
	if want := []float32{0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}; !slices.Equal(got.M["conv.weight"], want) {
		t.Errorf("conv.weight %v, want %v", got.M["conv.weight"], want)
	}
	if err := p.VerifyMasks(set, got); err != nil {
		t.Error(err)
	}
	if d := got.Density(); d != 0.5 {
		t.Errorf("density %v, want 0.5", d)
	}
	// 3:8 on the same set: fc keeps 3 of 8; the conv's fibers of 4 are
	// partial groups keeping ceil(12/8) = 2 each: 11 of 24, not 3/8.
	p38 := NM{3, 8}
	got, err = NMMasks(set, p38, scores, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p38.VerifyMasks(set, got); err != nil {
		t.Error(err)
	}
	if d := got.Density(); d != 11.0/24 {
		t.Errorf("3:8 density %v, want 11/24", d)
	}
	if err := (NM{1, 4}).VerifyMasks(set, got); err == nil || !strings.Contains(err.Error(), "fc.weight") {
		t.Errorf("VerifyMasks with another pattern: %v", err)
	}
	// With current masks, dead entries stay dead.
	cur := NewMasks(set)
	cur.M["fc.weight"][3] = 0
	got, err = NMMasks(set, p, scores, cur)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 1, 0, 0, 0, 1, 1}; !slices.Equal(got.M["fc.weight"], want) {
		t.Errorf("fc.weight with entry 3 pruned %v, want %v", got.M["fc.weight"], want)
	}
}

func nmSet() []nn.ParamInfo {
	return []nn.ParamInfo{
		{Name: "fc.weight", Shape: []int{1, 8}, Kind: nn.Weight},
		{Name: "conv.weight", Shape: []int{1, 4, 2, 2}, Kind: nn.Weight},
	}
}

func abs32(v ...float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(math.Abs(float64(x)))
	}
	return out
}
