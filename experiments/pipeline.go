package experiments

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/prunebench/prunebench/experiments/results"
)

// Pipeline turns a spec into levels and branches (OpenLTH's runner
// registry): pipelines register by name, and the spec's `pipeline` key picks
// one.
type Pipeline interface {
	// Validate checks the spec's pipeline-specific fields, before anything
	// is trained.
	Validate(s Spec) error
	// Run runs one replicate. It calls r.Unit for every level and branch
	// in order; Unit skips what finished before and records results.
	Run(ctx context.Context, r *Replicate) error
}

var (
	pipelinesMu sync.Mutex
	pipelines   = map[string]Pipeline{}
)

// RegisterPipeline makes a pipeline available by name; it panics when the
// name is taken (a programmer error).
func RegisterPipeline(name string, p Pipeline) {
	pipelinesMu.Lock()
	defer pipelinesMu.Unlock()
	if _, ok := pipelines[name]; ok {
		panic("experiments: pipeline " + name + " registered twice")
	}
	pipelines[name] = p
}

// PipelineNames lists the registered pipelines, sorted.
func PipelineNames() []string {
	pipelinesMu.Lock()
	defer pipelinesMu.Unlock()
	names := make([]string, 0, len(pipelines))
	for n := range pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func getPipeline(name string) (Pipeline, error) {
	pipelinesMu.Lock()
	p, ok := pipelines[name]
	pipelinesMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pipeline = %q: want one of %v", name, PipelineNames())
	}
	return p, nil
}

func init() { RegisterPipeline("train", trainPipeline{}) }

// trainPipeline is dense training: one level (0), no pruning.
type trainPipeline struct{}

func (trainPipeline) Validate(s Spec) error {
	key := ""
	if am, ok, _ := s.Prune.Resolve(); ok {
		key = am.Convention
	}
	for k, set := range map[string]bool{"criterion": s.Prune.Criterion != "", "scope": s.Prune.Scope != "",
		"data_examples": s.Prune.DataExamples != 0, "train_mode": s.Prune.TrainMode, "branches": len(s.Prune.Branches) > 0, "iterations": s.Prune.Iterations != 0, "exclude": len(s.Prune.Exclude) > 0, "allow_empty": s.Prune.AllowEmpty} {
		if set {
			key = k
		}
	}
	if key != "" {
		return fmt.Errorf("pipeline train trains dense models and does not read prune.%s; remove it or pick a pruning pipeline (%v)", key, PipelineNames())
	}
	return nil
}

func (trainPipeline) Run(ctx context.Context, r *Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []Callback) (results.Result, error) {
		p, h, err := Train(ctx, r.Spec, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return Measure(p, h, "dense", 1), nil
	})
	return err
}
