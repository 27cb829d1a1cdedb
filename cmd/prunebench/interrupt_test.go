package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

func TestExitStatus(t *testing.T) {
	cases := []struct {
		err    error
		status int
		stderr string
	}{
		{nil, 0, ""},
		{errors.New("boom"), 1, "prunebench: boom\n"},
		{fmt.Errorf("3 of 6 runs failed"), 1, "prunebench: 3 of 6 runs failed\n"},
		{context.Canceled, 130, "prunebench: interrupted\n"},
		{fmt.Errorf("level 0: %w", context.Canceled), 130, "prunebench: interrupted\n"},
		// Already printed by the command: nothing more.
		{&interruptedError{"interrupted: checkpointed; rerun to resume"}, 130, ""},
		{context.DeadlineExceeded, 1, "prunebench: context deadline exceeded\n"},
	}
	for _, c := range cases {
		if got := exitStatus(c.err); got != c.status {
			t.Errorf("exitStatus(%v) = %d, want %d", c.err, got, c.status)
		}
		if c.err == nil {
			continue
		}
		var buf bytes.Buffer
		reportError(&buf, c.err)
		if buf.String() != c.stderr {
			t.Errorf("reportError(%v) printed %q, want %q", c.err, buf.String(), c.stderr)
		}
	}
}

// writeSweepSpec is writeSpec's spec with a sweep of n learning rates.
func writeSweepSpec(t *testing.T, n int) (spec, out string) {
	t.Helper()
	spec, out = writeSpec(t)
	lrs := make([]string, n)
	for i := range lrs {
		lrs[i] = fmt.Sprint(0.01 * float64(i+1))
	}
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("sweep:\n  training.lr: [" + strings.Join(lrs, ", ") + "]\n"); err != nil {
		t.Fatal(err)
	}
	return spec, out
}

// A sweep whose context is canceled before it starts trains nothing, lists
// no failures and says how many runs it did not start.
func TestSweepInterruptedBeforeStart(t *testing.T) {
	spec, out := writeSweepSpec(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"sweep", spec, "-q"})
	err := cmd.ExecuteContext(ctx)
	const want = "interrupted: 0 finished, 0 checkpointed, 3 not started; rerun to resume"
	if !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Fatalf("error %v, want %q wrapping context.Canceled", err, want)
	}
	if strings.Count(stderr.String(), want) != 1 {
		t.Errorf("stderr says %q other than once:\n%s", want, stderr.String())
	}
	for _, bad := range []string{"failed", "context canceled"} {
		if strings.Contains(stdout.String()+stderr.String(), bad) {
			t.Errorf("output says %q:\n%s%s", bad, stdout.String(), stderr.String())
		}
	}
	if rs, _ := filepath.Glob(filepath.Join(out, "*", "replicate_0")); len(rs) != 0 {
		t.Errorf("an interrupted sweep started runs: %v", rs)
	}
}

// reportSweep after an interrupt: the finished run in the table, the
// genuine failure as a failure, and one line counting the rest.
func TestReportSweepInterrupted(t *testing.T) {
	spec, _ := writeSweepSpec(t, 4)
	sw, err := experiments.LoadSweep(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := sw.Specs
	outcomes := []experiments.SweepOutcome{
		{Spec: s[0], Units: 1, Started: true, Results: []results.Result{{BestTestAcc: 0.5}}},
		{Spec: s[1], Units: 1, Started: true, Err: errors.New("training diverged: loss is NaN")},
		{Spec: s[2], Units: 1, Started: true, Err: fmt.Errorf("replicate 0 level 0: %w", context.Canceled)},
		{Spec: s[3], Units: 1, Err: context.Canceled},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cmd := &cobra.Command{}
	cmd.SetContext(ctx)
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err = reportSweep(cmd, outcomes)
	const want = "interrupted: 1 finished, 1 failed, 1 checkpointed, 1 not started; rerun to resume"
	if !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Errorf("error %v, want %q wrapping context.Canceled", err, want)
	}
	if got := strings.TrimSpace(stderr.String()); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	o := stdout.String()
	for _, w := range []string{experiments.Hash(s[0]), "50.00%", "1 of 4 runs failed", experiments.Hash(s[1]), "loss is NaN", "training.lr=0.02"} {
		if !strings.Contains(o, w) {
			t.Errorf("stdout lacks %q:\n%s", w, o)
		}
	}
	for _, bad := range []string{experiments.Hash(s[2]), experiments.Hash(s[3]), "context canceled", "map["} {
		if strings.Contains(o, bad) {
			t.Errorf("stdout shows %q:\n%s", bad, o)
		}
	}

	// Without an interrupt a failure is an ordinary error.
	cmd.SetContext(context.Background())
	stdout.Reset()
	stderr.Reset()
	err = reportSweep(cmd, outcomes[:2])
	if err == nil || errors.Is(err, context.Canceled) || err.Error() != "1 of 2 runs failed" {
		t.Errorf("failure without interrupt: %v", err)
	}
}

// TestInterruptExitStatus sends SIGINT to real prunebench processes, a run
// and a sweep, in the middle of training: each checkpoints, says so in one
// line, prints nothing about a canceled context and exits with status 130.
func TestInterruptExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for several seconds")
	}
	dir := t.TempDir()
	spec, sweep := filepath.Join(dir, "spec.yaml"), filepath.Join(dir, "sweep.yaml")
	yaml := `dataset: {name: synthetic, shape: [1, 28, 28], classes: 10, train_size: 2048, test_size: 256, val_size: 256}
model: {name: mlp, widths: [512, 512]}
training: {steps: 12ep, batch_size: 64, lr: 0.001, eval_every: 20it}
`
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sweep, []byte(yaml+"sweep:\n  seed: [1, 2, 3]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		// ready says whether the run has got far enough to interrupt.
		ready func(out string) bool
		want  string
	}{
		{
			[]string{"run", spec, "-q"},
			func(out string) bool { return len(glob(out, "*", "replicate_0", "level_0", "checkpoint.gob")) == 1 },
			"interrupted: checkpointed; rerun to resume",
		},
		{
			// One run finished and the next checkpointed; the third never
			// starts (one job).
			[]string{"sweep", sweep, "-q", "-j", "1"},
			func(out string) bool {
				return len(glob(out, "*", "replicate_0", "level_0", "result.yaml")) == 1 &&
					len(glob(out, "*", "replicate_0", "level_0", "checkpoint.gob")) == 2
			},
			"interrupted: 1 finished, 1 checkpointed, 1 not started; rerun to resume",
		},
	}
	for i, c := range cases {
		t.Run(c.args[0], func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("runs%d", i))
			cmd := exec.Command(os.Args[0], append(c.args, "--set", "output="+out)...)
			cmd.Env = append(os.Environ(), "PRUNEBENCH_RUN_MAIN=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for !c.ready(out) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !c.ready(out) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("not ready to interrupt after 2 minutes\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Errorf("exit %v, want status 130", err)
			}
			e := stderr.String()
			if strings.Count(e, c.want) != 1 {
				t.Errorf("stderr does not say %q once:\n%s", c.want, e)
			}
			for _, bad := range []string{"context canceled", "prunebench:", "failed"} {
				if strings.Contains(e+stdout.String(), bad) {
					t.Errorf("output says %q:\nstdout:\n%s\nstderr:\n%s", bad, stdout.String(), e)
				}
			}
		})
	}
}

func glob(parts ...string) []string {
	m, _ := filepath.Glob(filepath.Join(parts...))
	return m
}
