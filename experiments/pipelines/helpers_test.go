package pipelines

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/nn/native"
)

func f(v float64) *float64 { return &v }
func n(v int) *int         { return &v }

// tinySpec is a fast synthetic spec of the named pipeline, at its
// defaults: an MLP on 1×6×6 inputs, 3 classes.
func tinySpec(t testing.TB, pipeline string) experiments.Spec {
	t.Helper()
	s, err := experiments.DefaultsFor(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	s.Dataset = experiments.DatasetSpec{Name: "synthetic", Augment: "default", Shape: []int{1, 6, 6}, Classes: 3, TrainSize: 96, TestSize: 48, ValSize: 24}
	s.Model = experiments.ModelSpec{Name: "mlp", Widths: []int{16}, WidthMultiplier: 1}
	s.Training.Steps = "3ep"
	s.Training.BatchSize = 12
	s.Training.LR = 0.01
	s.Training.EvalEvery = "5it"
	return s
}

// edit changes the configuration of s's pipeline, a P.
func edit[P experiments.Pipeline](t testing.TB, s *experiments.Spec, change func(*P)) {
	t.Helper()
	c, ok := s.Config.(P)
	if !ok {
		t.Fatalf("spec of pipeline %s has a %T, not the configuration edited", s.Pipeline, s.Config)
	}
	change(&c)
	s.Config = c
}

// reparse is s written as a spec file and read back with --set overrides:
// the way a user sets a key, including one the pipeline does not read.
func reparse(t testing.TB, s experiments.Spec, sets ...string) experiments.Spec {
	t.Helper()
	var b bytes.Buffer
	if err := experiments.WriteSpecYAML(&b, s); err != nil {
		t.Fatal(err)
	}
	out, err := experiments.ParseSpec("test.yaml", b.Bytes(), sets)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loadSweep loads a sweep file's points; a path under papers/ is the paper
// config of that name (experiments/papers).
func loadSweep(path string, overrides []string) ([]experiments.Spec, error) {
	if strings.HasPrefix(path, "papers/") {
		path = filepath.Join("..", path)
	}
	sw, err := experiments.LoadSweep(path, overrides)
	return sw.Specs, err
}

// replicateOf is replicate i of a spec's run, as RunSpec lays it out: for
// reading what a run left in its folders.
func replicateOf(s experiments.Spec, i int) *experiments.Replicate {
	h := experiments.Hash(s)
	return &experiments.Replicate{Spec: s, Index: i, Hash: h, Dir: filepath.Join(s.Output, h, fmt.Sprintf("replicate_%d", i))}
}
