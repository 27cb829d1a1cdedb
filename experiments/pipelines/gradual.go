package pipelines

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func init() {
	for _, m := range []prune.GradualMethod{prune.GradualGMP, prune.GradualGraNet, prune.GradualDST} {
		experiments.RegisterPipeline(m.String(), gradualPipeline{method: m, Granet: granetSection{GradualSettings: prune.DefaultGradualSpec().GradualSettings}})
	}
}

// gradualPipeline is sparse training whose masks change during training
// (docs/methods/gradual.md), registered three times:
//
//   - gmp: gradual magnitude pruning (Zhu & Gupta) as GraNet's code runs it:
//     from a dense network, global magnitude pruning (a) to the cubic
//     schedule's density_j at every ΔT in the window, nothing else;
//   - granet: (a) in the window, then at every ΔT from the start of the
//     window to the end of training per-layer prune-and-regrow (b): the
//     ceil(r_t · nnz) alive weights with the smallest |θ| die and as many
//     inactive entries with the largest |dense gradient| of that
//     iteration's minibatch grow, at zero with zero momentum;
//   - dst: RigL-style dynamic sparse training at a fixed density (the ITOP
//     version, docs/methods/gradual.md#variants): an ERK mask, then (b) at
//     every ΔT from t = ΔT to the end.
//
// One unit, level 0; the result's method is the pipeline's name and its
// density is that of the final masks, which are saved as masks.bin.
// schedule.txt in the unit's folder records the resolved schedule, the
// prunable set and any warning.
//
// Configuration: the final density d_f is the prune amount (prune.density,
// prune.sparsity, ... in any convention), the key every pruning pipeline
// reads, so that runs of different methods compare at one setting;
// granet.final_density (GraNet's --final-density) may be given instead, not
// as well. DST trains at that density; granet.init_density, when given,
// must equal it. The rest is the granet section (granetSection, GraNet's flag
// names); keys a method does not read are ignored as GraNet's code ignores
// them (the window for dst, the death rate for gmp), so that one file can
// sweep over pipelines. Everything that can be checked without the data is
// checked by Validate (prune.GradualSpec.Check); the rest (a window that
// does not fit the budget once the iterations per epoch are known, a density
// that leaves a tensor empty) is checked when the unit starts, before its
// first training step.
//
// Each iteration runs in the order of docs/methods/gradual.md#iteration-order
// (t counts optimizer steps, so the update after the first step is at t = 1):
// the dense gradient of the minibatch is computed, the optimizer steps and
// the masks are enforced on θ and momentum (pattern P3, ZeroAfterStep), then
// at an update iteration t: (a) when PruneAt(t), (b) when RegrowAt(t), each
// installed as new masks with pattern P3, which zeroes θ and the optimizer
// state wherever the new mask is 0. The gradient that (b) ranks is copied at
// AfterGradients of that same iteration, before the step, and not recomputed
// after pruning.
//
// `clean` mode only (docs/methods/conventions.md#clean-and-reference-modes);
// choices where this code and the papers or GraNet's code differ
// (docs/methods/gradual.md#departures):
//
//   - Exact counts: (a) keeps round(N · density_j) by one SelectTop over the
//     alive weights (GraNet: K = int(N · d) and a strict threshold, which
//     keeps K − 1 minus ties); (b) removes exactly ceil(r_t · nnz) and
//     regrows exactly as many among the inactive entries (GraNet can regrow
//     fewer when few inactive entries have a non-zero gradient);
//     prune.PruneRegrow has the details.
//   - The schedule is GraNet's, not Zhu & Gupta's: the last pruning update is
//     at j = tf − 1, so the final density is d_f + (d_i − d_f)/n³, not d_f,
//     and the result records the density actually reached. With e_i = 0 the
//     first update (t = ΔT) already prunes to density_1 < d_i.
//   - The death rate decays by GraNet's cosine over the whole budget T with
//     η_min = granet.death_rate_min (0.005), and (b) continues to the end of
//     training; RigL's paper stops mask updates at 75% of training with
//     η_min = 0 (prune.GradualSchedule has the formulas).
//   - Initial masks: gmp starts dense whatever granet.init_density says, as
//     GraNet's code does (a warning says so when it is below 1; here it
//     defaults to 1, so the cubic curve starts at the dense network). granet
//     with d_i < 1 and dst start from ERK (docs/methods/gradual.md#erk) with
//     exactly round(p_l · N_l) entries per tensor, chosen uniformly from the
//     `mask` seed (GraNet draws Bernoulli(p_l) masks); granet with d_i = 1
//     starts dense. granet.init_density defaults to 0.5, GraNet's argparse
//     default.
//   - An entry that dies and is regrown in the same (b) call keeps its value
//     and momentum; every other regrown entry, including one pruned by (a)
//     in the same iteration, starts at 0 with zero momentum
//     (docs/methods/gradual.md#prune-and-regrow, step 4).
//   - Model selection is on validation loss
//     (docs/methods/conventions.md#early-stopping-and-model-selection), never
//     on test accuracy as GraNet's main.py does.
//   - The prunable set is every weight of a linear or convolutional layer
//     (first layer and classifier included, as GraNet); the reference mode,
//     GraNet_uniform / GMP_uniform (prune.scope = layerwise), --fix and growth
//     modes other than gradient are not implemented and are refused.
//   - prune.branches run off the final mask (branches.go), e.g. Scratch-E/B
//     of a GMP mask; random_reinit starts at step 0 like the trunk.
type gradualPipeline struct {
	method prune.GradualMethod
	Prune  gradualPrune  `mapstructure:"prune"`
	Granet granetSection `mapstructure:"granet"`
}

// gradualPrune is the prune section of the gradual pipelines: the final
// density, the prunable set, and the branches off the final mask.
type gradualPrune struct {
	experiments.AmountSpec `mapstructure:",squash"`
	scopeKey               `mapstructure:",squash"`
	excludeKey             `mapstructure:",squash"`
	branchKeys             `mapstructure:",squash"`
}

// granetSection is the granet section: GraNet's flags (prune.GradualSettings)
// and the two densities, whose defaults depend on the method and on the
// prune amount (gradualPipeline.spec resolves them). All three pipelines read every
// key: a key a method does not use is ignored, as GraNet's code ignores
// it, so that one file can sweep over the three.
type granetSection struct {
	InitDensity           *float64 `mapstructure:"init_density" help:"granet, gmp: density d_i the cubic schedule starts from (GraNet --init-density; 1 = dense start, s_i = 0); empty: 0.5 for granet (GraNet's default, ERK mask), 1 for gmp; dst trains at the prune amount and accepts only that value"`
	FinalDensity          *float64 `mapstructure:"final_density" help:"GraNet --final-density, the final density d_f; an alternative to the prune amount keys (prune.density, ...), not both"`
	prune.GradualSettings `mapstructure:",squash"`
}

// scheduleFile records a gradual unit's resolved schedule.
const scheduleFile = "schedule.txt"

func (g gradualPipeline) Validate(s experiments.Spec) error {
	gs, _, err := g.spec()
	if err != nil {
		return err
	}
	name := g.method.String()
	switch g.Prune.Scope {
	case "", "global":
	case "layerwise":
		return fmt.Errorf("prune.scope = layerwise: layer-wise cubic pruning (GraNet_uniform / GMP_uniform, docs/methods/gradual.md#variants) is %w for pipeline %s; leave prune.scope out (global)", nn.ErrNotImplemented, name)
	default:
		return fmt.Errorf("prune.scope = %q: pipeline %s prunes globally; leave it out or write global", g.Prune.Scope, name)
	}
	if err := validateBranches(g.Prune.branchKeys); err != nil {
		return err
	}
	budget, err := train.ParseStep(s.Training.Steps)
	if err != nil {
		return fmt.Errorf("training.steps: %w", err)
	}
	return gs.Check(budget)
}

// spec resolves the method's prune.GradualSpec: the final density from
// the prune amount or granet.final_density, the initial one from the
// method. densityKey is the key that gave the final density, for error
// messages.
func (g gradualPipeline) spec() (gs prune.GradualSpec, densityKey string, err error) {
	m := g.method
	name := m.String()
	am, ok, err := g.Prune.Resolve()
	if err != nil {
		return gs, "", err
	}
	c := g.Granet
	var d float64
	switch {
	case ok && c.FinalDensity != nil:
		return gs, "", fmt.Errorf("prune.%s and granet.final_density both give the final density of pipeline %s; keep one (prune.%[1]s is the key every pruning pipeline reads)", am.Convention, name)
	case ok:
		d, densityKey = am.Density, "prune."+am.Convention
	case c.FinalDensity != nil:
		d, densityKey = *c.FinalDensity, "granet.final_density"
		if prune.CheckDensity(d) != nil {
			return gs, "", fmt.Errorf("granet.final_density = %v: want a density in (0, 1]", d)
		}
	default:
		what := "final density"
		if m == prune.GradualDST {
			what = "density to train at"
		}
		return gs, "", fmt.Errorf("pipeline %s needs the %s: set prune.density (or another prune amount key: prune.sparsity, prune.compression, ...) or granet.final_density", name, what)
	}
	def := prune.DefaultGradualSpec()
	gs = prune.GradualSpec{Method: m, FinalDensity: d, GradualSettings: c.GradualSettings}
	switch m {
	case prune.GradualGraNet:
		gs.InitDensity = def.InitDensity
		if c.InitDensity != nil {
			gs.InitDensity = *c.InitDensity
		}
	case prune.GradualGMP:
		gs.InitDensity = 1
		if c.InitDensity != nil {
			gs.InitDensity = *c.InitDensity
		}
	case prune.GradualDST:
		if c.InitDensity != nil && *c.InitDensity != d {
			return gs, "", fmt.Errorf("granet.init_density = %v: pipeline dst trains at the fixed density %s = %v; leave granet.init_density out", *c.InitDensity, densityKey, d)
		}
		gs.InitDensity = d
	}
	if m != prune.GradualDST && d > gs.InitDensity && prune.CheckDensity(gs.InitDensity) == nil {
		note := ""
		if c.InitDensity == nil {
			note = fmt.Sprintf(" (its default for pipeline %s)", name)
		}
		return gs, "", fmt.Errorf("%s = %v is above granet.init_density = %v%s: gradual pruning only removes weights (want a final density ≤ the initial one)", densityKey, d, gs.InitDensity, note)
	}
	return gs, densityKey, nil
}

func (g gradualPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, err := r.Prepare(r.Spec)
		if err != nil {
			return results.Result{}, err
		}
		run, err := g.setup(p)
		if err != nil {
			return results.Result{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, scheduleFile), []byte(run.describe()), 0o644); err != nil {
			return results.Result{}, err
		}
		for _, w := range run.sched.Warnings() {
			fmt.Fprintf(os.Stderr, "warning: %s: %s\n", dir, w)
		}
		if err := run.init.Apply(p.Net, nn.ZeroAfterStep); err != nil {
			return results.Result{}, err
		}
		u := newGradualUpdater(run)
		h, err := p.Train(ctx, dir, append([]experiments.Callback{u.callback}, cbs...)...)
		if err != nil {
			return results.Result{}, err
		}
		final, err := prune.MasksFromNet(p.Net, run.init.Names)
		if err != nil {
			return results.Result{}, err
		}
		if err := final.Save(filepath.Join(dir, masksFile)); err != nil {
			return results.Result{}, err
		}
		return experiments.Measure(p, h, gradualMethodName(g.method, run.sched.InitDensity), final.Density()), nil
	})
	if err != nil || len(g.Prune.Branches) == 0 {
		return err
	}
	final, err := prune.LoadMasks(filepath.Join(r.UnitDir(0, ""), masksFile))
	if err != nil {
		return err
	}
	gs, _, err := g.spec()
	if err != nil {
		return err
	}
	return runBranches(ctx, r, g.Prune.branchKeys, trunk{level: 0, method: gradualMethodName(g.method, gs.InitDensity), masks: final})
}

// gradualMethodName is the result's method: gmp, dst, or GraNet with its
// initial sparsity s_i = 1 − d_i as the paper's tables write it
// ("granet s_i=0.5", "granet s_i=0" from dense), so that a board tells the
// two apart.
func gradualMethodName(m prune.GradualMethod, initDensity float64) string {
	if m != prune.GradualGraNet {
		return m.String()
	}
	return fmt.Sprintf("granet s_i=%.3g", 1-initDensity)
}

// gradualRun is a gradual unit resolved against its data and model.
type gradualRun struct {
	method     prune.GradualMethod
	sched      *prune.GradualSchedule
	set        []nn.ParamInfo
	init       *prune.Masks
	densityKey string
	itersPerEp int
}

// setup resolves the schedule with the real iterations per epoch and
// draws the initial masks. Every error here comes before the first
// training step: a window that does not fit the budget, an ERK allocation
// or a final density that leaves a tensor with no kept entry.
func (g gradualPipeline) setup(p *experiments.Prepared) (*gradualRun, error) {
	m := g.method
	gs, densityKey, err := g.spec()
	if err != nil {
		return nil, err
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return nil, err
	}
	sched, err := gs.Resolve(ipe, p.Config.Budget)
	if err != nil {
		return nil, err
	}
	set, err := prunableSet(p.Arch, g.Prune.Exclude)
	if err != nil {
		return nil, err
	}
	run := &gradualRun{method: m, sched: sched, set: set, densityKey: densityKey, itersPerEp: ipe}
	if m == prune.GradualGMP || sched.InitDensity == 1 {
		run.init = prune.NewMasks(set)
	} else {
		key := "granet.init_density"
		if m == prune.GradualDST {
			key = densityKey
		}
		if run.init, err = erkMasks(set, sched.InitDensity, nn.SeedFor(p.Spec.Seed, nn.NSMask)); err != nil {
			return nil, fmt.Errorf("%s = %v: %w", key, sched.InitDensity, err)
		}
	}
	n := run.init.Size()
	if steps := sched.PruneSteps(); len(steps) > 0 {
		last := steps[len(steps)-1]
		keep, _ := sched.PruneKeep(last, n)
		if keep < len(set) {
			d, _ := sched.PruneAt(last)
			return nil, fmt.Errorf("%s = %v: the last pruning update (iteration %d, density %.6g) keeps %d of %d weights, fewer than the %d prunable tensors, so global pruning must leave a tensor with no kept entry; raise the density",
				densityKey, sched.FinalDensity, last, d, keep, n, len(set))
		}
	}
	return run, nil
}

// erkMasks is the `clean` ERK initial mask (docs/methods/gradual.md#erk):
// exactly round(p_l · N_l) entries per tensor, uniformly at random from seed.
func erkMasks(set []nn.ParamInfo, d float64, seed uint64) (*prune.Masks, error) {
	plan, err := prune.ERKPlan(set, d)
	if err != nil {
		return nil, err
	}
	scores, err := prune.Random{}.Scores(prune.ScoreContext{Set: set, Rng: nn.NewRand(seed)})
	if err != nil {
		return nil, err
	}
	return plan.Select(scores, nil)
}

// describe is the content of schedule.txt.
func (r *gradualRun) describe() string {
	g := r.sched
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s (docs/methods/gradual.md, clean mode)\n", r.method)
	fmt.Fprintf(&b, "budget T = %d iterations (%d per epoch), mask updates every ΔT = %d\n", g.Total, r.itersPerEp, g.Every)
	fmt.Fprintf(&b, "initial density d_i = %v, final density d_f = %v (%s)\n", g.InitDensity, g.FinalDensity, r.densityKey)
	if ps := g.PruneSteps(); len(ps) > 0 {
		last, _ := g.PruneAt(ps[len(ps)-1])
		fmt.Fprintf(&b, "pruning window: iterations %d to %d, t0 = %d, tf = %d, n = %d\n", g.Start, g.End, g.T0, g.TF, g.N())
		fmt.Fprintf(&b, "global magnitude pruning (a): %d updates at t = %d … %d; density after the last %.6g\n", len(ps), ps[0], ps[len(ps)-1], last)
	}
	if rs := g.RegrowSteps(); len(rs) > 0 {
		fmt.Fprintf(&b, "prune-and-regrow (b): %d calls at t = %d … %d; death rate %.6g → %.6g (cosine over T)\n",
			len(rs), rs[0], rs[len(rs)-1], g.DeathRate(rs[0]), g.DeathRate(rs[len(rs)-1]))
	}
	fmt.Fprintf(&b, "prunable set (%d weights), initial kept entries:\n", r.init.Size())
	for _, t := range r.set {
		fmt.Fprintf(&b, "  %s %v: %d of %d\n", t.Name, t.Shape, r.init.KeptOf(t.Name), t.Size())
	}
	for _, w := range g.Warnings() {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// gradualUpdater makes a gradual schedule's mask updates as a training
// callback. It keeps no state from one iteration to the next: masks, θ and
// the optimizer state live in the net (and its checkpoint), and the dense
// gradient that prune-and-regrow ranks is copied at AfterGradients of the
// update's own iteration and used at its AfterStep. So a run resumed from a
// checkpoint (taken between iterations) makes exactly the updates of an
// uninterrupted one, and the copy does not depend on the engine keeping
// gradients readable after Step.
type gradualUpdater struct {
	sched      *prune.GradualSchedule
	names      []string
	densityKey string
	size       int
	// grads holds the dense gradient of iteration gradAt (0: none).
	grads  [][]float32
	gradAt int
	// observe, when set, sees every update (tests).
	observe func(gradualUpdate)
}

// gradualUpdate describes one mask update for observers.
type gradualUpdate struct {
	Iter int
	// Before, AfterPrune and After are the masks before the update, after
	// (a) (Before when (a) did not run) and after (b).
	Before, AfterPrune, After *prune.Masks
	Pruned, Regrown           bool
	Keep                      int // (a)'s target count
	// Removed, Grown and Revived are per tensor, from (b).
	Removed []int
	Grown   [][]int
	Revived [][]int
}

func newGradualUpdater(r *gradualRun) *gradualUpdater {
	u := &gradualUpdater{sched: r.sched, names: r.init.Names, densityKey: r.densityKey, size: r.init.Size()}
	if len(r.sched.RegrowSteps()) > 0 {
		u.grads = make([][]float32, len(r.set))
		for i, t := range r.set {
			u.grads[i] = make([]float32, t.Size())
		}
	}
	return u
}

func (u *gradualUpdater) callback(e *train.Event) error {
	switch e.Phase {
	case train.AfterGradients:
		// e.Iter is the iteration in progress; its step ends at t = Iter + 1.
		if t := e.Iter + 1; u.sched.RegrowAt(t) {
			for i, name := range u.names {
				copy(u.grads[i], e.Net.Param(name).Grad())
			}
			u.gradAt = t
		}
	case train.AfterStep:
		_, prunes := u.sched.PruneAt(e.Iter)
		if prunes || u.sched.RegrowAt(e.Iter) {
			return u.update(e.Net, e.Iter)
		}
	case train.AfterEval:
		// The masks change during training, so the learning curve records
		// the density of each evaluation: the unit's final density alone
		// would misplace gmp's early points. The checkpoint written after
		// this call keeps it, so a resumed run has the same curve.
		if n := len(e.History.Points); n > 0 {
			masks, err := prune.MasksFromNet(e.Net, u.names)
			if err != nil {
				return err
			}
			e.History.Points[n-1].Density = masks.Density()
		}
	}
	return nil
}

// update runs (a) and (b) as due at iteration t, after the optimizer step.
func (u *gradualUpdater) update(net nn.Net, t int) error {
	masks, err := prune.MasksFromNet(net, u.names)
	if err != nil {
		return err
	}
	ev := gradualUpdate{Iter: t}
	if u.observe != nil {
		ev.Before = masks.Clone()
	}
	if keep, ok := u.sched.PruneKeep(t, u.size); ok {
		d, _ := u.sched.PruneAt(t)
		next, err := prune.GlobalMagnitudePrune(u.names, u.values(net), u.slices(masks), keep)
		if err != nil {
			return fmt.Errorf("iteration %d: pruning to density %.6g: %w; raise %s", t, d, err, u.densityKey)
		}
		if masks, err = u.install(net, next); err != nil {
			return err
		}
		ev.Pruned, ev.Keep = true, keep
	}
	if u.observe != nil {
		ev.AfterPrune = masks.Clone()
	}
	if u.sched.RegrowAt(t) {
		if u.gradAt != t {
			return fmt.Errorf("iteration %d: prune-and-regrow has no gradient of this iteration (the callback did not see its gradients)", t)
		}
		w := u.values(net)
		next := make([][]float32, len(u.names))
		for i, name := range u.names {
			m := masks.M[name]
			q := u.sched.DeathCount(t, masks.KeptOf(name))
			rg, err := prune.PruneRegrow(m, w[i], u.grads[i], q)
			if err != nil {
				return fmt.Errorf("iteration %d: %s: %w", t, name, err)
			}
			next[i] = rg.Mask
			ev.Removed = append(ev.Removed, rg.Removed)
			ev.Grown = append(ev.Grown, rg.Grown)
			ev.Revived = append(ev.Revived, rg.Revived)
		}
		if masks, err = u.install(net, next); err != nil {
			return err
		}
		ev.Regrown = true
	}
	if u.observe != nil {
		ev.After = masks.Clone()
		u.observe(ev)
	}
	return nil
}

// install sets new masks with pattern P3, zeroing θ and the optimizer state
// where they are 0.
func (u *gradualUpdater) install(net nn.Net, ms [][]float32) (*prune.Masks, error) {
	m := &prune.Masks{Names: u.names, M: make(map[string][]float32, len(u.names))}
	for i, name := range u.names {
		m.M[name] = ms[i]
	}
	if err := m.Apply(net, nn.ZeroAfterStep); err != nil {
		return nil, err
	}
	return m, nil
}

func (u *gradualUpdater) values(net nn.Net) [][]float32 {
	w := make([][]float32, len(u.names))
	for i, name := range u.names {
		w[i] = net.Param(name).Values()
	}
	return w
}

func (u *gradualUpdater) slices(m *prune.Masks) [][]float32 {
	out := make([][]float32, len(u.names))
	for i, name := range u.names {
		out[i] = m.M[name]
	}
	return out
}
