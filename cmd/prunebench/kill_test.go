package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// TestMain lets a test run this binary as the CLI: with PRUNEBENCH_RUN_MAIN=1
// the test binary is prunebench itself.
func TestMain(m *testing.M) {
	if os.Getenv("PRUNEBENCH_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSurvivesKill kills a real prunebench process (SIGKILL, no chance to
// clean up) in the middle of replicate 1, runs the same command again, and
// checks that the results equal those of an uninterrupted run and that
// replicate 0, finished before the kill, was not run again.
func TestRunSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for several seconds")
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	yaml := `dataset: {name: synthetic, shape: [1, 28, 28], classes: 10, train_size: 2048, test_size: 256, val_size: 256}
model: {name: mlp, widths: [512, 512]}
training: {steps: 12ep, batch_size: 64, lr: 0.001, eval_every: 20it}
replicates: 2
`
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(dir, "killed")
	cmd := exec.Command(os.Args[0], "run", spec, "-q", "--set", "output="+killed)
	cmd.Env = append(os.Environ(), "PRUNEBENCH_RUN_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once replicate 1 has checkpointed at least once.
	var ckpts []string
	deadline := time.Now().Add(2 * time.Minute)
	var rep1 string
	for time.Now().Before(deadline) {
		if ckpts, _ = filepath.Glob(filepath.Join(killed, "*", "replicate_1", "level_0", "checkpoint.gob")); len(ckpts) == 1 {
			rep1 = filepath.Dir(ckpts[0])
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rep1 == "" {
		cmd.Process.Kill()
		t.Fatal("replicate 1 never checkpointed")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(rep1, "result.yaml")); err == nil {
		t.Fatal("replicate 1 finished before the kill: the test did not interrupt anything; make the run longer")
	}
	rep0 := filepath.Join(filepath.Dir(filepath.Dir(rep1)), "replicate_0", "level_0", "result.yaml")
	before, err := os.ReadFile(rep0)
	if err != nil {
		t.Fatalf("replicate 0 did not finish before the kill: %v", err)
	}

	if _, err := run(t, "run", spec, "-q", "--set", "output="+killed); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	after, err := os.ReadFile(rep0)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("replicate 0's result changed when resuming (err %v): it was run again", err)
	}
	clean := filepath.Join(dir, "clean")
	if _, err := run(t, "run", spec, "-q", "--set", "output="+clean); err != nil {
		t.Fatal(err)
	}
	got, want := storedResults(t, killed), storedResults(t, clean)
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("%d results after the kill, %d uninterrupted; want 2 each", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.BestIter != w.BestIter || g.BestTestAcc != w.BestTestAcc || g.BestTestLoss != w.BestTestLoss ||
			g.BestValLoss != w.BestValLoss || g.FinalTestLoss != w.FinalTestLoss || g.ParamsNonzero != w.ParamsNonzero {
			t.Errorf("replicate %d: resumed %+v\nuninterrupted %+v", i, g, w)
		}
	}
}

func storedResults(t *testing.T, output string) []results.Result {
	t.Helper()
	st, err := results.Open(filepath.Join(output, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
