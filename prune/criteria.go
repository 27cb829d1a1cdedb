package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn"
)

// Criterion scores every entry of the prunable tensors for pruning at
// initialization (docs/methods/pai.md#the-pipeline); higher = keep. Scores
// come back one slice per tensor of ScoreContext.Set, in Set order, each of
// the tensor's size, ready for Plan.Select.
type Criterion interface {
	Name() string
	// Needs says what the criterion needs to score, so that callers build
	// its ScoreContext from the criterion instead of switching on its name.
	Needs() Needs
	Scores(ctx ScoreContext) ([][]float32, error)
}

// Needs is what a Criterion needs to score (as gonum's optimize methods
// report theirs).
type Needs struct {
	// Network: the criterion runs the network (SNIP, GraSP, SynFlow);
	// magnitude and random read the weights only.
	Network bool
	// Data: it scores on training batches (ScoreContext.Batches): SNIP
	// and GraSP (docs/methods/pai.md#pruning-data).
	Data bool
	// Temperature is the softmax temperature the scoring net must be
	// built with (ScoreContext.Temperature); 0: any, the training one.
	// GraSP needs GraSPTemperature.
	Temperature float64
	// TrainMode: it can also score in training mode
	// (ScoreContext.TrainMode): SNIP and GraSP. SynFlow scores in evaluation
	// mode by definition (docs/methods/pai.md#scoring-mode); magnitude and
	// random run no network.
	TrainMode bool
	// Iterations is the default number of scoring iterations E of the prune
	// loop (docs/methods/pai.md#the-prune-loop): 100 for SynFlow (the SynFlow
	// paper), 1 for the others.
	Iterations int
}

// ScoreContext is what a Criterion scores.
type ScoreContext struct {
	// Net is the network to score. Its masks (Dense or Masked
	// parametrizations of the Set tensors) are read through
	// Net.Parametrization; any other parametrization of a Set tensor is an
	// error. SynFlow rewrites the net's state while scoring and restores it
	// bit for bit; training-mode scoring (TrainMode) updates batch norm
	// running statistics as any training forward does, so score a copy
	// when that matters (the pai pipeline does).
	Net nn.Net
	// Set is the prunable set (ResolvePrunable), in canonical order.
	Set []nn.ParamInfo
	// Batches is the pruning data (docs/methods/pai.md#pruning-data); nil for
	// data-free criteria.
	Batches []nn.Batch
	// Rng is the `mask` seed namespace's stream, used by random only.
	Rng *rand.Rand
	// Temperature is the nn.Config.Temperature Net was built with (0 means
	// 1). The Net interface does not expose it, so the caller declares it;
	// GraSP requires 200 (docs/methods/pai.md#grasp) and errors otherwise.
	Temperature float64
	// TrainMode scores SNIP and GraSP in training mode (batch statistics,
	// running statistics updated, dropout on: Net.Gradients), the pai
	// pipeline's `prune.train_mode: true`. The default is evaluation mode
	// (docs/methods/pai.md#scoring-mode): the cross-entropy gradient of the
	// evaluation-mode logits is backpropagated with Net.Backward. The two
	// agree on networks without batch norm or dropout. SynFlow always scores
	// in evaluation mode and refuses TrainMode; magnitude and random run no
	// network.
	TrainMode bool
}

// GraSPTemperature is the softmax temperature GraSP scores at
// (docs/methods/pai.md#grasp): the net must be built with
// nn.Config.Temperature = GraSPTemperature.
const GraSPTemperature = 200

// GraSPEpsilon is the step of GraSP's central finite difference along the
// unit vector g/‖g‖ (docs/methods/pai.md#grasp).
const GraSPEpsilon = 1e-3

// criteria is the registry of criteria: a constructor per name.
var criteria = registry.New[func() Criterion]("pruning criterion")

func init() {
	for _, c := range []Criterion{Magnitude{}, Random{}, SNIP{}, GraSP{}, SynFlow{}} {
		RegisterCriterion(c.Name(), func() Criterion { return c })
	}
}

// RegisterCriterion makes a criterion available by name (prune.criterion);
// it panics when the name is taken.
func RegisterCriterion(name string, new func() Criterion) { criteria.Register(name, new) }

// CriterionNames lists the registered criteria, sorted.
func CriterionNames() []string { return criteria.Names() }

// CriterionByName returns a new criterion of the given name; an unknown
// name is an error that lists the registered ones.
func CriterionByName(name string) (Criterion, error) {
	f, err := criteria.Get(name)
	if err != nil {
		return nil, err
	}
	return f(), nil
}

// Magnitude scores |W| with W the effective weight θ ⊙ m (m the installed
// mask, all ones for a Dense tensor), so entries already pruned score 0 and
// cannot be resurrected by a multi-iteration loop even under MaskedForward,
// where θ keeps its value at pruned positions
// (docs/methods/pai.md#magnitude-and-random,
// docs/methods/pai.md#the-prune-loop).
type Magnitude struct{}

func (Magnitude) Name() string { return "magnitude" }

// Needs: magnitude reads the weights only.
func (Magnitude) Needs() Needs { return Needs{Iterations: 1} }

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

// Needs: random draws from ScoreContext.Rng only.
func (Random) Needs() Needs { return Needs{Iterations: 1} }

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

// SNIP scores S = |W ⊙ Σ_b g_b| / Σ|…| (docs/methods/pai.md#snip): g_b is the
// gradient of batch b's mean cross-entropy with respect to the effective
// weight W (Param.Grad after Net.Gradients), summed with its sign over all of
// ctx.Batches before the absolute value; W = θ ⊙ m is the effective weight,
// so pruned entries score 0. The scores are divided by their sum (no effect
// on the ranking; logged scores match the reference); an all-zero score
// vector is left unscaled.
//
// The gradients are taken in evaluation mode unless ctx.TrainMode
// (ScoreContext.TrainMode, docs/methods/pai.md#scoring-mode), with the
// cross-entropy at ctx.Temperature.
type SNIP struct{}

func (SNIP) Name() string { return "snip" }

// Needs: SNIP scores on training data, in either mode.
func (SNIP) Needs() Needs { return Needs{Network: true, Data: true, TrainMode: true, Iterations: 1} }

func (SNIP) Scores(ctx ScoreContext) ([][]float32, error) {
	if len(ctx.Batches) == 0 {
		return nil, fmt.Errorf("criterion snip needs pruning data")
	}
	w, _, err := effectiveWeights(ctx, "snip")
	if err != nil {
		return nil, err
	}
	g, err := sumGradients(ctx, ctx.Batches, "snip")
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

// GraSP scores S = θ ⊙ Hg / (|Σ S| + 1e-10) (docs/methods/pai.md#grasp):
// g = Σ_b ∇L_b and Hg = Σ_b H_b g over ctx.Batches, both with respect to the
// prunable weights only, at temperature 200. GraSP removes the entries with
// the largest −θ ⊙ Hg, i.e. keeps the largest θ ⊙ Hg, so S as returned is
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
// are taken in evaluation mode unless ctx.TrainMode.
type GraSP struct{}

func (GraSP) Name() string { return "grasp" }

// Needs: GraSP scores on training data, in either mode, on a net built at
// GraSPTemperature.
func (GraSP) Needs() Needs {
	return Needs{Network: true, Data: true, Temperature: GraSPTemperature, TrainMode: true, Iterations: 1}
}

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
	hg, err := graspHg(ctx, masks, GraSPEpsilon)
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

// graspHg returns the summed gradient's Hessian-vector product Σ_b H_b g
// over ctx.Batches by central differences (see GraSP), in float64. masks[k]
// (nil: dense) turns gradients with respect to W into gradients with
// respect to θ.
func graspHg(ctx ScoreContext, masks [][]float32, eps float64) ([][]float64, error) {
	net, set := ctx.Net, ctx.Set
	grad := func() ([][]float64, error) {
		g, err := sumGradients(ctx, ctx.Batches, "grasp")
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

// sumGradients runs the backward pass of every batch's mean cross-entropy
// (lossGradients, in ctx's mode and at its temperature) and sums, in
// float64 and with sign, the gradients with respect to W of the set's
// tensors.
func sumGradients(ctx ScoreContext, batches []nn.Batch, who string) ([][]float64, error) {
	net, set := ctx.Net, ctx.Set
	g := make([][]float64, len(set))
	for k, info := range set {
		g[k] = make([]float64, info.Size())
	}
	for b, batch := range batches {
		if err := lossGradients(net, batch, ctx.TrainMode, ctx.Temperature); err != nil {
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

// lossGradients leaves in every Param's Grad the gradient of the mean
// cross-entropy of softmax(logits/T) on b (T = temperature, 0 meaning 1).
// In training mode that is Net.Gradients. In evaluation mode the logits
// come from Net.Logits, their gradient (softmax(z/T) − onehot(y)) / (N·T)
// is computed here in float64 with each row shifted by its maximum (the
// formula and order of the native engine's loss, so the two modes agree
// to float32 rounding on nets without batch norm or dropout), and Net.Backward
// backpropagates it in evaluation mode. T must be the temperature the net
// was built with; the engine applies it only in Gradients.
func lossGradients(net nn.Net, b nn.Batch, train bool, temperature float64) error {
	if train {
		_, err := net.Gradients(b)
		return err
	}
	classes := net.Arch().Classes
	if b.N < 1 || len(b.Y) < b.N {
		return fmt.Errorf("batch of %d examples with %d labels", b.N, len(b.Y))
	}
	z := make([]float32, b.N*classes)
	if err := net.Logits(z, b); err != nil {
		return err
	}
	dl, err := crossEntropyGrad(z, b.Y[:b.N], classes, temperature)
	if err != nil {
		return err
	}
	return net.Backward(b, false, dl)
}

// crossEntropyGrad returns the gradient of the mean over the rows of z
// (N×classes) of the cross-entropy of softmax(z/T) against y with respect
// to z: (softmax(z_i/T)_j − [j = y_i]) / (N·T), computed in float64.
func crossEntropyGrad(z []float32, y []int32, classes int, temperature float64) ([]float32, error) {
	if temperature == 0 {
		temperature = 1
	}
	n := len(y)
	invT := 1 / temperature
	scale := invT / float64(n)
	dl := make([]float32, n*classes)
	for i, label := range y {
		if label < 0 || int(label) >= classes {
			return nil, fmt.Errorf("label %d of example %d, want 0 to %d", label, i, classes-1)
		}
		row := z[i*classes : (i+1)*classes]
		mx := row[0]
		for _, v := range row[1:] {
			if v > mx {
				mx = v
			}
		}
		m := float64(mx) * invT
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v)*invT - m)
		}
		lse := math.Log(se)
		for j, v := range row {
			p := math.Exp(float64(v)*invT - m - lse)
			if j == int(label) {
				p--
			}
			dl[i*classes+j] = float32(p * scale)
		}
	}
	return dl, nil
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

// PruneLoop is the prune loop of pruning at initialization
// (docs/methods/pai.md#the-prune-loop):
//
//	for e = 1 … E:
//	    scores ← Criterion(network with the current masks)
//	    masks  ← top round(d_e · N) of the scores among the alive entries
//
// with d_e from PAIDensities (exponential by default), N the scope unit's
// size and the count rule of DensityPlan, so the last iteration keeps exactly
// the one-shot count at Density. Every iteration rescores the masked network:
// from the second iteration on, the previous masks are installed on ctx.Net
// as MaskedForward (P1,
// docs/methods/conventions.md#which-method-uses-which-pattern), so the
// forward sees θ ⊙ m, pruned entries stay zero and score 0, and θ itself is
// untouched. Selecting among alive entries only means nothing pruned comes
// back (prunebench's rule; the reference rescoring every entry is not
// reproduced).
type PruneLoop struct {
	Criterion Criterion
	// Density is the final density d over the prunable set, in (0, 1].
	Density float64
	// Scope is Global (one top-k over the set) or LayerWise (d per tensor).
	Scope Scope
	// Iterations is E ≥ 1; see DefaultIterations.
	Iterations int
	// Schedule of the intermediate densities ("": exponential).
	Schedule PAISchedule
	// AllowEmpty lets a global selection leave a tensor with no kept entry
	// (layer collapse, the failure SynFlow was designed against) instead of
	// returning an error; see Plan.AllowEmpty.
	AllowEmpty bool
}

// Run runs the loop on ctx and returns the final masks of ctx.Set. The
// starting masks are those installed on ctx.Net (all ones for a dense
// net); with E > 1 the masks of iteration E − 1 are left installed on
// ctx.Net as MaskedForward: apply the result with the training pattern
// (Masks.Apply). Errors name the iteration; an intermediate or final count
// that leaves a tensor empty is an error from Plan.Select unless AllowEmpty.
func (l PruneLoop) Run(ctx ScoreContext) (*Masks, error) {
	if l.Criterion == nil {
		return nil, fmt.Errorf("prune loop: no criterion")
	}
	if err := checkSet(ctx.Set); err != nil {
		return nil, err
	}
	ds, err := PAIDensities(l.Density, l.Iterations, l.Schedule)
	if err != nil {
		return nil, err
	}
	var current *Masks
	if ctx.Net != nil {
		if current, err = MasksFromNet(ctx.Net, infoNames(ctx.Set)); err != nil {
			return nil, fmt.Errorf("prune loop: %w", err)
		}
	}
	for i, d := range ds {
		where := fmt.Sprintf("prune loop, iteration %d of %d (density %.6g)", i+1, len(ds), d)
		if i > 0 && ctx.Net != nil {
			if err := current.Apply(ctx.Net, nn.MaskedForward); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		scores, err := l.Criterion.Scores(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		plan, err := DensityPlan(ctx.Set, d, l.Scope, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		plan.AllowEmpty = l.AllowEmpty
		if current, err = plan.Select(scores, current); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return current, nil
}
