package experiments

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func paiSpec(t *testing.T, criterion string) Spec {
	s := tinySpec()
	s.Pipeline = "pai"
	s.Prune.Density = f(0.25)
	s.Prune.Criterion = criterion
	s.Prune.DataExamples = 40
	s.Output = t.TempDir()
	return s
}

// TestPaiPipeline prunes at initialization with each implemented criterion
// and checks the density (exact keep count), that the trained weights are
// zero where pruned, and that the result is recorded under the criterion.
func TestPaiPipeline(t *testing.T) {
	for _, crit := range []string{"magnitude", "random", "snip", "grasp"} {
		t.Run(crit, func(t *testing.T) {
			s := paiSpec(t, crit)
			rs, err := RunSpec(context.Background(), s, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			// mlp 36-16-3: 576 + 48 prunable weights; layer-agnostic global
			// keep round(0.25 · 624) = 156.
			if want := 156.0 / 624; r.Density != want || r.Method != crit {
				t.Errorf("density %v method %s, want %v %s", r.Density, r.Method, want, crit)
			}
			// Nonzero parameters: at most the 156 kept weights plus the 19
			// biases.
			if r.ParamsNonzero > 156+19 || r.ParamsNonzero < 100 {
				t.Errorf("nonzero params %d, want at most 175 (pruned weights must stay zero)", r.ParamsNonzero)
			}
			if math.IsNaN(r.BestTestAcc) {
				t.Error("no test accuracy")
			}
		})
	}
}

// TestPaiResumeAfterInterrupt interrupts a pruned run and resumes it: the
// masks are recomputed from the seed and the checkpoint restores the rest,
// giving the uninterrupted result.
func TestPaiResumeAfterInterrupt(t *testing.T) {
	s := paiSpec(t, "snip")
	want, err := RunSpec(context.Background(), s, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Output = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(UnitInfo) ([]Callback, func()) {
		return []Callback{func(e *nn.Event) error {
			if e.Phase == nn.AfterStep && e.Iter == 7 {
				cancel()
			}
			return nil
		}}, func() {}
	}
	if _, err := RunSpec(ctx, s, RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	got, err := RunSpec(context.Background(), s, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].BestTestLoss != want[0].BestTestLoss || got[0].FinalTestLoss != want[0].FinalTestLoss || got[0].ParamsNonzero != want[0].ParamsNonzero {
		t.Errorf("resumed %+v\nuninterrupted %+v", got[0], want[0])
	}
}

func TestPaiValidate(t *testing.T) {
	cases := []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Prune.Density = nil }, "needs an amount"},
		{func(s *Spec) { s.Prune.Criterion = "" }, "needs prune.criterion"},
		{func(s *Spec) { s.Prune.Criterion = "synflow" }, "not implemented"},
		{func(s *Spec) { s.Prune.Criterion = "l1" }, "prune.criterion"},
		{func(s *Spec) { s.Prune.Scope = "local" }, "prune.scope"},
		{func(s *Spec) { s.Prune.DataExamples = -1 }, "prune.data_examples"},
		{func(s *Spec) { s.Prune.Density = f(0.001) }, "no kept entry"},
	}
	for _, c := range cases {
		s := paiSpec(t, "magnitude")
		c.edit(&s)
		_, err := Validate(s)
		if err == nil {
			_, err = RunSpec(context.Background(), s, RunOptions{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
	// Batch norm without prune.train_mode is refused for data criteria.
	s := paiSpec(t, "snip")
	s.Dataset.Shape = []int{3, 8, 8}
	s.Model = ModelSpec{Name: "resnet20", WidthMultiplier: 0.25}
	if _, err := RunSpec(context.Background(), s, RunOptions{}); err == nil || !strings.Contains(err.Error(), "prune.train_mode") {
		t.Errorf("snip on a batch-norm net: %v", err)
	}
	if _, err := filepath.Glob(filepath.Join(s.Output, "*")); err != nil {
		t.Fatal(err)
	}
}
