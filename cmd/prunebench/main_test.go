package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI with args and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runWithStderr(t, args...)
	return out, err
}

// wantError reports, under label, a nil err or one whose message lacks any
// of wants: the check of every refused-input case.
func wantError(t *testing.T, label string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", label)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q lacks %q", label, err, w)
		}
	}
}

// runWithStderr runs the CLI and returns its stdout and stderr.
func runWithStderr(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeSpec(t *testing.T) (spec, out string) {
	t.Helper()
	dir := t.TempDir()
	spec = filepath.Join(dir, "tiny.yaml")
	out = filepath.Join(dir, "runs")
	yaml := `dataset: {name: synthetic, shape: [1, 4, 4], classes: 3, train_size: 60, test_size: 30, val_size: 12}
model: {name: mlp, widths: [8]}
training: {steps: 2ep, batch_size: 12, lr: 0.01, eval_every: 2it}
output: ` + out + "\n"
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return spec, out
}

func TestTrainCommandRunsAndResumes(t *testing.T) {
	wholeTables(t)
	spec, out := writeSpec(t)
	first, err := run(t, "train", spec, "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"test acc @best", "dense"} {
		if !strings.Contains(first, want) {
			t.Errorf("output lacks %q:\n%s", want, first)
		}
	}
	results, _ := filepath.Glob(filepath.Join(out, "*", "replicate_0", "level_0", "result.yaml"))
	if len(results) != 1 {
		t.Fatalf("results %v, want one", results)
	}
	before, err := os.Stat(results[0])
	if err != nil {
		t.Fatal(err)
	}
	// The same command again finds the finished run, trains nothing and
	// prints the same table.
	second, err := run(t, "train", spec, "-q")
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second run printed\n%s\nfirst\n%s", second, first)
	}
	if after, err := os.Stat(results[0]); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("result.yaml was rewritten: the finished run was trained again")
	}
	// An override is another run.
	if _, err := run(t, "train", spec, "-q", "--set", "training.lr=0.02"); err != nil {
		t.Fatal(err)
	}
	if runs, _ := filepath.Glob(filepath.Join(out, "*", "spec.yaml")); len(runs) != 2 {
		t.Errorf("run folders %v, want two", runs)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	spec, _ := writeSpec(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "/nonexistent.yaml"}, "/nonexistent.yaml"},
		{[]string{"train", spec, "--set", "training.stpes=1ep"}, `did you mean "training.steps"`},
		{[]string{"train", spec, "--set", "model.name=resnet1000"}, "want one of"},
		{[]string{"train"}, "accepts 1 arg"},
		{[]string{"bench", spec, "--steps", "many"}, "--steps"},
	}
	for _, c := range cases {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

func TestBenchCommandLabel(t *testing.T) {
	spec, _ := writeSpec(t)
	out, err := run(t, "bench", spec, "--steps", "3it", "--label", "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "tiny ") {
		t.Errorf("bench output %q, want \"tiny SECONDS\"", out)
	}
}
