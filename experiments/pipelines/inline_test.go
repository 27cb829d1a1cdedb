package pipelines

import (
	"context"
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
