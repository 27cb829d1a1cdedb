package pipelines

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/search"
)

func init() { experiments.RegisterPipeline("bip", bipPipeline{Bip: search.DefaultBiPConfig()}) }

// bipPipeline is BiP (docs/methods/bip.md; search.BiP): level 0 is the
// pretrained dense model (search.go), level 1 the BiP search at the prune
// amount's density k, pruned directly from the dense model as the
// reference's README does for every k. Level 1 runs the frozen training loop
// for the θ-steps (SGD at bip.lr, bip.schedule, over bip.steps) with
// search.BiP's callback taking the score step on a second, independently
// shuffled batch stream (seed namespace upper_data) after each θ-step. The
// result's method is "bip", "bip (reference)" in reference mode, with the
// structure appended when structured ("bip filter"). Its wall time is the
// whole search, both levels' steps, so that a board compares it with IMP's.
type bipPipeline struct {
	Prune bipPrune         `mapstructure:"prune"`
	Bip   search.BiPConfig `mapstructure:"bip"`
}

// bipPrune is the prune section of pipeline bip: the density k and the
// prunable set. BiP learns a global mask from its scores: no scope,
// criterion or branches.
type bipPrune struct {
	experiments.AmountSpec `mapstructure:",squash"`
	excludeKey             `mapstructure:",squash"`
}

func (c bipPipeline) Validate(s experiments.Spec) error {
	am, err := amount("bip", c.Prune.AmountSpec, "the density k")
	if err != nil {
		return err
	}
	if err := c.config(am.Density, 1).Validate(); err != nil {
		return err
	}
	return checkPretrained("bip.pretrained", c.Bip.Pretrained, s.Replicates)
}

// config is the search's configuration at density k for a search of the
// given iterations.
func (c bipPipeline) config(k float64, iterations int) search.BiPConfig {
	b := c.Bip
	b.Density, b.Iterations = k, iterations
	return b
}

func (c bipPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	if err := pretrainUnit(ctx, r, c.Bip.Pretrained); err != nil {
		return err
	}
	_, err := r.Unit(ctx, 1, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		return c.level(ctx, r, dir, cbs)
	})
	return err
}

// Precheck checks, before anything of the run exists, what needs the
// architecture: a structured mask only on layers with filters.
func (c bipPipeline) Precheck(r *experiments.Replicate) error {
	s := r.Spec
	if c.Bip.Structure == "unstructured" {
		return nil
	}
	arch, err := zoo.Build(s.Model.Name, zoo.Options{Widths: s.Model.Widths, WidthMultiplier: s.Model.WidthMultiplier, Shortcut: s.Model.Shortcut})
	if err != nil {
		return nil // experiments.Prepare reports it with the data set's shapes
	}
	set, err := prunableSet(arch, c.Prune.Exclude)
	if err != nil {
		return err
	}
	for _, info := range set {
		if len(info.Shape) != 4 {
			return fmt.Errorf("bip.structure = %s: %s belongs to a layer without filters (only convolutions have filters and channels); exclude it with prune.exclude or use bip.structure: unstructured", c.Bip.Structure, info.Name)
		}
	}
	return nil
}

// thetaTraining is the θ-step's training section: the spec's, with SGD
// at bip.lr on bip.schedule over bip.steps.
func (c bipPipeline) thetaTraining(t experiments.TrainingSpec) experiments.TrainingSpec {
	b := c.Bip
	if b.Steps != "" {
		t.Steps = b.Steps
	}
	t.Optimizer, t.LR, t.Momentum, t.Nesterov, t.WeightDecay = "sgd", b.LR, b.Momentum, false, b.WeightDecay
	t.Schedule, t.Milestones, t.Warmup, t.MinLR = b.Schedule, nil, "", 0
	return t
}

func (c bipPipeline) level(ctx context.Context, r *experiments.Replicate, dir string, cbs []experiments.Callback) (results.Result, error) {
	s := r.Spec
	p, err := r.Prepare(s)
	if err != nil {
		return results.Result{}, err
	}
	if err := loadPretrained(p.Net, r, c.Bip.Pretrained); err != nil {
		return results.Result{}, err
	}
	if p.Config, err = c.thetaTraining(s.Training).Config(s.Seed); err != nil {
		return results.Result{}, fmt.Errorf("bip: %w", err)
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return results.Result{}, err
	}
	set, err := prunableSet(p.Arch, c.Prune.Exclude)
	if err != nil {
		return results.Result{}, err
	}
	am, _, _ := c.Prune.Resolve()
	b, err := search.NewBiP(p.Net, set, c.config(am.Density, p.Config.Budget.Iters(ipe)))
	if err != nil {
		return results.Result{}, err
	}
	side := filepath.Join(dir, bipStateFile)
	if err := loadBiPState(b, p.Net, side, filepath.Join(dir, experiments.CheckpointFile)); err != nil {
		return results.Result{}, err
	}
	loader, err := datasets.NewLoader(p.Splits.Train, p.Config.BatchSize, nn.SeedFor(s.Seed, nn.NSUpperData), p.Splits.Augment, p.Config.DropLast)
	if err != nil {
		return results.Result{}, fmt.Errorf("bip: %w", err)
	}
	ux := make([]float32, p.Config.BatchSize*p.Splits.Train.ExampleSize())
	uy := make([]int32, p.Config.BatchSize)
	upper := func(it int) nn.Batch { return nn.Batch{X: ux, Y: uy, N: loader.Batch(it, ux, uy)} }
	save := func(e *train.Event) error {
		if e.Phase != train.AfterEval {
			return nil
		}
		return saveBiPState(b, side, e.Iter)
	}
	h, err := p.Train(ctx, dir, append(cbs, b.Callback(upper), save)...)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// The loop saved a checkpoint where it stopped; the scores'
			// optimizer state goes with it.
			if ck, cerr := train.LoadCheckpoint(filepath.Join(dir, experiments.CheckpointFile)); cerr == nil {
				err = errors.Join(err, saveBiPState(b, side, ck.Iter))
			}
		}
		return results.Result{}, err
	}
	method := "bip"
	if c.Bip.Mode == "reference" {
		method = "bip (reference)"
	}
	if c.Bip.Structure != "unstructured" {
		method += " " + c.Bip.Structure
	}
	// Zero the pruned θ (P1 kept them) so that the measured nonzero
	// parameters and FLOPs are those of the found subnetwork.
	kept, n := 0, 0
	for i, m := range b.Masks() {
		for _, v := range m {
			kept += int(v)
		}
		n += set[i].Size()
		if err := p.Net.SetParametrization(set[i].Name, nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}); err != nil {
			return results.Result{}, err
		}
	}
	return experiments.Measure(p, h, method, float64(kept)/float64(n)), nil
}

// bipStateFile holds the scores (signed) and their optimizer's momentum at
// the iteration of the unit's checkpoint, so that a resumed search continues
// exactly (the net's State carries only |s| as the scored parametrization).
const bipStateFile = "bip_scores.gob"

type bipState struct {
	Iter             int
	Scores, Momentum [][]float32
}

func saveBiPState(b *search.BiP, path string, iter int) error {
	st := bipState{Iter: iter, Scores: b.Scores(), Momentum: b.Momentum()}
	return atomicfile.Write(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(st) })
}

// loadBiPState restores the scores and momentum saved with the checkpoint
// a resumed search starts from; with no checkpoint it does nothing.
func loadBiPState(b *search.BiP, net nn.Net, path, checkpoint string) error {
	ck, err := train.LoadCheckpoint(checkpoint)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bip: resuming from %s needs %s: %w (delete the folder to start the search over)", checkpoint, path, err)
	}
	defer f.Close()
	var st bipState
	if err := gob.NewDecoder(f).Decode(&st); err != nil {
		return fmt.Errorf("bip: %s is unreadable: %v (delete the folder to start the search over)", path, err)
	}
	if st.Iter != ck.Iter {
		return fmt.Errorf("bip: %s is at iteration %d but the checkpoint at %d (the run was killed between the two writes); delete the folder to start the search over", path, st.Iter, ck.Iter)
	}
	if len(st.Scores) != len(b.Scores()) || len(st.Momentum) != len(b.Momentum()) {
		return fmt.Errorf("bip: %s holds %d score tensors, want %d", path, len(st.Scores), len(b.Scores()))
	}
	for i := range st.Scores {
		if len(st.Scores[i]) != len(b.Scores()[i]) || len(st.Momentum[i]) != len(b.Momentum()[i]) {
			return fmt.Errorf("bip: %s: score tensor %d has the wrong size", path, i)
		}
		copy(b.Scores()[i], st.Scores[i])
		copy(b.Momentum()[i], st.Momentum[i])
	}
	return b.Install(net)
}
