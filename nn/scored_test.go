package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var (
	negZero32 = float32(math.Copysign(0, -1))
	inf       = float32(math.Inf(1))
)

func TestTopKMaskByHand(t *testing.T) {
	cases := []struct {
		scores []float32
		keep   int
		want   []float32
	}{
		{[]float32{3, 1, 2}, 1, []float32{1, 0, 0}},
		{[]float32{3, 1, 2}, 2, []float32{1, 0, 1}},
		{[]float32{-1, -3, -2}, 2, []float32{1, 0, 1}},
		// Ties go to the lower index.
		{[]float32{1, 2, 2, 2, 0}, 2, []float32{0, 1, 1, 0, 0}},
		{[]float32{5, 5, 5, 5}, 3, []float32{1, 1, 1, 0}},
		{[]float32{0, 0, 7, 0}, 2, []float32{1, 0, 1, 0}},
		{[]float32{1, 2}, 0, []float32{0, 0}},
		{[]float32{1, 2}, 2, []float32{1, 1}},
		{[]float32{1, 2}, 9, []float32{1, 1}},
		// −0 and +0 tie (to the lower index); infinities order as numbers.
		{[]float32{negZero32, 0, 1, -1}, 2, []float32{1, 0, 1, 0}},
		{[]float32{0, negZero32, 1, -1}, 2, []float32{1, 0, 1, 0}},
		{[]float32{inf, -inf, 3, -inf}, 2, []float32{1, 0, 1, 0}},
		{[]float32{-inf, -inf, -5}, 2, []float32{1, 0, 1}},
	}
	for _, c := range cases {
		if got := TopKMask(c.scores, c.keep); !slices.Equal(got, c.want) {
			t.Errorf("TopKMask(%v, %d) = %v, want %v", c.scores, c.keep, got, c.want)
		}
	}
}

// topKBySort is the definition: sort indices by score descending, then by
// index, and keep the first k.
func topKBySort(s []float32, k int) []float32 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case s[a] > s[b]:
			return -1
		case s[a] < s[b]:
			return 1
		}
		return 0
	})
	m := make([]float32, len(s))
	for _, i := range idx[:k] {
		m[i] = 1
	}
	return m
}

func TestTopKMaskMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + rng.IntN(200)
		s := make([]float32, n)
		levels := 1 + rng.IntN(8) // few distinct values: many ties
		if trial%3 == 0 {
			levels = 1 << 20
		}
		for i := range s {
			s[i] = float32(rng.IntN(levels)) - float32(levels/2)
		}
		k := 1 + rng.IntN(n)
		got, want := TopKMask(s, k), topKBySort(s, k)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: TopKMask(%v, %d) = %v, want %v", trial, s, k, got, want)
		}
	}
}

func TestScoredValidate(t *testing.T) {
	nan := float32(0)
	nan /= nan
	cases := []struct {
		s    Scored
		want string // "" = valid
	}{
		{Scored{Scores: []float32{1, 2, 3}, Keep: 1}, ""},
		{Scored{Scores: []float32{1, 2, 3}, Keep: 3}, ""},
		{Scored{Scores: []float32{1, 2}, Keep: 1}, "2 entries, want 3"},
		{Scored{Scores: []float32{1, 2, 3}, Keep: 0}, "keep 0, want 1 to 3"},
		{Scored{Scores: []float32{1, 2, 3}, Keep: 4}, "keep 4, want 1 to 3"},
		{Scored{Scores: []float32{1, nan, 3}, Keep: 1}, "entry 1 is NaN"},
	}
	for _, c := range cases {
		err := c.s.Validate("fc1.weight", 3)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: unexpected error %v", c.s, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "fc1.weight")):
			t.Errorf("%v: error %v, want one naming fc1.weight and containing %q", c.s, err, c.want)
		}
	}
}

func BenchmarkTopKMask(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16, 266200} {
		rng := rand.New(rand.NewPCG(3, 4))
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				TopKMask(s, n/10)
			}
		})
	}
}
