package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
)

// Config is one training run's hyperparameters.
type Config struct {
	// Budget is the training length ("40ep", "50000it", "2ep100it").
	Budget    Step
	BatchSize int
	// DropLast drops the last partial batch of each epoch.
	DropLast bool
	// LR is the base learning rate; Schedule shapes it over iterations.
	LR        float64
	Optimizer nn.Optimizer
	Schedule  Schedule
	// EvalEvery is the evaluation interval (every epoch when zero). The
	// end of training is always evaluated.
	EvalEvery Step
	// SkipTestPerEval evaluates the test set only at the end instead of at
	// every evaluation point; the test metrics at the best-validation
	// iteration are then unknown (NaN).
	SkipTestPerEval bool
	// DataSeed seeds the data order and augmentation stream.
	DataSeed uint64
	// Start is the iteration a fresh run starts at (zero: the beginning).
	// The learning-rate schedule and the data order continue from there,
	// with a fresh optimizer: weight rewinding to step k
	// (docs/methods/imp.md#rewinding). A checkpoint, when there is one,
	// takes precedence.
	Start Step
	// Checkpoint is the file the run checkpoints to at every evaluation
	// and on interruption, and resumes from when it exists. Empty: none.
	Checkpoint string
	// Identity is an opaque name of the unit being trained, set by the
	// caller, e.g. "<run hash>/replicate_0/level_1/branch_x". Run writes it
	// into every checkpoint, and refuses to resume from a checkpoint whose
	// identity differs (one copied from another level's folder, say): the
	// error names the file and both identities, and nothing is trained.
	// Empty: no check (the checkpoint's identity is then ""). It is not
	// part of the configuration fingerprint.
	Identity string
}

// Data is what Run trains and evaluates on. Val may be nil: the early
// stopping iteration is then the last one.
type Data struct {
	Train, Val, Test *datasets.Set
	Augment          datasets.Augment
}

// Phase says when a Callback is called.
type Phase int

const (
	// AfterGradients: the dense gradients of the batch are readable and the
	// optimizer has not stepped yet (GraNet regrowth reads them here).
	AfterGradients Phase = iota
	// AfterStep: the optimizer step and mask enforcement are done; Iter is
	// the number of steps taken.
	AfterStep
	// AfterEval: an evaluation point was appended to the history.
	AfterEval
)

// Event is what a Callback sees. The same Event value is reused between
// calls: copy what you keep.
type Event struct {
	Phase   Phase
	Iter    int // iterations completed (AfterStep, AfterEval) or in progress (AfterGradients)
	Total   int // iterations of the budget
	Loss    float64
	LR      float64 // learning rate of the iteration's step (AfterGradients, AfterStep)
	Net     nn.Net
	History *History
}

// Callback is called by Run at each Phase. Callbacks filter on the event
// themselves (see Every and At). An error stops training; Run returns it
// after writing a checkpoint.
type Callback func(e *Event) error

// Every wraps cb so that it runs only AfterStep at multiples of n iterations.
func Every(n int, cb Callback) Callback {
	return func(e *Event) error {
		if e.Phase != AfterStep || n <= 0 || e.Iter%n != 0 {
			return nil
		}
		return cb(e)
	}
}

// At wraps cb so that it runs only AfterStep at iteration it.
func At(it int, cb Callback) Callback {
	return func(e *Event) error {
		if e.Phase != AfterStep || e.Iter != it {
			return nil
		}
		return cb(e)
	}
}

// Run runs the frozen training loop: for each iteration, one batch from a
// seeded counter-based loader, Gradients, AfterGradients callbacks, Step at
// the scheduled learning rate, AfterStep callbacks; evaluation every
// EvalEvery and at the end. Training always runs the full budget; the
// early-stopping iteration (minimum validation loss, ties to the earliest) is
// determined retroactively
// (docs/methods/conventions.md#early-stopping-and-model-selection).
//
// With cfg.Checkpoint set, Run resumes from the checkpoint when it exists
// and saves one at every evaluation and when ctx is cancelled, so an
// interrupted run continues bit-identically: the data stream and dropout are
// counter based and the optimizer state and step are in the checkpoint.
//
// A checkpoint that cannot be resumed (corrupt, of another format version,
// of another unit than cfg.Identity, of another configuration, or not
// fitting net) stops Run before it trains: the error names the file, says
// to delete it to train the unit from its beginning, and satisfies
// errors.Is(err, ErrBadCheckpoint).
//
// Run installs cfg.Optimizer on net (fresh state, unless resuming).
func Run(ctx context.Context, net nn.Net, data Data, cfg Config, callbacks ...Callback) (*History, error) {
	if data.Train == nil || data.Train.Len() == 0 {
		return nil, errors.New("train: empty training set")
	}
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("training.batch_size = %d: want at least 1", cfg.BatchSize)
	}
	if math.IsNaN(cfg.LR) || cfg.LR < 0 {
		return nil, fmt.Errorf("training.lr = %v: want a number ≥ 0", cfg.LR)
	}
	loader, err := datasets.NewLoader(data.Train, cfg.BatchSize, cfg.DataSeed, data.Augment, cfg.DropLast)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	ipe := loader.ItersPerEpoch()
	total := cfg.Budget.Iters(ipe)
	if total < 1 {
		return nil, fmt.Errorf("training.steps = %s: want at least one iteration", cfg.Budget)
	}
	evalEvery := cfg.EvalEvery.Iters(ipe)
	if cfg.EvalEvery.IsZero() {
		evalEvery = ipe
	}
	if evalEvery < 1 {
		return nil, fmt.Errorf("training.eval_every = %s: want at least one iteration", cfg.EvalEvery)
	}
	lr, err := cfg.Schedule.Func(cfg.LR, ipe, total)
	if err != nil {
		return nil, err
	}
	if err := net.SetOptimizer(cfg.Optimizer); err != nil {
		return nil, err
	}

	hist := &History{ItersPerEpoch: ipe, Total: total}
	start := cfg.Start.Iters(ipe)
	if start < 0 || start >= total {
		return nil, fmt.Errorf("train: start %s is not inside the budget %s", cfg.Start, cfg.Budget)
	}
	// lossSum and lossN average the training loss between evaluations.
	var lossSum float64
	var lossN int
	fp := fingerprint(net, cfg, ipe)
	if cfg.Checkpoint != "" {
		ck, err := LoadCheckpoint(cfg.Checkpoint)
		var ce *CheckpointError
		switch {
		case errors.Is(err, os.ErrNotExist):
		case errors.As(err, &ce):
			// Run resumes only a unit that has not finished: the advice
			// for a finished one does not apply.
			ce.resuming = true
			return nil, ce
		case err != nil:
			return nil, err
		case cfg.Identity != "" && ck.Identity != cfg.Identity:
			problem := fmt.Sprintf("belongs to %q, not to %q (copied from another folder?)", ck.Identity, cfg.Identity)
			if ck.Identity == "" {
				problem = fmt.Sprintf("names no unit, and this one is %q", cfg.Identity)
			}
			return nil, &CheckpointError{Path: cfg.Checkpoint, resuming: true, Problem: problem}
		case ck.Fingerprint != fp:
			return nil, &CheckpointError{Path: cfg.Checkpoint, resuming: true,
				Problem: fmt.Sprintf("was written by a different configuration (%s, now %s)", ck.Fingerprint, fp)}
		default:
			if err := net.SetState(ck.State); err != nil {
				return nil, &CheckpointError{Path: cfg.Checkpoint, resuming: true, Problem: "does not fit this network", Err: err}
			}
			*hist = ck.History
			start = ck.Iter
			hist.Resumed = ck.Iter
			lossSum, lossN = ck.LossSum, ck.LossN
		}
	}
	save := func(it int) error {
		if cfg.Checkpoint == "" {
			return nil
		}
		st, err := net.State()
		if err != nil {
			return err
		}
		return SaveCheckpoint(cfg.Checkpoint, &Checkpoint{Identity: cfg.Identity, Iter: it, Fingerprint: fp, State: st, History: *hist, LossSum: lossSum, LossN: lossN})
	}

	ex := data.Train.ExampleSize()
	bx := make([]float32, cfg.BatchSize*ex)
	by := make([]int32, cfg.BatchSize)
	event := &Event{Net: net, History: hist, Total: total}
	call := func(p Phase, it int, loss float64) error {
		event.Phase, event.Iter, event.Loss = p, it, loss
		for _, cb := range callbacks {
			if err := cb(event); err != nil {
				return err
			}
		}
		return nil
	}
	began := time.Now()
	for it := start; it < total; it++ {
		select {
		case <-ctx.Done():
			hist.Wall += time.Since(began)
			if err := save(it); err != nil {
				return hist, err
			}
			return hist, ctx.Err()
		default:
		}
		event.LR = lr(it)
		n := loader.Batch(it, bx, by)
		loss, err := net.Gradients(nn.Batch{X: bx, Y: by, N: n})
		if err != nil {
			return hist, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return hist, fmt.Errorf("train: loss is %v at iteration %d (learning rate %g too high?)", loss, it, lr(it))
		}
		lossSum += loss
		lossN++
		if err := call(AfterGradients, it, loss); err != nil {
			return hist, stop(save(it), err)
		}
		net.Step(lr(it))
		if err := call(AfterStep, it+1, loss); err != nil {
			return hist, stop(save(it+1), err)
		}
		if (it+1)%evalEvery == 0 || it+1 == total {
			p, err := evalPoint(net, cfg.BatchSize, it+1, data, !cfg.SkipTestPerEval || it+1 == total)
			if err != nil {
				return hist, err
			}
			p.TrainLoss = lossSum / float64(lossN)
			lossSum, lossN = 0, 0
			hist.add(p)
			if err := call(AfterEval, it+1, loss); err != nil {
				return hist, stop(save(it+1), err)
			}
			hist.Wall += time.Since(began)
			began = time.Now()
			if err := save(it + 1); err != nil {
				return hist, err
			}
		}
	}
	hist.Wall += time.Since(began)
	return hist, nil
}

// stop returns the callback's error, mentioning a failed checkpoint too.
func stop(saveErr, cbErr error) error {
	if saveErr != nil {
		return fmt.Errorf("%w (and saving the checkpoint failed: %v)", cbErr, saveErr)
	}
	return cbErr
}

// fingerprint identifies what a checkpoint may be resumed by: the
// architecture's parameters, the loop's hyperparameters and the data size.
func fingerprint(net nn.Net, cfg Config, ipe int) string {
	h := newHasher()
	a := net.Arch()
	h.add(a.Name, a.Input, a.Classes)
	for _, p := range a.Params() {
		h.add(p.Name, p.Shape)
	}
	c := cfg
	c.Checkpoint, c.Identity = "", ""
	h.add(fmt.Sprintf("%+v", c), ipe)
	return h.sum()
}
