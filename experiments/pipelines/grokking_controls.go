package pipelines

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

// The controls of Grokking Tickets (docs/methods/grokking.md#controls), the
// values of grokking.controls. Each is a branch of a ticket level, trained
// from θ0 (the seed's initialization) with the spec's recipe:
//
//   - l1_norm, l2_norm: the dense model with every prunable weight
//     multiplied by one factor so that its L1 (L2) norm equals the
//     ticket's at θ0, ‖m ⊙ θ0‖ / ‖θ0‖ (the reference's set_weight_ratio and
//     set_weight_ratio_l2 in model.py, there with a hand-set ratio): does
//     a ticket help only by being small? Methods dense_l1 and dense_l2,
//     density 1; the factor is recorded as the metric norm_scale.
//   - random, snip, grasp, synflow: pruning at initialization to the
//     ticket's density, global scope, each criterion's default number of
//     scoring iterations (synflow 100, the others 1; pipeline pai's
//     choice), the data criteria scoring on the whole training split.
//     Method: the criterion's name.
//   - memorization: the ticket's mask taken from the base run's weights at
//     t_mem instead of its final weights, rewound to θ0. Method
//     ticket/memorization.
//
// no_decay is not one of them: it runs off the ratios of
// grokking.no_decay_ratios (the ticket's own mask, weight decay 0, method
// ticket/no_decay).
type grokkingControl func(r *experiments.Replicate, p *experiments.Prepared, t ticket) (masks *prune.Masks, method string, extra map[string]float64, err error)

// ticket is what a control branch inherits from its level.
type ticket struct {
	level   int
	ratio   float64
	density float64
	masks   *prune.Masks
	memAcc  float64 // grokking.mem_acc, for the memorization control's errors
}

const branchNoDecay = "no_decay"

func init() {
	grokkingControls.Register("l1_norm", normControl(1))
	grokkingControls.Register("l2_norm", normControl(2))
	for _, name := range []string{"random", "snip", "grasp", "synflow"} {
		grokkingControls.Register(name, paiControl(name))
	}
	grokkingControls.Register("memorization", func(r *experiments.Replicate, p *experiments.Prepared, t ticket) (*prune.Masks, string, map[string]float64, error) {
		w, err := readWeights(filepath.Join(r.UnitDir(0, ""), memorizationFile), "memorization-stage weights",
			fmt.Sprintf("the base run saves them when its training accuracy first reaches grokking.mem_acc = %v; if it never did, there is no memorization stage to take a ticket from", t.memAcc))
		if err != nil {
			return nil, "", nil, err
		}
		m, err := magnitudeMasks(p, w, t.density)
		return m, "ticket/memorization", nil, err
	})
}

// runControl trains the branch name off the ticket t in dir.
func (g grokkingKeys) runControl(ctx context.Context, r *experiments.Replicate, name string, t ticket, dir string, cbs []experiments.Callback) (results.Result, error) {
	p, err := r.Prepare(r.Spec) // θ0
	if err != nil {
		return results.Result{}, err
	}
	var (
		masks  *prune.Masks
		method string
		extra  map[string]float64
	)
	if name == branchNoDecay {
		masks, method = t.masks, "ticket/no_decay"
		p.Config.Optimizer.WeightDecay = 0
	} else {
		ctl, err := grokkingControls.Get(name)
		if err != nil {
			return results.Result{}, fmt.Errorf("grokking.controls: %w", err)
		}
		if masks, method, extra, err = ctl(r, p, t); err != nil {
			return results.Result{}, fmt.Errorf("control %s at ratio %v: %w", name, t.ratio, err)
		}
	}
	if masks == nil {
		h, err := p.Train(ctx, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return g.measure(p, h, method, 1, extra), nil
	}
	h, err := trainMasked(ctx, p, masks, dir, cbs)
	if err != nil {
		return results.Result{}, err
	}
	return g.measure(p, h, method, masks.Density(), extra), nil
}

// normControl is the dense control scaled to the ticket's Lp norm at θ0
// (p = 1 or 2).
func normControl(pNorm int) grokkingControl {
	return func(_ *experiments.Replicate, p *experiments.Prepared, t ticket) (*prune.Masks, string, map[string]float64, error) {
		set, err := prunableSet(p.Arch, nil)
		if err != nil {
			return nil, "", nil, err
		}
		s := normScale(p.Net, set, t.masks, pNorm)
		for _, info := range set {
			prm := p.Net.Param(info.Name)
			v := prm.Values()
			scaled := make([]float32, len(v))
			for i, x := range v {
				scaled[i] = float32(float64(x) * s)
			}
			prm.SetValues(scaled)
		}
		return nil, fmt.Sprintf("dense_l%d", pNorm), map[string]float64{"norm_scale": s}, nil
	}
}

// normScale is the factor s with ‖s·θ‖_p = ‖m ⊙ θ‖_p over the prunable
// set: (Σ_kept |θ|^p / Σ |θ|^p)^(1/p), summed in float64.
func normScale(net nn.Net, set []nn.ParamInfo, m *prune.Masks, pNorm int) float64 {
	var kept, all float64
	for _, info := range set {
		mask := m.M[info.Name]
		for i, x := range net.Param(info.Name).Values() {
			a := math.Abs(float64(x))
			if pNorm == 2 {
				a *= a
			}
			all += a
			if mask[i] != 0 {
				kept += a
			}
		}
	}
	if all == 0 {
		return 1
	}
	return math.Pow(kept/all, 1/float64(pNorm))
}

// paiControl prunes θ0 with a pruning-at-initialization criterion to the
// ticket's density.
func paiControl(name string) grokkingControl {
	return func(_ *experiments.Replicate, p *experiments.Prepared, t ticket) (*prune.Masks, string, map[string]float64, error) {
		crit, err := prune.CriterionByName(name)
		if err != nil {
			return nil, "", nil, err
		}
		set, err := prunableSet(p.Arch, nil)
		if err != nil {
			return nil, "", nil, err
		}
		sc, err := scoreContext(p, crit, set, scoringData{DataExamples: p.Splits.Train.Len()})
		if err != nil {
			return nil, "", nil, err
		}
		loop := prune.PruneLoop{Criterion: crit, Density: t.density, Scope: prune.Global, Iterations: crit.Needs().Iterations, Schedule: prune.PAIExponential}
		m, err := loop.Run(sc)
		return m, name, nil, err
	}
}
