package pipelines

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
)

func bipSpec(t *testing.T) experiments.Spec {
	s := tinySpec(t, "bip")
	edit(t, &s, func(c *bipPipeline) {
		c.Prune.Density = f(0.25)
		c.Bip.Steps = "2ep"
	})
	s.Output = t.TempDir()
	return s
}

// TestBiPPipeline runs level 0 (pretraining) and level 1 (the search) and
// checks the exact global count, that pruned weights are zero in the
// measured model, and the method names of both modes.
func TestBiPPipeline(t *testing.T) {
	for _, mode := range []string{"clean", "reference"} {
		t.Run(mode, func(t *testing.T) {
			s := bipSpec(t)
			edit(t, &s, func(c *bipPipeline) {
				c.Bip.Mode = mode
			})
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Method != "dense" {
				t.Fatalf("results %+v, want a dense level 0 and a bip level 1", rs)
			}
			r := rs[1]
			want := map[string]string{"clean": "bip", "reference": "bip (reference)"}[mode]
			// mlp 36-16-3: 624 prunable weights; clean keeps round(156) and
			// reference 624 − floor(468) = 156 too.
			if r.Method != want || r.Density != 156.0/624 {
				t.Errorf("method %q density %v, want %q %v", r.Method, r.Density, want, 156.0/624)
			}
			if r.ParamsNonzero > 156+19 {
				t.Errorf("nonzero params %d, want at most 175", r.ParamsNonzero)
			}
			if r.Iterations != 12 { // 2 epochs of 96−24 = 72 examples in batches of 12
				t.Errorf("search of %d iterations, want 12", r.Iterations)
			}
		})
	}
}

// TestBiPResumeAfterInterrupt interrupts the search and resumes it: the
// scores and their momentum come back with the checkpoint, so the result
// is the uninterrupted one.
func TestBiPResumeAfterInterrupt(t *testing.T) {
	s := bipSpec(t)
	s.Training.EvalEvery = "4it"
	want, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Output = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			if u.Level == 1 && e.Phase == train.AfterStep && e.Iter == 7 {
				cancel()
			}
			return nil
		}}, func() {}
	}
	if _, err := experiments.RunSpec(ctx, s, experiments.RunOptions{Watch: stop}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	got, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got[1].FinalTestLoss != want[1].FinalTestLoss || got[1].ParamsNonzero != want[1].ParamsNonzero {
		t.Errorf("resumed %+v\nuninterrupted %+v", got[1], want[1])
	}
}

func TestBiPValidate(t *testing.T) {
	cases := []struct {
		edit func(*experiments.Spec)
		want string
	}{
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Prune.Density = nil }) }, "needs the density"},
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Bip.Mode = "paper" }) }, "bip.mode"},
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Bip.Structure = "block" }) }, "bip.structure"},
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Bip.Schedule = "step" }) }, "bip.schedule"},
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Bip.LR = 0 }) }, "bip.lr"},
		{func(s *experiments.Spec) { edit(t, s, func(c *bipPipeline) { c.Bip.Steps = "ten" }) }, "bip.steps"},
		{func(s *experiments.Spec) { *s = reparse(t, *s, "prune.criterion=magnitude") }, "does not read prune.criterion"},
		{func(s *experiments.Spec) {
			edit(t, s, func(c *bipPipeline) { c.Bip.Pretrained = filepath.Join(t.TempDir(), "missing.gob") })
		}, "bip.pretrained"},
	}
	for _, c := range cases {
		s := bipSpec(t)
		c.edit(&s)
		if _, err := experiments.Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one mentioning %q", err, c.want)
		}
	}
	// A structured mask on a model without convolutions fails before
	// level 0 trains.
	s := bipSpec(t)
	edit(t, &s, func(c *bipPipeline) {
		c.Bip.Structure = "filter"
	})
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err == nil || !strings.Contains(err.Error(), "fc1.weight") {
		t.Errorf("structured bip on an mlp: %v, want an error naming fc1.weight", err)
	}
}
