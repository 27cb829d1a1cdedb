package prune

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/nntest"
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
	for _, n := range []string{"magnitude", "random", "snip", "grasp", "synflow"} {
		mustCriterion(t, n)
	}
	_, err := CriterionByName("obd")
	if err == nil {
		t.Fatal("unknown criterion: no error")
	}
	for _, n := range []string{"magnitude", "random", "snip", "grasp", "synflow"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("unknown-name error %q does not list %s", err, n)
		}
	}
}

// Each criterion reports what it needs (the pipelines build its context
// from this, never from its name).
func TestCriterionNeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Needs
	}{
		{"magnitude", Needs{Iterations: 1}},
		{"random", Needs{Iterations: 1}},
		{"snip", Needs{Network: true, Data: true, TrainMode: true, Iterations: 1}},
		{"grasp", Needs{Network: true, Data: true, Temperature: 200, TrainMode: true, Iterations: 1}},
		{"synflow", Needs{Network: true, Iterations: 100}},
	} {
		if got := mustCriterion(t, tc.name).Needs(); got != tc.want {
			t.Errorf("%s needs %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A criterion that runs the network but cannot score in training mode
// refuses a context that asks for it.
func TestCriterionRefusesTrainMode(t *testing.T) {
	net, set := linearNet(t, 0)
	for _, name := range CriterionNames() {
		c := mustCriterion(t, name)
		if n := c.Needs(); !n.Network || n.TrainMode {
			continue
		}
		if _, err := c.Scores(ScoreContext{Net: net, Set: set, TrainMode: true, Temperature: 1}); err == nil {
			t.Errorf("%s scored in training mode, which its Needs says it cannot", name)
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
// value (docs/methods/pai.md#snip).
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
	got, err := graspHg(ScoreContext{Net: net, Set: set, Batches: batches, Temperature: temp}, [][]float32{nil}, GraSPEpsilon)
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

// bnArch is the softmax regression of linearArch followed by a batch norm
// on the two logits: in evaluation mode z_c = γ_c (h_c − μ_c)/σ_c + β_c with
// h = W x and σ_c = √(var_c + eps), in training mode the batch's statistics.
func bnArch() *nn.Arch {
	return &nn.Arch{Name: "linear-bn", Input: []int{3}, Classes: 2, Layers: []nn.Layer{
		nn.Linear{Name: "fc", In: 3, Out: 2},
		nn.BatchNorm{Name: "bn", C: 2, Eps: 1e-5, Momentum: 0.1},
	}}
}

var (
	bnGamma = []float32{1.5, 0.7}
	bnBeta  = []float32{0.1, -0.3}
	bnMean  = []float32{0.3, -0.2}
	bnVar   = []float32{0.5, 2}
)

func bnNet(t *testing.T, temp float64) (nn.Net, []nn.ParamInfo) {
	t.Helper()
	arch := bnArch()
	net := buildNative(t, arch, temp, 4)
	net.Param("fc.weight").SetValues(linW)
	net.Param("bn.weight").SetValues(bnGamma)
	net.Param("bn.bias").SetValues(bnBeta)
	st, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	copy(st.Tensors["buffer/bn.running_mean"], bnMean)
	copy(st.Tensors["buffer/bn.running_var"], bnVar)
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
	set, err := ResolvePrunable(arch.Params(), nil, nil)
	if err != nil || len(set) != 1 {
		t.Fatalf("prunable set %v, %v", set, err)
	}
	return net, set
}

// bnEvalGrad is the float64 gradient with respect to W of the mean
// cross-entropy of the evaluation-mode bnArch over xs: with
// a_c = γ_c/σ_c, dL/dW_cj = (1/N) Σ_n (p_nc − [c = y_n]) a_c x_nj.
func bnEvalGrad(xs []float64, ys []int32) []float64 {
	const c, d = 2, 3
	n := len(ys)
	w := f64(linW)
	g := make([]float64, c*d)
	for e := 0; e < n; e++ {
		x := xs[e*d : (e+1)*d]
		z := make([]float64, c)
		a := make([]float64, c)
		for k := 0; k < c; k++ {
			var h float64
			for i := 0; i < d; i++ {
				h += w[k*d+i] * x[i]
			}
			a[k] = float64(bnGamma[k]) / math.Sqrt(float64(bnVar[k])+1e-5)
			z[k] = a[k]*(h-float64(bnMean[k])) + float64(bnBeta[k])
		}
		mx := math.Max(z[0], z[1])
		s := math.Exp(z[0]-mx) + math.Exp(z[1]-mx)
		for k := 0; k < c; k++ {
			r := math.Exp(z[k]-mx) / s
			if int32(k) == ys[e] {
				r--
			}
			for i := 0; i < d; i++ {
				g[k*d+i] += r * a[k] * x[i] / float64(n)
			}
		}
	}
	return g
}

// TestScoringMode checks evaluation-mode scoring (the default,
// docs/methods/pai.md#scoring-mode) against training mode
// (ScoreContext.TrainMode):
//
//   - on a net with batch norm, evaluation-mode SNIP equals the hand
//     computation with the running statistics (two batches, sum before the
//     absolute value), and both SNIP and GraSP differ between the modes;
//   - on the plain softmax regression the two modes agree.
func TestScoringMode(t *testing.T) {
	xs := f64(snipX)
	g0 := bnEvalGrad(xs[:3], snipY[:1])
	g1 := bnEvalGrad(xs[3:], snipY[1:])
	w := f64(linW)
	want := make([]float64, 6)
	for i := range want {
		want[i] = math.Abs(w[i] * (g0[i] + g1[i]))
	}
	want = normalized(want)
	batches := []nn.Batch{batch0, batch1}
	// Training mode normalizes each batch with its own statistics: use one
	// batch of both examples there (a batch of one normalizes to β).
	both := []nn.Batch{{X: snipX, Y: snipY, N: 2}}

	net, set := bnNet(t, 0)
	eval, err := SNIP{}.Scores(ScoreContext{Net: net, Set: set, Batches: batches})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "evaluation-mode snip on the batch-norm net", eval[0], want, 1e-6)

	maxDiff := func(a, b []float32) float64 {
		var d float64
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		}
		return d
	}
	for _, c := range []struct {
		crit Criterion
		temp float64
	}{{SNIP{}, 0}, {GraSP{}, GraSPTemperature}} {
		net, set := bnNet(t, c.temp)
		if c.temp != 0 {
			// Logits of O(T) so that GraSP's softmax is not flat.
			big := make([]float32, len(bnGamma))
			for i, v := range bnGamma {
				big[i] = 100 * v
			}
			net.Param("bn.weight").SetValues(big)
		}
		score := func(train bool) []float32 {
			st, err := net.State()
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.crit.Scores(ScoreContext{Net: net, Set: set, Batches: both, Temperature: c.temp, TrainMode: train})
			if err != nil {
				t.Fatal(err)
			}
			if err := net.SetState(st); err != nil { // training mode moved the running statistics
				t.Fatal(err)
			}
			return s[0]
		}
		e, tr := score(false), score(true)
		if d := maxDiff(e, tr); d < 1e-2 {
			t.Errorf("%s on a batch-norm net: evaluation %v and training %v modes differ by only %g", c.crit.Name(), e, tr, d)
		}
		// Without batch norm the modes agree.
		lin := buildNative(t, linearArch(), c.temp, 4)
		lw := make([]float32, len(linW))
		for i, v := range linW {
			lw[i] = v
			if c.temp != 0 {
				lw[i] *= 100
			}
		}
		lin.Param("fc.weight").SetValues(lw)
		lset, _ := ResolvePrunable(linearArch().Params(), nil, nil)
		var out [2][]float32
		for k, train := range []bool{false, true} {
			s, err := c.crit.Scores(ScoreContext{Net: lin, Set: lset, Batches: batches, Temperature: c.temp, TrainMode: train})
			if err != nil {
				t.Fatal(err)
			}
			out[k] = s[0]
		}
		if d := maxDiff(out[0], out[1]); d > 1e-6 {
			t.Errorf("%s without batch norm: evaluation %v and training %v modes differ by %g", c.crit.Name(), out[0], out[1], d)
		}
	}
}

// recorder wraps a criterion and records, at every call, the masks installed
// on the net and their patterns.
type recorder struct {
	Criterion
	masks    []*Masks
	patterns [][]nn.MaskPattern
}

func (r *recorder) Scores(ctx ScoreContext) ([][]float32, error) {
	m, err := MasksFromNet(ctx.Net, infoNames(ctx.Set))
	if err != nil {
		return nil, err
	}
	r.masks = append(r.masks, m)
	var ps []nn.MaskPattern
	for _, info := range ctx.Set {
		if z, ok := ctx.Net.Parametrization(info.Name).(nn.Masked); ok {
			ps = append(ps, z.Pattern)
		} else {
			ps = append(ps, -1)
		}
	}
	r.patterns = append(r.patterns, ps)
	return r.Criterion.Scores(ctx)
}

// TestPruneLoop runs the prune loop of docs/methods/pai.md#the-prune-loop
// with E = 100 on an MLP of 152 weights: every iteration after the first
// scores the network with the previous masks installed as MaskedForward,
// keeps exactly KeepCount(d_e, N) entries (globally, or per tensor
// layer-wise) among the alive ones, and the last one the one-shot count; θ is
// untouched. E = 1 is one-shot selection.
func TestPruneLoop(t *testing.T) {
	arch := &nn.Arch{Name: "mlp", Input: []int{10}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 10, Out: 8, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 8, Out: 6, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc3", In: 6, Out: 4, Bias: true},
	}}
	const d, iters = 0.2, 100
	ds, err := PAIDensities(d, iters, PAIExponential)
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []Scope{Global, LayerWise} {
		for _, name := range []string{"synflow", "magnitude"} {
			t.Run(string(scope)+"/"+name, func(t *testing.T) {
				net := buildNative(t, arch, 0, 1)
				nntest.SetRandom(net, nntest.NewRand(3))
				set := prunableSet(t, arch)
				theta := map[string][]float32{}
				for _, p := range net.Params() {
					theta[p.Info().Name] = slices.Clone(p.Values())
				}
				rec := &recorder{Criterion: mustCriterion(t, name)}
				got, err := PruneLoop{Criterion: rec, Density: d, Scope: scope, Iterations: iters}.Run(ScoreContext{Net: net, Set: set})
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.masks) != iters {
					t.Fatalf("%d scoring calls, want %d", len(rec.masks), iters)
				}
				keep := func(m *Masks, d float64) bool {
					if scope == Global {
						return m.Kept() == KeepCount(d, 152)
					}
					for _, info := range set {
						if m.KeptOf(info.Name) != KeepCount(d, info.Size()) {
							return false
						}
					}
					return true
				}
				if rec.masks[0].Kept() != 152 {
					t.Errorf("iteration 1 scored a masked net (%d kept)", rec.masks[0].Kept())
				}
				for e := 1; e < iters; e++ {
					m := rec.masks[e]
					if !keep(m, ds[e-1]) {
						t.Fatalf("iteration %d scored masks keeping %v, want the counts of d_%d = %v", e+1, m.KeptCounts(), e, ds[e-1])
					}
					if err := m.Within(rec.masks[e-1]); err != nil {
						t.Fatalf("iteration %d: %v", e+1, err)
					}
					for k, p := range rec.patterns[e] {
						if p != nn.MaskedForward {
							t.Fatalf("iteration %d: %s has pattern %v, want masked_forward", e+1, set[k].Name, p)
						}
					}
				}
				if !keep(got, d) || got.Within(rec.masks[iters-1]) != nil {
					t.Errorf("final masks keep %v, want the one-shot counts of %v within the last scored masks", got.KeptCounts(), d)
				}
				for _, p := range net.Params() {
					if !sameBits(p.Values(), theta[p.Info().Name]) {
						t.Errorf("the loop changed θ of %s", p.Info().Name)
					}
				}
			})
		}
	}

	t.Run("one-shot", func(t *testing.T) {
		net := buildNative(t, arch, 0, 1)
		nntest.SetRandom(net, nntest.NewRand(4))
		set := prunableSet(t, arch)
		ctx := ScoreContext{Net: net, Set: set}
		got, err := PruneLoop{Criterion: SynFlow{}, Density: d, Scope: Global, Iterations: 1}.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := SynFlow{}.Scores(ctx)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := DensityPlan(set, d, Global, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plan.Select(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Error("E = 1 differs from one-shot selection")
		}
	})

	t.Run("errors", func(t *testing.T) {
		net := buildNative(t, arch, 0, 1)
		nntest.SetRandom(net, nntest.NewRand(5))
		set := prunableSet(t, arch)
		ctx := ScoreContext{Net: net, Set: set}
		for _, c := range []struct {
			loop PruneLoop
			want string
		}{
			{PruneLoop{Criterion: SynFlow{}, Density: d, Iterations: 0}, "iterations"},
			{PruneLoop{Criterion: SynFlow{}, Density: 0, Iterations: 3}, "density"},
			{PruneLoop{Criterion: SynFlow{}, Density: 0.01, Scope: LayerWise, Iterations: 3}, "fc2.weight"},
			{PruneLoop{Criterion: SNIP{}, Density: d, Iterations: 2}, "needs pruning data"},
			{PruneLoop{Density: d, Iterations: 2}, "no criterion"},
		} {
			_, err := c.loop.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want an error containing %q", c.loop, err, c.want)
			}
		}
	})
}
