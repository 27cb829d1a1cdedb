package experiments

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

func init() { RegisterPipeline("pai", paiPipeline{}) }

// paiPipeline is pruning at initialization (specs/pai.md): score the
// initialized network with prune.criterion, keep the top entries at the
// density of the prune section (global or layer-wise), then train with the
// mask enforced after every step (pattern P3, the clean mode of specs §4.3).
// One level, level 0, which saves its mask (masks.bin); the result's method
// is the criterion's name. prune.branches (branches.go) run off that mask:
// Scratch-E/B, and the random controls (which start at step 0).
//
// Choices recorded here (specs/pai.md §1): the prune loop of §1.4 runs
// prune.iterations scoring iterations on the exponential schedule (0: the
// criterion's default, 100 for synflow and 1 otherwise), rescoring the
// network with the previous masks applied (P1) each time, and ends at
// exactly the one-shot count. Scoring is in evaluation mode (batch norm
// with running statistics, dropout off) unless prune.train_mode, which
// only snip and grasp accept: synflow scores in evaluation mode by
// definition, magnitude and random run no network. The pruning data of
// snip and grasp are the first prune.data_examples (default 100) of a
// permutation of the training split drawn from the prune_data seed
// namespace, without augmentation, in batches of at most 256; they are
// scored on a second net built for those batches (GraSP's at temperature
// 200) with the first net's state.
type paiPipeline struct{}

// paiDefaultExamples is SNIP's one batch of 100 (specs/pai.md §1.2), and
// pruneBatch the SynFlow harness's --prune-batch-size.
const (
	paiDefaultExamples = 100
	pruneBatch         = 256
)

func (paiPipeline) Validate(s Spec) error {
	if _, ok, err := s.Prune.Resolve(); err != nil {
		return err
	} else if !ok {
		return errors.New("pipeline pai needs an amount of pruning: set one of prune.density, prune.sparsity, prune.compression, ...")
	}
	if s.Prune.Criterion == "" {
		return fmt.Errorf("pipeline pai needs prune.criterion: one of %v", prune.CriterionNames())
	}
	if _, err := prune.CriterionByName(s.Prune.Criterion); err != nil {
		return fmt.Errorf("prune.criterion: %w", err)
	}
	if _, err := paiScope(s.Prune.Scope); err != nil {
		return err
	}
	if s.Prune.DataExamples < 0 {
		return fmt.Errorf("prune.data_examples = %d: want ≥ 0", s.Prune.DataExamples)
	}
	if s.Prune.Iterations < 0 {
		return fmt.Errorf("prune.iterations = %d: want ≥ 1 scoring iterations, or 0 for the criterion's default (%d for synflow, 1 otherwise)", s.Prune.Iterations, prune.DefaultIterations("synflow"))
	}
	if s.Prune.TrainMode && !prune.NeedsData(s.Prune.Criterion) {
		why := "it runs no network"
		if s.Prune.Criterion == "synflow" {
			why = "it scores in evaluation mode by definition (specs/pai.md §4)"
		}
		return fmt.Errorf("prune.train_mode: criterion %s has no training-mode scoring (%s); remove prune.train_mode or use snip or grasp", s.Prune.Criterion, why)
	}
	return nil
}

// paiIterations is prune.iterations with 0 resolved to the criterion's
// default.
func paiIterations(s Spec) int {
	if s.Prune.Iterations > 0 {
		return s.Prune.Iterations
	}
	return prune.DefaultIterations(s.Prune.Criterion)
}

func paiScope(s string) (prune.Scope, error) {
	switch s {
	case "", "global":
		return prune.Global, nil
	case "layerwise":
		return prune.LayerWise, nil
	}
	return "", fmt.Errorf("prune.scope = %q: want global or layerwise", s)
}

func (paiPipeline) Run(ctx context.Context, r *Replicate) error {
	s := r.Spec
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []Callback) (results.Result, error) {
		p, err := Prepare(s)
		if err != nil {
			return results.Result{}, err
		}
		masks, err := paiMasks(p)
		if err != nil {
			return results.Result{}, err
		}
		h, err := trainMasked(ctx, p, masks, dir, cbs)
		if err != nil {
			return results.Result{}, err
		}
		return Measure(p, h, s.Prune.Criterion, masks.Density()), nil
	})
	if err != nil || len(s.Prune.Branches) == 0 {
		return err
	}
	masks, err := prune.LoadMasks(filepath.Join(r.UnitDir(0, ""), masksFile))
	if err != nil {
		return err
	}
	return runBranches(ctx, r, trunk{level: 0, method: s.Prune.Criterion, masks: masks})
}

// paiMasks runs the prune loop on the freshly initialized network and
// returns the final masks. Data-free criteria score p.Net itself (SynFlow
// restores it bit for bit; the loop leaves its intermediate masks as
// MaskedForward, which the caller replaces with the training pattern).
func paiMasks(p *Prepared) (*prune.Masks, error) {
	s := p.Spec
	am, _, err := s.Prune.Resolve()
	if err != nil {
		return nil, err
	}
	scope, err := paiScope(s.Prune.Scope)
	if err != nil {
		return nil, err
	}
	set, err := prunableSet(p.Arch, s)
	if err != nil {
		return nil, err
	}
	crit, err := prune.CriterionByName(s.Prune.Criterion)
	if err != nil {
		return nil, fmt.Errorf("prune.criterion: %w", err)
	}
	sc := prune.ScoreContext{
		Net: p.Net, Set: set, Rng: nn.NewRand(nn.SeedFor(s.Seed, nn.NSMask)),
		Temperature: s.Training.Temperature, TrainMode: s.Prune.TrainMode,
	}
	if prune.NeedsData(s.Prune.Criterion) {
		if sc.Batches, err = pruneBatches(p, s); err != nil {
			return nil, err
		}
		// Scoring batches (up to 256) can be larger than the training
		// batch the net was built for, and GraSP scores at temperature 200
		// (specs/pai.md §3): score on a second net with the same state.
		if s.Prune.Criterion == "grasp" {
			sc.Temperature = prune.GraSPTemperature
		}
		if sc.Net, err = scoringNet(p, sc.Temperature); err != nil {
			return nil, err
		}
	}
	loop := prune.PruneLoop{Criterion: crit, Density: am.Density, Scope: scope, Iterations: paiIterations(s), Schedule: prune.PAIExponential, AllowEmpty: s.Prune.AllowEmpty}
	return loop.Run(sc)
}

// pruneBatches draws the pruning set: the first prune.data_examples of a
// seeded permutation of the training split, in batches of at most 256.
func pruneBatches(p *Prepared, s Spec) ([]nn.Batch, error) {
	n := s.Prune.DataExamples
	if n == 0 {
		n = paiDefaultExamples
	}
	train := p.Splits.Train
	if n > train.Len() {
		return nil, fmt.Errorf("prune.data_examples = %d: criterion %s scores on training data, and the training split has only %d examples", n, s.Prune.Criterion, train.Len())
	}
	perm := nn.NewRand(nn.SeedFor(s.Seed, nn.NSPruneData)).Perm(train.Len())[:n]
	sub := train.Subset(perm)
	var bs []nn.Batch
	for i := 0; i < n; i += pruneBatch {
		x, y := sub.Slice(i, pruneBatch)
		bs = append(bs, nn.Batch{X: x, Y: y, N: len(y)})
	}
	return bs, nil
}

// scoringNet builds a net of p's architecture for batches of up to
// pruneBatch examples, with the given temperature and p's state: θ, batch
// norm running statistics and masks (evaluation-mode scores read the
// running statistics). The optimizer state stays behind: the scoring net
// takes no step.
func scoringNet(p *Prepared, temperature float64) (nn.Net, error) {
	b, err := nn.GetBackend(p.Spec.Backend)
	if err != nil {
		return nil, err
	}
	net, err := b.Build(nn.Config{Arch: p.Arch, MaxBatch: pruneBatch, Temperature: temperature, Device: p.Spec.Device})
	if err != nil {
		return nil, err
	}
	st, err := p.Net.State()
	if err != nil {
		return nil, err
	}
	for name := range st.Tensors {
		if strings.HasPrefix(name, "opt/") {
			delete(st.Tensors, name)
		}
	}
	if err := net.SetState(st); err != nil {
		return nil, fmt.Errorf("scoring net: %w", err)
	}
	return net, nil
}
