package experiments

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// Prepared is a spec resolved into the objects that train it.
type Prepared struct {
	Spec   Spec
	Splits *datasets.Splits
	Arch   *nn.Arch
	Net    nn.Net
	Config train.Config
	// Init is the initializer used (the spec's or the model's default).
	Init string
	// Backend is the spec's engine, looked up once: every net of the unit
	// (the trained one, a scoring net, a rebuilt network) is built by
	// BuildNet on it.
	Backend nn.Backend

	// rep is the replicate that prepared it (Replicate.Prepare), which
	// names the units whose checkpoints Train writes; nil outside a run.
	rep *Replicate
}

// Prepare loads the data, builds and initializes the network and resolves the
// training hyperparameters. Every user error names the spec field. Within a
// run, pipelines call Replicate.Prepare, which uses the backend the run
// looked up.
func Prepare(s Spec) (*Prepared, error) {
	b, err := nn.GetBackend(s.Backend)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	return prepare(s, b)
}

// Prepare is the package's Prepare on the run's backend, looked up once per
// run. s is the replicate's spec, or one a pipeline derived from it (another
// batch size, a width multiplier).
func (r *Replicate) Prepare(s Spec) (*Prepared, error) {
	b := r.backend
	if b == nil { // a Replicate made outside RunSpec
		var err error
		if b, err = nn.GetBackend(s.Backend); err != nil {
			return nil, fmt.Errorf("backend: %w", err)
		}
	}
	p, err := prepare(s, b)
	if p != nil {
		p.rep = r
	}
	return p, err
}

func prepare(s Spec, backend nn.Backend) (*Prepared, error) {
	p := &Prepared{Spec: s, Backend: backend}
	var err error
	if p.Splits, err = s.Dataset.Load(s.Seed); err != nil {
		return nil, err
	}
	trainSet := p.Splits.Train
	if p.Arch, err = s.Model.Arch(trainSet.Shape, trainSet.Classes); err != nil {
		return nil, err
	}
	if err := p.Arch.CheckInput(s.Dataset.Name, trainSet.Shape, trainSet.Classes); err != nil {
		return nil, fmt.Errorf("model.name: %w", err)
	}
	if p.Config, err = s.Training.Config(s.Seed); err != nil {
		return nil, err
	}
	if p.Net, err = p.BuildNet(p.Arch, s.Training.BatchSize, s.Training.Temperature); err != nil {
		return nil, err
	}
	p.Init = s.Model.Init
	if p.Init == "" {
		p.Init = s.Model.DefaultInit()
	}
	if err := nn.Initialize(p.Net, p.Init, nn.NewRand(nn.SeedFor(s.Seed, nn.NSInit))); err != nil {
		return nil, fmt.Errorf("model.init: %w", err)
	}
	return p, nil
}

// BuildNet builds a net for arch on the spec's engine and device, for
// batches of at most maxBatch examples, with the loss at the given softmax
// temperature (the training one, or a criterion's own: GraSP scores at
// 200). Dropout draws from the spec's dropout stream. It is the one place a
// spec's nets are built.
func (p *Prepared) BuildNet(arch *nn.Arch, maxBatch int, temperature float64) (nn.Net, error) {
	return p.Backend.Build(nn.Config{
		Arch: arch, MaxBatch: maxBatch, Temperature: temperature,
		DropoutSeed: nn.SeedFor(p.Spec.Seed, nn.NSDropout), Device: p.Spec.Device, Sparse: p.Spec.Sparse,
	})
}

// ItersPerEpoch is the number of iterations of one epoch of the training
// split under p.Config, as train.Run counts them.
func (p *Prepared) ItersPerEpoch() (int, error) {
	l, err := datasets.NewLoader(p.Splits.Train, p.Config.BatchSize, p.Config.DataSeed, p.Splits.Augment, p.Config.DropLast)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	return l.ItersPerEpoch(), nil
}

// Train prepares s on the run's backend and trains it, checkpointing into
// dir (resuming from it when a checkpoint is there; no checkpoints when dir
// is empty).
func (r *Replicate) Train(ctx context.Context, s Spec, dir string, callbacks ...train.Callback) (*Prepared, *train.History, error) {
	p, err := r.Prepare(s)
	if err != nil {
		return nil, nil, err
	}
	h, err := p.Train(ctx, dir, callbacks...)
	return p, h, err
}

// Train trains the prepared network (with whatever parametrization the
// pipeline set on it) with the frozen training loop, checkpointing into dir
// and resuming from it; no checkpoints when dir is empty.
//
// Within a run, a checkpoint in a unit's folder carries the unit's name
// (run, replicate, level, branch), and one of another unit is refused.
func (p *Prepared) Train(ctx context.Context, dir string, callbacks ...train.Callback) (*train.History, error) {
	cfg := p.Config
	if dir != "" {
		cfg.Checkpoint = filepath.Join(dir, CheckpointFile)
		if p.rep != nil {
			cfg.Identity = p.rep.unitName(dir)
		}
	}
	if p.Spec.Training.EvalTrain {
		// First, so that the other AfterEval callbacks (progress, a
		// pipeline's) see the point's training accuracy.
		callbacks = append([]train.Callback{train.EvalTrain(p.Splits.Train, cfg.BatchSize)}, callbacks...)
	}
	return train.Run(ctx, p.Net, train.Data{
		Train: p.Splits.Train, Val: p.Splits.Val, Test: p.Splits.Test, Augment: p.Splits.Augment,
	}, cfg, callbacks...)
}

// Load loads the data set with its splits (the validation split drawn
// from the split stream of the given master seed) and augmentation. Every
// error names the key at fault.
func (d DatasetSpec) Load(seed uint64) (*datasets.Splits, error) {
	o := datasets.Options{
		Dir: d.Dir, ValSize: d.ValSize, SplitSeed: nn.SeedFor(seed, nn.NSSplit),
		Shape: d.Shape, Classes: d.Classes, TrainSize: d.TrainSize, TestSize: d.TestSize,
		Seed: seed, Modulus: d.Modulus, TrainFraction: d.TrainFraction, Encoding: d.Encoding, AllowSubset: d.AllowSubset,
	}
	switch d.Augment {
	case "default", "":
	case "on", "off":
		on := d.Augment == "on"
		o.Augment = &on
	default:
		return nil, fmt.Errorf("dataset.augment = %q: want default, on or off", d.Augment)
	}
	sp, err := datasets.Load(d.Name, o)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return sp, nil
}

// Config resolves the training section into the training loop's
// configuration, with the data order of the given master seed. Every error
// names the key at fault.
func (t TrainingSpec) Config(seed uint64) (train.Config, error) {
	var c train.Config
	var err error
	if c.Budget, err = train.ParseStep(t.Steps); err != nil {
		return c, fmt.Errorf("training.steps: %w", err)
	}
	if c.Budget.IsZero() {
		return c, fmt.Errorf("training.steps = %s: want a training length of at least one iteration", t.Steps)
	}
	if t.EvalEvery != "" {
		if c.EvalEvery, err = train.ParseStep(t.EvalEvery); err != nil {
			return c, fmt.Errorf("training.eval_every: %w", err)
		}
		if c.EvalEvery.IsZero() {
			return c, fmt.Errorf("training.eval_every = %s: want an interval of at least one iteration (leave it empty to evaluate every epoch)", t.EvalEvery)
		}
	}
	if t.BatchSize < 1 {
		return c, fmt.Errorf("training.batch_size = %d: want at least 1", t.BatchSize)
	}
	if !(t.LR > 0) {
		return c, fmt.Errorf("training.lr = %v: want a learning rate > 0", t.LR)
	}
	if t.Temperature <= 0 {
		return c, fmt.Errorf("training.temperature = %v: want > 0", t.Temperature)
	}
	c.BatchSize, c.DropLast, c.LR = t.BatchSize, t.DropLast, t.LR
	c.Optimizer = nn.Optimizer{
		Name: t.Optimizer, Momentum: t.Momentum, Nesterov: t.Nesterov, WeightDecay: t.WeightDecay,
		Beta1: t.Beta1, Beta2: t.Beta2, Eps: t.Eps,
	}
	if err := c.Optimizer.Validate(); err != nil {
		return c, fmt.Errorf("training.%w", err)
	}
	// training.gamma has a default (0.1) so that a step schedule needs only
	// milestones; the other schedules do not read it.
	c.Schedule = train.Schedule{Name: t.Schedule, MinLR: t.MinLR}
	if t.Schedule == "step" {
		c.Schedule.Gamma = t.Gamma
	}
	for i, m := range t.Milestones {
		st, err := train.ParseStep(m)
		if err != nil {
			return c, fmt.Errorf("training.milestones[%d]: %w", i, err)
		}
		c.Schedule.Milestones = append(c.Schedule.Milestones, st)
	}
	if t.Warmup != "" {
		if c.Schedule.Warmup, err = train.ParseStep(t.Warmup); err != nil {
			return c, fmt.Errorf("training.warmup: %w", err)
		}
	}
	if err := c.Schedule.Validate(); err != nil {
		return c, fmt.Errorf("training.schedule: %w", err)
	}
	c.DataSeed = nn.SeedFor(seed, nn.NSDataOrder)
	return c, nil
}
