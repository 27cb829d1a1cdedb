package prune

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
)

// linearArch is a 3-input, 2-class softmax regression without bias: one
// prunable tensor fc.weight of shape [2, 3].
func linearArch() *nn.Arch {
	return &nn.Arch{Name: "linear", Input: []int{3}, Classes: 2,
		Layers: []nn.Layer{nn.Linear{Name: "fc", In: 3, Out: 2}}}
}

func buildNative(t *testing.T, arch *nn.Arch, temp float64, maxBatch int) nn.Net {
	t.Helper()
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, Temperature: temp})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

var linW = []float32{0.5, -1.0, 0.25, -0.75, 0.3, 1.2}

func linearNet(t *testing.T, temp float64) (nn.Net, []nn.ParamInfo) {
	t.Helper()
	arch := linearArch()
	net := buildNative(t, arch, temp, 4)
	net.Param("fc.weight").SetValues(linW)
	set, err := ResolvePrunable(arch.Params(), nil, nil)
	if err != nil || len(set) != 1 {
		t.Fatalf("prunable set %v, %v", set, err)
	}
	return net, set
}

// refGrad is the float64 gradient of the mean cross-entropy of
// softmax(W x / T) with respect to W ([C][D] row-major), over xs (N×D).
func refGrad(w []float64, xs []float64, ys []int32, c, d int, temp float64) []float64 {
	n := len(ys)
	g := make([]float64, c*d)
	for e := 0; e < n; e++ {
		p := refSoftmax(w, xs[e*d:(e+1)*d], c, d, temp)
		for k := 0; k < c; k++ {
			r := p[k]
			if int32(k) == ys[e] {
				r--
			}
			for i := 0; i < d; i++ {
				g[k*d+i] += r * xs[e*d+i] / temp / float64(n)
			}
		}
	}
	return g
}

func refSoftmax(w, x []float64, c, d int, temp float64) []float64 {
	z := make([]float64, c)
	mx := math.Inf(-1)
	for k := 0; k < c; k++ {
		for i := 0; i < d; i++ {
			z[k] += w[k*d+i] * x[i]
		}
		z[k] /= temp
		mx = math.Max(mx, z[k])
	}
	var s float64
	for k := range z {
		z[k] = math.Exp(z[k] - mx)
		s += z[k]
	}
	for k := range z {
		z[k] /= s
	}
	return z
}

// refHv is the exact Hessian-vector product of the same loss: the
// directional derivative of refGrad along v,
// (1/N) Σ_n dp_n x_nᵀ / T with dp_nk = p_nk (dz_nk − Σ_j p_nj dz_nj) and
// dz_n = V x_n / T.
func refHv(w, v []float64, xs []float64, ys []int32, c, d int, temp float64) []float64 {
	n := len(ys)
	h := make([]float64, c*d)
	for e := 0; e < n; e++ {
		x := xs[e*d : (e+1)*d]
		p := refSoftmax(w, x, c, d, temp)
		dz := make([]float64, c)
		for k := 0; k < c; k++ {
			for i := 0; i < d; i++ {
				dz[k] += v[k*d+i] * x[i]
			}
			dz[k] /= temp
		}
		var pdz float64
		for k := 0; k < c; k++ {
			pdz += p[k] * dz[k]
		}
		for k := 0; k < c; k++ {
			dp := p[k] * (dz[k] - pdz)
			for i := 0; i < d; i++ {
				h[k*d+i] += dp * x[i] / temp / float64(n)
			}
		}
	}
	return h
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func mustCriterion(t *testing.T, name string) Criterion {
	t.Helper()
	c, err := CriterionByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != name {
		t.Fatalf("CriterionByName(%q).Name() = %q", name, c.Name())
	}
	return c
}

func TestCriterionByName(t *testing.T) {
	for _, n := range []string{"magnitude", "random", "snip", "grasp"} {
		mustCriterion(t, n)
	}
	_, err := CriterionByName("synflow")
	if !errors.Is(err, nn.ErrNotImplemented) || !strings.Contains(err.Error(), "logit-gradient entry point") {
		t.Errorf("synflow: %v, want an error wrapping nn.ErrNotImplemented", err)
	}
	_, err = CriterionByName("obd")
	if err == nil {
		t.Fatal("unknown criterion: no error")
	}
	for _, n := range []string{"magnitude", "random", "snip", "grasp", "synflow"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("unknown-name error %q does not list %s", err, n)
		}
	}
}

func TestMagnitudeScores(t *testing.T) {
	net, set := linearNet(t, 0)
	s, err := mustCriterion(t, "magnitude").Scores(ScoreContext{Net: net, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.5, 1.0, 0.25, 0.75, 0.3, 1.2}
	if !slices.Equal(s[0], want) {
		t.Errorf("magnitude %v, want %v", s[0], want)
	}
	// Keep 3 of 6: the three largest |θ| (entries 1, 3, 5).
	plan, err := DensityPlan(set, 0.5, Global, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plan.Select(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.M["fc.weight"]; !slices.Equal(got, []float32{0, 1, 0, 1, 0, 1}) {
		t.Errorf("magnitude keep-3 mask %v", got)
	}
	// A MaskedForward mask keeps θ but the effective weight is 0 there.
	mask := []float32{1, 0, 1, 1, 1, 1}
	if err := net.SetParametrization("fc.weight", nn.Masked{Mask: mask, Pattern: nn.MaskedForward}); err != nil {
		t.Fatal(err)
	}
	if net.Param("fc.weight").Values()[1] != -1 {
		t.Fatal("MaskedForward changed θ; the test needs it kept")
	}
	s, err = mustCriterion(t, "magnitude").Scores(ScoreContext{Net: net, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	if s[0][1] != 0 || s[0][5] != 1.2 {
		t.Errorf("masked magnitude %v, want entry 1 zero", s[0])
	}
}

func TestRandomScores(t *testing.T) {
	net, set := linearNet(t, 0)
	r := mustCriterion(t, "random")
	score := func(seed uint64) []float32 {
		s, err := r.Scores(ScoreContext{Net: net, Set: set, Rng: rand.New(rand.NewPCG(seed, 0))})
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	a, b := score(7), score(7)
	if !slices.Equal(a, b) {
		t.Errorf("same seed: %v and %v", a, b)
	}
	if slices.Equal(a, score(8)) {
		t.Error("seeds 7 and 8 gave the same scores")
	}
	// Canonical order from the stream alone: entry i is the i-th draw.
	rng := rand.New(rand.NewPCG(7, 0))
	for i, v := range a {
		if w := rng.Float32(); v != w {
			t.Errorf("entry %d: %v, want draw %v", i, v, w)
		}
	}
	// Independent of the weights.
	net.Param("fc.weight").SetValues([]float32{9, 8, 7, 6, 5, 4})
	if !slices.Equal(a, score(7)) {
		t.Error("random scores changed with the weights")
	}
	if _, err := r.Scores(ScoreContext{Net: net, Set: set}); err == nil {
		t.Error("random without Rng: no error")
	}
}

// Two single-example batches with the same input and different labels: the
// per-batch gradients cancel partly, so the sum comes before the absolute
// value (specs/pai.md §2).
var (
	snipX  = []float32{1, 2, -1, 0.5, -1, 2}
	snipY  = []int32{0, 1}
	batch0 = nn.Batch{X: snipX[:3], Y: snipY[:1], N: 1}
	batch1 = nn.Batch{X: snipX[3:], Y: snipY[1:], N: 1}
)

func normalized(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / s
	}
	return out
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Errorf("%s entry %d: %v, want %v (tol %g)", what, i, got[i], want[i], tol)
		}
	}
}

func TestSNIPScores(t *testing.T) {
	net, set := linearNet(t, 0)
	snip := mustCriterion(t, "snip")
	w := f64(linW)
	xs := f64(snipX)
	g0 := refGrad(w, xs[:3], snipY[:1], 2, 3, 1)
	g1 := refGrad(w, xs[3:], snipY[1:], 2, 3, 1)
	sum := make([]float64, 6)
	per := make([]float64, 6)
	for i := range sum {
		sum[i] = math.Abs(w[i] * (g0[i] + g1[i]))
		per[i] = math.Abs(w[i]*g0[i]) + math.Abs(w[i]*g1[i])
	}
	want := normalized(sum)

	s, err := snip.Scores(ScoreContext{Net: net, Set: set, Batches: []nn.Batch{batch0, batch1}})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "snip over two batches", s[0], want, 1e-6)
	// The reference really differs from summing per-batch scores.
	if slices.Equal(normalized(sum), normalized(per)) {
		t.Fatal("test data do not distinguish sum-then-abs from abs-then-sum")
	}
	var diff float64
	for i, p := range normalized(per) {
		diff = math.Max(diff, math.Abs(p-want[i]))
	}
	if diff < 1e-3 {
		t.Fatalf("sum-then-abs and abs-then-sum differ by only %g", diff)
	}
	// Per-batch scores (unnormalized |w ⊙ g_b| recovered from the single
	// batch calls) are consistent with the reference.
	for b, batch := range []nn.Batch{batch0, batch1} {
		s1, err := snip.Scores(ScoreContext{Net: net, Set: set, Batches: []nn.Batch{batch}})
		if err != nil {
			t.Fatal(err)
		}
		g := [][]float64{g0, g1}[b]
		one := make([]float64, 6)
		for i := range one {
			one[i] = math.Abs(w[i] * g[i])
		}
		closeTo(t, "snip of one batch", s1[0], normalized(one), 1e-6)
	}
	// One batch of both examples has gradient (g0+g1)/2: the same
	// normalized scores as the two batches.
	both := nn.Batch{X: snipX, Y: snipY, N: 2}
	s2, err := snip.Scores(ScoreContext{Net: net, Set: set, Batches: []nn.Batch{both}})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "snip of one batch of two", s2[0], want, 1e-6)

	if _, err := snip.Scores(ScoreContext{Net: net, Set: set}); err == nil || err.Error() != "criterion snip needs pruning data" {
		t.Errorf("no data: %v", err)
	}
}

// TestGraSPHessianVector checks the finite-difference Hg against the exact
// product of the softmax regression at temperature 200, and the scores and
// their sign against θ ⊙ Hg. Tolerance: 1% of the largest |Hg| entry (the
// engine's gradients and the perturbed θ are float32, so rounding of the
// difference dominates; observed error is about 0.15%).
func TestGraSPHessianVector(t *testing.T) {
	const temp = GraSPTemperature
	arch := linearArch()
	net := buildNative(t, arch, temp, 4)
	// Weights large enough that logits/T are O(1): a non-flat softmax.
	big := make([]float32, len(linW))
	for i, v := range linW {
		big[i] = 100 * v
	}
	net.Param("fc.weight").SetValues(big)
	set, _ := ResolvePrunable(arch.Params(), nil, nil)
	batches := []nn.Batch{batch0, batch1}

	w, xs := f64(big), f64(snipX)
	g := make([]float64, 6)
	for b := 0; b < 2; b++ {
		gb := refGrad(w, xs[3*b:3*b+3], snipY[b:b+1], 2, 3, temp)
		for i := range g {
			g[i] += gb[i]
		}
	}
	hg := make([]float64, 6)
	for b := 0; b < 2; b++ {
		hb := refHv(w, g, xs[3*b:3*b+3], snipY[b:b+1], 2, 3, temp)
		for i := range hg {
			hg[i] += hb[i]
		}
	}
	got, err := graspHg(net, set, [][]float32{nil}, batches, GraSPEpsilon)
	if err != nil {
		t.Fatal(err)
	}
	var scale float64
	for _, v := range hg {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		t.Fatal("exact Hg is zero; the test is vacuous")
	}
	t.Logf("Hg finite difference %v, exact %v", got[0], hg)
	for i := range hg {
		if math.Abs(got[0][i]-hg[i]) > 0.01*scale {
			t.Errorf("Hg entry %d: finite difference %g, exact %g", i, got[0][i], hg[i])
		}
	}
	if !slices.Equal(net.Param("fc.weight").Values(), big) {
		t.Error("graspHg did not restore θ")
	}

	grasp := mustCriterion(t, "grasp")
	s, err := grasp.Scores(ScoreContext{Net: net, Set: set, Batches: batches, Temperature: temp})
	if err != nil {
		t.Fatal(err)
	}
	ref := make([]float64, 6)
	var tot float64
	for i := range ref {
		ref[i] = w[i] * hg[i]
		tot += ref[i]
	}
	var smax float64
	for i := range ref {
		ref[i] /= math.Abs(tot) + 1e-10
		smax = math.Max(smax, math.Abs(ref[i]))
	}
	closeTo(t, "grasp scores", s[0], ref, 0.05*smax)
	// Sign: the entry with the most negative θ ⊙ Hg is the first removed.
	lo := 0
	for i := range ref {
		if ref[i] < ref[lo] {
			lo = i
		}
	}
	plan, err := DensityPlan(set, 5.0/6, Global, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plan.Select(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.M["fc.weight"] {
		if (v == 0) != (i == lo) {
			t.Errorf("keep 5 of 6: mask %v, want entry %d (θ⊙Hg %v) removed", m.M["fc.weight"], lo, ref)
			break
		}
	}

	if _, err := grasp.Scores(ScoreContext{Net: net, Set: set, Batches: batches}); err == nil || !strings.Contains(err.Error(), "temperature") {
		t.Errorf("grasp without temperature 200: %v", err)
	}
	if _, err := grasp.Scores(ScoreContext{Net: net, Set: set, Temperature: temp}); err == nil {
		t.Error("grasp without data: no error")
	}
}
