package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/prunebench/prunebench/nn"
)

// Criterion scores every entry of the prunable tensors for pruning at
// initialization (specs/pai.md); higher = keep. Scores come back one slice
// per tensor of ScoreContext.Set, in Set order, each of the tensor's size,
// ready for Plan.Select.
type Criterion interface {
	Name() string
	Scores(ctx ScoreContext) ([][]float32, error)
}

// ScoreContext is what a Criterion scores.
type ScoreContext struct {
	// Net is the network to score. Its masks (Dense or Masked
	// parametrizations of the Set tensors) are read through
	// Net.Parametrization; any other parametrization of a Set tensor is an
	// error.
	Net nn.Net
	// Set is the prunable set (ResolvePrunable), in canonical order.
	Set []nn.ParamInfo
	// Batches is the pruning data (specs/pai.md §1.2); nil for data-free
	// criteria.
	Batches []nn.Batch
	// Rng is the `mask` seed namespace's stream, used by random only.
	Rng *rand.Rand
	// Temperature is the nn.Config.Temperature Net was built with (0 means
	// 1). The Net interface does not expose it, so the caller declares it;
	// GraSP requires 200 (specs/pai.md §3) and errors otherwise.
	Temperature float64
}

// GraSPTemperature is the softmax temperature GraSP scores at (specs/pai.md
// §3): the net must be built with nn.Config.Temperature = GraSPTemperature.
const GraSPTemperature = 200

// GraSPEpsilon is the step of GraSP's central finite difference along the
// unit vector g/‖g‖ (specs/pai.md §3).
const GraSPEpsilon = 1e-3

var criteria = map[string]func() Criterion{
	"magnitude": func() Criterion { return Magnitude{} },
	"random":    func() Criterion { return Random{} },
	"snip":      func() Criterion { return SNIP{} },
	"grasp":     func() Criterion { return GraSP{} },
}

// notImplemented are criteria of specs/pai.md that CriterionByName knows but
// cannot build yet; asking for one is an error wrapping nn.ErrNotImplemented
// (never a fallback to another criterion).
var notImplemented = map[string]string{
	"synflow": "synflow needs a logit-gradient entry point in the engine contract: the gradient of the summed logits on absolute-valued parameters and buffers, in evaluation mode",
}

// CriterionNames lists the known criteria (implemented or not), sorted.
func CriterionNames() []string {
	names := make([]string, 0, len(criteria)+len(notImplemented))
	for n := range criteria {
		names = append(names, n)
	}
	for n := range notImplemented {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CriterionByName returns the criterion with the given name; an unknown name
// is an error listing the known ones. synflow is known but not implemented:
// asking for it is an error wrapping nn.ErrNotImplemented.
func CriterionByName(name string) (Criterion, error) {
	if why, ok := notImplemented[name]; ok {
		return nil, fmt.Errorf("pruning criterion %s: %w (%s)", name, nn.ErrNotImplemented, why)
	}
	f, ok := criteria[name]
	if !ok {
		return nil, fmt.Errorf("pruning criterion %q: want one of %s", name, nameList(CriterionNames()))
	}
	return f(), nil
}

// Magnitude scores |W| with W the effective weight θ ⊙ m (m the installed
// mask, all ones for a Dense tensor), so entries already pruned score 0 and
// cannot be resurrected by a multi-iteration loop even under MaskedForward,
// where θ keeps its value at pruned positions (specs/pai.md §1.4, §5).
type Magnitude struct{}

func (Magnitude) Name() string { return "magnitude" }

func (Magnitude) Scores(ctx ScoreContext) ([][]float32, error) {
	w, _, err := effectiveWeights(ctx, "magnitude")
	if err != nil {
		return nil, err
	}
	for _, t := range w {
		for i, v := range t {
			t[i] = float32(math.Abs(float64(v)))
		}
	}
	return w, nil
}

// Random scores every entry i.i.d. uniform in [0, 1) from ctx.Rng, tensor by
// tensor in Set order and row-major within a tensor, so the scores (and the
// top-k mask) depend on the Rng's seed alone, not on the weights or data.
type Random struct{}

func (Random) Name() string { return "random" }

func (Random) Scores(ctx ScoreContext) ([][]float32, error) {
	if ctx.Rng == nil {
		return nil, fmt.Errorf("criterion random needs a random stream (the mask seed)")
	}
	if err := checkSet(ctx.Set); err != nil {
		return nil, err
	}
	out := make([][]float32, len(ctx.Set))
	for k, info := range ctx.Set {
		s := make([]float32, info.Size())
		for i := range s {
			s[i] = ctx.Rng.Float32()
		}
		out[k] = s
	}
	return out, nil
}

// SNIP scores S = |W ⊙ Σ_b g_b| / Σ|…| (specs/pai.md §2): g_b is the
// gradient of batch b's mean cross-entropy with respect to the effective
// weight W (Param.Grad after Net.Gradients), summed with its sign over all
// of ctx.Batches before the absolute value; W = θ ⊙ m is the effective
// weight, so pruned entries score 0. The scores are divided by their sum
// (no effect on the ranking; logged scores match the reference); an all-zero
// score vector is left unscaled.
//
// Net.Gradients runs in training mode: for nets with batch norm or dropout
// this is pai.md's `train_mode: true`; eval-mode scoring needs an engine
// entry point the contract does not have yet.
type SNIP struct{}

func (SNIP) Name() string { return "snip" }

func (SNIP) Scores(ctx ScoreContext) ([][]float32, error) {
	if len(ctx.Batches) == 0 {
		return nil, fmt.Errorf("criterion snip needs pruning data")
	}
	w, _, err := effectiveWeights(ctx, "snip")
	if err != nil {
		return nil, err
	}
	g, err := sumGradients(ctx.Net, ctx.Set, ctx.Batches, "snip")
	if err != nil {
		return nil, err
	}
	s := make([][]float64, len(w))
	var total float64
	for k := range w {
		s[k] = make([]float64, len(w[k]))
		for i, v := range w[k] {
			x := math.Abs(float64(v) * g[k][i])
			s[k][i] = x
			total += x
		}
	}
	return scaled(s, total), nil
}

// GraSP scores S = θ ⊙ Hg / (|Σ S| + 1e-10) (specs/pai.md §3): g = Σ_b ∇L_b
// and Hg = Σ_b H_b g over ctx.Batches, both with respect to the prunable
// weights only, at temperature 200. GraSP removes the entries with the
// largest −θ ⊙ Hg, i.e. keeps the largest θ ⊙ Hg, so S as returned is
// already "higher = keep" and goes straight to Plan.Select.
//
// Hg is a central finite difference of summed gradients along u = g/‖g‖:
// Hg ≈ (∇L(θ + εu) − ∇L(θ − εu)) · ‖g‖ / (2ε), ε = GraSPEpsilon, the
// perturbed θ written with SetValues and restored afterwards (even on
// error). Gradients are taken with respect to θ: the engine's gradient with
// respect to W times the mask, so pruned entries have g = 0 and score 0.
//
// The temperature divides the logits inside the engine's loss, so the net
// must be built with nn.Config.Temperature = 200 and the caller must say so
// in ctx.Temperature; any other value is an error. As for SNIP, gradients
// are taken in training mode.
type GraSP struct{}

func (GraSP) Name() string { return "grasp" }

func (GraSP) Scores(ctx ScoreContext) ([][]float32, error) {
	if len(ctx.Batches) == 0 {
		return nil, fmt.Errorf("criterion grasp needs pruning data")
	}
	if ctx.Temperature != GraSPTemperature {
		return nil, fmt.Errorf("criterion grasp needs a net built with temperature %d (nn.Config.Temperature, declared in ScoreContext.Temperature), got %v", GraSPTemperature, ctx.Temperature)
	}
	_, masks, err := effectiveWeights(ctx, "grasp")
	if err != nil {
		return nil, err
	}
	hg, err := graspHg(ctx.Net, ctx.Set, masks, ctx.Batches, GraSPEpsilon)
	if err != nil {
		return nil, err
	}
	s := make([][]float64, len(ctx.Set))
	var total float64
	for k, info := range ctx.Set {
		theta := ctx.Net.Param(info.Name).Values()
		s[k] = make([]float64, len(theta))
		for i, v := range theta {
			x := float64(v) * hg[k][i]
			if masks[k] != nil {
				x *= float64(masks[k][i])
			}
			s[k][i] = x
			total += x
		}
	}
	return scaled(s, math.Abs(total)+1e-10), nil
}

// graspHg returns the summed gradient's Hessian-vector product Σ_b H_b g by
// central differences (see GraSP), in float64. masks[k] (nil: dense) turns
// gradients with respect to W into gradients with respect to θ.
func graspHg(net nn.Net, set []nn.ParamInfo, masks [][]float32, batches []nn.Batch, eps float64) ([][]float64, error) {
	grad := func() ([][]float64, error) {
		g, err := sumGradients(net, set, batches, "grasp")
		if err != nil {
			return nil, err
		}
		for k := range g {
			if masks[k] != nil {
				for i := range g[k] {
					g[k][i] *= float64(masks[k][i])
				}
			}
		}
		return g, nil
	}
	g, err := grad()
	if err != nil {
		return nil, err
	}
	var norm float64
	for _, t := range g {
		for _, v := range t {
			norm += v * v
		}
	}
	norm = math.Sqrt(norm)
	hg := make([][]float64, len(set))
	for k := range set {
		hg[k] = make([]float64, len(g[k]))
	}
	if norm == 0 {
		return hg, nil
	}
	orig := make([][]float32, len(set))
	for k, info := range set {
		orig[k] = slices.Clone(net.Param(info.Name).Values())
	}
	defer func() {
		for k, info := range set {
			net.Param(info.Name).SetValues(orig[k])
		}
	}()
	shifted := func(sign float64) ([][]float64, error) {
		for k, info := range set {
			v := make([]float32, len(orig[k]))
			for i := range v {
				v[i] = float32(float64(orig[k][i]) + sign*eps*g[k][i]/norm)
			}
			net.Param(info.Name).SetValues(v)
		}
		return grad()
	}
	plus, err := shifted(1)
	if err != nil {
		return nil, err
	}
	minus, err := shifted(-1)
	if err != nil {
		return nil, err
	}
	for k := range hg {
		for i := range hg[k] {
			hg[k][i] = (plus[k][i] - minus[k][i]) * norm / (2 * eps)
		}
	}
	return hg, nil
}

// effectiveWeights returns W = θ ⊙ m for every tensor of the set (copies)
// and the masks (nil for a Dense tensor).
func effectiveWeights(ctx ScoreContext, who string) ([][]float32, [][]float32, error) {
	if ctx.Net == nil {
		return nil, nil, fmt.Errorf("criterion %s: no network", who)
	}
	if err := checkSet(ctx.Set); err != nil {
		return nil, nil, err
	}
	w := make([][]float32, len(ctx.Set))
	masks := make([][]float32, len(ctx.Set))
	for k, info := range ctx.Set {
		p := ctx.Net.Param(info.Name)
		if p == nil {
			return nil, nil, fmt.Errorf("criterion %s: the model has no parameter %q", who, info.Name)
		}
		v := slices.Clone(p.Values())
		if len(v) != info.Size() {
			return nil, nil, fmt.Errorf("criterion %s: %s has %d values, want %d", who, info.Name, len(v), info.Size())
		}
		switch z := ctx.Net.Parametrization(info.Name).(type) {
		case nil, nn.Dense, *nn.Dense:
		case nn.Masked, *nn.Masked:
			var m []float32
			if pm, ok := z.(*nn.Masked); ok {
				m = pm.Mask
			} else {
				m = z.(nn.Masked).Mask
			}
			if len(m) != len(v) {
				return nil, nil, fmt.Errorf("criterion %s: mask of %s has %d entries, want %d", who, info.Name, len(m), len(v))
			}
			masks[k] = slices.Clone(m)
			for i := range v {
				v[i] *= m[i]
			}
		default:
			return nil, nil, fmt.Errorf("criterion %s: %s has a %s parametrization; pruning at initialization scores masked or dense tensors only", who, info.Name, z.Describe())
		}
		w[k] = v
	}
	return w, masks, nil
}

// sumGradients runs Net.Gradients on every batch and sums, in float64 and
// with sign, the gradients with respect to W of the set's tensors.
func sumGradients(net nn.Net, set []nn.ParamInfo, batches []nn.Batch, who string) ([][]float64, error) {
	g := make([][]float64, len(set))
	for k, info := range set {
		g[k] = make([]float64, info.Size())
	}
	for b, batch := range batches {
		if _, err := net.Gradients(batch); err != nil {
			return nil, fmt.Errorf("criterion %s: batch %d: %w", who, b, err)
		}
		for k, info := range set {
			gr := net.Param(info.Name).Grad()
			if len(gr) != len(g[k]) {
				return nil, fmt.Errorf("criterion %s: gradient of %s has %d entries, want %d", who, info.Name, len(gr), len(g[k]))
			}
			for i, v := range gr {
				g[k][i] += float64(v)
			}
		}
	}
	return g, nil
}

// scaled divides s by div (left as is when div is 0 or not finite) and
// converts to float32.
func scaled(s [][]float64, div float64) [][]float32 {
	if div == 0 || math.IsNaN(div) || math.IsInf(div, 0) {
		div = 1
	}
	out := make([][]float32, len(s))
	for k, t := range s {
		out[k] = make([]float32, len(t))
		for i, v := range t {
			out[k][i] = float32(v / div)
		}
	}
	return out
}
