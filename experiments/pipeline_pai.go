package experiments

import (
	"context"
	"errors"
	"fmt"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

func init() { RegisterPipeline("pai", paiPipeline{}) }

// paiPipeline is pruning at initialization (specs/pai.md): score the
// initialized network with prune.criterion, keep the top entries at the
// density of the prune section (global or layer-wise), then train with the
// mask enforced after every step (pattern P3, the clean mode of specs §4.3).
// One level, level 0; the result's method is the criterion's name.
//
// Choices recorded here (specs/pai.md §1): one scoring iteration (E = 1, as
// for SNIP, GraSP, magnitude and random); the pruning data are the first
// prune.data_examples (default 100) of a permutation of the training split
// drawn from the prune_data seed namespace, without augmentation, in
// batches of at most 256. Scoring uses the engine's training-mode backward,
// so evaluation-mode scoring (the spec's default) is only possible for
// networks where the two modes agree (no batch norm, no dropout): other
// networks must set prune.train_mode: true, and are refused otherwise rather
// than scored in another mode silently.
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
	return nil
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
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []Callback) (Result, error) {
		p, err := Prepare(s)
		if err != nil {
			return Result{}, err
		}
		masks, err := paiMasks(p)
		if err != nil {
			return Result{}, err
		}
		if err := masks.Apply(p.Net, nn.ZeroAfterStep); err != nil {
			return Result{}, err
		}
		h, err := trainPrepared(ctx, p, dir, cbs)
		if err != nil {
			return Result{}, err
		}
		return Measure(p, h, s.Prune.Criterion, masks.Density()), nil
	})
	return err
}

// paiMasks scores the freshly initialized network and selects the masks.
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
	set, err := prune.ResolvePrunable(p.Arch.Params(), nil, nil)
	if err != nil {
		return nil, err
	}
	crit, err := prune.CriterionByName(s.Prune.Criterion)
	if err != nil {
		return nil, fmt.Errorf("prune.criterion: %w", err)
	}
	sc := prune.ScoreContext{Net: p.Net, Set: set, Rng: nn.NewRand(nn.SeedFor(s.Seed, nn.NSMask)), Temperature: s.Training.Temperature}
	if s.Prune.Criterion == "snip" || s.Prune.Criterion == "grasp" {
		if !s.Prune.TrainMode && hasModeDependentLayers(p.Arch.Layers) {
			return nil, fmt.Errorf("prune.train_mode: model %s has batch norm or dropout, and scoring in evaluation mode is not implemented on the engines yet; set prune.train_mode: true to score in training mode", p.Arch.Name)
		}
		if sc.Batches, err = pruneBatches(p, s); err != nil {
			return nil, err
		}
		// Scoring batches (up to 256) can be larger than the training
		// batch the net was built for, and GraSP scores at temperature 200
		// (specs/pai.md §3): score on a second net with the same weights.
		if s.Prune.Criterion == "grasp" {
			sc.Temperature = prune.GraSPTemperature
		}
		if sc.Net, err = scoringNet(p, sc.Temperature); err != nil {
			return nil, err
		}
	}
	scores, err := crit.Scores(sc)
	if err != nil {
		return nil, err
	}
	plan, err := prune.DensityPlan(set, am.Density, scope, nil)
	if err != nil {
		return nil, err
	}
	return plan.Select(scores, nil)
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
		return nil, fmt.Errorf("prune.data_examples = %d: the training split has %d examples", n, train.Len())
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
// pruneBatch examples, with the given temperature and p's current weights.
func scoringNet(p *Prepared, temperature float64) (nn.Net, error) {
	b, err := nn.GetBackend(p.Spec.Backend)
	if err != nil {
		return nil, err
	}
	net, err := b.Build(nn.Config{Arch: p.Arch, MaxBatch: pruneBatch, Temperature: temperature})
	if err != nil {
		return nil, err
	}
	for _, src := range p.Net.Params() {
		net.Param(src.Info().Name).SetValues(src.Values())
	}
	return net, nil
}

func hasModeDependentLayers(layers []nn.Layer) bool {
	for _, l := range layers {
		switch l := l.(type) {
		case nn.BatchNorm, nn.Dropout:
			return true
		case nn.Residual:
			if hasModeDependentLayers(l.Body) || hasModeDependentLayers(l.Shortcut) {
				return true
			}
		}
	}
	return false
}
