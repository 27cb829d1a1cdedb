package prune

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

func erkInfos(shapes map[string][]int, order ...string) []nn.ParamInfo {
	ps := make([]nn.ParamInfo, len(order))
	for i, n := range order {
		ps[i] = nn.ParamInfo{Name: n, Shape: shapes[n], Kind: nn.Weight}
	}
	return ps
}

func erkNear(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Abs(b) }

// TestERKHandComputed works the iteration of docs/methods/gradual.md#erk by
// hand on A [10 10] (N 100, raw 0.2), B [5 5] (N 25, raw 0.4),
// C [2 2] (N 4, raw 1).
//
// d = 0.5: ε = 64.5 / 34 = 1.897 puts C over 1, so C is dense; then
// ε = (0.5·125 − 0.5·4) / 30 = 2.016667, p = (0.403333, 0.806667, 1),
// counts round(40.33, 20.17, 4) = (40, 20, 4).
//
// d = 0.7: ε = 90.3 / 34 = 2.656 puts C over 1 (B is over 1 too, but only
// the largest raw joins D per step); ε = (87.5 − 1.2) / 30 = 2.876667
// puts B at 1.150667, so B joins; ε = (70 − 0.3·29) / 20 = 3.065,
// p = (0.613, 1, 1), counts (61, 25, 4).
func TestERKHandComputed(t *testing.T) {
	shapes := [][]int{{10, 10}, {5, 5}, {2, 2}}
	tests := []struct {
		d      float64
		want   []float64
		counts []int
	}{
		{0.5, []float64{60.5 / 30 * 0.2, 60.5 / 30 * 0.4, 1}, []int{40, 20, 4}},
		{0.7, []float64{3.065 * 0.2, 1, 1}, []int{61, 25, 4}},
		{1, []float64{1, 1, 1}, []int{100, 25, 4}},
		// Low enough that nothing is forced dense: ε = 0.1·129/34.
		{0.1, []float64{12.9 / 34 * 0.2, 12.9 / 34 * 0.4, 12.9 / 34}, []int{8, 4, 2}},
	}
	set := erkInfos(map[string][]int{"a": shapes[0], "b": shapes[1], "c": shapes[2]}, "a", "b", "c")
	for _, tc := range tests {
		got, err := ERKDensities(shapes, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		for l := range got {
			if !erkNear(got[l], tc.want[l], 1e-12) {
				t.Errorf("d %v: density of tensor %d = %v, want %v", tc.d, l, got[l], tc.want[l])
			}
		}
		p, err := ERKPlan(set, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		for l, u := range p.Units {
			if u.Keep != tc.counts[l] || !slices.Equal(u.Tensors, []int{l}) {
				t.Errorf("d %v: unit %d = %v, want tensor %d keeping %d", tc.d, l, u, l, tc.counts[l])
			}
		}
	}
}

// TestERKTiesJoinTogether: two tensors with the same maximal raw join D in
// the same step.
func TestERKTiesJoinTogether(t *testing.T) {
	// raw: 0.2, 1, 1. At d = 0.5, ε = 54/28 → both small tensors over 1;
	// both dense: ε = (0.5·100 − 0.5·8) / 20 = 2.3, p_A = 0.46.
	got, err := ERKDensities([][]int{{10, 10}, {2, 2}, {2, 2}}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.46, 1, 1}
	for l := range got {
		if !erkNear(got[l], want[l], 1e-12) {
			t.Errorf("tensor %d: %v, want %v", l, got[l], want[l])
		}
	}
}

// TestERKSpecVectors checks the ERK values of docs/methods/gradual.md#erk
// (derived there; recomputed independently when this test was written).
func TestERKSpecVectors(t *testing.T) {
	tests := []struct {
		model  string
		d      float64
		p      []float64
		tol    float64 // half a unit of the last digit the spec prints
		counts []int
	}{
		{"lenet-300-100", 0.1, []float64{0.0795678, 0.2301887, 1}, 5e-8, []int{18_714, 6_906, 1_000}},
		{"lenet-300-100", 0.05, []float64{0.0384841, 0.1113342, 0.9185069}, 5e-8, []int{9_051, 3_340, 919}},
		{"lenet5", 0.05, []float64{0.726116, 0.037477, 0.038063, 1}, 5e-7, []int{363, 937, 15_225, 5_000}},
	}
	for _, tc := range tests {
		set, err := ResolvePrunable(pruneTestArch(t, tc.model, zoo.Options{}).Params(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		shapes := make([][]int, len(set))
		total := 0
		for i, p := range set {
			shapes[i] = p.Shape
			total += p.Size()
		}
		ps, err := ERKDensities(shapes, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		kept := 0.0
		for l := range ps {
			if math.Abs(ps[l]-tc.p[l]) > tc.tol {
				t.Errorf("%s d %v: p[%s] = %.7f, want %.7f", tc.model, tc.d, set[l].Name, ps[l], tc.p[l])
			}
			kept += ps[l] * float64(set[l].Size())
		}
		if !erkNear(kept, tc.d*float64(total), 1e-12) {
			t.Errorf("%s d %v: Σ p·N = %v, want d·N = %v", tc.model, tc.d, kept, tc.d*float64(total))
		}
		plan, err := ERKPlan(set, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		for l, u := range plan.Units {
			if u.Keep != tc.counts[l] {
				t.Errorf("%s d %v: %s keeps %d, want %d", tc.model, tc.d, set[l].Name, u.Keep, tc.counts[l])
			}
		}
	}
}

func TestERKErrors(t *testing.T) {
	tests := []struct {
		name string
		set  []nn.ParamInfo
		d    float64
		want string
	}{
		{"density 0", threeTensors(), 0, "erk: density 0"},
		{"density above 1", threeTensors(), 1.01, "erk: density 1.01"},
		{"empty set", nil, 0.5, "prunable set is empty"},
		{"a tensor rounded to nothing",
			erkInfos(map[string][]int{"big": {1000, 1000}, "small": {2, 2}}, "big", "small"), 1e-7,
			"gives big (shape [1000 1000]) density"},
	}
	for _, tc := range tests {
		_, err := ERKPlan(tc.set, tc.d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := ERKDensities([][]int{{3, 0}}, 0.5); err == nil {
		t.Error("a shape with no entries: no error")
	}
}
