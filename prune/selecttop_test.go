package prune

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	posInf32 = float32(math.Inf(1))
	negZero  = float32(math.Copysign(0, -1))
)

// TestSelectTop pins docs/methods/conventions.md#exact-top-k and the cases
// listed in docs/methods/conventions.md#tests on hand-made inputs.
func TestSelectTop(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float32
		eligible []bool
		current  []float32
		keep     int
		want     []float32
	}{
		{"all equal keep the lowest indices", []float32{5, 5, 5, 5, 5}, nil, nil, 2,
			[]float32{1, 1, 0, 0, 0}},
		{"tie at the boundary goes to the lower index", []float32{3, 1, 2, 2, 2, 0}, nil, nil, 3,
			[]float32{1, 0, 1, 1, 0, 0}},
		{"many exact zeros", []float32{0, 0, 0, 0, 0, 0, 3, 0}, nil, nil, 3,
			[]float32{1, 1, 0, 0, 0, 0, 1, 0}},
		{"many zeros among the alive (IMP after rounds)", []float32{0, 7, 0, 0, 0, 0, 0, 0},
			[]bool{false, true, false, true, true, false, true, true}, []float32{0, 1, 0, 1, 1, 0, 1, 1}, 3,
			[]float32{0, 1, 0, 1, 1, 0, 0, 0}},
		{"keep 0", []float32{1, 2, 3}, nil, nil, 0, []float32{0, 0, 0}},
		{"keep N", []float32{1, 2, 3}, nil, nil, 3, []float32{1, 1, 1}},
		{"descending order", []float32{0.1, 0.9, 0.5, 0.7}, nil, nil, 2, []float32{0, 1, 0, 1}},
		{"eligible subset, ineligible keep current", []float32{9, 8, 7, 6, 5, 4},
			[]bool{false, true, false, true, true, true}, []float32{1, 1, 0, 1, 1, 1}, 2,
			[]float32{1, 1, 0, 1, 0, 0}},
		{"eligible subset, current nil means 0", []float32{9, 8, 7, 6, 5, 4},
			[]bool{false, true, false, true, true, true}, nil, 2,
			[]float32{0, 1, 0, 1, 0, 0}},
		{"eligible subset, keep all candidates", []float32{9, 8, 7},
			[]bool{true, false, true}, []float32{0, 1, 0}, 2,
			[]float32{1, 1, 1}},
		{"+Inf first, -Inf last", []float32{-posInf32, 1, posInf32, 0}, nil, nil, 3, []float32{0, 1, 1, 1}},
		{"-Inf above nothing", []float32{-posInf32, -posInf32, -posInf32}, nil, nil, 1, []float32{1, 0, 0}},
		{"-0 equals +0 (-0 first)", []float32{negZero, 0}, nil, nil, 1, []float32{1, 0}},
		{"-0 equals +0 (+0 first)", []float32{0, negZero}, nil, nil, 1, []float32{1, 0}},
		{"-0 equals +0 among negatives", []float32{-1, negZero, 0, -2}, nil, nil, 2, []float32{0, 1, 1, 0}},
		{"lowest scores via negation, ties to the lower index", negated([]float32{1, 1, 2, 0}), nil, nil, 2,
			[]float32{1, 0, 0, 1}},
	}
	for _, tc := range tests {
		got, err := SelectTop(tc.scores, tc.eligible, tc.keep, tc.current)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func negated(s []float32) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = -v
	}
	return out
}

func TestSelectTopErrors(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name     string
		scores   []float32
		eligible []bool
		current  []float32
		keep     int
		want     string
	}{
		{"NaN", []float32{1, nan, 2}, nil, nil, 1, "score 1 is NaN"},
		{"NaN in an ineligible entry", []float32{1, 2, nan}, []bool{true, true, false}, nil, 1, "score 2 is NaN"},
		{"keep above candidates", []float32{1, 2, 3}, []bool{true, false, true}, nil, 3, "keep 3 of 2 candidates"},
		{"negative keep", []float32{1, 2}, nil, nil, -1, "keep -1"},
		{"eligible length", []float32{1, 2}, []bool{true}, nil, 1, "1 eligibility flags for 2 scores"},
		{"current length", []float32{1, 2}, nil, []float32{1}, 1, "current mask has 1 entries"},
		{"current not 0/1", []float32{1, 2}, []bool{true, false}, []float32{1, 0.5}, 1, "entry 1 is 0.5"},
	}
	for _, tc := range tests {
		_, err := SelectTop(tc.scores, tc.eligible, tc.keep, tc.current)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	_, err := SelectTop([]float32{1, nan}, nil, 1, nil)
	var ne *NaNScoreError
	if !errors.As(err, &ne) || ne.Index != 1 || ne.Tensor != "" {
		t.Errorf("NaN error %#v, want a *NaNScoreError at index 1", err)
	}
}

// referenceTop is the definition: sort the candidates by (score desc, index
// asc) and keep the first keep.
func referenceTop(scores []float32, eligible []bool, keep int, current []float32) []float32 {
	var idx []int
	out := make([]float32, len(scores))
	for i := range scores {
		if eligible == nil || eligible[i] {
			idx = append(idx, i)
		} else if current != nil {
			out[i] = current[i]
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return a - b
	})
	for _, i := range idx[:keep] {
		out[i] = 1
	}
	return out
}

// TestSelectTopMatchesSort checks the introselect against the definition on
// random inputs full of ties, signed zeros and infinities, and on sorted and
// reversed inputs large enough to reach the partitioning and the depth
// fallback.
func TestSelectTopMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []float32{-posInf32, -2, -1, negZero, 0, 0.5, 1, 3, posInf32}
	for trial := range 400 {
		n := 1 + rng.IntN(600)
		scores := make([]float32, n)
		for i := range scores {
			if trial%2 == 0 {
				scores[i] = vals[rng.IntN(len(vals))]
			} else {
				scores[i] = float32(rng.NormFloat64())
			}
		}
		var elig []bool
		var cur []float32
		cand := n
		if trial%3 == 0 {
			elig = make([]bool, n)
			cur = make([]float32, n)
			cand = 0
			for i := range elig {
				elig[i] = rng.IntN(3) > 0
				if elig[i] {
					cand++
				} else {
					cur[i] = float32(rng.IntN(2))
				}
			}
		}
		keep := rng.IntN(cand + 1)
		got, err := SelectTop(scores, elig, keep, cur)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceTop(scores, elig, keep, cur); !slices.Equal(got, want) {
			t.Fatalf("trial %d (n %d, keep %d): introselect differs from the sort", trial, n, keep)
		}
		if c := maskOnes(got); elig == nil && c != keep {
			t.Fatalf("trial %d: kept %d, want %d", trial, c, keep)
		}
	}
	const n = 20000
	for _, kind := range []string{"ascending", "descending", "constant", "sawtooth"} {
		scores := make([]float32, n)
		for i := range scores {
			switch kind {
			case "ascending":
				scores[i] = float32(i)
			case "descending":
				scores[i] = float32(n - i)
			case "constant":
				scores[i] = 1
			case "sawtooth":
				scores[i] = float32(i % 7)
			}
		}
		for _, keep := range []int{1, n / 3, n / 2, n - 1} {
			got, _ := SelectTop(scores, nil, keep, nil)
			if want := referenceTop(scores, nil, keep, nil); !slices.Equal(got, want) {
				t.Errorf("%s input, keep %d: introselect differs from the sort", kind, keep)
			}
		}
	}
}

// TestSelectTopGlobal checks that the global scope is one SelectTop over the
// concatenation: a tie across tensors goes to the tensor earlier in
// canonical order, and a NaN is reported with the tensor and local offset.
func TestSelectTopGlobal(t *testing.T) {
	names := []string{"a.weight", "b.weight", "c.weight"}
	scores := [][]float32{{0.9, 0.5}, {0.1, 0.5, 0.2}, {0.5}}
	got, err := SelectTopGlobal(names, scores, nil, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 1}, {0, 0, 0}, {0}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("keep 2: got %v, want %v", got, want)
	}
	got, _ = SelectTopGlobal(names, scores, nil, 3, nil)
	want = [][]float32{{1, 1}, {0, 1, 0}, {0}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("keep 3: got %v, want %v", got, want)
	}
	// Eligibility per tensor, nil meaning all; current per tensor.
	elig := [][]bool{nil, {true, false, true}, {false}}
	cur := [][]float32{nil, {1, 1, 1}, {1}}
	got, _ = SelectTopGlobal(names, scores, elig, 3, cur)
	want = [][]float32{{1, 1}, {0, 1, 1}, {1}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("eligible subset: got %v, want %v", got, want)
	}

	scores[1][2] = float32(math.NaN())
	_, err = SelectTopGlobal(names, scores, nil, 2, nil)
	var ne *NaNScoreError
	if !errors.As(err, &ne) || ne.Tensor != "b.weight" || ne.Index != 2 {
		t.Errorf("NaN: error %v, want a NaN error at b.weight entry 2", err)
	}
	if err == nil || !strings.Contains(err.Error(), "b.weight: score 2 is NaN") {
		t.Errorf("NaN: message %v", err)
	}
	_, err = SelectTopGlobal(names, [][]float32{{1}, {2}}, nil, 1, nil)
	if err == nil {
		t.Error("mismatched names and scores: no error")
	}
	_, err = SelectTopGlobal(names, [][]float32{{1}, {2}, {3}}, nil, 4, nil)
	if err == nil || !strings.Contains(err.Error(), "a.weight, b.weight, c.weight") {
		t.Errorf("keep past the pool: error %v, want one naming the tensors", err)
	}
}

func BenchmarkSelectTop(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		rng := rand.New(rand.NewPCG(3, 4))
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(rng.NormFloat64())
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := SelectTop(scores, nil, n/10, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
