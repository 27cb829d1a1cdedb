package search

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/prunebench/prunebench/nn"
)

// handNet is a network whose block outputs are known by hand: an identity
// stem (Linear 2→2 with W = I, batch norm with γ = 1, β = 0, mean 0,
// variance 1, ReLU), three blocks whose residual branches output exactly
// 0 (second Linear all zero) except layer1.2, whose second batch norm
// shifts by β = [1, 0], and an identity classifier. So with s = 1/√(1+ε)
// and h = ReLU(s·x), the logits are h + [1, 0]. layer1.1's first Linear
// is [[1, −2], [3, 0]] (its L1 score is the mean row ℓ1 norm, 3; its
// branch is still 0).
func handNet(t *testing.T) (nn.Net, *Blocks) {
	t.Helper()
	layers := []nn.Layer{nn.Linear{Name: "fc1", In: 2, Out: 2}, nn.BatchNorm{Name: "bn1", C: 2, Eps: 1e-5, Momentum: 0.1}, nn.ReLU{}}
	for _, n := range []string{"layer1.0", "layer1.1", "layer1.2"} {
		layers = append(layers, nn.Residual{Name: n, Body: []nn.Layer{
			nn.Linear{Name: n + ".fc1", In: 2, Out: 2}, nn.BatchNorm{Name: n + ".bn1", C: 2, Eps: 1e-5, Momentum: 0.1}, nn.ReLU{},
			nn.Linear{Name: n + ".fc2", In: 2, Out: 2}, nn.BatchNorm{Name: n + ".bn2", C: 2, Eps: 1e-5, Momentum: 0.1},
		}}, nn.ReLU{})
	}
	layers = append(layers, nn.Linear{Name: "fc", In: 2, Out: 2, Bias: true})
	arch := &nn.Arch{Name: "hand", Input: []int{2}, Classes: 2, Layers: layers}
	if err := arch.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := nn.GetBackend("native")
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := net.State()
	for k, v := range st.Tensors {
		clear(v)
		if strings.HasSuffix(k, "running_var") || strings.HasPrefix(k, "param/") && strings.Contains(k, "bn") && strings.HasSuffix(k, ".weight") {
			for i := range v {
				v[i] = 1
			}
		}
	}
	copy(st.Tensors["param/fc1.weight"], []float32{1, 0, 0, 1})
	copy(st.Tensors["param/fc.weight"], []float32{1, 0, 0, 1})
	copy(st.Tensors["param/layer1.2.bn2.bias"], []float32{1, 0})
	copy(st.Tensors["param/layer1.1.fc1.weight"], []float32{1, -2, 3, 0})
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
	return net, layerBlocks(t, arch)
}

var handX = [][2]float64{{1, 2}, {0.5, -1}, {-1, 3}, {2, 0.25}}

func handBatch() nn.Batch {
	b := nn.Batch{N: len(handX), Y: []int32{0, 1, 0, 1}}
	for _, x := range handX {
		b.X = append(b.X, float32(x[0]), float32(x[1]))
	}
	return b
}

func handH() [][2]float64 {
	s := 1 / math.Sqrt(1+1e-5)
	h := make([][2]float64, len(handX))
	for i, x := range handX {
		h[i] = [2]float64{math.Max(0, s*x[0]), math.Max(0, s*x[1])}
	}
	return h
}

func handScores(t *testing.T, crit string) []float64 {
	t.Helper()
	net, bs := handNet(t)
	b, _ := nn.GetBackend("native")
	cand, _ := bs.Candidates(RemovableUtility)
	s, err := ScoreBlocksTrained(TrainedContext{Net: net, Build: func(a *nn.Arch) (nn.Net, error) { return b.Build(nn.Config{Arch: a, MaxBatch: 4}) }, Batches: []nn.Batch{handBatch()}, Rng: nn.NewRand(5)}, bs, crit, cand)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s[0]) && crit != CritRandom {
		t.Errorf("%s: layer1.0 is no candidate but scored %v", crit, s[0])
	}
	return s
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestKLHand(t *testing.T) {
	s := handScores(t, CritKL)
	// layer1.2 off: q = softmax(h), p = softmax(h + [1, 0]).
	var want float64
	for _, h := range handH() {
		lq := logSoftmax2(h[0], h[1])
		lp := logSoftmax2(h[0]+1, h[1])
		for c := range 2 {
			want += math.Exp(lq[c]) * (lq[c] - lp[c])
		}
	}
	want /= float64(len(handX))
	if s[1] != 0 || !near(s[2], want, 1e-6) || want <= 0 {
		t.Errorf("KL scores %v, want [NaN 0 %v]", s, want)
	}
}

func logSoftmax2(a, b float64) [2]float64 {
	m := math.Max(a, b)
	l := m + math.Log(math.Exp(a-m)+math.Exp(b-m))
	return [2]float64{a - l, b - l}
}

func TestExpectedABSAndHRankHand(t *testing.T) {
	var abs, nz float64
	for _, h := range handH() {
		abs += h[0] + h[1]
		for _, v := range h {
			if v != 0 {
				nz++
			}
		}
	}
	n := float64(2 * len(handX))
	s := handScores(t, CritExpectedABS)
	if !near(s[1], abs/n, 1e-6) || !near(s[2], (abs+4)/n, 1e-6) {
		t.Errorf("expected_abs %v, want [NaN %v %v]", s, abs/n, (abs+4)/n)
	}
	// Vector features: 1×1 maps, rank 1 where non-zero; layer1.2's
	// channel 0 is ≥ 1 everywhere.
	h := handH()
	nz2 := float64(len(h))
	for _, x := range h {
		if x[1] != 0 {
			nz2++
		}
	}
	s = handScores(t, CritHRank)
	if !near(s[1], nz/n, 1e-12) || !near(s[2], nz2/n, 1e-12) {
		t.Errorf("hrank %v, want [NaN %v %v]", s, nz/n, nz2/n)
	}
}

func TestL1AndRandomHand(t *testing.T) {
	if s := handScores(t, CritL1); s[1] != 3 || s[2] != 0 {
		t.Errorf("l1 %v, want [NaN 3 0]", s)
	}
	a, b := handScores(t, CritRandom), handScores(t, CritRandom)
	rng := nn.NewRand(5)
	want := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
	if !slices.Equal(a, b) || !slices.Equal(a, want) {
		t.Errorf("random %v, %v; want the mask stream's first draws %v", a, b, want)
	}
}

func TestCKA(t *testing.T) {
	// Passing-through blocks and constant shifts leave the centred
	// penultimate features unchanged: 1 − CKA = 0.
	if s := handScores(t, CritCKA); !near(s[1], 0, 1e-9) || !near(s[2], 0, 1e-9) {
		t.Errorf("cka %v, want [NaN 0 0]", s)
	}
	// Orthogonal centred columns of equal norm; Y keeps only the first:
	// ‖YᵀX‖² = |x₁|⁴, ‖XᵀX‖ = √2 |x₁|², ‖YᵀY‖ = |x₁|², CKA = 1/√2.
	x := mat.NewDense(4, 2, []float64{1, 0, 0, 1, -1, 0, 0, -1})
	y := mat.NewDense(4, 2, []float64{1, 0, 0, 0, -1, 0, 0, 0})
	if c, err := linearCKA(x, y); err != nil || !near(c, 1/math.Sqrt2, 1e-12) {
		t.Errorf("CKA = %v (%v), want 1/√2", c, err)
	}
	if c, _ := linearCKA(x, x); !near(c, 1, 1e-12) {
		t.Errorf("CKA(X, X) = %v", c)
	}
	if _, err := linearCKA(x, mat.NewDense(4, 2, nil)); err == nil {
		t.Error("CKA of constant features: no error")
	}
}

func TestBalancedSubset(t *testing.T) {
	labels := []int32{0, 1, 2, 0, 1, 2, 0, 1, 0}
	idx, err := BalancedSubset(labels, 3, 2, nn.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	count := map[int32]int{}
	for _, i := range idx {
		count[labels[i]]++
	}
	if len(idx) != 6 || count[0] != 2 || count[1] != 2 || count[2] != 2 {
		t.Errorf("subset %v: per class %v, want 2 each", idx, count)
	}
	if _, err := BalancedSubset(labels, 3, 3, nn.NewRand(1)); err == nil || !strings.Contains(err.Error(), "class 2 has only 2") {
		t.Errorf("too few: %v", err)
	}
	_, bs := handNet(t)
	if _, err := ScoreBlocksTrained(TrainedContext{}, bs, CritPLS, nil); !errors.Is(err, nn.ErrNotImplemented) {
		t.Errorf("pls: %v", err)
	}
}

// The block criteria are a registry: each says whether it runs the network
// on the subsample, and names are checked with a suggestion.
func TestBlockCriteria(t *testing.T) {
	if got, want := strings.Join(BlockCriterionNames(), ","), "cka,expected_abs,hrank,kl,l1,pls,random"; got != want {
		t.Errorf("names %s, want %s", got, want)
	}
	for name, want := range map[string]bool{CritKL: true, CritCKA: true, CritHRank: true, CritExpectedABS: true, CritL1: false, CritRandom: false, CritPLS: false, "fisher": false} {
		if got := NeedsSubsample(name); got != want {
			t.Errorf("NeedsSubsample(%s) = %v, want %v", name, got, want)
		}
	}
	if _, err := BlockCriterionByName("hrnak"); err == nil || !strings.Contains(err.Error(), `did you mean "hrank"`) {
		t.Errorf("misspelling: %v", err)
	}
}
