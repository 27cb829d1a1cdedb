package prune

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// TestPruneRegrowByHand is a hand-computed prune-and-regrow on 8 entries,
// 4 alive, q = 2 (docs/methods/gradual.md#prune-and-regrow): death removes
// the two alive entries with the smallest |θ| (1: 0.1 and 3: 0.2); growth
// picks the two inactive entries with the largest |G| among
// {1, 3, 4, 5, 6, 7}: 6 (7) and 3 (5). Entry 3 died and was regrown at once
// (revived); entry 0 and 2 have the largest gradients but are alive, so
// they are not candidates.
func TestPruneRegrowByHand(t *testing.T) {
	mask := []float32{1, 1, 1, 1, 0, 0, 0, 0}
	w := []float32{0.5, -0.1, 0.3, -0.2, 0, 0, 0, 0}
	g := []float32{9, 0.1, -9, -5, 1, 2, -7, 0.5}
	r, err := PruneRegrow(mask, w, g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 0, 1, 1, 0, 0, 1, 0}; !slices.Equal(r.Mask, want) {
		t.Errorf("mask %v, want %v", r.Mask, want)
	}
	if r.Removed != 2 || !slices.Equal(r.Grown, []int{3, 6}) || !slices.Equal(r.Revived, []int{3}) {
		t.Errorf("removed %d grown %v revived %v, want 2 [3 6] [3]", r.Removed, r.Grown, r.Revived)
	}
	if !slices.Equal(mask, []float32{1, 1, 1, 1, 0, 0, 0, 0}) {
		t.Error("PruneRegrow changed its input mask")
	}
}

// TestPruneRegrowTies: equal magnitudes die from the highest index (keep
// the top nnz − q with ties to the lower index), and equal gradients, zero
// included, grow from the lowest index.
func TestPruneRegrowTies(t *testing.T) {
	mask := []float32{0, 1, 1, 1, 1, 0, 0}
	w := []float32{0, 2, 2, 2, 2, 0, 0}
	g := make([]float32, 7) // all-zero gradient: growth falls to the index tie-break
	r, err := PruneRegrow(mask, w, g, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Death removes 3 and 4; the inactive set is {0, 3, 4, 5, 6}; growth
	// takes 0 and 3.
	if want := []float32{1, 1, 1, 1, 0, 0, 0}; !slices.Equal(r.Mask, want) {
		t.Errorf("mask %v, want %v", r.Mask, want)
	}
	if !slices.Equal(r.Grown, []int{0, 3}) || !slices.Equal(r.Revived, []int{3}) {
		t.Errorf("grown %v revived %v, want [0 3] [3]", r.Grown, r.Revived)
	}
}

func TestPruneRegrowEdges(t *testing.T) {
	mask := []float32{1, 0, 1, 0}
	w := []float32{3, 0, -1, 0}
	g := []float32{0, 5, 0, 4}
	// q = 0: nothing changes.
	r, err := PruneRegrow(mask, w, g, 0)
	if err != nil || !slices.Equal(r.Mask, mask) || r.Removed != 0 || r.Grown != nil {
		t.Errorf("q = 0: %+v, %v", r, err)
	}
	// q = nnz: every alive entry dies and the two largest |G| among all
	// four entries grow (1 and 3); nothing is revived.
	r, err = PruneRegrow(mask, w, g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Mask, []float32{0, 1, 0, 1}) || !slices.Equal(r.Grown, []int{1, 3}) || r.Revived != nil {
		t.Errorf("q = nnz: %+v", r)
	}
}

func TestPruneRegrowErrors(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name       string
		mask, w, g []float32
		q          int
		want       string
	}{
		{"lengths", []float32{1, 0}, []float32{1}, []float32{1, 1}, 1, "2 entries"},
		{"mask value", []float32{1, 0.5}, []float32{1, 1}, []float32{1, 1}, 1, "want 0 or 1"},
		{"q too large", []float32{1, 0}, []float32{1, 0}, []float32{1, 1}, 2, "want 0 … 1"},
		{"q negative", []float32{1, 0}, []float32{1, 0}, []float32{1, 1}, -1, "want 0 … 1"},
		{"nan weight", []float32{1, 1}, []float32{nan, 1}, []float32{1, 1}, 1, "NaN"},
		{"nan gradient", []float32{1, 1}, []float32{1, 2}, []float32{1, nan}, 1, "NaN"},
		{"nan gradient, q = 0", []float32{1, 1}, []float32{1, 2}, []float32{1, nan}, 0, "NaN"},
	}
	for _, c := range cases {
		_, err := PruneRegrow(c.mask, c.w, c.g, c.q)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		var ne *NaNScoreError
		if strings.Contains(c.want, "NaN") && !errors.As(err, &ne) {
			t.Errorf("%s: %v is not a *NaNScoreError", c.name, err)
		}
	}
}

// TestPruneRegrowInvariants checks the invariants of
// docs/methods/gradual.md#prune-and-regrow on random tensors: exactly q
// entries die and q grow, the alive count is unchanged, the dead are the q
// smallest |θ| among the alive entries, every grown entry was inactive after
// death, and no inactive entry left out has a larger |G| than one grown.
func TestPruneRegrowInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(40)
		mask := make([]float32, n)
		w := make([]float32, n)
		g := make([]float32, n)
		nnz := 0
		for i := range mask {
			if rng.IntN(2) == 0 {
				mask[i] = 1
				nnz++
				w[i] = float32(rng.IntN(7) - 3) // small integers: many ties
			}
			g[i] = float32(rng.IntN(5) - 2)
		}
		q := 0
		if nnz > 0 {
			q = rng.IntN(nnz + 1)
		}
		r, err := PruneRegrow(mask, w, g, q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Removed != q || len(r.Grown) != q || maskOnes(r.Mask) != nnz {
			t.Fatalf("trial %d: removed %d grown %d alive %d → %d, want q = %d and the alive count kept", trial, r.Removed, len(r.Grown), nnz, maskOnes(r.Mask), q)
		}
		// The dead: alive before and not after, plus the revived.
		var dead []int
		for i := range mask {
			if mask[i] == 1 && (r.Mask[i] == 0 || slices.Contains(r.Revived, i)) {
				dead = append(dead, i)
			}
		}
		if len(dead) != q {
			t.Fatalf("trial %d: %d entries died, want %d", trial, len(dead), q)
		}
		// Reference death: sort the alive entries by (|θ| ascending, index
		// descending) and take the first q.
		var al []int
		for i := range mask {
			if mask[i] == 1 {
				al = append(al, i)
			}
		}
		slices.SortFunc(al, func(a, b int) int {
			wa, wb := math.Abs(float64(w[a])), math.Abs(float64(w[b]))
			switch {
			case wa < wb:
				return -1
			case wa > wb:
				return 1
			}
			return b - a
		})
		wantDead := slices.Clone(al[:q])
		slices.Sort(wantDead)
		if !slices.Equal(dead, wantDead) {
			t.Fatalf("trial %d: died %v, want %v", trial, dead, wantDead)
		}
		// Growth: every grown entry was inactive after death (inactive
		// before, or dead); the largest |G| among them, ties to the lower
		// index.
		var cand []int
		for i := range mask {
			if mask[i] == 0 || slices.Contains(dead, i) {
				cand = append(cand, i)
			}
		}
		for _, i := range r.Grown {
			if !slices.Contains(cand, i) {
				t.Fatalf("trial %d: grown entry %d was active after death", trial, i)
			}
		}
		slices.SortFunc(cand, func(a, b int) int {
			ga, gb := math.Abs(float64(g[a])), math.Abs(float64(g[b]))
			switch {
			case ga > gb:
				return -1
			case ga < gb:
				return 1
			}
			return a - b
		})
		wantGrown := slices.Clone(cand[:q])
		slices.Sort(wantGrown)
		if !slices.Equal(r.Grown, wantGrown) {
			t.Fatalf("trial %d: grown %v, want %v", trial, r.Grown, wantGrown)
		}
		for _, i := range r.Revived {
			if mask[i] != 1 || !slices.Contains(r.Grown, i) {
				t.Fatalf("trial %d: revived %d was not alive before or not grown", trial, i)
			}
		}
	}
}

// TestGlobalMagnitudePruneByHand: two tensors, 7 alive of 9, keep 4 by |θ|
// over the concatenation. Entry b[0] has the largest |θ| but is pruned
// already: it is not a candidate and stays pruned. The tie at |θ| = 2
// (a[1] and b[2]) goes to the lower global index, a[1].
func TestGlobalMagnitudePruneByHand(t *testing.T) {
	names := []string{"a", "b"}
	w := [][]float32{{5, -2, 0.5, 1}, {9, 3, 2, -4, 0.1}}
	m := [][]float32{{1, 1, 1, 1}, {0, 1, 1, 1, 0}}
	got, err := GlobalMagnitudePrune(names, w, m, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 1, 0, 0}, {0, 1, 0, 1, 0}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%s: %v, want %v", names[i], got[i], want[i])
		}
	}
	// keep ≥ alive: a no-op (rounding can ask for more than is alive).
	same, err := GlobalMagnitudePrune(names, w, m, 8)
	if err != nil || !slices.Equal(same[0], m[0]) || !slices.Equal(same[1], m[1]) {
		t.Errorf("keep above alive: %v, %v", same, err)
	}
	// A keep that empties b is an error naming it.
	if _, err := GlobalMagnitudePrune(names, [][]float32{{5, 6, 7, 8}, {0, 1, 1, 1, 0}}, m, 4); err == nil || !strings.Contains(err.Error(), "leaves b") {
		t.Errorf("emptied tensor: %v", err)
	}
	if _, err := GlobalMagnitudePrune(names, w, m, -1); err == nil {
		t.Error("keep −1 accepted")
	}
	if _, err := GlobalMagnitudePrune(names, w[:1], m, 2); err == nil {
		t.Error("mismatched tensors accepted")
	}
	var ne *NaNScoreError
	if _, err := GlobalMagnitudePrune(names, [][]float32{{5, -2, 0.5, 1}, {9, float32(math.NaN()), 2, -4, 0.1}}, m, 4); !errors.As(err, &ne) || ne.Tensor != "b" || ne.Index != 1 {
		t.Errorf("NaN weight: %v", err)
	}
}

// TestGradualTrajectory runs a GraNet schedule on plain slices, the worked
// example of docs/methods/gradual.md#cubic-schedule scaled down (I = 11,
// E = 16, ΔT = 10, window 0–8 epochs, d_i = 0.5, d_f = 0.1; three tensors
// of 537 entries, ERK initial masks), with random weight drift and a fresh
// random gradient every iteration, and checks
// (docs/methods/gradual.md#tests): the kept count after every pruning
// update is round(N · density_j) with density_j computed here from the
// formula (the first update at j = 1 already below d_i, the last at
// j = tf − 1 = 7 at d_f + (d_i − d_f)/n³), every prune-and-regrow keeps
// each layer's alive count and regrows what it removed, and the number of
// prune-and-regrow calls is floor(T/ΔT) − (multiples of ΔT below e_i·I),
// continuing after the window closes.
func TestGradualTrajectory(t *testing.T) {
	set := []nn.ParamInfo{
		{Name: "a.weight", Shape: []int{20, 15}, Kind: nn.Weight},
		{Name: "b.weight", Shape: []int{10, 20}, Kind: nn.Weight},
		{Name: "c.weight", Shape: []int{37}, Kind: nn.Weight},
	}
	for _, tc := range []struct {
		initEpoch    string
		regrowCalls  int // 17 multiples of 10 up to 176, minus those below e_i·I
		pruneUpdates int
	}{
		{"0ep", 17, 7},
		{"2ep", 17 - 2, 8 - 2 - 1}, // e_i·I = 22: t0 = 2, pruning at j = 3 … 7 (j = 2 is t = 20 < 22)
	} {
		t.Run(tc.initEpoch, func(t *testing.T) {
			s := DefaultGradualSpec()
			s.InitDensity, s.FinalDensity = 0.5, 0.1
			s.InitPruneEpoch, s.FinalPruneEpoch = tc.initEpoch, "8ep"
			s.UpdateFrequency = 10
			g, err := s.Resolve(11, train.MustParseStep("16ep"))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 8))
			plan, err := ERKPlan(set, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			scores, _ := Random{}.Scores(ScoreContext{Set: set, Rng: rng})
			init, err := plan.Select(scores, nil)
			if err != nil {
				t.Fatal(err)
			}
			names := init.Names
			masks := make([][]float32, len(names))
			w := make([][]float32, len(names))
			N := 0
			for i, name := range names {
				masks[i] = init.M[name]
				w[i] = make([]float32, len(masks[i]))
				N += len(masks[i])
			}
			t0, tf := g.Start/10, 8 // floor(e_i·I/ΔT), floor(88/10)
			n := tf - t0
			var pruned, regrown int
			for it := 1; it <= g.Total; it++ {
				// A "step": weights drift, then P3 zeroes the pruned ones.
				grad := make([][]float32, len(names))
				for i := range w {
					grad[i] = make([]float32, len(w[i]))
					for k := range w[i] {
						w[i][k] = (w[i][k] + float32(rng.NormFloat64())) * masks[i][k]
						grad[i][k] = float32(rng.NormFloat64())
					}
				}
				if keep, ok := g.PruneKeep(it, N); ok {
					j := it / 10
					d := 0.1 + 0.4*math.Pow(1-float64(j-t0)/float64(n), 3)
					want := int(math.Round(d * float64(N)))
					if keep != want {
						t.Fatalf("t = %d: keep %d, want round(%d · %v) = %d", it, keep, N, d, want)
					}
					if masks, err = GlobalMagnitudePrune(names, w, masks, keep); err != nil {
						t.Fatal(err)
					}
					kept := 0
					for _, m := range masks {
						kept += maskOnes(m)
					}
					if kept != want {
						t.Fatalf("t = %d: %d kept after pruning, want %d", it, kept, want)
					}
					if pruned == 0 && j != t0+1 {
						t.Errorf("first pruning update at j = %d, want %d", j, t0+1)
					}
					if j == tf-1 {
						if final := 0.1 + 0.4/float64(n*n*n); !near(d, final, 1e-15) {
							t.Errorf("last update density %v, want d_f + (d_i − d_f)/n³ = %v", d, final)
						}
					}
					pruned++
					for i := range w {
						for k := range w[i] {
							w[i][k] *= masks[i][k]
						}
					}
				}
				if g.RegrowAt(it) {
					for i, name := range names {
						nnz := maskOnes(masks[i])
						q := g.DeathCount(it, nnz)
						if want := int(math.Ceil(g.DeathRate(it) * float64(nnz))); q != want {
							t.Fatalf("t = %d %s: death count %d, want ceil(r_t · %d) = %d", it, name, q, nnz, want)
						}
						r, err := PruneRegrow(masks[i], w[i], grad[i], q)
						if err != nil {
							t.Fatal(err)
						}
						if len(r.Grown) != r.Removed || maskOnes(r.Mask) != nnz {
							t.Fatalf("t = %d %s: removed %d grown %d, alive %d → %d", it, name, r.Removed, len(r.Grown), nnz, maskOnes(r.Mask))
						}
						masks[i] = r.Mask
					}
					regrown++
				}
			}
			if pruned != tc.pruneUpdates || regrown != tc.regrowCalls {
				t.Errorf("%d pruning updates and %d prune-and-regrow calls, want %d and %d", pruned, regrown, tc.pruneUpdates, tc.regrowCalls)
			}
		})
	}
}
