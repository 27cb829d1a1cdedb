package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// This file is the whole of adding a pipeline, written against the exported
// API only, as a package of one's own would be: the type whose fields are
// its sections, its registration, Validate, Run, and its test. Its keys,
// their defaults and help, the run name and the refusal of its keys by
// other pipelines all follow from the type.

// earlyPipeline prunes by magnitude once, at a step early in training, and
// trains on under the mask ("pruning early in training", the cousin of the
// LTH papers' late resetting).
type earlyPipeline struct {
	Prune struct {
		experiments.AmountSpec `mapstructure:",squash"`
	} `mapstructure:"prune"`
	Early earlySection `mapstructure:"early"`
}

type earlySection struct {
	At string `mapstructure:"at" help:"early: the step at which the network is pruned by magnitude (500it, 1ep)"`
}

func init() { experiments.RegisterPipeline("early", earlyPipeline{Early: earlySection{At: "1ep"}}) }

func (c earlyPipeline) Validate(experiments.Spec) error {
	if _, ok, err := c.Prune.Resolve(); err != nil {
		return err
	} else if !ok {
		return errors.New("pipeline early needs a prune amount: set prune.density, prune.sparsity, ...")
	}
	if _, err := train.ParseStep(c.Early.At); err != nil {
		return fmt.Errorf("early.at: %w", err)
	}
	return nil
}

func (c earlyPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, err := experiments.Prepare(r.Spec)
		if err != nil {
			return results.Result{}, err
		}
		am, _, _ := c.Prune.Resolve()
		at, _ := train.ParseStep(c.Early.At)
		set, err := prune.ResolvePrunable(p.Arch.Params(), nil, nil)
		if err != nil {
			return results.Result{}, err
		}
		plan, err := prune.DensityPlan(set, am.Density, prune.Global, nil)
		if err != nil {
			return results.Result{}, err
		}
		pruneAt := func(e *train.Event) error {
			if e.Phase != train.AfterStep || e.Iter != at.Iters(e.History.ItersPerEpoch) {
				return nil
			}
			scores := make([][]float32, len(set))
			for i, info := range set {
				for _, v := range e.Net.Param(info.Name).Values() {
					scores[i] = append(scores[i], max(v, -v))
				}
			}
			masks, err := plan.Select(scores, nil)
			if err != nil {
				return err
			}
			return masks.Apply(e.Net, nn.ZeroAfterStep)
		}
		h, err := p.Train(ctx, dir, append(cbs, pruneAt)...)
		if err != nil {
			return results.Result{}, err
		}
		names := make([]string, len(set))
		for i, info := range set {
			names[i] = info.Name
		}
		final, err := prune.MasksFromNet(p.Net, names) // also after a resume past the pruning step
		if err != nil {
			return results.Result{}, err
		}
		return experiments.Measure(p, h, "early", final.Density()), nil
	})
	return err
}

func TestExamplePipeline(t *testing.T) {
	const spec = `
pipeline: early
dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
model: {name: mlp, widths: [16]}
training: {steps: 3ep, batch_size: 12, lr: 0.01, eval_every: 6it}
prune: {density: 0.25}
early: {at: 6it}
`
	s, err := experiments.ParseSpec("early.yaml", []byte(spec), []string{"output=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c := experiments.Canonical(s); c["early.at"] != "6it" || c["pipeline"] != "early" {
		t.Errorf("canonical form %v lacks the pipeline's own key", c)
	}
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// mlp 36-16-3: 624 prunable weights, 156 kept, 19 biases.
	if len(rs) != 1 || rs[0].Method != "early" || rs[0].Density != 0.25 || rs[0].ParamsNonzero > 156+19 {
		t.Fatalf("results %+v, want one early level at density 0.25 with at most 175 nonzero parameters", rs)
	}

	// Its key is documented, and refused by the pipelines that do not
	// read it.
	found := false
	for _, k := range experiments.Keys() {
		found = found || (k.Key == "early.at" && k.Default == "1ep" && strings.Contains(k.Help, "magnitude"))
	}
	if !found {
		t.Error("early.at is not listed with its default and help")
	}
	imp, err := experiments.ParseSpec("imp.yaml", []byte("pipeline: imp\nprune: {density: 0.5}\nearly: {at: 2ep}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiments.Validate(imp); err == nil || err.Error() != "pipeline imp does not read early.at (remove it, or use pipeline early)" {
		t.Errorf("imp with early.at: %v", err)
	}
	bad, err := experiments.ParseSpec("bad.yaml", []byte(spec), []string{"early.at=soon"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiments.Validate(bad); err == nil || !strings.Contains(err.Error(), "early.at") {
		t.Errorf("early.at = soon: %v", err)
	}
}
