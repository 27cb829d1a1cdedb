package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/cluster"
	"github.com/prunebench/prunebench/internal/slurmtest"
	"github.com/prunebench/prunebench/internal/unitlock"
)

// These tests run prunebench on a real two-node Slurm cluster started on
// this machine (internal/slurmtest). The array tasks run this test binary
// as the CLI (PRUNEBENCH_RUN_MAIN=1, which sbatch passes on to the jobs
// with the rest of the submitting environment).

// clusterSweep writes a sweep of points × replicates units of a synthetic
// task into a fresh folder; iters is each unit's length. Ten classes in
// nine dimensions keep accuracies off 100%, so a board shows any change of
// weights.
func clusterSweep(t *testing.T, sweep string, replicates int, iters int) (spec, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "runs")
	spec = filepath.Join(dir, "sweep.yaml")
	yaml := "dataset: {name: synthetic, shape: [1, 3, 3], classes: 10, train_size: 480, test_size: 96, val_size: 96}\n" +
		"model: {name: mlp, widths: [64]}\n" +
		"training: {steps: " + strconv.Itoa(iters) + "it, batch_size: 16, lr: 0.01, eval_every: " + strconv.Itoa(max(iters/20, 1)) + "it}\n" +
		"replicates: " + strconv.Itoa(replicates) + "\n" +
		"output: " + out + "\n" + sweep
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return spec, out
}

var submitted = regexp.MustCompile(`submitted job (\d+): (\d+) tasks for (\d+) units`)

// submit runs `prunebench slurm` and returns the job id and its task
// count.
func submit(t *testing.T, args ...string) (job string, tasks string) {
	t.Helper()
	t.Setenv("PRUNEBENCH_RUN_MAIN", "1") // for the tasks, which run this binary
	out, err := run(t, append([]string{"slurm"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := submitted.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("slurm printed %q, want the job it submitted", out)
	}
	return m[1], m[2]
}

// localBoard runs the sweep on this machine into another folder and
// returns its board.
func localBoard(t *testing.T, spec string) string {
	t.Helper()
	local := filepath.Join(t.TempDir(), "local")
	if _, err := run(t, "sweep", spec, "-q", "--set", "output="+local); err != nil {
		t.Fatal(err)
	}
	return boardCSV(t, local)
}

// The array job's board (collected by board) equals the local sweep's, bit
// for bit, and every task completed on the cluster.
func TestSlurmLocalEquivalence(t *testing.T) {
	c := slurmtest.Start(t)
	spec, out := clusterSweep(t, "sweep:\n  training.lr: [0.005, 0.01, 0.02]\n", 2, 300)
	job, tasks := submit(t, spec)
	if tasks != "6" {
		t.Errorf("%s tasks, want one per unit (6)", tasks)
	}
	c.WaitJob(t, job, 3*time.Minute)
	for task, state := range c.JobStates(t, job) {
		if state != "COMPLETED" {
			t.Errorf("task %s: %s (log %s)", task, state, readLog(t, out, job, task))
		}
	}
	if got, want := boardCSV(t, out), localBoard(t, spec); got != want {
		t.Errorf("board of the array job:\n%s\nwant the local sweep's:\n%s", got, want)
	}
	if got, _ := run(t, "slurm", spec); !strings.Contains(got, "nothing to submit: of 6 units, 6 are done") {
		t.Errorf("submitting a finished sweep again: %q", got)
	}
}

// A task cancelled while it trains loses only the work since its last
// checkpoint: submitting again runs only the unfinished units, and the
// board equals the uninterrupted sweep's.
func TestSlurmCancelAndResume(t *testing.T) {
	c := slurmtest.Start(t)
	spec, out := clusterSweep(t, "sweep:\n  training.lr: [0.005, 0.01]\n", 2, 6000)
	job, _ := submit(t, spec, "--max-parallel", "2")
	victim, unit := waitForCheckpoint(t, out, 2*time.Minute)
	c.Run(t, "scancel", victim)
	c.WaitJob(t, job, 3*time.Minute)
	st, err := run(t, "status", "--wide", out) // the full error and log path, each on one line
	if err != nil || !strings.Contains(st, "3 done, 0 running, 0 failed, 1 pending") {
		t.Fatalf("status after cancelling %s (%s): %v\n%s", victim, unit, err, st)
	}
	job2, tasks := submit(t, spec)
	if tasks != "1" {
		t.Errorf("the second submission has %s tasks, want the one unfinished unit", tasks)
	}
	c.WaitJob(t, job2, 3*time.Minute)
	log := readLog(t, out, job2, "0")
	if !strings.Contains(log, "resumed from iteration") {
		t.Errorf("the resubmitted unit did not resume from its checkpoint:\n%s", log)
	}
	if got, want := boardCSV(t, out), localBoard(t, spec); got != want {
		t.Errorf("board after cancel and resume:\n%s\nwant the uninterrupted sweep's:\n%s", got, want)
	}
}

// The warning before the time limit (SIGUSR1 to the batch shell, here sent
// by hand): the task checkpoints, requeues itself, runs again and resumes
// from its checkpoint; its log shows both runs.
func TestSlurmWarningSignal(t *testing.T) {
	c := slurmtest.Start(t)
	spec, out := clusterSweep(t, "", 1, 6000)
	job, _ := submit(t, spec)
	victim, _ := waitForCheckpoint(t, out, 2*time.Minute)
	c.Run(t, "scancel", "--signal=USR1", "--batch", victim)
	c.WaitJob(t, job, 3*time.Minute)
	log := readLog(t, out, job, "0")
	for _, want := range []string{"warned before the time limit", "requeued Slurm job " + job + "_0", "resumed from iteration"} {
		if !strings.Contains(log, want) {
			t.Errorf("the task's log lacks %q:\n%s", want, log)
		}
	}
	if states := c.JobStates(t, job); states["0"] != "COMPLETED" {
		t.Errorf("task states %v, want COMPLETED after the requeue", states)
	}
	if got, want := boardCSV(t, out), localBoard(t, spec); got != want {
		t.Errorf("board after the warning:\n%s\nwant the uninterrupted run's:\n%s", got, want)
	}
}

// A point that fails at run time (a pattern of prune.exclude that matches
// no parameter: only the built model tells) fails only its own task, and
// status names it with its log.
func TestSlurmFailureStaysLocal(t *testing.T) {
	c := slurmtest.Start(t)
	spec, out := clusterSweep(t, "pipeline: imp\nprune: {imp_rate: 0.5, imp_rounds: 1}\nsweep:\n  prune.exclude: [[], [fc9.weight]]\n", 1, 200)
	job, _ := submit(t, spec)
	c.WaitJob(t, job, 3*time.Minute)
	states := c.JobStates(t, job)
	var completed, failed int
	for _, s := range states {
		switch s {
		case "COMPLETED":
			completed++
		case "FAILED":
			failed++
		}
	}
	if completed != 1 || failed != 1 {
		t.Errorf("task states %v, want one COMPLETED and one FAILED", states)
	}
	st, err := run(t, "status", "--wide", out) // the full error and log path, each on one line
	if err != nil || !strings.Contains(st, "1 done, 0 running, 1 failed, 0 pending") || !strings.Contains(st, `pattern "fc9.weight" matches no parameter`) ||
		!strings.Contains(st, filepath.Join(cluster.LogDir(out), job+"_")) || !strings.Contains(st, "Slurm jobs with logs in") {
		t.Errorf("status: %v\n%s", err, st)
	}
	if board, err := run(t, "board", "--output", out); err != nil || !strings.Contains(board, "imp") {
		t.Errorf("board of the good point: %v\n%s", err, board)
	}
}

// waitForCheckpoint waits until a unit's lock names a Slurm task and the
// unit has a checkpoint, and returns the task ("JOB_TASK") and the unit.
func waitForCheckpoint(t *testing.T, out string, timeout time.Duration) (task, unit string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		locks, _ := filepath.Glob(filepath.Join(out, "*", "replicate_*", "lock"))
		for _, l := range locks {
			h, err := unitlock.Read(l)
			if err != nil || h.Job == "" {
				continue
			}
			if cks, _ := filepath.Glob(filepath.Join(filepath.Dir(l), "level_*", "checkpoint.gob")); len(cks) > 0 {
				return h.Job, filepath.Dir(l)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no task checkpointed within %v", timeout)
	return "", ""
}

// readLog is a task's log.
func readLog(t *testing.T, out, job, task string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cluster.LogDir(out), job+"_"+task+".out"))
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// An sbatch error (an invalid partition) is an error that says nothing was
// submitted and quotes sbatch; nothing is recorded as submitted, so the
// next submission submits every unit; a submission while those are queued
// or running submits nothing twice.
func TestSlurmSbatchError(t *testing.T) {
	c := slurmtest.Start(t)
	spec, out := clusterSweep(t, "", 2, 6000)
	t.Setenv("PRUNEBENCH_RUN_MAIN", "1")
	_, err := run(t, "slurm", spec, "--partition", "nope")
	if err == nil || !strings.Contains(err.Error(), "nothing was submitted") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("invalid partition: %v", err)
	}
	if jobs, _ := filepath.Glob(filepath.Join(cluster.Dir(out), "*.jobs")); len(jobs) != 0 {
		t.Errorf("a refused submission was recorded: %v", jobs)
	}
	job, tasks := submit(t, spec, "--max-parallel", "1")
	if tasks != "2" {
		t.Errorf("the next submission has %s tasks, want 2", tasks)
	}
	again, err := run(t, "slurm", spec)
	if err != nil || !strings.Contains(again, "nothing to submit: of 2 units") {
		t.Errorf("submitting while the job runs: %v: %q", err, again)
	}
	c.WaitJob(t, job, 3*time.Minute)
}
