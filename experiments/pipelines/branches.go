package pipelines

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// Control branches (prune.branches) run off a pruned level: they keep the
// level's mask, or its per-layer counts, and retrain without the trunk's
// weights. Each is one unit (level, branch) with its own folder, checkpoint
// and result row; its result's method is "<trunk method>/<branch>".
//
//   - random_reinit (docs/methods/imp.md#controls): the level's mask on a
//     fresh draw of the same initializer from the control_init seed, same
//     data order, same start step as the trunk (0 for init; k for rewind:k
//     and lr_rewind:k, as open_lth's branch).
//   - random_prune (docs/methods/imp.md#controls): a random mask with the
//     level's per-layer kept counts (shuffled within each tensor, from the
//     mask seed and the level), weights freshly initialized (control_init)
//     as in the LTH paper's control, same start step as the trunk.
//     open_lth's start_at options and the global shuffle are not offered.
//   - scratch_e (docs/methods/scratch.md#algorithm, the clean init of
//     docs/methods/scratch.md#initialization): the mask on a fresh
//     initialization (control_init), trained for the spec's budget from step
//     0. With reset mode init it is the same run as random_reinit.
//   - scratch_b: as scratch_e for the same compute: the budget and the step
//     schedule's milestones are multiplied by FLOPs_dense / FLOPs_pruned
//     (nonzero multiply-accumulates of the mask,
//     docs/methods/scratch.md#flop-count) and floored, in epochs when the
//     budget is in epochs and in iterations otherwise;
//     prune.max_budget_factor caps the factor (unset: no cap). The
//     reference=rethinking init and FLOP count are not implemented.
const (
	BranchRandomReinit = "random_reinit"
	BranchRandomPrune  = "random_prune"
	BranchScratchE     = "scratch_e"
	BranchScratchB     = "scratch_b"
)

// A branch prepares its run from the trunk: p is freshly prepared with the
// spec, its weights drawn anew from the control_init stream; the branch
// returns the mask to train with and adjusts p.Config (start step,
// budget).
type branch func(p *experiments.Prepared, t trunk, keys branchKeys) (*prune.Masks, error)

// branches is the registry of control branches, the values of
// prune.branches.
var branches = registry.New[branch]("control branch")

func init() {
	branches.Register(BranchRandomReinit, func(p *experiments.Prepared, t trunk, _ branchKeys) (*prune.Masks, error) {
		p.Config.Start = t.start
		return t.masks, nil
	})
	branches.Register(BranchRandomPrune, func(p *experiments.Prepared, t trunk, _ branchKeys) (*prune.Masks, error) {
		p.Config.Start = t.start
		return randomPrune(t.masks, p.Arch, nn.SeedFor(p.Spec.Seed, nn.NSMask), t.level)
	})
	branches.Register(BranchScratchE, func(p *experiments.Prepared, t trunk, _ branchKeys) (*prune.Masks, error) {
		return t.masks, nil
	})
	branches.Register(BranchScratchB, func(p *experiments.Prepared, t trunk, keys branchKeys) (*prune.Masks, error) {
		ipe, err := p.ItersPerEpoch()
		if err != nil {
			return nil, err
		}
		scaleBudget(&p.Config, scratchFactor(p.Arch, t.masks, keys.MaxBudgetFactor), ipe)
		return t.masks, nil
	})
	experiments.RegisterNameList("branches", branches.Names)
}

// validateBranches checks prune.branches and prune.max_budget_factor.
func validateBranches(k branchKeys) error {
	for i, b := range k.Branches {
		if _, err := branches.Get(b); err != nil {
			return fmt.Errorf("prune.branches[%d]: %w", i, err)
		}
		if slices.Index(k.Branches, b) != i {
			return fmt.Errorf("prune.branches lists %s twice", b)
		}
	}
	if f := k.MaxBudgetFactor; f != nil {
		if !slices.Contains(k.Branches, BranchScratchB) {
			return fmt.Errorf("prune.max_budget_factor caps scratch_b, which prune.branches does not list")
		}
		if !(*f >= 1) {
			return fmt.Errorf("prune.max_budget_factor = %v: want ≥ 1", *f)
		}
	}
	return nil
}

// trunk is what the branches of a level inherit from it.
type trunk struct {
	level  int
	method string // the level's result method
	masks  *prune.Masks
	start  train.Step // the level's starting step (its reset mode)
}

// runBranches runs prune.branches off a finished level, in the order listed.
func runBranches(ctx context.Context, r *experiments.Replicate, keys branchKeys, t trunk) error {
	for _, b := range keys.Branches {
		_, err := r.Unit(ctx, t.level, b, func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
			return runBranch(ctx, r, b, keys, t, dir, cbs)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func runBranch(ctx context.Context, r *experiments.Replicate, name string, keys branchKeys, t trunk, dir string, cbs []experiments.Callback) (results.Result, error) {
	b, err := branches.Get(name)
	if err != nil {
		return results.Result{}, fmt.Errorf("prune.branches: %w", err)
	}
	p, err := r.Prepare(r.Spec)
	if err != nil {
		return results.Result{}, err
	}
	if err := nn.Initialize(p.Net, p.Init, nn.NewRand(nn.SeedFor(r.Spec.Seed, nn.NSControlInit))); err != nil {
		return results.Result{}, fmt.Errorf("model.init: %w", err)
	}
	masks, err := b(p, t, keys)
	if err != nil {
		return results.Result{}, err
	}
	h, err := trainMasked(ctx, p, masks, dir, cbs)
	if err != nil {
		return results.Result{}, err
	}
	return experiments.Measure(p, h, t.method+"/"+name, masks.Density()), nil
}

// randomPrune draws a mask with the same kept count per tensor as m,
// uniformly within each tensor, from the stream (seed, level).
func randomPrune(m *prune.Masks, arch *nn.Arch, seed uint64, level int) (*prune.Masks, error) {
	set, err := prune.ResolvePrunable(arch.Params(), m.Names, nil)
	if err != nil {
		return nil, err
	}
	keep := map[string]int{}
	for _, name := range m.Names {
		keep[name] = m.KeptOf(name)
	}
	plan, err := prune.QuotaPlan(set, keep)
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(0, 0)
	nn.Reseed(src, seed, uint64(level))
	scores, err := prune.Random{}.Scores(prune.ScoreContext{Set: set, Rng: rand.New(src)})
	if err != nil {
		return nil, err
	}
	return plan.Select(scores, nil)
}

// scratchFactor is Scratch-B's budget factor FLOPs_dense / FLOPs_pruned,
// capped at max when set.
func scratchFactor(arch *nn.Arch, m *prune.Masks, max *float64) float64 {
	dense := nn.Count(arch).FLOPs
	pruned := nn.CountNonzero(arch, func(name string) []float32 { return m.M[name] }).FLOPs
	f := float64(dense) / float64(pruned)
	if max != nil && f > *max {
		f = *max
	}
	return f
}

// scaleBudget multiplies the budget and the step schedule's milestones by
// f and floors them (docs/methods/scratch.md#budget: E_B = floor(E · f),
// milestones floor(m · E_B / E)). A budget in whole epochs stays in epochs
// (so do milestones in epochs); anything else is scaled in iterations.
func scaleBudget(c *train.Config, f float64, ipe int) {
	old := c.Budget
	if old.Iterations == 0 {
		c.Budget = train.Step{Epochs: int(math.Floor(float64(old.Epochs) * f))}
	} else {
		c.Budget = train.Step{Iterations: int(math.Floor(float64(old.Iters(ipe)) * f))}
	}
	oldT, newT := old.Iters(ipe), c.Budget.Iters(ipe)
	ms := make([]train.Step, len(c.Schedule.Milestones))
	for i, m := range c.Schedule.Milestones {
		if m.Iterations == 0 && old.Iterations == 0 {
			ms[i] = train.Step{Epochs: m.Epochs * c.Budget.Epochs / old.Epochs}
		} else {
			ms[i] = train.Step{Iterations: int(int64(m.Iters(ipe)) * int64(newT) / int64(oldT))}
		}
	}
	c.Schedule.Milestones = ms
}
