package prune_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/prune"
)

// This file is the whole of adding a pruning criterion: the type, its
// registration, and its test. Nothing else in the repository changes, yet
// `prune.criterion: smallest` works in pipeline pai, is listed in
// `prunebench config --defaults`, and is suggested for a misspelling.

// smallest keeps the entries of least magnitude: the inverse of magnitude
// pruning, a control that a criterion worth its name should beat.
type smallest struct{}

func (smallest) Name() string { return "smallest" }

// Needs: the weights only, like magnitude.
func (smallest) Needs() prune.Needs { return prune.Needs{Iterations: 1} }

func (smallest) Scores(ctx prune.ScoreContext) ([][]float32, error) {
	out := make([][]float32, len(ctx.Set))
	for i, info := range ctx.Set {
		w := ctx.Net.Param(info.Name).Values()
		s := make([]float32, len(w))
		for j, v := range w {
			s[j] = -float32(math.Abs(float64(v))) // higher = keep
		}
		out[i] = s
	}
	return out, nil
}

func init() { prune.RegisterCriterion("smallest", func() prune.Criterion { return smallest{} }) }

// TestExampleCriterion runs pipeline pai with the new criterion on a tiny
// MLP (624 prunable weights) at density 1/4: the mask keeps exactly the 156
// weights of least |θ0|.
func TestExampleCriterion(t *testing.T) {
	spec := `
pipeline: pai
dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
model: {name: mlp, widths: [16]}
training: {steps: 1ep, batch_size: 12, lr: 0.01, eval_every: 6it}
prune: {criterion: smallest, density: 0.25}
`
	s, err := experiments.ParseSpec("smallest.yaml", []byte(spec), []string{"output=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Method != "smallest" || rs[0].Density != 0.25 {
		t.Fatalf("results %+v, want one smallest level at density 0.25", rs)
	}
	masks, err := prune.LoadMasks(filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_0", "masks.bin"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := experiments.Prepare(s) // θ0 again: the initialization is a function of the seed
	if err != nil {
		t.Fatal(err)
	}
	var kept, pruned []float64
	for _, name := range masks.Names {
		for i, v := range p.Net.Param(name).Values() {
			if masks.M[name][i] == 1 {
				kept = append(kept, math.Abs(float64(v)))
			} else {
				pruned = append(pruned, math.Abs(float64(v)))
			}
		}
	}
	if len(kept) != 156 || slices.Max(kept) > slices.Min(pruned) {
		t.Errorf("kept %d weights up to |θ0| = %v, pruned from %v: want the 156 smallest", len(kept), slices.Max(kept), slices.Min(pruned))
	}
	// The registry lists it wherever criteria are listed.
	for _, k := range experiments.Keys() {
		if k.Key == "prune.criterion" && !strings.Contains(k.Help, "smallest") {
			t.Errorf("prune.criterion help %q does not list smallest", k.Help)
		}
	}
	if _, err := prune.CriterionByName("smalest"); err == nil || !strings.Contains(err.Error(), `did you mean "smallest"`) {
		t.Errorf("misspelling: %v", err)
	}
}
