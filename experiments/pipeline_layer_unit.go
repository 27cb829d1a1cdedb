package experiments

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
// (layer-lottery.md §5: blocks per stage, the mapping, parameters, FLOPs,
// bytes and the step time relative to the dense network).
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

// layerDense is Algorithm 1's level 0: dense training from θ0, saving the
// full state at layer.rewind_step when it is not 0.
func layerDense(ctx context.Context, s Spec, dir string, cbs []Callback) (Result, error) {
	p, err := Prepare(s)
	if err != nil {
		return Result{}, err
	}
	if at, _ := train.ParseStep(s.Layer.RewindStep); !at.IsZero() {
		path := filepath.Join(dir, layerRewindFile)
		cbs = append(cbs, func(e *train.Event) error {
			if e.Phase != train.AfterStep || e.Iter != at.Iters(e.History.ItersPerEpoch) {
				return nil
			}
			st, err := layerWeightState(e.Net)
			if err != nil {
				return err
			}
			return writeFileAtomic(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(st) })
		})
	}
	h, err := trainPrepared(ctx, p, dir, cbs)
	if err != nil {
		return Result{}, err
	}
	return Measure(p, h, "dense", 1), nil
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

// layerPruned is level 1 of both algorithms: score, remove, rebuild,
// time, train.
func layerPruned(ctx context.Context, r *Replicate, dir string, cbs []Callback) (Result, error) {
	s := r.Spec
	p, err := Prepare(s) // θ0
	if err != nil {
		return Result{}, err
	}
	bs, err := search.FindBlocks(p.Arch)
	if err != nil {
		return Result{}, err
	}
	cand, err := bs.Candidates(s.Layer.Removable)
	if err != nil {
		return Result{}, err
	}
	src, err := layerWeightState(p.Net)
	if err != nil {
		return Result{}, err
	}
	var scores []float64
	start := train.Step{}
	if layerWhen(s.Layer) == layerWhenInit {
		scores, err = layerInitScores(p, bs)
	} else {
		scores, src, start, err = layerTrainedScores(r, p, bs, cand, src)
	}
	if err != nil {
		return Result{}, err
	}
	removed, err := bs.SelectRemoval(scores, s.Layer.Blocks, s.Layer.Removable)
	if err != nil {
		return Result{}, err
	}
	rb, err := bs.Rebuild(removed)
	if err != nil {
		return Result{}, err
	}
	dense := *p
	if p.Arch, p.Net, err = layerBuild(s, rb.Arch, s.Training.BatchSize); err != nil {
		return Result{}, err
	}
	if err := rb.Transfer(p.Net, src); err != nil {
		return Result{}, err
	}
	p.Config.Start = start
	rep := layerReport(s, bs, rb, removed, scores, cand)
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return Result{}, err
	}
	rep.StartIter = start.Iters(ipe)
	if err := layerTiming(&dense, p, src, rb, &rep); err != nil {
		return Result{}, err
	}
	if err := writeFileAtomic(filepath.Join(dir, layerReportFile), func(f *os.File) error { return yaml.NewEncoder(f).Encode(rep) }); err != nil {
		return Result{}, err
	}
	h, err := trainPrepared(ctx, p, dir, cbs)
	if err != nil {
		return Result{}, err
	}
	res := Measure(p, h, rep.Method, 1)
	d := float64(rep.Params) / float64(rep.ParamsDense)
	res.Density, res.Sparsity, res.Compression = d, 1-d, 1/d
	res.ParamsTotal, res.FLOPsDense = rep.ParamsDense, rep.FLOPsDense
	return res, nil
}

// layerBuild builds an initialized-to-zero Net of arch as Prepare builds
// the spec's, for batches of up to maxBatch.
func layerBuild(s Spec, arch *nn.Arch, maxBatch int) (*nn.Arch, nn.Net, error) {
	b, err := nn.GetBackend(s.Backend)
	if err != nil {
		return nil, nil, err
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, Temperature: s.Training.Temperature,
		DropoutSeed: nn.SeedFor(s.Seed, nn.NSDropout), Device: s.Device})
	return arch, net, err
}

// layerInitScores scores the blocks of θ0 with grasp, snip or random
// (Algorithm 2, step 2).
func layerInitScores(p *Prepared, bs *search.Blocks) ([]float64, error) {
	s := p.Spec
	if s.Layer.Criterion == search.CritRandom {
		return search.ScoreBlocksTrained(search.TrainedContext{Rng: nn.NewRand(nn.SeedFor(s.Seed, nn.NSMask))}, bs, search.CritRandom, nil)
	}
	crit, err := prune.CriterionByName(s.Layer.Criterion)
	if err != nil {
		return nil, fmt.Errorf("layer.criterion: %w", err)
	}
	ps := s
	ps.Prune.Criterion = s.Layer.Criterion // names the criterion in pruneBatches' errors
	sc := prune.ScoreContext{Temperature: s.Training.Temperature, TrainMode: s.Prune.TrainMode}
	if sc.Batches, err = pruneBatches(p, ps); err != nil {
		return nil, err
	}
	if s.Layer.Criterion == "grasp" {
		sc.Temperature = prune.GraSPTemperature
	}
	if sc.Net, err = scoringNet(p, sc.Temperature); err != nil {
		return nil, err
	}
	return search.ScoreBlocksAtInit(sc, crit, bs, s.Layer.Agg)
}

// layerTrainedScores scores the blocks of level 0's final network
// (Algorithm 1, step 2) and returns the state the kept blocks start from
// (θ_i, or θ_n for lr_only; θ0 is init) and the start step i.
func layerTrainedScores(r *Replicate, p *Prepared, bs *search.Blocks, cand []int, init *nn.State) ([]float64, *nn.State, train.Step, error) {
	s := r.Spec
	level0 := r.UnitDir(0, "")
	ck, err := train.LoadCheckpoint(filepath.Join(level0, "checkpoint.gob"))
	if err != nil {
		return nil, nil, train.Step{}, fmt.Errorf("the dense network's trained weights: %w", err)
	}
	_, net, err := layerBuild(s, p.Arch, pruneBatch)
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
	b, _ := nn.GetBackend(s.Backend)
	tc := search.TrainedContext{Net: net, Backend: b, Device: s.Device, MaxBatch: pruneBatch, Rng: nn.NewRand(nn.SeedFor(s.Seed, nn.NSMask))}
	if search.NeedsSubsample(s.Layer.Criterion) {
		trainSet := p.Splits.Train
		idx, err := search.BalancedSubset(trainSet.Y, trainSet.Classes, s.Layer.SamplesPerClass, nn.NewRand(nn.SeedFor(s.Seed, nn.NSPruneData)))
		if err != nil {
			return nil, nil, train.Step{}, err
		}
		sub := trainSet.Subset(idx)
		for i := 0; i < sub.Len(); i += pruneBatch {
			x, y := sub.Slice(i, pruneBatch)
			tc.Batches = append(tc.Batches, nn.Batch{X: x, Y: y, N: len(y)})
		}
	}
	scores, err := search.ScoreBlocksTrained(tc, bs, s.Layer.Criterion, cand)
	if err != nil {
		return nil, nil, train.Step{}, err
	}
	at, _ := train.ParseStep(s.Layer.RewindStep)
	switch {
	case s.Layer.Rewind == "lr_only":
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

// layerReport fills the report's structure and counts.
func layerReport(s Spec, bs *search.Blocks, rb *search.Rebuilt, removed []int, scores []float64, cand []int) LayerReport {
	l := s.Layer
	rep := LayerReport{Method: layerMethod(s), Criterion: l.Criterion, When: layerWhen(l), Removable: l.Removable, Blocks: l.Blocks,
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

// layerTiming times training steps of the dense and of the rebuilt
// network on copies (the nets that train are not touched), alternating
// three rounds, and records the medians.
func layerTiming(dense, small *Prepared, src *nn.State, rb *search.Rebuilt, rep *LayerReport) error {
	steps, err := train.ParseStep(small.Spec.Layer.TimingSteps)
	if err != nil {
		return fmt.Errorf("layer.timing_steps: %w", err)
	}
	copyOf := func(p *Prepared, rebuilt bool) (*Prepared, error) {
		q := *p
		var err error
		if _, q.Net, err = layerBuild(p.Spec, p.Arch, p.Config.BatchSize); err != nil {
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
			p   *Prepared
			out *[]float64
		}{{d, &td}, {sm, &ts}} {
			el, n, err := TimeSteps(x.p, steps, 2)
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
