package native

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// Finite-difference gradient checks.
//
// Each case builds one layer (or block) with input gradients, fills its input
// and parameters from a seeded source, and compares the analytical gradients
// of the scalar objective L = Σ r ⊙ y (r random, fixed) with float64 central
// differences (L(v+ε) − L(v−ε)) / Δ, where Δ is the difference actually
// represented in float32. Both the input gradient and every parameter
// gradient are checked, entry by entry.
//
// Tolerances: the engine computes in float32, so ε = 1e-2 keeps the rounding
// error of L (relative ~1e-7, divided by 2ε) far below the truncation error
// (O(ε²·L''')), which is well under 1e-3 on these smooth, O(1)-scaled cases.
// An entry passes when |analytic − numeric| ≤ 1e-2·max(|analytic|, |numeric|)
// + 2e-3: a relative tolerance of 1e-2 on gradients large enough to matter,
// and an absolute floor for the ones near zero. Inputs are drawn away from
// kinks (ReLU at 0, max-pool ties) by more than ε.

const (
	gcEps  = 1e-2
	gcRtol = 1e-2
	gcAtol = 2e-3
)

// testBuild builds one layer from its spec on per-example shape in for
// batches of up to n, with input gradients, and allocates the workspace.
func testBuild(t testing.TB, spec nn.Layer, in []int, n int, rng *rand.Rand) (layer, []int) {
	t.Helper()
	ws := &workspace{}
	b := &builder{maxBatch: n, ws: ws, rng: rng}
	l, out, err := b.one(spec, in, true)
	if err != nil {
		t.Fatalf("build %#v: %v", spec, err)
	}
	ws.data = make([]float32, ws.size)
	return l, out
}

func fillNormal(x []float32, r *rand.Rand, scale float64) {
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
}

// fillAwayFromZero fills x with values of magnitude in [0.1, 1.1) and random
// sign, so that ReLU kinks are more than ε away.
func fillAwayFromZero(x []float32, r *rand.Rand) {
	for i := range x {
		v := 0.1 + r.Float64()
		if r.IntN(2) == 0 {
			v = -v
		}
		x[i] = float32(v)
	}
}

// fillDistinct fills x with a random permutation of 0.05·k, k = 0..len−1,
// minus an offset: all gaps are at least 0.05 > 2ε, so max-pool ties cannot
// flip under a perturbation.
func fillDistinct(x []float32, r *rand.Rand) {
	p := r.Perm(len(x))
	for i := range x {
		x[i] = float32(0.05*float64(p[i]) - 0.025*float64(len(x)))
	}
}

// randParams fills the params of l: norm scales around 1, everything else
// normal with standard deviation 0.5.
func randParams(l layer, r *rand.Rand) {
	for _, p := range l.params() {
		fillNormal(p.w, r, 0.5)
		if p.info.Kind == nn.NormScale {
			for i := range p.w {
				p.w[i] += 1
			}
		}
	}
}

type gradCase struct {
	name  string
	spec  nn.Layer
	in    []int // per example
	n     int
	train bool
	// fill fills the input (default: normal, σ = 1).
	fill func(x []float32, r *rand.Rand)
	// rng is given to dropout layers, and before runs before every forward
	// (e.g. to reseed rng so that the dropout mask stays fixed).
	rng    *rand.Rand
	before func()
}

// objective runs forward and returns Σ r ⊙ y in float64.
func objective(l layer, c *gradCase, x, r []float32) float64 {
	if c.before != nil {
		c.before()
	}
	y := l.forward(x, c.n, c.train)
	var s float64
	for i, v := range r {
		s += float64(v) * float64(y[i])
	}
	return s
}

// numGrad is the central difference of f with respect to v[i].
func numGrad(v []float32, i int, f func() float64) float64 {
	old := v[i]
	v[i] = old + gcEps
	hi := v[i]
	fp := f()
	v[i] = old - gcEps
	lo := v[i]
	fm := f()
	v[i] = old
	return (fp - fm) / (float64(hi) - float64(lo))
}

func closeGrad(a, num float64) bool {
	return math.Abs(a-num) <= gcRtol*math.Max(math.Abs(a), math.Abs(num))+gcAtol
}

func checkGrads(t *testing.T, what string, analytic, v []float32, f func() float64) {
	t.Helper()
	bad := 0
	for i := range v {
		num := numGrad(v, i, f)
		if a := float64(analytic[i]); !closeGrad(a, num) {
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", what, i, a, num)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d entries differ", what, bad, len(v))
	}
}

func runGradCase(t *testing.T, c gradCase) {
	rng := c.rng
	if rng == nil {
		rng = rand.New(rand.NewPCG(1, 2))
	}
	l, out := testBuild(t, c.spec, c.in, c.n, rng)
	r := rand.New(rand.NewPCG(3, 4))
	randParams(l, r)
	x := make([]float32, c.n*shapeSize(c.in))
	if c.fill != nil {
		c.fill(x, r)
	} else {
		fillNormal(x, r, 1)
	}
	rr := make([]float32, c.n*shapeSize(out))
	fillNormal(rr, r, 1)

	// Analytical gradients, copied out before the finite differences run
	// forward again.
	objective(l, &c, x, rr)
	dx := append([]float32(nil), l.backward(rr, c.n)...)
	pgrads := make([][]float32, len(l.params()))
	for i, p := range l.params() {
		pgrads[i] = append([]float32(nil), p.grad...)
	}

	f := func() float64 { return objective(l, &c, x, rr) }
	checkGrads(t, "dx", dx, x, f)
	for i, p := range l.params() {
		checkGrads(t, p.info.Name, pgrads[i], p.w, f)
	}
}

func TestGradients(t *testing.T) {
	dropSrc := rand.NewPCG(0, 0)
	dropRng := rand.New(dropSrc)
	cases := []gradCase{
		{name: "linear", spec: nn.Linear{Name: "fc", In: 5, Out: 4, Bias: true}, in: []int{5}, n: 3},
		{name: "linear/nobias", spec: nn.Linear{Name: "fc", In: 6, Out: 3}, in: []int{6}, n: 2},
		{name: "conv/s2p1", spec: nn.Conv2d{Name: "c", In: 2, Out: 3, Kernel: 3, Stride: 2, Pad: 1, Bias: true}, in: []int{2, 5, 7}, n: 2},
		{name: "conv/s1p2/nobias", spec: nn.Conv2d{Name: "c", In: 2, Out: 2, Kernel: 3, Stride: 1, Pad: 2}, in: []int{2, 4, 3}, n: 2},
		{name: "conv/1x1", spec: nn.Conv2d{Name: "c", In: 3, Out: 2, Kernel: 1, Stride: 1, Bias: true}, in: []int{3, 3, 2}, n: 2},
		{name: "conv/1x1s2", spec: nn.Conv2d{Name: "c", In: 2, Out: 3, Kernel: 1, Stride: 2}, in: []int{2, 5, 4}, n: 2},
		{name: "batchnorm1d/train", spec: nn.BatchNorm{Name: "bn", C: 4}, in: []int{4}, n: 5, train: true},
		{name: "batchnorm2d/train", spec: nn.BatchNorm{Name: "bn", C: 3, Eps: 1e-3, Momentum: 0.2}, in: []int{3, 2, 3}, n: 3, train: true},
		{name: "batchnorm2d/eval", spec: nn.BatchNorm{Name: "bn", C: 2}, in: []int{2, 3, 2}, n: 2},
		{name: "relu", spec: nn.ReLU{}, in: []int{3, 2, 2}, n: 2, train: true, fill: fillAwayFromZero},
		{name: "dropout", spec: nn.Dropout{P: 0.4}, in: []int{7}, n: 3, train: true, rng: dropRng, before: func() { dropSrc.Seed(5, 6) }},
		{name: "dropout/eval", spec: nn.Dropout{P: 0.4}, in: []int{7}, n: 3},
		{name: "maxpool/2", spec: nn.MaxPool2d{Kernel: 2, Stride: 2}, in: []int{2, 4, 5}, n: 2, fill: fillDistinct},
		{name: "maxpool/3s2", spec: nn.MaxPool2d{Kernel: 3, Stride: 2}, in: []int{2, 5, 6}, n: 2, fill: fillDistinct},
		{name: "globalavgpool", spec: nn.GlobalAvgPool{}, in: []int{3, 2, 3}, n: 2},
		{name: "flatten/image", spec: nn.Flatten{}, in: []int{3, 2, 2}, n: 2},
		{name: "flatten/vector", spec: nn.Flatten{}, in: []int{5}, n: 2},
		{name: "residual/identity", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 2, Kernel: 3, Stride: 1, Pad: 1},
			nn.BatchNorm{Name: "b.bn1", C: 2},
			nn.Conv2d{Name: "b.conv2", In: 2, Out: 2, Kernel: 3, Stride: 1, Pad: 1},
		}}, in: []int{2, 4, 3}, n: 2, train: true},
		{name: "residual/padchannels", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 4, Kernel: 3, Stride: 2, Pad: 1},
			nn.BatchNorm{Name: "b.bn1", C: 4},
		}, Shortcut: []nn.Layer{nn.PadChannels{In: 2, Out: 4, Stride: 2}}}, in: []int{2, 5, 4}, n: 2, train: true},
		{name: "residual/padchannels/odd", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 5, Kernel: 3, Stride: 1, Pad: 1},
		}, Shortcut: []nn.Layer{nn.PadChannels{In: 2, Out: 5, Stride: 1}}}, in: []int{2, 3, 3}, n: 2, train: true},
		{name: "residual/convbn", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 3, Kernel: 3, Stride: 2, Pad: 1},
			nn.BatchNorm{Name: "b.bn1", C: 3},
		}, Shortcut: []nn.Layer{
			nn.Conv2d{Name: "b.shortcut.0", In: 2, Out: 3, Kernel: 1, Stride: 2},
			nn.BatchNorm{Name: "b.shortcut.1", C: 3},
		}}, in: []int{2, 4, 5}, n: 3, train: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGradCase(t, c) })
	}
}

func TestGradientsLoss(t *testing.T) {
	const n, classes = 4, 5
	r := rand.New(rand.NewPCG(7, 8))
	logits := make([]float32, n*classes)
	fillNormal(logits, r, 2)
	y := []int32{0, 3, 4, 3}
	dl := make([]float32, n*classes)
	for _, temp := range []float32{1, 2} {
		softmaxCrossEntropy(dl, logits, y, n, classes, temp)
		f := func() float64 { return softmaxCrossEntropy(nil, logits, y, n, classes, temp) }
		checkGrads(t, "dlogits", dl, logits, f)
	}
}

// withoutKinks returns the layers with ReLUs, max pools and dropout removed,
// recursively, so that the loss is smooth in every parameter.
func withoutKinks(ls []nn.Layer) []nn.Layer {
	var out []nn.Layer
	for _, l := range ls {
		switch l := l.(type) {
		case nn.ReLU, nn.MaxPool2d, nn.Dropout:
			continue
		case nn.Residual:
			l.Body = withoutKinks(l.Body)
			l.Shortcut = withoutKinks(l.Shortcut)
			out = append(out, l)
		default:
			out = append(out, l)
		}
	}
	return out
}

// TestGradientsNet checks the gradients of the mean cross-entropy of a whole
// built network (stem, residual blocks with all three shortcuts in training
// mode, global pool, linear head) with respect to every parameter, with the
// tolerances above.
func TestGradientsNet(t *testing.T) {
	arch := smallResNet()
	arch.Input = []int{3, 6, 5} // no max pool: keep it small
	arch.Layers = withoutKinks(arch.Layers)
	const n = 3
	tn := newTestNet(t, arch, n)
	r := rand.New(rand.NewPCG(13, 13))
	x := make([]float32, n*shapeSize(arch.Input))
	fillNormal(x, r, 1)
	y := []int32{2, 7, 2}
	tn.step(x, y, n)
	var ps []*param
	var grads [][]float32
	for _, l := range tn.layers {
		for _, p := range l.params() {
			ps = append(ps, p)
			grads = append(grads, append([]float32(nil), p.grad...))
		}
	}
	f := func() float64 {
		in := tn.x[:n*shapeSize(arch.Input)]
		toCNHW(in, x, n, arch.Input[0], arch.Input[1]*arch.Input[2])
		h := in
		for _, l := range tn.layers {
			h = l.forward(h, n, true)
		}
		return softmaxCrossEntropy(nil, h, y, n, arch.Classes, 1)
	}
	for i, p := range ps {
		checkGrads(t, p.info.Name, grads[i], p.w, f)
	}
}
