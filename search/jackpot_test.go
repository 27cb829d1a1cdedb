package search

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

func jackpotMasksOf(names []string, ms ...[]float32) *prune.Masks {
	m := &prune.Masks{Names: names, M: map[string][]float32{}}
	for i, n := range names {
		m.M[n] = ms[i]
	}
	return m
}

// TestNewJackpotScores checks the reference's initialization: score 1 where
// the mask keeps, 0.99 where it prunes, zero momentum, the kept counts.
func TestNewJackpotScores(t *testing.T) {
	j, err := NewJackpot(DefaultJackpotConfig(), jackpotMasksOf([]string{"a", "b"}, []float32{1, 0, 1}, []float32{0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.Scores[0], []float32{1, 0.99, 1}) || !slices.Equal(j.Scores[1], []float32{0.99, 1}) {
		t.Errorf("scores %v", j.Scores)
	}
	if j.Keep(0) != 2 || j.Keep(1) != 1 || !slices.Equal(j.Momentum[0], []float32{0, 0, 0}) {
		t.Errorf("keep %d %d momentum %v", j.Keep(0), j.Keep(1), j.Momentum[0])
	}
}

func TestNewJackpotBadInput(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(*JackpotConfig)
		m    *prune.Masks
		want string
	}{
		{"empty tensor", nil, jackpotMasksOf([]string{"fc1.weight"}, []float32{0, 0}), "fc1.weight keeps no entry"},
		{"not binary", nil, jackpotMasksOf([]string{"a"}, []float32{0.5, 1}), "want 0 or 1"},
		{"nothing", nil, &prune.Masks{}, "nothing to search"},
		{"lr", func(c *JackpotConfig) { c.LR = 0 }, jackpotMasksOf([]string{"a"}, []float32{1}), "lr = 0"},
		{"momentum", func(c *JackpotConfig) { c.Momentum = 1 }, jackpotMasksOf([]string{"a"}, []float32{1}), "momentum = 1"},
		{"weight decay", func(c *JackpotConfig) { c.WeightDecay = -1 }, jackpotMasksOf([]string{"a"}, []float32{1}), "weight_decay = -1"},
		{"restriction", func(c *JackpotConfig) { c.Restriction = "ceil" }, jackpotMasksOf([]string{"a"}, []float32{1}), `short_restriction = "ceil": want one of decay4, off`},
	}
	for _, c := range cases {
		cfg := DefaultJackpotConfig()
		if c.cfg != nil {
			c.cfg(&cfg)
		}
		_, err := NewJackpot(cfg, c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestScoreStepWeightDecay does two SGD steps on two scores by hand: θ =
// (2, −1), g = (0.5, 0), lr 0.1, momentum 0.9, weight decay 0.1. The second
// entry has no gradient, so only the weight decay moves its score.
//
//	step 1: d = (1 + 0.1, 0 + 0.099) = (1.1, 0.099); v = d;
//	        s = (1 − 0.11, 0.99 − 0.0099) = (0.89, 0.9801)
//	step 2: d = (1 + 0.089, 0.09801); v = 0.9·(1.1, 0.099) + d = (2.079, 0.18711);
//	        s = (0.89 − 0.2079, 0.9801 − 0.018711) = (0.6821, 0.961389)
func TestScoreStepWeightDecay(t *testing.T) {
	s, v := []float32{1, 0.99}, []float32{0, 0}
	theta, g := []float32{2, -1}, []float32{0.5, 0}
	jackpotScoreStep(s, v, theta, g, 0.1, 0.9, 0.1)
	jackpotNear(t, "step 1 scores", s, []float32{0.89, 0.9801})
	jackpotNear(t, "step 1 momentum", v, []float32{1.1, 0.099})
	jackpotScoreStep(s, v, theta, g, 0.1, 0.9, 0.1)
	jackpotNear(t, "step 2 scores", s, []float32{0.6821, 0.961389})
	// Without weight decay a score without gradient does not move.
	s, v = []float32{1, 0.99}, []float32{0, 0}
	jackpotScoreStep(s, v, theta, g, 0.1, 0.9, 0)
	if s[1] != 0.99 {
		t.Errorf("score without gradient or weight decay moved to %v", s[1])
	}
}

func jackpotNear(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

// TestSwapLayer checks the swap rule on hand-made layers.
func TestSwapLayer(t *testing.T) {
	cases := []struct {
		name   string
		s, b   []float32
		prune  int
		rate   float64
		want   []float32
		swaps  int
		reason string
	}{
		{
			// sorted 0.2 0.5 1.0 1.1: τ = 0.5; P0 = {1} (1.1 > 0.5), P1 = {0} (0.5 ≤ 0.5).
			name: "one crossing pair", s: []float32{0.5, 1.1, 1.0, 0.2}, b: []float32{1, 0, 1, 0}, prune: 2, rate: 1,
			want: []float32{0, 1, 1, 0}, swaps: 1,
		},
		{
			// sorted 0.1 0.3 0.3 0.9 1: τ = 0.3; P0 = {2}, P1 = {0, 1}: sizes differ, no swap.
			name: "tie at the boundary", s: []float32{0.3, 0.3, 0.9, 0.1, 1}, b: []float32{1, 1, 0, 0, 1}, prune: 2, rate: 1,
			want: []float32{1, 1, 0, 0, 1}, swaps: 0,
		},
		{
			name: "no crossing", s: []float32{1, 1, 0.99, 0.99}, b: []float32{1, 1, 0, 0}, prune: 2, rate: 1,
			want: []float32{1, 1, 0, 0}, swaps: 0,
		},
		{
			// τ = 0.35; all four pairs cross.
			name: "every pair (off)", s: []float32{0.1, 0.2, 0.3, 0.35, 0.9, 0.8, 0.7, 0.6}, b: []float32{1, 1, 1, 1, 0, 0, 0, 0}, prune: 4, rate: 1,
			want: []float32{0, 0, 0, 0, 1, 1, 1, 1}, swaps: 4,
		},
		{
			// ceil(4 · 0.5) = 2: the two highest pruned (0.9, 0.8) in, the two lowest kept (0.1, 0.2) out.
			name: "half the pairs", s: []float32{0.1, 0.2, 0.3, 0.35, 0.9, 0.8, 0.7, 0.6}, b: []float32{1, 1, 1, 1, 0, 0, 0, 0}, prune: 4, rate: 0.5,
			want: []float32{0, 0, 1, 1, 1, 1, 0, 0}, swaps: 2,
		},
		{
			// ceil(4 · 0.2) = 1.
			name: "one of four", s: []float32{0.1, 0.2, 0.3, 0.35, 0.9, 0.8, 0.7, 0.6}, b: []float32{1, 1, 1, 1, 0, 0, 0, 0}, prune: 4, rate: 0.2,
			want: []float32{0, 1, 1, 1, 1, 0, 0, 0}, swaps: 1,
		},
		{
			// Equal scores inside P0 and P1: the lower index comes in first
			// and goes out last. τ = 0.1; P0 = {2, 3}, P1 = {0, 1}; one swap.
			name: "tie order", s: []float32{0.1, 0.1, 0.9, 0.9}, b: []float32{1, 1, 0, 0}, prune: 2, rate: 0.25,
			want: []float32{1, 0, 1, 0}, swaps: 1,
		},
		{
			name: "dense tensor", s: []float32{0.1, 0.2}, b: []float32{1, 1}, prune: 0, rate: 1,
			want: []float32{1, 1}, swaps: 0,
		},
	}
	var buf []float32
	for _, c := range cases {
		b := slices.Clone(c.b)
		n := jackpotSwap(c.s, b, c.prune, c.rate, &buf)
		if n != c.swaps || !slices.Equal(b, c.want) {
			t.Errorf("%s: %d swaps, mask %v; want %d, %v", c.name, n, b, c.swaps, c.want)
		}
	}
}

// TestRestriction checks the schedules and, on the four-pair layer of
// TestSwapLayer, that decay4 swaps ceil(q · (1 − e/E)⁴) pairs at epoch e of
// E = 2: epoch 0 all four, epoch 1 ceil(4/16) = 1; off swaps all four at
// both.
func TestRestriction(t *testing.T) {
	for _, c := range []struct {
		r      Restriction
		e      int
		epochs float64
		want   float64
	}{
		{RestrictionDecay4, 0, 10, 1}, {RestrictionDecay4, 5, 10, 0.0625}, {RestrictionDecay4, 9, 10, 1e-4},
		{RestrictionDecay4, 1, 2, 0.0625}, {RestrictionOff, 0, 10, 1}, {RestrictionOff, 9, 10, 1},
	} {
		if got := RestrictionRate(c.r, c.e, c.epochs); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("RestrictionRate(%s, %d, %v) = %v, want %v", c.r, c.e, c.epochs, got, c.want)
		}
	}
	s := []float32{0.1, 0.2, 0.3, 0.35, 0.9, 0.8, 0.7, 0.6}
	var buf []float32
	for _, c := range []struct {
		r     Restriction
		e     int
		swaps int
	}{{RestrictionDecay4, 0, 4}, {RestrictionDecay4, 1, 1}, {RestrictionOff, 0, 4}, {RestrictionOff, 1, 4}} {
		b := []float32{1, 1, 1, 1, 0, 0, 0, 0}
		if n := jackpotSwap(s, b, 4, RestrictionRate(c.r, c.e, 2), &buf); n != c.swaps {
			t.Errorf("%s epoch %d of 2: %d swaps, want %d", c.r, c.e, n, c.swaps)
		}
	}
	for _, c := range []struct {
		e    int
		want float64
	}{{0, 0.1}, {5, 0.05}, {10, 0}} {
		if got := JackpotScoreLR(0.1, c.e, 10); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("JackpotScoreLR(0.1, %d, 10) = %v, want %v", c.e, got, c.want)
		}
	}
	if jackpotCeilCount(3*math.Pow(1-0.0/7, 4)) != 3 || jackpotCeilCount(2.0000000001) != 2 || jackpotCeilCount(2.01) != 3 || jackpotCeilCount(1e-12) != 1 {
		t.Error("jackpotCeilCount")
	}
}

// TestUpdateKeepsCounts runs many random score steps on three tensors:
// after every step each tensor keeps exactly its initial count; with every
// crossing pair swapped (off) and no ties (random float scores) the mask is
// the exact top-k of the scores; with decay4 it need not be.
func TestUpdateKeepsCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{50, 17, 3}
	for _, r := range []Restriction{RestrictionOff, RestrictionDecay4} {
		var names []string
		var ms [][]float32
		for i, n := range sizes {
			names = append(names, string(rune('a'+i)))
			m := make([]float32, n)
			for k := range m {
				if k%3 == 0 {
					m[k] = 1
				}
			}
			ms = append(ms, m)
		}
		cfg := DefaultJackpotConfig()
		cfg.Restriction = r
		j, err := NewJackpot(cfg, jackpotMasksOf(names, ms...))
		if err != nil {
			t.Fatal(err)
		}
		theta, grad := make([][]float32, 3), make([][]float32, 3)
		for i, n := range sizes {
			theta[i], grad[i] = make([]float32, n), make([]float32, n)
			for k := range theta[i] {
				theta[i][k] = float32(rng.NormFloat64())
			}
		}
		swaps := 0
		for step := range 200 {
			for i := range grad {
				for k := range grad[i] {
					grad[i][k] = float32(rng.NormFloat64())
				}
			}
			if _, err := j.Update(theta, grad, 0.1, RestrictionRate(r, step/20, 10)); err != nil {
				t.Fatal(err)
			}
			for i := range sizes {
				swaps += j.Swaps[i]
				if got := jackpotOnes(j.Masks[i]); got != j.Keep(i) {
					t.Fatalf("%s step %d: %s keeps %d, want %d", r, step, names[i], got, j.Keep(i))
				}
				if r == RestrictionOff && !slices.Equal(j.Masks[i], nn.TopKMask(j.Scores[i], j.Keep(i))) {
					t.Fatalf("off step %d: %s mask is not the top-%d of its scores", step, names[i], j.Keep(i))
				}
			}
		}
		if swaps == 0 || j.Iter != 200 {
			t.Errorf("%s: %d swaps in %d steps: the test exercised nothing", r, swaps, j.Iter)
		}
	}
}

func TestUpdateDiverged(t *testing.T) {
	j, _ := NewJackpot(DefaultJackpotConfig(), jackpotMasksOf([]string{"fc1.weight"}, []float32{1, 0}))
	inf := float32(math.Inf(1))
	_, err := j.Update([][]float32{{1, 1}}, [][]float32{{inf, 0}}, 0.1, 1)
	if err == nil || !strings.Contains(err.Error(), "fc1.weight") {
		t.Errorf("error %v, want one naming fc1.weight", err)
	}
	if _, err := j.Update([][]float32{{1}}, [][]float32{{1, 1}}, 0.1, 1); err == nil {
		t.Error("wrong sizes accepted")
	}
}

func TestKthSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf []float32
	for _, n := range []int{1, 2, 7, 100, 1001} {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(5)) // many ties
		}
		sorted := slices.Sorted(slices.Values(s))
		orig := slices.Clone(s)
		for k := 1; k <= n; k += max(1, n/13) {
			if got := jackpotKthSmallest(s, k, &buf); got != sorted[k-1] {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, sorted[k-1])
			}
		}
		if !slices.Equal(s, orig) {
			t.Fatal("kthSmallest modified its input")
		}
	}
}
