package prune

import (
	"fmt"
	"math"
	"strings"

	"github.com/prunebench/prunebench/nn/train"
)

// GradualKey is the config section that GradualSpec's error messages name
// (e.g. "granet.final_prune_epoch"). The field names are GraNet's argparse
// flags with '-' written '_' (code: Shiweiliuiiiiiii/GraNet: CIFAR/main.py;
// docs/methods/gradual.md#configuration): init_density, final_density,
// init_prune_epoch, final_prune_epoch, update_frequency, prune_rate, plus
// death_rate_min for the hard-coded η_min. GMP and DST use the same names
// because they are GraNet's --method variants. The training budget is named
// "training.steps".
const GradualKey = "granet"

// GradualMethod selects which mask updates a gradual schedule makes
// (docs/methods/gradual.md#variants).
type GradualMethod int

const (
	// GradualGraNet: (a) gradual global magnitude pruning inside the
	// window, then (b) per-layer prune-and-regrow at every update from the
	// start of the window to the end of training.
	GradualGraNet GradualMethod = iota
	// GradualGMP: (a) only (Zhu & Gupta's gradual magnitude pruning as
	// GraNet's code runs it).
	GradualGMP
	// GradualDST: RigL-style dynamic sparse training at fixed density
	// (ITOP version): (b) only, every ΔT from t = ΔT to the end, no window.
	GradualDST
)

var gradualMethodNames = []string{"granet", "gmp", "dst"}

func (m GradualMethod) String() string {
	if m >= 0 && int(m) < len(gradualMethodNames) {
		return gradualMethodNames[m]
	}
	return fmt.Sprintf("GradualMethod(%d)", int(m))
}

// ParseGradualMethod reads "granet", "gmp" or "dst".
func ParseGradualMethod(s string) (GradualMethod, error) {
	for i, n := range gradualMethodNames {
		if s == n {
			return GradualMethod(i), nil
		}
	}
	return 0, fmt.Errorf("%s.method = %q: want one of %s", GradualKey, s, strings.Join(gradualMethodNames, ", "))
}

// GraNetDeathRateMin is η_min of GraNet's CosineDecay (code:
// Shiweiliuiiiiiii/GraNet: CIFAR/sparselearning/core.py, eta_min=0.005).
const GraNetDeathRateMin = 0.005

// GradualSpec is a GMP / GraNet / DST schedule as a config states it. Points
// in training are train.Step strings ("80ep", "1000it", "2ep100it"), resolved
// with the iterations per epoch I by Resolve. Comments give the config field
// (GradualKey) and the notation of docs/methods/gradual.md#notation.
//
// GraNet's --multiplier μ is not a field: it scales every epoch count, so a
// config applies it to the budget and the window steps before they get
// here.
type GradualSpec struct {
	Method GradualMethod
	// InitDensity d_i ∈ (0, 1] (granet.init_density). 1 is GraNet's
	// s_i = 0, dense-to-sparse; DST trains at this density throughout.
	InitDensity float64
	// FinalDensity d_f ∈ (0, d_i] (granet.final_density). DST ignores it
	// when 0 and otherwise requires d_f = d_i.
	FinalDensity float64
	GradualSettings
}

// GradualSettings are the fields of a GradualSpec that a spec's granet
// section sets as they are, under GraNet's flag names (--init-prune-epoch
// is granet.init_prune_epoch), so a paper's command line translates key by
// key; the densities are resolved from the prune amount and the method
// first. The help tags are what `prunebench config --defaults` prints.
type GradualSettings struct {
	// InitPruneEpoch e_i: start of the pruning window; "" means 0. Ignored
	// by DST.
	InitPruneEpoch string `mapstructure:"init_prune_epoch" help:"granet, gmp: start e_i of the pruning window (a step: 0ep, 500it)"`
	// FinalPruneEpoch e_f: end of the pruning window, required by GraNet
	// and GMP. Ignored by DST.
	FinalPruneEpoch string `mapstructure:"final_prune_epoch" help:"granet, gmp: end e_f of the pruning window (a step: 80ep); must lie within training.steps"`
	// UpdateFrequency ΔT ≥ 1: iterations between mask updates.
	UpdateFrequency int `mapstructure:"update_frequency" help:"iterations ΔT between mask updates (GraNet --update-frequency)"`
	// PruneRate r_0 ∈ [0, 1): the death rate of prune-and-regrow at t = 0
	// (GraNet and DST; GMP ignores it).
	PruneRate float64 `mapstructure:"prune_rate" help:"granet, dst: death rate r_0 of prune-and-regrow at t = 0, in [0, 1) (GraNet --prune-rate); not prune.prune_rate"`
	// DeathRateMin η_min ∈ [0, r_0]: the death rate at the end of
	// training. GraNet's code fixes it at GraNetDeathRateMin; RigL's paper
	// uses 0.
	DeathRateMin float64 `mapstructure:"death_rate_min" help:"granet, dst: death rate at the end of training, in [0, prune_rate] (GraNet's cosine decay fixes 0.005; RigL uses 0)"`
}

// DefaultGradualSpec returns GraNet's argparse defaults
// (docs/methods/gradual.md#configuration): d_i 0.5, d_f 0.05, window
// 0ep–110ep, ΔT 100, r_0 0.5, η_min 0.005. The paper configs override the
// window and ΔT with the script values.
func DefaultGradualSpec() GradualSpec {
	return GradualSpec{
		Method:       GradualGraNet,
		InitDensity:  0.5,
		FinalDensity: 0.05,
		GradualSettings: GradualSettings{
			InitPruneEpoch:  "0ep",
			FinalPruneEpoch: "110ep",
			UpdateFrequency: 100,
			PruneRate:       0.5,
			DeathRateMin:    GraNetDeathRateMin,
		},
	}
}

// GradualSchedule is a resolved GMP / GraNet / DST schedule: which iterations
// update masks, the density each pruning update targets, and the death rate
// of each prune-and-regrow (docs/methods/gradual.md#iteration-order).
//
// Iterations are counted as GraNet's Masking.step counts them: t is
// incremented right after each optimizer step, so the first step ends at
// t = 1 and the last at t = Total, and mask updates happen at the t of the
// step they follow. With the window [Start, End) in iterations,
//
//	t0 = floor(Start / ΔT), tf = floor(End / ΔT), n = tf − t0, j = floor(t / ΔT),
//
// (a) pruning happens at t with t mod ΔT = 0, t ≥ Start and t0 ≤ j ≤ tf − 1,
// to density_j = d_f + (d_i − d_f)(1 − (j − t0)/n)³; (b) prune-and-regrow
// happens at every t with t mod ΔT = 0 and t ≥ Start (GraNet) or every
// t mod ΔT = 0 (DST), pruning with death rate
// r_t = η_min + ½(r_0 − η_min)(1 + cos(π t / Total)).
//
// Where GraNet's code and the papers differ, this follows the code
// (docs/methods/gradual.md#departures):
//   - Zhu & Gupta prune at t0, t0 + Δt, …, t0 + nΔt, ending exactly at s_f.
//     Here the last update is j = tf − 1, so the final density is
//     d_f + (d_i − d_f)/n³, not d_f; and with e_i = 0 the first update is at
//     t = ΔT (j = 1), already below d_i
//     (docs/methods/gradual.md#cubic-schedule).
//   - RigL's paper decays r_t = r_0/2 · (1 + cos(π t / T_end)) with η_min = 0
//     and T_end = 75% of training, after which masks stop changing. Here the
//     decay runs over the whole budget T with η_min = 0.005 (GraNet's
//     CosineDecay, docs/methods/gradual.md#cosine-death-rate), and
//     prune-and-regrow continues to the end; setting DeathRateMin to 0 gives
//     RigL's formula over T.
type GradualSchedule struct {
	Method                    GradualMethod
	InitDensity, FinalDensity float64
	// Total is the budget T in iterations; Every is ΔT.
	Total, Every int
	// Start and End are the pruning window e_i·I and e_f·I in iterations
	// (0 for DST); T0 and TF are t0 and tf in units of ΔT.
	Start, End int
	T0, TF     int
	// PruneRate is r_0 and DeathRateMin η_min of the death rate.
	PruneRate, DeathRateMin float64
}

// Resolve checks the spec against the training budget and resolves its steps
// with itersPerEpoch I (docs/methods/conventions.md#steps-and-budgets). Every
// error names the field (GradualKey + "." + field) and what was expected; the
// bad inputs (docs/methods/gradual.md#configuration) are a density outside
// (0, 1], d_f > d_i, an unparsable or empty window, an inverted window
// (e_i ≥ e_f), a window that ends after the budget, a window with no
// pruning update (n ≤ 0, or no multiple of ΔT in it), ΔT < 1 or ΔT ≥ T, a
// death rate outside [0, 1), η_min outside [0, r_0].
func (s GradualSpec) Resolve(itersPerEpoch int, budget train.Step) (*GradualSchedule, error) {
	k := func(f string) string { return GradualKey + "." + f }
	if itersPerEpoch < 1 {
		return nil, fmt.Errorf("%s: %d iterations per epoch, want ≥ 1", GradualKey, itersPerEpoch)
	}
	if err := s.checkFields(); err != nil {
		return nil, err
	}
	T := budget.Iters(itersPerEpoch)
	if budget.Epochs < 0 || budget.Iterations < 0 || T < 1 {
		return nil, fmt.Errorf("training.steps = %v: want a training budget of at least 1 iteration", budget)
	}
	g := &GradualSchedule{
		Method:       s.Method,
		InitDensity:  s.InitDensity,
		FinalDensity: s.FinalDensity,
		Total:        T,
		Every:        s.UpdateFrequency,
		PruneRate:    s.PruneRate,
		DeathRateMin: s.DeathRateMin,
	}
	if s.Method == GradualDST {
		g.FinalDensity = s.InitDensity
	}
	if s.UpdateFrequency >= T {
		return nil, fmt.Errorf("%s = %d: not below the training budget training.steps = %v (%d iterations), so masks would never be updated during training",
			k("update_frequency"), s.UpdateFrequency, budget, T)
	}
	if s.Method == GradualDST {
		return g, nil
	}
	start, end, err := s.window()
	if err != nil {
		return nil, err
	}
	g.Start, g.End = start.Iters(itersPerEpoch), end.Iters(itersPerEpoch)
	if g.Start >= g.End {
		return nil, fmt.Errorf("%s = %v (iteration %d) is not before %s = %v (iteration %d): the pruning window is empty or inverted",
			k("init_prune_epoch"), start, g.Start, k("final_prune_epoch"), end, g.End)
	}
	if g.End > T {
		return nil, fmt.Errorf("%s = %v (iteration %d) ends after the training budget training.steps = %v (%d iterations at %d per epoch)",
			k("final_prune_epoch"), end, g.End, budget, T, itersPerEpoch)
	}
	g.T0, g.TF = g.Start/g.Every, g.End/g.Every
	if g.N() < 1 {
		return nil, fmt.Errorf("%s = %v to %s = %v (iterations %d to %d) lies within one %s = %d period: n = tf − t0 = 0 pruning steps",
			k("init_prune_epoch"), start, k("final_prune_epoch"), end, g.Start, g.End, k("update_frequency"), g.Every)
	}
	if len(g.PruneSteps()) == 0 {
		return nil, fmt.Errorf("%s = %v to %s = %v (iterations %d to %d) contains no pruning update: pruning happens at multiples of %s = %d from iteration %d up to iteration (tf − 1)·ΔT = %d; widen the window or lower %s",
			k("init_prune_epoch"), start, k("final_prune_epoch"), end, g.Start, g.End, k("update_frequency"), g.Every, g.Start, (g.TF-1)*g.Every, k("update_frequency"))
	}
	return g, nil
}

// Check validates the spec against the training budget before the data are
// loaded, when the iterations per epoch I are not known yet, so that a
// config check (a sweep validates every run before training any) catches
// what it can: every error of Resolve that does not depend on I, ΔT ≥ T
// for a budget in iterations, and the window errors that hold for every
// I ≥ 1 (with a step a·I + b, e.g. final_prune_epoch = 110ep in a budget of
// 20ep, or 600it in 500it). A window error that depends on I (110ep in a
// budget of 5000it) is left to Resolve, which is the complete check and must
// still run once I is known, before training starts.
func (s GradualSpec) Check(budget train.Step) error {
	k := func(f string) string { return GradualKey + "." + f }
	if err := s.checkFields(); err != nil {
		return err
	}
	if budget.Epochs < 0 || budget.Iterations < 0 || budget.IsZero() {
		return fmt.Errorf("training.steps = %v: want a training budget of at least 1 iteration", budget)
	}
	if budget.Epochs == 0 && s.UpdateFrequency >= budget.Iterations {
		return fmt.Errorf("%s = %d: not below the training budget training.steps = %v (%d iterations), so masks would never be updated during training",
			k("update_frequency"), s.UpdateFrequency, budget, budget.Iterations)
	}
	if s.Method == GradualDST {
		return nil
	}
	start, end, err := s.window()
	if err != nil {
		return err
	}
	if alwaysAtLeast(start, end, 0) {
		return fmt.Errorf("%s = %v is not before %s = %v: the pruning window is empty or inverted",
			k("init_prune_epoch"), start, k("final_prune_epoch"), end)
	}
	if alwaysAtLeast(end, budget, 1) {
		return fmt.Errorf("%s = %v ends after the training budget training.steps = %v",
			k("final_prune_epoch"), end, budget)
	}
	return nil
}

// alwaysAtLeast reports whether a.Iters(I) − b.Iters(I) ≥ margin for every
// I ≥ 1: the difference is linear in I, so it holds iff it holds at I = 1
// and the slope is not negative.
func alwaysAtLeast(a, b train.Step, margin int) bool {
	slope := a.Epochs - b.Epochs
	return slope >= 0 && slope+a.Iterations-b.Iterations >= margin
}

// checkFields runs the checks of Resolve that depend on neither the budget
// nor the iterations per epoch.
func (s GradualSpec) checkFields() error {
	k := func(f string) string { return GradualKey + "." + f }
	if s.Method < 0 || int(s.Method) >= len(gradualMethodNames) {
		return fmt.Errorf("%s = %v: want one of %s", k("method"), s.Method, strings.Join(gradualMethodNames, ", "))
	}
	if err := checkDensity(k("init_density"), s.InitDensity); err != nil {
		return err
	}
	if s.Method == GradualDST {
		if s.FinalDensity != 0 && s.FinalDensity != s.InitDensity {
			return fmt.Errorf("%s = %v: dst trains at the fixed density %s = %v; leave it out or set it equal",
				k("final_density"), s.FinalDensity, k("init_density"), s.InitDensity)
		}
	} else {
		if err := checkDensity(k("final_density"), s.FinalDensity); err != nil {
			return err
		}
		if s.FinalDensity > s.InitDensity {
			return fmt.Errorf("%s = %v is above %s = %v: gradual pruning only removes weights (want final ≤ init density)",
				k("final_density"), s.FinalDensity, k("init_density"), s.InitDensity)
		}
	}
	if s.UpdateFrequency < 1 {
		return fmt.Errorf("%s = %d: want at least 1 iteration between mask updates", k("update_frequency"), s.UpdateFrequency)
	}
	if s.Method != GradualGMP {
		if err := checkRate(k("prune_rate"), s.PruneRate); err != nil {
			return fmt.Errorf("%w (the death rate of prune-and-regrow at t = 0)", err)
		}
		if !(s.DeathRateMin >= 0 && s.DeathRateMin <= s.PruneRate) {
			return fmt.Errorf("%s = %v: want a value in [0, %s = %v]", k("death_rate_min"), s.DeathRateMin, k("prune_rate"), s.PruneRate)
		}
	}
	return nil
}

// window parses the pruning window's steps.
func (s GradualSpec) window() (start, end train.Step, err error) {
	if start, err = parseWindowStep(GradualKey+".init_prune_epoch", s.InitPruneEpoch, "0ep"); err != nil {
		return
	}
	end, err = parseWindowStep(GradualKey+".final_prune_epoch", s.FinalPruneEpoch, "")
	return
}

func parseWindowStep(field, v, def string) (train.Step, error) {
	if v == "" {
		if def == "" {
			return train.Step{}, fmt.Errorf("%s is required: the end of the pruning window, a step such as \"80ep\"", field)
		}
		v = def
	}
	st, err := train.ParseStep(v)
	if err != nil {
		return train.Step{}, fmt.Errorf("%s: %w", field, err)
	}
	return st, nil
}

// N returns n = tf − t0, the number of ΔT periods in the pruning window.
func (g *GradualSchedule) N() int { return g.TF - g.T0 }

// Warnings returns notes about a valid but surprising schedule: GMP starts
// from a dense network whatever the initial density (the reference's init
// special-cases GMP, docs/methods/gradual.md#variants), so d_i < 1 makes the
// first update prune a dense network straight to ≈ density_1.
func (g *GradualSchedule) Warnings() []string {
	var w []string
	if g.Method == GradualGMP && g.InitDensity < 1 {
		w = append(w, fmt.Sprintf("gmp starts dense: %s.init_density = %v only shapes the cubic curve; the first update at iteration %d prunes the dense network to density %.6g",
			GradualKey, g.InitDensity, g.PruneSteps()[0], g.densityAtJ(g.PruneSteps()[0]/g.Every)))
	}
	return w
}

// CubicDensity is the cubic sparsity schedule of Zhu & Gupta ("To prune, or
// not to prune", 2017, eq. 1) written as a density, in GraNet's form
// (docs/methods/gradual.md#cubic-schedule): after k of n pruning periods,
//
//	density = d_f + (d_i − d_f) · (1 − k/n)³,
//
// which is s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ with s = 1 − density
// and k = (t − t0)/Δt. k ≤ 0 gives d_i and k ≥ n gives d_f.
func CubicDensity(di, df float64, k, n int) float64 {
	switch {
	case k <= 0:
		return di
	case k >= n:
		return df
	}
	decay := math.Pow(1-float64(k)/float64(n), 3)
	return df + (di-df)*decay
}

// CosineDeathRate is the death rate of prune-and-regrow at iteration t of T
// (docs/methods/gradual.md#cosine-death-rate: GraNet's CosineDecay, a
// CosineAnnealingLR with T_max = T and eta_min = η_min stepped once per
// iteration):
//
//	r_t = η_min + ½ (r_0 − η_min)(1 + cos(π t / T)).
//
// t ≤ 0 gives r_0; t ≥ T gives η_min (training never reaches t > T, where
// PyTorch's scheduler would rise again). With η_min = 0 and T = T_end this
// is RigL's r_0/2 · (1 + cos(π t / T_end)).
func CosineDeathRate(r0, etaMin float64, t, T int) float64 {
	switch {
	case t <= 0:
		return r0
	case t >= T:
		return etaMin
	}
	return etaMin + 0.5*(r0-etaMin)*(1+math.Cos(math.Pi*float64(t)/float64(T)))
}

// densityAtJ is density_j for a pruning update index j.
func (g *GradualSchedule) densityAtJ(j int) float64 {
	return CubicDensity(g.InitDensity, g.FinalDensity, j-g.T0, g.N())
}

// PruneAt reports whether gradual pruning (a) runs after the optimizer step
// that ends at iteration t (1 ≤ t ≤ Total), and the density it prunes to.
func (g *GradualSchedule) PruneAt(t int) (density float64, ok bool) {
	if g.Method == GradualDST || t < 1 || t > g.Total || t%g.Every != 0 || t < g.Start {
		return 0, false
	}
	j := t / g.Every
	if j < g.T0 || j > g.TF-1 {
		return 0, false
	}
	return g.densityAtJ(j), true
}

// RegrowAt reports whether prune-and-regrow (b) runs after the optimizer
// step that ends at iteration t (after (a) when both run).
func (g *GradualSchedule) RegrowAt(t int) bool {
	if g.Method == GradualGMP || t < 1 || t > g.Total || t%g.Every != 0 {
		return false
	}
	return g.Method == GradualDST || t >= g.Start
}

// PruneSteps returns the iterations at which (a) runs, in order.
func (g *GradualSchedule) PruneSteps() []int {
	var out []int
	if g.Method == GradualDST {
		return nil
	}
	for j := max(g.T0, 1); j <= g.TF-1; j++ {
		if _, ok := g.PruneAt(j * g.Every); ok {
			out = append(out, j*g.Every)
		}
	}
	return out
}

// RegrowSteps returns the iterations at which (b) runs, in order: every
// multiple of ΔT from the start of the window (GraNet) or from ΔT (DST) to
// the end of training, floor(T/ΔT) − (multiples of ΔT below e_i·I) of them
// (docs/methods/gradual.md#iteration-order).
func (g *GradualSchedule) RegrowSteps() []int {
	var out []int
	for t := g.Every; t <= g.Total; t += g.Every {
		if g.RegrowAt(t) {
			out = append(out, t)
		}
	}
	return out
}

// DeathRate returns the death rate r_t used by the prune-and-regrow at
// iteration t: CosineDeathRate(PruneRate, DeathRateMin, t, Total).
func (g *GradualSchedule) DeathRate(t int) float64 {
	return CosineDeathRate(g.PruneRate, g.DeathRateMin, t, g.Total)
}

// DeathCount is q = min(ceil(r_t · nnz), nnz), the number of alive weights
// the death step at iteration t removes from a layer with nnz alive weights
// (docs/methods/gradual.md#prune-and-regrow, step 1; 0 means the layer is
// skipped).
func (g *GradualSchedule) DeathCount(t, nnz int) int {
	return min(int(math.Ceil(g.DeathRate(t)*float64(nnz))), nnz)
}

// PruneKeep is the `clean` kept count of the pruning update at iteration t
// over n masked entries (zeros included): round(n · density_j) with the
// rounding of docs/methods/conventions.md#from-a-density-to-a-count. ok is
// false when (a) does not run at t. A pipeline keeps min(keep, alive): a
// count above the alive weights (rounding) makes the update a no-op.
func (g *GradualSchedule) PruneKeep(t, n int) (keep int, ok bool) {
	d, ok := g.PruneAt(t)
	if !ok {
		return 0, false
	}
	return RoundCount(d * float64(n)), true
}

// PruneKeepReference is K of the `reference` rule granet_global
// (docs/methods/gradual.md#reference-quirks): GraNet computes the sparsity
// (1 − d_i) + (d_i − d_f)(1 − decay_j) and keeps int(n · (1 − sparsity))
// candidates, truncating, before its strict threshold drops one more.
func (g *GradualSchedule) PruneKeepReference(t, n int) (k int, ok bool) {
	if _, ok := g.PruneAt(t); !ok {
		return 0, false
	}
	j := t / g.Every
	decay := math.Pow(1-float64(j-g.T0)/float64(g.N()), 3)
	sparsity := (1 - g.InitDensity) + (g.InitDensity-g.FinalDensity)*(1-decay)
	return int(float64(n) * (1 - sparsity)), true
}
