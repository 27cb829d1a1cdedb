package search

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// BiP is the upper level of BiP (docs/methods/bip.md#one-iteration): a score
// tensor s per prunable weight, the mask m = topk(|s|) over all of them (or
// over filters or input channels), and one SGD step on s per call of
// ScoreStep with the straight-through gradient and the implicit-gradient (IG)
// term. The lower level (the θ-step on the other batch) is the frozen
// training loop's step with the mask fixed: the mask is installed on the net
// as the scored parametrization (unstructured) or as a MaskedForward mask
// (structured), so θ is never overwritten (pattern P1: pruned θ keep their
// values, decay under weight decay and re-enter when the mask changes).
//
// Two modes (docs/methods/bip.md#departures and
// docs/methods/bip.md#reference-quirks):
//
//   - clean (the paper's formulation, the default): k·N weights kept,
//     round(k·N); scores a copy of the pretrained θ; the score gradient
//     G_s = sign(s) ⊙ (θ ⊙ g − c_IG · m ⊙ g ⊙ g) with g = ∂ℓ/∂W on the
//     upper batch (the IG term of docs/methods/bip.md#implicit-gradient,
//     derived under the paper's Hessian-free assumption); the score
//     learning rate drops ×0.1 at 75% and ×0.01 at 90% of the search.
//   - reference (what OPTML-Group/BiP computes): N − floor((1 − k)·N) kept
//     (rule `bip`); scores and weights are one tensor v (the code's
//     `popup_scores.data = weight.data` aliasing, emulated: the scores are
//     set to θ before every score step and θ to the scores after it); the
//     score gradient is the straight-through one, g ⊙ θ ⊙ sign(v) = g ⊙ |v|,
//     with the code's position-wise IG correction g_s ← g_s − lr2 · g_s²; the
//     score learning rate is the bugged mask schedule (base: the θ learning
//     rate, ×0.1 at 50% and ×0.01 at 75%); batch-norm running statistics see
//     the code's four training-mode forwards per iteration (the θ batch and
//     three times the score batch).
//     Not reproduced (listed so that nobody mistakes reference mode for a
//     bit-level replica): both of the code's optimizers holding every
//     parameter (the extra weight decay and momentum each applies to the
//     other's tensors, batch norm stepped twice), the IG cross-term on
//     batch-norm parameters, the cosine schedule's off-by-one, model
//     selection on the test set, and `--accelerate`'s order (score step
//     before the θ-step).
//
// accelerate drops the IG term in both modes, as the code's --accelerate.
type BiP struct {
	cfg  BiPConfig
	set  []nn.ParamInfo
	keep int // kept weights (unstructured) over the whole set

	scores [][]float32 // s, signed
	mom    [][]float32 // the score optimizer's momentum buffers
	masks  [][]float32 // the installed masks
	abs    []float32   // |s| of all tensors, reused by every Install (engines copy the scores they are given)
}

// BiPConfig is BiP's configuration, and the `bip:` section of a spec (the
// mapstructure tags are its keys; the help tags what `prunebench config
// --defaults` prints). Density and Iterations are not keys: the pipeline
// sets them from the prune amount and the resolved search length. The
// θ-step fields (Steps, LR, Schedule, Momentum, WeightDecay) configure the
// frozen training loop that BiP's score steps ride on; the others the
// score step itself.
type BiPConfig struct {
	// Mode is "clean" or "reference".
	Mode string `mapstructure:"mode" help:"clean (the paper's formulation) or reference (what OPTML-Group/BiP computes; search/bip.go lists the quirks it reproduces and those it does not)"`
	// Pretrained is the checkpoint of the dense model the search starts
	// from; empty: level 0 pretrains it.
	Pretrained string `mapstructure:"pretrained" help:"checkpoint of a pretrained dense model ({replicate} is replaced by the replicate index); empty: level 0 pretrains it with the training section"`
	// Steps is the length of the search, a step ("20ep"); empty: the
	// training budget.
	Steps string `mapstructure:"steps" help:"length of the search (a step: 20ep, 5000it); empty: training.steps"`
	// LR is α, the θ-step's SGD learning rate, and the base of reference
	// mode's bugged score schedule.
	LR float64 `mapstructure:"lr" help:"θ-step learning rate α (SGD)"`
	// Schedule, Momentum and WeightDecay are the θ-step SGD's.
	Schedule    string  `mapstructure:"schedule" help:"θ-step learning rate schedule: constant, cosine or linear"`
	Momentum    float64 `mapstructure:"momentum" help:"θ-step SGD momentum"`
	WeightDecay float64 `mapstructure:"weight_decay" help:"θ-step L2 coefficient wd_θ"`
	// ScoreLR is β, the score learning rate (clean mode's base).
	ScoreLR float64 `mapstructure:"score_lr" help:"score learning rate β (clean: ×0.1 at 75% and ×0.01 at 90% of the search; reference: the code's bugged schedule from bip.lr)"`
	// ScoreMomentum and ScoreWeightDecay are the score SGD's.
	ScoreMomentum    float64 `mapstructure:"score_momentum" help:"score SGD momentum μ_s"`
	ScoreWeightDecay float64 `mapstructure:"score_weight_decay" help:"score L2 coefficient wd_s"`
	// IGCoef is c_IG (clean: the IG coefficient 1/γ; reference: lr2).
	IGCoef float64 `mapstructure:"ig_coef" help:"implicit-gradient coefficient c_IG (clean: 1/γ; reference: the code's lr2)"`
	// Accelerate drops the IG term.
	Accelerate bool `mapstructure:"accelerate" help:"drop the implicit-gradient term (the code's --accelerate)"`
	// Structure is "unstructured", "filter" (output channels of each
	// convolution) or "channel" (input channels).
	Structure string `mapstructure:"structure" help:"unstructured, filter or channel (convolutions only: exclude linear layers with prune.exclude)"`

	// Density is k ∈ (0, 1], the kept fraction of the prunable weights
	// (of the filters or channels of each layer when structured).
	Density float64 `mapstructure:"-"`
	// Iterations is the length of the search in iterations (for the score
	// schedule).
	Iterations int `mapstructure:"-"`
}

// DefaultBiPConfig is the clean mode's choices (α = 0.01 and β = 0.1 as
// the paper states, momentum 0.9 and weight decay 1e-4 for both levels,
// c_IG = 1e-4, a cosine θ schedule; docs/methods/bip.md#configuration).
func DefaultBiPConfig() BiPConfig {
	return BiPConfig{Mode: "clean", LR: 0.01, Schedule: "cosine", Momentum: 0.9, WeightDecay: 1e-4,
		ScoreLR: 0.1, ScoreMomentum: 0.9, ScoreWeightDecay: 1e-4, IGCoef: 1e-4, Structure: "unstructured"}
}

// Validate checks the configuration: every field's accepted values.
func (c BiPConfig) Validate() error {
	switch c.Mode {
	case "clean", "reference":
	default:
		return fmt.Errorf("bip.mode = %q: want clean or reference", c.Mode)
	}
	switch c.Structure {
	case "unstructured", "filter", "channel":
	default:
		return fmt.Errorf("bip.structure = %q: want unstructured, filter or channel", c.Structure)
	}
	if !(c.Density > 0 && c.Density <= 1) {
		return fmt.Errorf("bip density k = %v: want a kept fraction in (0, 1]", c.Density)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"bip.score_lr", c.ScoreLR}, {"bip.lr", c.LR}, {"bip.score_momentum", c.ScoreMomentum}, {"bip.score_weight_decay", c.ScoreWeightDecay}, {"bip.ig_coef", c.IGCoef}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s = %v: want a finite value ≥ 0", f.name, f.v)
		}
	}
	if c.ScoreMomentum >= 1 {
		return fmt.Errorf("bip.score_momentum = %v: want a value in [0, 1)", c.ScoreMomentum)
	}
	if c.Iterations < 1 {
		return fmt.Errorf("bip search of %d iterations: want at least 1", c.Iterations)
	}
	if c.Steps != "" {
		if _, err := train.ParseStep(c.Steps); err != nil {
			return fmt.Errorf("bip.steps: %w", err)
		}
	}
	switch c.Schedule {
	case "constant", "cosine", "linear":
	default:
		return fmt.Errorf("bip.schedule = %q: want constant, cosine or linear", c.Schedule)
	}
	if !(c.LR > 0) {
		return fmt.Errorf("bip.lr = %v: want a θ-step learning rate > 0", c.LR)
	}
	if c.Momentum < 0 || c.Momentum >= 1 || c.WeightDecay < 0 {
		return fmt.Errorf("bip.momentum = %v, bip.weight_decay = %v: want momentum in [0, 1) and weight decay ≥ 0", c.Momentum, c.WeightDecay)
	}
	return nil
}

// KeptCount is the number of entries out of n that BiP keeps at density k:
// round(k·n) in clean mode, n − floor((1 − k)·n) in reference mode (the code
// zeroes the floor((1 − k)·n) lowest; docs/methods/bip.md#kept-count). At
// least one entry is kept.
func KeptCount(mode string, k float64, n int) int {
	var keep int
	if mode == "reference" {
		keep = n - int(math.Floor((1-k)*float64(n)))
	} else {
		keep = int(math.Round(k * float64(n)))
	}
	return max(1, min(keep, n))
}

// NewBiP starts BiP on net from its current (pretrained) weights: scores
// are a copy of θ of every tensor of set, the first mask is global
// magnitude pruning of the pretrained network (or filter/channel magnitude
// when structured), and the mask is installed.
func NewBiP(net nn.Net, set []nn.ParamInfo, cfg BiPConfig) (*BiP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("bip: no prunable tensors")
	}
	b := &BiP{cfg: cfg, set: set}
	n := 0
	for _, info := range set {
		if cfg.Structure != "unstructured" && len(info.Shape) != 4 {
			return nil, fmt.Errorf("bip.structure = %s: %s is a %d-d tensor of a layer without filters (only convolutions have filters and channels); exclude it with prune.exclude or use bip.structure: unstructured", cfg.Structure, info.Name, len(info.Shape))
		}
		p := net.Param(info.Name)
		if p == nil {
			return nil, fmt.Errorf("bip: model has no parameter %s", info.Name)
		}
		b.scores = append(b.scores, append([]float32(nil), p.Values()...))
		b.mom = append(b.mom, make([]float32, info.Size()))
		n += info.Size()
	}
	b.keep = KeptCount(cfg.Mode, cfg.Density, n)
	return b, b.Install(net)
}

// Keep is the number of weights the unstructured mask keeps.
func (b *BiP) Keep() int { return b.keep }

// Masks returns the installed masks, in the order of the set (not copies).
func (b *BiP) Masks() [][]float32 { return b.masks }

// Scores returns the scores, in the order of the set (not copies).
func (b *BiP) Scores() [][]float32 { return b.scores }

// Momentum returns the score optimizer's buffers (not copies).
func (b *BiP) Momentum() [][]float32 { return b.mom }

// Install computes the mask from the scores and installs it on net.
func (b *BiP) Install(net nn.Net) error {
	if b.cfg.Structure != "unstructured" {
		return b.installStructured(net)
	}
	abs := b.abs[:0]
	for _, s := range b.scores {
		for _, v := range s {
			abs = append(abs, float32(math.Abs(float64(v))))
		}
	}
	b.abs = abs
	global := nn.TopKMask(abs, b.keep)
	b.masks = b.masks[:0]
	off := 0
	for _, info := range b.set {
		size := info.Size()
		m, a := global[off:off+size:off+size], abs[off:off+size:off+size]
		off += size
		keep := 0
		for _, v := range m {
			keep += int(v)
		}
		if keep == 0 {
			return fmt.Errorf("bip: the global top-%d of the scores leaves %s with no weights (docs/methods/conventions.md#density)", b.keep, info.Name)
		}
		// The per-tensor top-keep of |s| is exactly the global mask's
		// share of the tensor: the global threshold and the index
		// tie-break agree within a tensor.
		if err := net.SetParametrization(info.Name, nn.Scored{Scores: a, Keep: keep}); err != nil {
			return fmt.Errorf("bip: %w", err)
		}
		b.masks = append(b.masks, m)
	}
	return nil
}

// ScoreGradient returns G_s for one tensor from its scores s, weights θ,
// mask m and dense gradient g = ∂ℓ/∂W (docs/methods/bip.md#implicit-gradient
// and, for reference mode, docs/methods/bip.md#reproduced):
//
//	clean:     G = sign(s) ⊙ (θ ⊙ g − c · m ⊙ g ⊙ g)
//	reference: G = t − c · t ⊙ t with t = sign(s) ⊙ θ ⊙ g
//
// with c = 0 when accelerate. sign(0) = 0: |s| has no gradient at 0.
func (c BiPConfig) ScoreGradient(dst, s, theta, m, g []float32) {
	coef := float32(c.IGCoef)
	if c.Accelerate {
		coef = 0
	}
	s, theta, m, g = s[:len(dst)], theta[:len(dst)], m[:len(dst)], g[:len(dst)]
	if c.Mode == "reference" {
		for i := range dst {
			t := sign(s[i]) * theta[i] * g[i]
			dst[i] = t - coef*t*t
		}
		return
	}
	for i := range dst {
		dst[i] = sign(s[i]) * (theta[i]*g[i] - coef*m[i]*g[i]*g[i])
	}
}

func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// ScoreRate is the score learning rate at iteration it of the search
// (docs/methods/bip.md#schedules): clean, β ×0.1 from 75% and ×0.01 from 90%
// of the iterations (the intended step_mask_schedule); reference, the bugged
// schedule, α ×0.1 from 50% and ×0.01 from 75%.
func (c BiPConfig) ScoreRate(it int) float64 {
	base, first, second := c.ScoreLR, 0.75, 0.9
	if c.Mode == "reference" {
		base, first, second = c.LR, 0.5, 0.75
	}
	f := float64(it) / float64(c.Iterations)
	switch {
	case f >= second:
		return base * 0.01
	case f >= first:
		return base * 0.1
	}
	return base
}

// ScoreStep is the upper-level step of iteration it: net's gradients must
// be those of the upper batch at the installed mask (Gradients on it just
// ran). It forms G_s from θ and the dense gradients, takes one SGD step on
// the scores (PyTorch's: d = G + wd·s, buf = μ·buf + d, s ← s − lr·buf),
// and installs the new mask. In reference mode θ then takes the scores'
// values (the aliasing).
func (b *BiP) ScoreStep(net nn.Net, it int) error {
	lr := float32(b.cfg.ScoreRate(it))
	mu, wd := float32(b.cfg.ScoreMomentum), float32(b.cfg.ScoreWeightDecay)
	var grad []float32
	for i, info := range b.set {
		p := net.Param(info.Name)
		s, buf := b.scores[i], b.mom[i]
		if cap(grad) < len(s) {
			grad = make([]float32, len(s))
		}
		grad = grad[:len(s)]
		b.cfg.ScoreGradient(grad, s, p.Values(), b.masks[i], p.Grad())
		for j := range s {
			d := grad[j] + wd*s[j]
			buf[j] = mu*buf[j] + d
			s[j] -= lr * buf[j]
		}
		if b.cfg.Mode == "reference" {
			p.SetValues(s)
		}
	}
	return b.Install(net)
}

// AliasScores sets the scores to θ (reference mode, before a score step:
// the θ-step moved the shared tensor).
func (b *BiP) AliasScores(net nn.Net) {
	for i, info := range b.set {
		copy(b.scores[i], net.Param(info.Name).Values())
	}
}

// KeptPerTensor returns the number of kept entries of each tensor.
func (b *BiP) KeptPerTensor() []int {
	out := make([]int, len(b.masks))
	for i, m := range b.masks {
		for _, v := range m {
			out[i] += int(v)
		}
	}
	return out
}
