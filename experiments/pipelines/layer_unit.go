package pipelines

import (
	"context"
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
	"github.com/prunebench/prunebench/search"
)

const (
	// layerRewindFile is level 0's full state (θ and batch norm
	// statistics) at layer.rewind_step; layerReportFile is level 1's
	// LayerReport.
	layerRewindFile = "rewind_state.gob"
	layerReportFile = "layer.yaml"
)

// LayerReport is what a layer-pruning unit records besides its Result
// (docs/methods/layer.md#what-a-run-records: blocks per stage, the mapping,
// parameters, FLOPs, bytes and the step time relative to the dense
// network).
type LayerReport struct {
	Method    string `yaml:"method"`
	Criterion string `yaml:"criterion"`
	When      string `yaml:"when"`
	Agg       string `yaml:"agg,omitempty"`
	Removable string `yaml:"removable"`
	Rewind    string `yaml:"rewind,omitempty"`
	// RewindStep and StartIter are where the rebuilt network's training
	// starts (0 at initialization).
	RewindStep string `yaml:"rewind_step,omitempty"`
	StartIter  int    `yaml:"start_iter"`
	Blocks     int    `yaml:"blocks"`
	// BlocksPerStageDense and BlocksPerStage are before and after removal.
	BlocksPerStageDense []int `yaml:"blocks_per_stage_dense"`
	BlocksPerStage      []int `yaml:"blocks_per_stage"`
	// Removed lists the removed blocks in removal order (lowest score
	// first); Mapping maps every kept block's original name to its name in
	// the rebuilt network; Scores holds every candidate's score.
	Removed []string           `yaml:"removed"`
	Mapping map[string]string  `yaml:"mapping"`
	Scores  map[string]float64 `yaml:"scores"`
	// Counts of the dense and the rebuilt network (nn.Count).
	ParamsDense int64 `yaml:"params_dense"`
	Params      int64 `yaml:"params"`
	FLOPsDense  int64 `yaml:"flops_dense"`
	FLOPs       int64 `yaml:"flops"`
	BytesDense  int64 `yaml:"bytes_dense"`
	Bytes       int64 `yaml:"bytes"`
	// StepSecondsDense and StepSeconds are the median over three rounds of
	// the mean time of one training step (TimeSteps, layer.timing_steps
	// after 2 untimed steps), dense and rebuilt alternating, in this unit;
	// StepTimeRatio = StepSeconds / StepSecondsDense.
	StepSecondsDense float64 `yaml:"step_seconds_dense"`
	StepSeconds      float64 `yaml:"step_seconds"`
	StepTimeRatio    float64 `yaml:"step_time_ratio"`
}

// dense is Algorithm 1's level 0: dense training from θ0, saving the
// full state at layer.rewind_step when it is not 0.
func (c layerPipeline) dense(ctx context.Context, r *experiments.Replicate, dir string, cbs []experiments.Callback) (results.Result, error) {
	p, err := r.Prepare(r.Spec)
	if err != nil {
		return results.Result{}, err
	}
	if at, _ := train.ParseStep(c.Layer.RewindStep); !at.IsZero() {
		path := filepath.Join(dir, layerRewindFile)
		cbs = append(cbs, func(e *train.Event) error {
			if e.Phase != train.AfterStep || e.Iter != at.Iters(e.History.ItersPerEpoch) {
				return nil
			}
			st, err := layerWeightState(e.Net)
			if err != nil {
				return err
			}
			return atomicfile.Write(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(st) })
		})
	}
	h, err := p.Train(ctx, dir, cbs...)
	if err != nil {
		return results.Result{}, err
	}
	return experiments.Measure(p, h, "dense", 1), nil
}

// layerWeightState is a net's θ and buffers (no masks, no optimizer
// state).
func layerWeightState(net nn.Net) (*nn.State, error) {
	st, err := net.State()
	if err != nil {
		return nil, err
	}
	for k := range st.Tensors {
		if !strings.HasPrefix(k, "param/") && !strings.HasPrefix(k, "buffer/") {
			delete(st.Tensors, k)
		}
	}
	return st, nil
}

// pruned is level 1 of both algorithms: score, remove, rebuild,
// time, train.
func (c layerPipeline) pruned(ctx context.Context, r *experiments.Replicate, dir string, cbs []experiments.Callback) (results.Result, error) {
	s := r.Spec
	p, err := r.Prepare(s) // θ0
	if err != nil {
		return results.Result{}, err
	}
	bs, err := search.FindBlocks(p.Arch)
	if err != nil {
		return results.Result{}, err
	}
	cand, err := bs.Candidates(c.Layer.Removable)
	if err != nil {
		return results.Result{}, err
	}
	src, err := layerWeightState(p.Net)
	if err != nil {
		return results.Result{}, err
	}
	var scores []float64
	start := train.Step{}
	if layerWhen(c.Layer) == layerWhenInit {
		scores, err = c.initScores(p, bs)
	} else {
		scores, src, start, err = c.trainedScores(r, p, bs, cand, src)
	}
	if err != nil {
		return results.Result{}, err
	}
	removed, err := bs.SelectRemoval(scores, c.Layer.Blocks, c.Layer.Removable)
	if err != nil {
		return results.Result{}, err
	}
	rb, err := bs.Rebuild(removed)
	if err != nil {
		return results.Result{}, err
	}
	dense := *p
	p.Arch = rb.Arch
	if p.Net, err = p.BuildNet(rb.Arch, s.Training.BatchSize, s.Training.Temperature); err != nil {
		return results.Result{}, err
	}
	if err := rb.Transfer(p.Net, src); err != nil {
		return results.Result{}, err
	}
	p.Config.Start = start
	rep := c.report(bs, rb, removed, scores, cand)
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return results.Result{}, err
	}
	rep.StartIter = start.Iters(ipe)
	if err := c.timing(&dense, p, src, rb, &rep); err != nil {
		return results.Result{}, err
	}
	if err := atomicfile.Write(filepath.Join(dir, layerReportFile), func(f *os.File) error { return yaml.NewEncoder(f).Encode(rep) }); err != nil {
		return results.Result{}, err
	}
	h, err := p.Train(ctx, dir, cbs...)
	if err != nil {
		return results.Result{}, err
	}
	res := experiments.Measure(p, h, rep.Method, 1)
	d := float64(rep.Params) / float64(rep.ParamsDense)
	res.Density, res.Sparsity, res.Compression = d, 1-d, 1/d
	res.ParamsTotal, res.FLOPsDense = rep.ParamsDense, rep.FLOPsDense
	return res, nil
}

// initScores scores the blocks of θ0 with a criterion that scores weights
// on data, or random (Algorithm 2, step 2).
func (c layerPipeline) initScores(p *experiments.Prepared, bs *search.Blocks) ([]float64, error) {
	if c.Layer.Criterion == search.CritRandom {
		return search.ScoreBlocksTrained(search.TrainedContext{Rng: nn.NewRand(nn.SeedFor(p.Spec.Seed, nn.NSMask))}, bs, search.CritRandom, nil)
	}
	crit, err := prune.CriterionByName(c.Layer.Criterion)
	if err != nil {
		return nil, fmt.Errorf("layer.criterion: %w", err)
	}
	sc, err := scoreContext(p, crit, search.WeightSet(p.Arch), c.Prune.scoringData)
	if err != nil {
		return nil, err
	}
	return search.ScoreBlocksAtInit(sc, crit, bs, c.Layer.Agg)
}

// trainedScores scores the blocks of level 0's final network
// (Algorithm 1, step 2) and returns the state the kept blocks start from
// (θ_i, or θ_n for lr_only; θ0 is init) and the start step i.
func (c layerPipeline) trainedScores(r *experiments.Replicate, p *experiments.Prepared, bs *search.Blocks, cand []int, init *nn.State) ([]float64, *nn.State, train.Step, error) {
	s := r.Spec
	level0 := r.UnitDir(0, "")
	ck, err := r.Checkpoint(0, "")
	if err != nil {
		return nil, nil, train.Step{}, fmt.Errorf("the dense network's trained weights: %w", err)
	}
	net, err := p.BuildNet(p.Arch, pruneBatch, s.Training.Temperature)
	if err != nil {
		return nil, nil, train.Step{}, err
	}
	trained := ck.State
	for k := range trained.Tensors {
		if !strings.HasPrefix(k, "param/") && !strings.HasPrefix(k, "buffer/") {
			delete(trained.Tensors, k)
		}
	}
	if err := net.SetState(trained); err != nil {
		return nil, nil, train.Step{}, fmt.Errorf("the dense network's trained weights: %w", err)
	}
	build := func(a *nn.Arch) (nn.Net, error) { return p.BuildNet(a, pruneBatch, s.Training.Temperature) }
	tc := search.TrainedContext{Net: net, Build: build, Rng: nn.NewRand(nn.SeedFor(s.Seed, nn.NSMask))}
	if search.NeedsSubsample(c.Layer.Criterion) {
		trainSet := p.Splits.Train
		idx, err := search.BalancedSubset(trainSet.Y, trainSet.Classes, c.Layer.SamplesPerClass, nn.NewRand(nn.SeedFor(s.Seed, nn.NSPruneData)))
		if err != nil {
			return nil, nil, train.Step{}, err
		}
		sub := trainSet.Subset(idx)
		for i := 0; i < sub.Len(); i += pruneBatch {
			x, y := sub.Slice(i, pruneBatch)
			tc.Batches = append(tc.Batches, nn.Batch{X: x, Y: y, N: len(y)})
		}
	}
	scores, err := search.ScoreBlocksTrained(tc, bs, c.Layer.Criterion, cand)
	if err != nil {
		return nil, nil, train.Step{}, err
	}
	at, _ := train.ParseStep(c.Layer.RewindStep)
	switch {
	case c.Layer.Rewind == "lr_only":
		return scores, trained, at, nil
	case at.IsZero():
		return scores, init, at, nil
	}
	f, err := os.Open(filepath.Join(level0, layerRewindFile))
	if err != nil {
		return nil, nil, train.Step{}, fmt.Errorf("rewind weights: %w (level 0 saves them when layer.rewind_step is not 0)", err)
	}
	defer f.Close()
	var st nn.State
	if err := gob.NewDecoder(f).Decode(&st); err != nil {
		return nil, nil, train.Step{}, fmt.Errorf("rewind weights %s are unreadable: %v", f.Name(), err)
	}
	return scores, &st, at, nil
}

// report fills the report's structure and counts.
func (c layerPipeline) report(bs *search.Blocks, rb *search.Rebuilt, removed []int, scores []float64, cand []int) LayerReport {
	l := c.Layer
	rep := LayerReport{Method: c.method(), Criterion: l.Criterion, When: layerWhen(l), Removable: l.Removable, Blocks: l.Blocks,
		BlocksPerStageDense: bs.PerStage(), BlocksPerStage: rb.PerStage, Removed: bs.Names(removed),
		Mapping: rb.Mapping(bs), Scores: map[string]float64{}}
	if rep.When == layerWhenInit {
		rep.Agg = l.Agg
	} else {
		rep.Rewind, rep.RewindStep = l.Rewind, l.RewindStep
	}
	for _, i := range cand {
		rep.Scores[bs.Blocks[i].Name] = scores[i]
	}
	dc, rc := nn.Count(bs.Arch), nn.Count(rb.Arch)
	rep.ParamsDense, rep.Params, rep.FLOPsDense, rep.FLOPs, rep.BytesDense, rep.Bytes = dc.Params, rc.Params, dc.FLOPs, rc.FLOPs, dc.Bytes, rc.Bytes
	return rep
}

// timing times training steps of the dense and of the rebuilt
// network on copies (the nets that train are not touched), alternating
// three rounds, and records the medians.
func (c layerPipeline) timing(dense, small *experiments.Prepared, src *nn.State, rb *search.Rebuilt, rep *LayerReport) error {
	steps, err := train.ParseStep(c.Layer.TimingSteps)
	if err != nil {
		return fmt.Errorf("layer.timing_steps: %w", err)
	}
	copyOf := func(p *experiments.Prepared, rebuilt bool) (*experiments.Prepared, error) {
		q := *p
		var err error
		if q.Net, err = p.BuildNet(p.Arch, p.Config.BatchSize, p.Spec.Training.Temperature); err != nil {
			return nil, err
		}
		if rebuilt {
			return &q, rb.Transfer(q.Net, src)
		}
		return &q, q.Net.SetState(src)
	}
	d, err := copyOf(dense, false)
	if err != nil {
		return err
	}
	sm, err := copyOf(small, true)
	if err != nil {
		return err
	}
	var td, ts []float64
	for range 3 {
		for _, x := range []struct {
			p   *experiments.Prepared
			out *[]float64
		}{{d, &td}, {sm, &ts}} {
			el, n, err := experiments.TimeSteps(x.p, steps, 2)
			if err != nil {
				return fmt.Errorf("timing steps: %w", err)
			}
			*x.out = append(*x.out, el.Seconds()/float64(n))
		}
	}
	rep.StepSecondsDense, rep.StepSeconds = layerMedian(td), layerMedian(ts)
	rep.StepTimeRatio = rep.StepSeconds / rep.StepSecondsDense
	if math.IsNaN(rep.StepTimeRatio) || math.IsInf(rep.StepTimeRatio, 0) {
		rep.StepTimeRatio = math.NaN()
	}
	return nil
}

func layerMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
