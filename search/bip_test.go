package search

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
)

// tinyNet builds a native MLP in→hidden→classes with seeded weights.
func tinyNet(t *testing.T, in, hidden, classes int, seed uint64) nn.Net {
	t.Helper()
	arch, err := zoo.Build("mlp", zoo.Options{Input: []int{in}, Widths: []int{hidden}, Classes: classes})
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(seed)); err != nil {
		t.Fatal(err)
	}
	return net
}

func weights(net nn.Net) []nn.ParamInfo {
	var set []nn.ParamInfo
	for _, p := range net.Params() {
		if p.Info().Prunable() {
			set = append(set, p.Info())
		}
	}
	return set
}

func randomBatch(rng *rand.Rand, n, in, classes int) nn.Batch {
	b := nn.Batch{X: make([]float32, n*in), Y: make([]int32, n), N: n}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = int32(rng.IntN(classes))
	}
	return b
}

func cleanConfig(k float64) BiPConfig {
	return bipConfig(k, 100)
}

// bipConfig is the default clean configuration at density k for a search
// of the given iterations.
func bipConfig(k float64, iterations int) BiPConfig {
	c := DefaultBiPConfig()
	c.Density, c.Iterations = k, iterations
	return c
}

func TestKeptCount(t *testing.T) {
	cases := []struct {
		mode string
		k    float64
		n    int
		want int
	}{
		{"clean", 0.25, 10, 3},     // round(2.5) = 3
		{"reference", 0.25, 10, 3}, // 10 − floor(7.5)
		{"clean", 0.33, 10, 3},     // round(3.3)
		{"reference", 0.33, 10, 4}, // 10 − floor(6.7)
		{"clean", 0.2, 266200, 53240},
		{"reference", 0.2, 266200, 53240},
		{"clean", 1, 7, 7},
		{"clean", 0.01, 7, 1}, // at least one
	}
	for _, c := range cases {
		if got := KeptCount(c.mode, c.k, c.n); got != c.want {
			t.Errorf("KeptCount(%s, %v, %d) = %d, want %d", c.mode, c.k, c.n, got, c.want)
		}
	}
}

// The straight-through score gradient with the IG term on four weights, by
// hand (docs/methods/bip.md#implicit-gradient), including a pruned entry
// (m = 0) that still receives θ ⊙ g and a negative score.
func TestScoreGradientByHand(t *testing.T) {
	s := []float32{0.5, -2, 1, 0}
	theta := []float32{0.5, -2, 3, 1}
	m := []float32{1, 1, 0, 1}
	g := []float32{2, 0.5, -1, 4}
	c := cleanConfig(0.5)
	c.IGCoef = 0.1
	got := make([]float32, 4)
	c.ScoreGradient(got, s, theta, m, g)
	// sign(s)·(θg − 0.1·m·g²):
	//   +1·(1 − 0.4) = 0.6;  −1·(−1 − 0.025) = 1.025;  +1·(−3 − 0) = −3;  sign 0 → 0.
	want := []float32{0.6, 1.025, -3, 0}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("clean G_s[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	c.Accelerate = true
	c.ScoreGradient(got, s, theta, m, g)
	for i, w := range []float32{1, 1, -3, 0} {
		if math.Abs(float64(got[i]-w)) > 1e-6 {
			t.Errorf("accelerate G_s[%d] = %v, want %v", i, got[i], w)
		}
	}
	// Reference: t = sign(s)·θ·g, G = t − 0.1·t²: t = 1, 1, −3, 0.
	r := c
	r.Mode, r.Accelerate = "reference", false
	r.ScoreGradient(got, s, theta, m, g)
	for i, w := range []float32{0.9, 0.9, -3.9, 0} {
		if math.Abs(float64(got[i]-w)) > 1e-6 {
			t.Errorf("reference G_s[%d] = %v, want %v", i, got[i], w)
		}
	}
}

// Intended and bugged mask schedules over 100 epochs
// (docs/methods/bip.md#schedules).
func TestScoreRate(t *testing.T) {
	c := cleanConfig(0.5)
	c.ScoreLR, c.LR, c.Iterations = 0.1, 0.01, 100
	r := c
	r.Mode = "reference"
	cases := []struct {
		it          int
		clean, refr float64
	}{
		{0, 0.1, 0.01}, {49, 0.1, 0.01}, {50, 0.1, 0.001}, {74, 0.1, 0.001},
		{75, 0.01, 0.0001}, {89, 0.01, 0.0001}, {90, 0.001, 0.0001}, {99, 0.001, 0.0001},
	}
	for _, x := range cases {
		if got := c.ScoreRate(x.it); math.Abs(got-x.clean) > 1e-12 {
			t.Errorf("clean ScoreRate(%d) = %v, want %v", x.it, got, x.clean)
		}
		if got := r.ScoreRate(x.it); math.Abs(got-x.refr) > 1e-12 {
			t.Errorf("reference ScoreRate(%d) = %v, want %v", x.it, got, x.refr)
		}
	}
}

// The first mask is global magnitude pruning of the pretrained weights, and
// exactly round(k·N) weights (clean) or N − floor((1−k)N) (reference) are
// active after every score step (docs/methods/bip.md#kept-count).
func TestBiPKeepsExactCount(t *testing.T) {
	for _, mode := range []string{"clean", "reference"} {
		net := tinyNet(t, 6, 7, 3, 1)
		set := weights(net)
		n := 6*7 + 7*3
		c := cleanConfig(0.37)
		c.Mode = mode
		c.ScoreLR, c.LR = 0.5, 0.5 // large steps: the mask moves
		b, err := NewBiP(net, set, c)
		if err != nil {
			t.Fatal(err)
		}
		want := KeptCount(mode, 0.37, n)
		// Initial mask: the top |θ| globally.
		var all []float32
		for _, info := range set {
			for _, v := range net.Param(info.Name).Values() {
				all = append(all, float32(math.Abs(float64(v))))
			}
		}
		if got := slices.Concat(b.Masks()...); !slices.Equal(got, nn.TopKMask(all, want)) {
			t.Errorf("%s: the first mask is not global magnitude pruning of θ", mode)
		}
		rng := rand.New(rand.NewPCG(2, 3))
		changed := false
		first := slices.Concat(b.Masks()...)
		for it := range 20 {
			if _, err := net.Gradients(randomBatch(rng, 8, 6, 3)); err != nil {
				t.Fatal(err)
			}
			if err := b.ScoreStep(net, it); err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, k := range b.KeptPerTensor() {
				kept += k
			}
			if kept != want {
				t.Fatalf("%s: step %d keeps %d weights, want %d", mode, it, kept, want)
			}
			// The engine's scored parametrization keeps the same count.
			engine := 0
			for _, info := range set {
				sc, ok := net.Parametrization(info.Name).(nn.Scored)
				if !ok {
					t.Fatalf("%s is %v, want scored", info.Name, net.Parametrization(info.Name))
				}
				engine += sc.Keep
			}
			if engine != want {
				t.Fatalf("%s: step %d: the engine keeps %d, want %d", mode, it, engine, want)
			}
			changed = changed || !slices.Equal(first, slices.Concat(b.Masks()...))
		}
		if !changed {
			t.Errorf("%s: the mask never changed in 20 large score steps; the test does not exercise mask moves", mode)
		}
	}
}

// With the upper level frozen (β = 0) BiP is masked fine-tuning of θ under
// the initial magnitude mask (pattern P1): the same θ, bit for bit, as the
// masked-training path on the same batches (docs/methods/bip.md#tests).
func TestBiPFrozenUpperIsMaskedFinetuning(t *testing.T) {
	a := tinyNet(t, 6, 7, 3, 4)
	ref := tinyNet(t, 6, 7, 3, 4)
	c := cleanConfig(0.3)
	c.ScoreLR = 0
	b, err := NewBiP(a, weights(a), c)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range weights(ref) {
		if err := ref.SetParametrization(info.Name, nn.Masked{Mask: b.Masks()[i], Pattern: nn.MaskedForward}); err != nil {
			t.Fatal(err)
		}
	}
	opt := nn.SGD(0.9, 1e-4)
	for _, net := range []nn.Net{a, ref} {
		if err := net.SetOptimizer(opt); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	upperRng := rand.New(rand.NewPCG(7, 8))
	cb := b.Callback(func(int) nn.Batch { return randomBatch(upperRng, 8, 6, 3) })
	for it := range 15 {
		batch := randomBatch(rng, 8, 6, 3)
		for _, net := range []nn.Net{a, ref} {
			if _, err := net.Gradients(batch); err != nil {
				t.Fatal(err)
			}
			net.Step(0.05)
		}
		if err := cb(&train.Event{Phase: train.AfterStep, Iter: it + 1, Net: a}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ref.Params() {
		got := a.Param(p.Info().Name).Values()
		if !slices.Equal(got, p.Values()) {
			t.Errorf("%s: θ differs from masked fine-tuning", p.Info().Name)
		}
	}
	moved := false
	for _, p := range ref.Params() {
		if p.Info().Name == "fc1.weight" {
			init := tinyNet(t, 6, 7, 3, 4).Param("fc1.weight").Values()
			moved = !slices.Equal(init, p.Values())
		}
	}
	if !moved {
		t.Errorf("θ did not move: the comparison is vacuous")
	}
}

// Reference mode's aliasing: scores and weights are one tensor, so after a
// score step θ equals the scores, and after a θ-step the scores follow θ
// (docs/methods/bip.md#reproduced).
func TestBiPReferenceAliasing(t *testing.T) {
	net := tinyNet(t, 6, 7, 3, 9)
	c := cleanConfig(0.5)
	c.Mode = "reference"
	b, err := NewBiP(net, weights(net), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.SetOptimizer(nn.SGD(0, 0)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(10, 11))
	if _, err := net.Gradients(randomBatch(rng, 8, 6, 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.ScoreStep(net, 0); err != nil {
		t.Fatal(err)
	}
	for i, info := range weights(net) {
		if !slices.Equal(b.Scores()[i], net.Param(info.Name).Values()) {
			t.Errorf("%s: θ ≠ scores after a reference score step", info.Name)
		}
	}
	if _, err := net.Gradients(randomBatch(rng, 8, 6, 3)); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(b.Scores()[0])
	net.Step(0.1) // the θ-step moves the shared tensor
	b.AliasScores(net)
	theta := net.Param("fc1.weight").Values()
	if !slices.Equal(b.Scores()[0], theta) || slices.Equal(before, theta) {
		t.Errorf("the scores did not follow the θ-step")
	}
}

func TestBiPBadInput(t *testing.T) {
	net := tinyNet(t, 6, 7, 3, 1)
	cases := []struct {
		edit func(*BiPConfig)
		want string
	}{
		{func(c *BiPConfig) { c.Density = 0 }, "(0, 1]"},
		{func(c *BiPConfig) { c.Density = 1.5 }, "(0, 1]"},
		{func(c *BiPConfig) { c.Mode = "paper" }, "bip.mode"},
		{func(c *BiPConfig) { c.Structure = "block" }, "bip.structure"},
		{func(c *BiPConfig) { c.ScoreLR = -1 }, "bip.score_lr"},
		{func(c *BiPConfig) { c.ScoreMomentum = 1 }, "bip.score_momentum"},
		{func(c *BiPConfig) { c.Structure = "filter" }, "fc1.weight"},
	}
	for _, x := range cases {
		c := cleanConfig(0.5)
		x.edit(&c)
		_, err := NewBiP(net, weights(net), c)
		if err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", c, err, x.want)
		}
	}
}

// Filter and channel masks by hand on a [3, 2, 1, 1] convolution weight.
func TestGroupMaskByHand(t *testing.T) {
	info := nn.ParamInfo{Name: "conv1.weight", Shape: []int{3, 2, 1, 1}}
	// Row-major [o][c]: filters (3,4)→5, (0,1)→1, (-6,8)→10; channels
	// (3,0,-6)→√45, (4,1,8)→√81.
	s := []float32{3, 4, 0, 1, -6, 8}
	m, err := groupMask(info, s, "filter", 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 1, 0, 0, 1, 1}; !slices.Equal(m, want) {
		t.Errorf("filter mask %v, want %v", m, want)
	}
	m, err = groupMask(info, s, "channel", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 0, 1, 0, 1}; !slices.Equal(m, want) {
		t.Errorf("channel mask %v, want %v", m, want)
	}
}
