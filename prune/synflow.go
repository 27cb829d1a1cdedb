package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// SynFlow is iterative synaptic flow pruning's score (Tanaka et al. 2020;
// docs/methods/pai.md#synflow), data-free. One scoring pass:
//
//  1. every parameter (weights, biases, norm scales and shifts) and every
//     buffer (batch norm running mean and variance) is replaced by its
//     absolute value; masks are kept, so the forward reads |θ| ⊙ m;
//  2. in evaluation mode, one example of all ones of the input shape goes
//     through the network and R = Σ logits;
//  3. S = |θ ⊙ ∂R/∂θ| for every prunable entry, computed as |W ⊙ ∂R/∂W|
//     with W = θ ⊙ m, so pruned entries score 0 (∂R/∂θ = m ⊙ ∂R/∂W);
//  4. the network's state is put back bit for bit: Net.SetState with the
//     State taken before, then Param.SetValues with every θ as it was
//     (State holds θ ⊙ m under ZeroBeforeForward), which restores signs,
//     signed zeros and the pruned entries of P1 and P2 alike. This happens
//     on every return path, errors included.
//
// The gradient comes from Net.Backward(ones, false, ones): dR/dlogits is 1.
// The returned scores are divided by their sum (no effect on the ranking).
// SynFlow scores in evaluation mode by definition (step 2); a ScoreContext
// with TrainMode is an error rather than a different criterion. Batches,
// Rng and Temperature are not read.
//
// Precision. The spec asks for float64 scoring, because R is a product of
// layer norms that overflows float32 in deep networks. The engines compute
// in float32, so SynFlow makes R representable instead of widening the
// engine: before the pass it rescales the absolute-valued network so that
// its activations stay in float32's range, accumulates the scores in
// float64, and returns them divided by their sum, which removes the
// rescaling. The rescaling is exact math: walking the architecture with c
// the scale of the current activation (1 at the input), each Linear,
// Conv2d and BatchNorm gets a factor α — its weight (or scale γ) is
// multiplied by α, its bias (or shift β) by α·c, a batch norm's running
// mean by c — and then c ← α·c. ReLU, pooling, flatten, dropout and channel
// padding are positively homogeneous and keep c. Every activation of the
// rescaled network is then c times the original one, R' = P·R with P the
// logits' c, and θ'_i ∂R'/∂θ'_i = P·θ_i ∂R/∂θ_i for every entry: every
// score is multiplied by the same P, whatever the factors.
//
// The factors come from float64 upper bounds of the activations (the
// ∞-norm of |W| times the input bound, plus the bias). In a chain (MLP,
// LeNet, VGG) every layer scales its output bound to 1. The two branches
// of a residual block must end at the same c: the last layer of the body
// (or of the shortcut, if only it can) gets the factor that lands on the
// other branch's c, and the other layers of the branches keep the block's
// input level; a block where neither branch can be forced is left
// unscaled inside. Growth along identity shortcuts cannot be removed (both
// paths must keep the same factor), so in residual networks a first walk
// measures the trunk's growth G and a second starts the trunk at 1/√G:
// activations then span 1/√G … √G and gradients (about R'/activation, by
// conservation) the same, with the head scaled so that R' is near 1. That
// holds CIFAR ResNets up to ResNet-56 (G ≈ 10^71 as bounded); past
// 10^±37 (ResNet-110, G ≈ 10^142) scoring fails with an error naming the
// float32 range, as it does when R' or a score comes out infinite, NaN or
// underflowed: never silently wrong scores. The reference scores in plain
// float32 (its model.double() is commented out). Scores below float32's
// range after the division by their sum (relative 10^−45) read as 0 and
// tie with pruned entries; SelectTop breaks such ties by index.
type SynFlow struct{}

func (SynFlow) Name() string { return "synflow" }

// Needs: SynFlow runs the network on an all-ones input, data-free, in
// evaluation mode only, for 100 iterations by default (the SynFlow paper).
func (SynFlow) Needs() Needs { return Needs{Network: true, Iterations: 100} }

func (SynFlow) Scores(ctx ScoreContext) ([][]float32, error) {
	s, _, err := synflowScores(ctx, true)
	if err != nil {
		return nil, err
	}
	var total float64
	for _, t := range s {
		for _, v := range t {
			total += v
		}
	}
	return scaled(s, total), nil
}

// synflowScores returns SynFlow's scores of ctx.Set, unnormalized, in
// float64, and R, the sum of the logits of the absolute-valued network.
// rescale = false skips the rescaling (tests compare the two).
func synflowScores(ctx ScoreContext, rescale bool) (scores [][]float64, r float64, err error) {
	if ctx.TrainMode {
		return nil, 0, fmt.Errorf("criterion synflow scores in evaluation mode (docs/methods/pai.md#scoring-mode); training mode is for snip and grasp")
	}
	_, setMasks, err := effectiveWeights(ctx, "synflow")
	if err != nil {
		return nil, 0, err
	}
	net := ctx.Net
	arch := net.Arch()
	orig, err := net.State()
	if err != nil {
		return nil, 0, fmt.Errorf("criterion synflow: %w", err)
	}
	params := net.Params()
	origVals := make([][]float32, len(params))
	for i, p := range params {
		origVals[i] = slices.Clone(p.Values())
	}
	defer func() {
		rerr := net.SetState(orig)
		for i, p := range params {
			p.SetValues(origVals[i])
		}
		if rerr != nil && err == nil {
			scores, r, err = nil, 0, fmt.Errorf("criterion synflow: restoring the network: %w", rerr)
		}
	}()

	// |θ ⊙ m| of every parameter and |b| of every buffer, for the bounds.
	sc := &synflowScaler{abs: map[string][]float64{}, factor: map[string]float64{}}
	for i, p := range params {
		name := p.Info().Name
		m, err := paramMask(net, name)
		if err != nil {
			return nil, 0, err
		}
		a := make([]float64, len(origVals[i]))
		for j, v := range origVals[i] {
			if m != nil {
				v *= m[j]
			}
			a[j] = math.Abs(float64(v))
		}
		sc.abs[name] = a
	}
	for name, v := range orig.Tensors {
		if strings.HasPrefix(name, "buffer/") {
			a := make([]float64, len(v))
			for j, x := range v {
				a[j] = math.Abs(float64(x))
			}
			sc.abs[name] = a
		}
	}
	p := 1.0
	if rescale {
		if p, err = sc.walk(arch); err != nil {
			return nil, 0, err
		}
		if !(p > 0) || math.IsInf(p, 0) {
			return nil, 0, fmt.Errorf("criterion synflow: the rescaling of model %s ended at factor %g; R is beyond float64", arch.Name, p)
		}
		// Centered, the activations span level … peak; past 10^±37 they
		// (and the gradients, about R'/activation) leave float32's normal
		// range and the scores would be lost to overflow or underflow.
		if sc.peak > 1e37 {
			return nil, 0, fmt.Errorf("criterion synflow: the synaptic flow of model %s grows by up to %.3g through its residual blocks (an upper bound; no rescaling removes growth along identity shortcuts), and centered it still spans 10^±%.0f, beyond the float32 range the engine computes in (10^±38)", arch.Name, sc.peak/sc.level, math.Log10(sc.peak))
		}
		for _, q := range params {
			if _, ok := sc.factor[q.Info().Name]; !ok {
				return nil, 0, fmt.Errorf("criterion synflow: parameter %s of model %s is in no layer the rescaling walked", q.Info().Name, arch.Name)
			}
		}
	}

	// The absolute-valued, rescaled state: parameters and buffers become
	// |x|·factor (factor 1 without rescaling or for a buffer the walk did
	// not scale); masks, optimizer state and counters are kept.
	st := nn.NewState()
	for name, v := range orig.Tensors {
		w := slices.Clone(v)
		if strings.HasPrefix(name, "param/") || strings.HasPrefix(name, "buffer/") {
			f := 1.0
			if g, ok := sc.factor[strings.TrimPrefix(name, "param/")]; ok && rescale {
				f = g
			}
			for j, x := range w {
				w[j] = float32(math.Abs(float64(x)) * f)
			}
		}
		st.Tensors[name] = w
	}
	for name, v := range orig.Counters {
		st.Counters[name] = v
	}
	if err := net.SetState(st); err != nil {
		return nil, 0, fmt.Errorf("criterion synflow: %w", err)
	}

	size := 1
	for _, d := range arch.Input {
		size *= d
	}
	ones := make([]float32, max(size, arch.Classes))
	for i := range ones {
		ones[i] = 1
	}
	batch := nn.Batch{X: ones[:size], N: 1}
	logits := make([]float32, arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		return nil, 0, fmt.Errorf("criterion synflow: %w", err)
	}
	var rs float64
	for _, v := range logits {
		rs += float64(v)
	}
	if err := net.Backward(batch, false, ones[:arch.Classes]); err != nil {
		return nil, 0, fmt.Errorf("criterion synflow: %w", err)
	}
	overflow := func(what string) error {
		return fmt.Errorf("criterion synflow: %s of model %s is not finite: R overflows float32 even after rescaling the layers (the engine computes in float32; see SynFlow)", what, arch.Name)
	}
	if math.IsNaN(rs) || math.IsInf(rs, 0) {
		return nil, 0, overflow("the sum of the logits")
	}
	if math.Abs(rs) < 0x1p-126 {
		// The absolute-valued network passes a positive signal along
		// every unpruned path: R is 0 only if none reaches the output,
		// and below float32's normal range only if the forward
		// underflowed.
		return nil, 0, fmt.Errorf("criterion synflow: the sum of the logits of model %s is %g: either no path from the input to the output is left, or R underflowed float32 (the engine computes in float32; see SynFlow)", arch.Name, rs)
	}
	scores = make([][]float64, len(ctx.Set))
	for k, info := range ctx.Set {
		q := net.Param(info.Name)
		theta, g := q.Values(), q.Grad()
		s := make([]float64, len(theta))
		for i, v := range theta {
			w := float64(v)
			if setMasks[k] != nil {
				w *= float64(setMasks[k][i])
			}
			x := math.Abs(w*float64(g[i])) / p
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, 0, overflow("the score of " + info.Name)
			}
			s[i] = x
		}
		scores[k] = s
	}
	return scores, rs / p, nil
}

// paramMask returns the mask of a Masked parameter, nil for a dense one, and
// an error for any other parametrization.
func paramMask(net nn.Net, name string) ([]float32, error) {
	switch z := net.Parametrization(name).(type) {
	case nil, nn.Dense, *nn.Dense:
		return nil, nil
	case nn.Masked:
		return z.Mask, nil
	case *nn.Masked:
		return z.Mask, nil
	default:
		return nil, fmt.Errorf("criterion synflow: %s has a %s parametrization; pruning at initialization scores masked or dense networks only", name, z.Describe())
	}
}

// synflowScaler chooses SynFlow's rescaling factors (see SynFlow). abs holds
// |θ ⊙ m| of every parameter by name and |b| of every buffer by
// "buffer/"+name; factor receives the factor of every parameter (by name)
// and batch norm buffer (by "buffer/"+name) the walk visits.
type synflowScaler struct {
	abs    map[string][]float64
	factor map[string]float64
	// level is the bound a free layer scales its output to, except in the
	// head (the layers after the last top-level residual block), which
	// scales to 1 so that R' is near 1.
	level float64
	// peak is the largest activation bound the walk met.
	peak float64
}

// knob says how a Linear, Conv2d or BatchNorm picks its factor α: 1 when
// fixed; the one that makes the output's scale c equal scale when scale > 0
// (forced); otherwise the one that makes the output's bound equal bound.
type knob struct {
	fixed        bool
	scale, bound float64
}

func (k knob) alpha(u, c float64) float64 {
	switch {
	case k.fixed:
		return 1
	case k.scale > 0:
		return k.scale / c
	case u > 0 && !math.IsInf(u, 0):
		return k.bound / u
	}
	return 1 // a layer with nothing left passes the scale on
}

// walk chooses the factors of arch and returns P, the scale of the logits.
// A first walk scales every free layer's output bound to 1 and measures the
// peak bound; in a network with identity shortcuts that peak is the growth
// of the residual trunk, which no factor can remove. A second walk then
// starts the trunk at 1/√peak instead of 1, so that its activations span
// 1/√peak … √peak and the gradients, by conservation about R'/activation,
// the same range: centered, the range float32 can hold is twice as wide.
func (s *synflowScaler) walk(arch *nn.Arch) (float64, error) {
	s.level, s.peak = 1, 0
	p, _, err := s.seq(arch.Layers, 1, 1, 0, false, 0)
	if err != nil || !(s.peak > 1) || math.IsInf(s.peak, 0) {
		return p, err
	}
	s.level, s.peak = 1/math.Sqrt(s.peak), 0
	p, _, err = s.seq(arch.Layers, 1, 1, 0, false, 0)
	return p, err
}

// seq walks layers whose input has scale c and is bounded by b in the
// rescaled network, and returns the output's scale and bound. With
// force > 0 the last top-level Linear, Conv2d or BatchNorm (the caller
// checked with forceable that nothing after it changes the scale) gets the
// factor that makes its output's scale force. With fixed every factor is
// 1. A free layer scales its output's bound to inner inside a residual
// branch (inner > 0: the block's input bound, so that a branch stays at the
// level of the trunk around it and the factor that forces it back only
// undoes the block's own growth) and, in the network's own layer list (inner = 0), to
// s.level before the last residual block and to 1 after it.
func (s *synflowScaler) seq(layers []nn.Layer, c, b, force float64, fixed bool, inner float64) (float64, float64, error) {
	last, lastRes := -1, -1
	if force > 0 {
		last = lastKnob(layers)
	}
	for i, l := range layers {
		if _, ok := l.(nn.Residual); ok {
			lastRes = i
		}
	}
	var err error
	for i, l := range layers {
		k := knob{fixed: fixed, bound: inner}
		if i == last {
			k.scale = force
		}
		if inner == 0 {
			k.bound = s.level
			if i > lastRes {
				k.bound = 1
			}
		}
		switch l := l.(type) {
		case nn.Linear:
			c, b, err = s.affine(l.Name, l.Bias, l.Out, c, b, k)
		case nn.Conv2d:
			c, b, err = s.affine(l.Name, l.Bias, l.Out, c, b, k)
		case nn.BatchNorm:
			c, b, err = s.batchNorm(l, c, b, k)
		case nn.Residual:
			c, b, err = s.residual(l, c, b, fixed)
		case nn.ReLU, nn.MaxPool2d, nn.GlobalAvgPool, nn.Flatten, nn.Dropout, nn.PadChannels:
			// Positively homogeneous and never larger than their input:
			// scale and bound unchanged.
		default:
			err = fmt.Errorf("criterion synflow: layer type %T has no rescaling rule", l)
		}
		if err != nil {
			return 0, 0, err
		}
		s.peak = math.Max(s.peak, b)
	}
	return c, b, nil
}

// affine handles a Linear or Conv2d layer: the bound of its output is
// max_o Σ |W_o·| · b + c · max |bias| (zero padding only lowers it).
func (s *synflowScaler) affine(name string, bias bool, rows int, c, b float64, k knob) (float64, float64, error) {
	w, err := s.get(name + ".weight")
	if err != nil {
		return 0, 0, err
	}
	per := len(w) / rows
	var wn, bn float64
	for o := 0; o < rows; o++ {
		var sum float64
		for _, v := range w[o*per : (o+1)*per] {
			sum += v
		}
		wn = math.Max(wn, sum)
	}
	if bias {
		bv, err := s.get(name + ".bias")
		if err != nil {
			return 0, 0, err
		}
		for _, v := range bv {
			bn = math.Max(bn, v)
		}
	}
	u := wn*b + c*bn
	a := k.alpha(u, c)
	s.factor[name+".weight"] = a
	if bias {
		s.factor[name+".bias"] = a * c
	}
	return a * c, a * u, nil
}

// batchNorm handles an evaluation-mode batch norm, y = γ(x − μ)/σ + β with
// σ = √(var + eps): with input scale c, μ is multiplied by c, γ by α and β
// by α·c, so the output has scale α·c; its bound is
// max_ch γ/σ · (b + c·|μ|) + c·|β|.
func (s *synflowScaler) batchNorm(l nn.BatchNorm, c, b float64, k knob) (float64, float64, error) {
	g, err := s.get(l.Name + ".weight")
	if err != nil {
		return 0, 0, err
	}
	beta, err := s.get(l.Name + ".bias")
	if err != nil {
		return 0, 0, err
	}
	mu, err := s.get("buffer/" + l.Name + ".running_mean")
	if err != nil {
		return 0, 0, err
	}
	v, err := s.get("buffer/" + l.Name + ".running_var")
	if err != nil {
		return 0, 0, err
	}
	eps := l.Eps
	if eps == 0 {
		eps = 1e-5
	}
	var u float64
	for ch := range g {
		u = math.Max(u, g[ch]/math.Sqrt(v[ch]+eps)*(b+c*mu[ch])+c*beta[ch])
	}
	a := k.alpha(u, c)
	s.factor[l.Name+".weight"] = a
	s.factor[l.Name+".bias"] = a * c
	s.factor["buffer/"+l.Name+".running_mean"] = c
	s.factor["buffer/"+l.Name+".running_var"] = 1
	return a * c, a * u, nil
}

// residual handles y = body(x) + shortcut(x): both branches must end at
// the same scale. The shortcut is walked freely and the body's last layer
// forced onto its scale; failing that, the other way round; failing both,
// the block keeps factor 1 inside (and so the input's scale).
func (s *synflowScaler) residual(l nn.Residual, c, b float64, fixed bool) (float64, float64, error) {
	switch {
	case !fixed && forceable(l.Body):
		cs, bs, err := s.seq(l.Shortcut, c, b, 0, false, b)
		if err != nil {
			return 0, 0, err
		}
		_, bb, err := s.seq(l.Body, c, b, cs, false, b)
		return cs, bb + bs, err
	case !fixed && forceable(l.Shortcut):
		cb, bb, err := s.seq(l.Body, c, b, 0, false, b)
		if err != nil {
			return 0, 0, err
		}
		_, bs, err := s.seq(l.Shortcut, c, b, cb, false, b)
		return cb, bb + bs, err
	}
	_, bb, err := s.seq(l.Body, c, b, 0, true, b)
	if err != nil {
		return 0, 0, err
	}
	_, bs, err := s.seq(l.Shortcut, c, b, 0, true, b)
	return c, bb + bs, err
}

func (s *synflowScaler) get(name string) ([]float64, error) {
	v, ok := s.abs[name]
	if !ok {
		return nil, fmt.Errorf("criterion synflow: the model has no parameter or buffer %q", name)
	}
	return v, nil
}

// lastKnob returns the index of the last top-level Linear, Conv2d or
// BatchNorm of layers, or −1.
func lastKnob(layers []nn.Layer) int {
	for i := len(layers) - 1; i >= 0; i-- {
		switch layers[i].(type) {
		case nn.Linear, nn.Conv2d, nn.BatchNorm:
			return i
		}
	}
	return -1
}

// forceable reports whether a branch can be made to end at a given scale:
// it has a top-level Linear, Conv2d or BatchNorm with no residual block
// after it (the layers after it keep the scale).
func forceable(layers []nn.Layer) bool {
	k := lastKnob(layers)
	if k < 0 {
		return false
	}
	for _, l := range layers[k+1:] {
		if _, ok := l.(nn.Residual); ok {
			return false
		}
	}
	return true
}
