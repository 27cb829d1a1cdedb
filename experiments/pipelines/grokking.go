package pipelines

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func init() {
	experiments.RegisterPipeline("grokking", grokkingPipeline{Grokking: grokkingKeys{
		Ratios: []float64{0.4, 0.6, 0.81, 0.9}, MemAcc: 0.99, GrokAcc: 0.95,
	}})
}

// grokkingPipeline is Grokking Tickets (docs/methods/grokking.md;
// Minegishi, Iwasawa and Matsuo, arXiv 2310.19470; code
// gouki510/Grokking-Tickets prune.py prune_loop):
//
//   - level 0 trains the dense base model from θ0 with the spec's recipe
//     (its regularizer, e.g. AdamW weight decay, is the spec's training
//     section and so is recorded with every result), and saves its weights
//     at grokking.memorization_step, or when that is empty at t_mem, the
//     first evaluation with training accuracy ≥ grokking.mem_acc
//     (memorization.gob);
//   - level i ≥ 1 is the ticket at pruning ratio grokking.ratios[i−1]: a
//     global magnitude mask on the base run's final weights keeping
//     1 − ratio of the prunable set, on θ0 (the reference's reinitialize =
//     True), trained with the same recipe under the mask (pattern P3);
//   - the controls of grokking.controls run as branches of the levels whose
//     ratio grokking.control_ratios lists (all when empty), and no_decay
//     (the ticket trained with weight decay 0) off the levels whose ratio
//     grokking.no_decay_ratios lists (grokking_controls.go).
//
// Every unit records t_mem, t_grok (first evaluation with held-out accuracy
// ≥ grokking.grok_acc), the delay t_grok − t_mem and whether it grokked,
// from its history (grokMetrics); training.eval_train must be on, since
// memorization is defined on training accuracy.
type grokkingPipeline struct {
	Grokking grokkingKeys `mapstructure:"grokking"`
}

// grokkingKeys is the grokking section.
type grokkingKeys struct {
	Ratios        []float64 `mapstructure:"ratios" help:"grokking: pruning ratios (removed fraction) of the tickets, one level each, each pruned from the base run's final weights by global magnitude and rewound to θ0"`
	Controls      []string  `mapstructure:"controls" help:"grokking: control branches off the ticket levels of control_ratios: {grokking_controls}"`
	ControlRatios []float64 `mapstructure:"control_ratios" help:"grokking: the ratios (of grokking.ratios) whose tickets get the controls; empty: all"`
	NoDecayRatios []float64 `mapstructure:"no_decay_ratios" help:"grokking: the ratios (of grokking.ratios) whose ticket is also trained with weight decay 0 (branch no_decay)"`
	MemStep       string    `mapstructure:"memorization_step" help:"grokking: the base run's step whose weights the memorization control prunes (e.g. 2000it, inside the memorization plateau); empty: t_mem"`
	MemAcc        float64   `mapstructure:"mem_acc" help:"grokking: training accuracy that defines memorization: t_mem is the first evaluation at or above it"`
	GrokAcc       float64   `mapstructure:"grok_acc" help:"grokking: held-out (test) accuracy that defines grokking: t_grok is the first evaluation at or above it"`
}

// Validate checks the grokking section and that the training split is
// evaluated.
func (c grokkingPipeline) Validate(s experiments.Spec) error {
	g := c.Grokking
	if !s.Training.EvalTrain {
		return errors.New("pipeline grokking needs training.eval_train: true (memorization, t_mem, is defined on the training accuracy)")
	}
	if len(g.Ratios) == 0 {
		return errors.New("grokking.ratios is empty: want at least one pruning ratio in [0, 1), e.g. [0.4, 0.6, 0.81, 0.9]")
	}
	for i, r := range g.Ratios {
		if _, err := ratioDensity(r); err != nil {
			return fmt.Errorf("grokking.ratios[%d]: %w", i, err)
		}
		if slices.Index(g.Ratios, r) != i {
			return fmt.Errorf("grokking.ratios lists %v twice", r)
		}
	}
	for _, k := range []struct {
		key string
		rs  []float64
	}{{"control_ratios", g.ControlRatios}, {"no_decay_ratios", g.NoDecayRatios}} {
		for i, r := range k.rs {
			if !slices.Contains(g.Ratios, r) {
				return fmt.Errorf("grokking.%s[%d] = %v is not one of grokking.ratios %v", k.key, i, r, g.Ratios)
			}
		}
	}
	for i, name := range g.Controls {
		if _, err := grokkingControls.Get(name); err != nil {
			return fmt.Errorf("grokking.controls[%d]: %w", i, err)
		}
		if slices.Index(g.Controls, name) != i {
			return fmt.Errorf("grokking.controls lists %s twice", name)
		}
	}
	if g.MemStep != "" {
		st, err := train.ParseStep(g.MemStep)
		if err != nil {
			return fmt.Errorf("grokking.memorization_step: %w", err)
		}
		if budget, err := train.ParseStep(s.Training.Steps); err == nil && st.Epochs == 0 && budget.Epochs == 0 && (st.Iterations < 1 || st.Iterations > budget.Iterations) {
			return fmt.Errorf("grokking.memorization_step = %s: want a step inside the training budget %s", g.MemStep, budget)
		}
	}
	for _, k := range []struct {
		key string
		v   float64
	}{{"mem_acc", g.MemAcc}, {"grok_acc", g.GrokAcc}} {
		if !(k.v > 0 && k.v <= 1) {
			return fmt.Errorf("grokking.%s = %v: want an accuracy in (0, 1]", k.key, k.v)
		}
	}
	return nil
}

// ratioDensity converts a pruning ratio (the removed fraction, the paper's
// "pruning ratio") to the kept density exactly (0.81 keeps 0.19, not
// 0.18999999999999995), through the prune_rate convention.
func ratioDensity(r float64) (float64, error) {
	am, _, err := experiments.AmountSpec{PruneRate: &r}.Resolve()
	if err != nil {
		return 0, err
	}
	return am.Density, nil
}

// Run trains the base model, then each ticket level and its branches.
func (c grokkingPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	g := c.Grokking
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, err := r.Prepare(r.Spec)
		if err != nil {
			return results.Result{}, err
		}
		path := filepath.Join(dir, memorizationFile)
		if g.MemStep == "" {
			cbs = append(cbs, saveAtMemorization(g.MemAcc, path))
		} else {
			st, _ := train.ParseStep(g.MemStep) // Validate checked it
			cbs = append(cbs, saveAtStep(st, path))
		}
		h, err := p.Train(ctx, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return g.measure(p, h, "dense", 1, nil), nil
	})
	if err != nil {
		return err
	}
	for i, ratio := range g.Ratios {
		level := i + 1
		d, _ := ratioDensity(ratio) // Validate checked it
		_, err := r.Unit(ctx, level, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
			p, err := r.Prepare(r.Spec) // θ0: the initialization is a function of the seed
			if err != nil {
				return results.Result{}, err
			}
			final, err := finalWeights(r, 0)
			if err != nil {
				return results.Result{}, err
			}
			masks, err := magnitudeMasks(p, final, d)
			if err != nil {
				return results.Result{}, fmt.Errorf("ticket at ratio %v: %w", ratio, err)
			}
			h, err := trainMasked(ctx, p, masks, dir, cbs)
			if err != nil {
				return results.Result{}, err
			}
			return g.measure(p, h, "ticket", masks.Density(), nil), nil
		})
		if err != nil {
			return err
		}
		masks, err := prune.LoadMasks(filepath.Join(r.UnitDir(level, ""), masksFile))
		if err != nil {
			return err
		}
		t := ticket{level: level, ratio: ratio, density: d, masks: masks, memAcc: g.MemAcc}
		for _, name := range g.branches(ratio) {
			_, err := r.Unit(ctx, level, name, func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
				return g.runControl(ctx, r, name, t, dir, cbs)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// branches lists the branches run off the ticket at ratio, in order: the
// controls when the ratio is one of control_ratios (or that list is empty),
// then no_decay when it is one of no_decay_ratios.
func (g grokkingKeys) branches(ratio float64) []string {
	var bs []string
	if len(g.ControlRatios) == 0 || slices.Contains(g.ControlRatios, ratio) {
		bs = append(bs, g.Controls...)
	}
	if slices.Contains(g.NoDecayRatios, ratio) {
		bs = append(bs, branchNoDecay)
	}
	return bs
}

// measure is experiments.Measure with the unit's grokking metrics and any
// extra ones.
func (g grokkingKeys) measure(p *experiments.Prepared, h *train.History, method string, density float64, extra map[string]float64) results.Result {
	res := experiments.Measure(p, h, method, density)
	m := grokMetrics(h.Points, g.MemAcc, g.GrokAcc)
	for k, v := range extra {
		m[k] = v
	}
	res.Metrics = m
	return res
}

// grokMetrics derives a unit's grokking metrics from its evaluation history
// (docs/methods/grokking.md#metrics): t_mem, the first evaluated step whose
// training accuracy is ≥ memAcc; t_grok, the first whose held-out (test)
// accuracy is ≥ grokAcc; delay = t_grok − t_mem; grokked, 1 when t_grok was
// reached within the budget and 0 otherwise. A time not reached is NaN, and
// so is a delay with either end NaN.
func grokMetrics(points []train.EvalPoint, memAcc, grokAcc float64) map[string]float64 {
	first := func(acc func(train.EvalPoint) float64, at float64) float64 {
		for _, p := range points {
			if acc(p) >= at { // false for NaN
				return float64(p.Iter)
			}
		}
		return math.NaN()
	}
	tMem := first(func(p train.EvalPoint) float64 { return p.TrainAcc }, memAcc)
	tGrok := first(func(p train.EvalPoint) float64 { return p.TestAcc }, grokAcc)
	grokked := 0.0
	if !math.IsNaN(tGrok) {
		grokked = 1
	}
	return map[string]float64{"t_mem": tMem, "t_grok": tGrok, "delay": tGrok - tMem, "grokked": grokked}
}

// memorizationFile holds the base run's weights at t_mem.
const memorizationFile = "memorization.gob"

// saveAtMemorization saves the net's weights to path at the first
// evaluation whose training accuracy is ≥ memAcc. "First" is read from the
// history, so a resumed run saves at the same point, once.
func saveAtMemorization(memAcc float64, path string) experiments.Callback {
	return func(e *train.Event) error {
		pts := e.History.Points
		if e.Phase != train.AfterEval || len(pts) == 0 || !(pts[len(pts)-1].TrainAcc >= memAcc) {
			return nil
		}
		for _, p := range pts[:len(pts)-1] {
			if p.TrainAcc >= memAcc {
				return nil // saved at that earlier point
			}
		}
		return writeWeights(path, e.Net)
	}
}

// magnitudeMasks keeps the entries of largest |w| over the whole prunable
// set of p's model (one global top-k, prune.DensityPlan) at density d:
// Grokking Tickets' pruner "mag" with scope global, one iteration.
func magnitudeMasks(p *experiments.Prepared, w map[string][]float32, d float64) (*prune.Masks, error) {
	set, err := prunableSet(p.Arch, nil)
	if err != nil {
		return nil, err
	}
	plan, err := prune.DensityPlan(set, d, prune.Global, nil)
	if err != nil {
		return nil, err
	}
	all := prune.NewMasks(set)
	scores, err := magnitudeScores(set, w, all, "the saved weights")
	if err != nil {
		return nil, err
	}
	return plan.Select(scores, all)
}

// grokkingControls is the registry of the values of grokking.controls.
var grokkingControls = registry.New[grokkingControl]("grokking control")

func init() { experiments.RegisterNameList("grokking_controls", grokkingControls.Names) }
