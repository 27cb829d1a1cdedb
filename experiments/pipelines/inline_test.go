package pipelines

import (
	"context"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// TestIMPInlineModel runs IMP on an inline model (model.layers) from a
// spec file: 2 rounds at 50% (global) of its 4·9 + 3·16 = 84 conv and
// linear weights keep exactly 42 and 21.
func TestIMPInlineModel(t *testing.T) {
	s, err := experiments.ParseSpec("inline.yaml", []byte(`
pipeline: imp
dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
training: {steps: 2ep, batch_size: 12, lr: 0.01, eval_every: 4it}
prune: {imp_rate: 0.5, imp_rounds: 2}
model:
  layers:
    - {type: conv2d, out: 4, kernel: 3}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: linear, out: 3}
`), []string{"output=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3 levels", len(rs))
	}
	for l, want := range []float64{1, 42.0 / 84, 21.0 / 84} {
		if rs[l].Density != want || rs[l].Model != "inline" {
			t.Errorf("level %d: density %v of model %q, want %v of inline", l, rs[l].Density, rs[l].Model, want)
		}
	}
}

// TestInlineModelPipelines: pruning at initialization and a shared (RPS)
// model train on an inline model, and pipeline narrow, which rescales a zoo
// model's widths, refuses one by name before anything trains.
func TestInlineModelPipelines(t *testing.T) {
	const base = `
dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
training: {steps: 8it, batch_size: 12, lr: 0.01, eval_every: 4it}
model:
  layers:
    - {type: flatten}
    - {type: linear, out: 16}
    - {type: relu}
    - {type: linear, out: 3}
`
	for _, c := range []struct{ name, yaml, err string }{
		{"pai", "pipeline: pai\nprune: {criterion: snip, density: 0.25, data_examples: 24}\n", ""},
		{"rps", "pipeline: rps\nprune: {density: 0.5}\n", ""},
		{"narrow", "pipeline: narrow\nprune: {density: 0.5}\n", "model.layers: pipeline narrow scales a zoo model's widths"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := experiments.ParseSpec("inline.yaml", []byte(base+c.yaml), []string{"output=" + t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			last := rs[len(rs)-1]
			if last.Model != "inline" || last.Density >= 1 {
				t.Errorf("last result: model %q, density %v", last.Model, last.Density)
			}
		})
	}
}
