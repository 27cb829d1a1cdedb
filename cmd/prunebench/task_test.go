package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/cluster"
)

// writeSweep writes the tiny spec of writeSpec with a sweep over three
// learning rates and two replicates (six units) and returns it and its
// output folder.
func writeSweep(t *testing.T) (spec, out string) {
	t.Helper()
	spec, out = writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("replicates: 2\nsweep:\n  training.lr: [0.01, 0.02, 0.05]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return spec, out
}

// A sweep run as the three tasks of an array job (result files only, then
// collected by board) gives the board of the same sweep run locally, bit
// for bit, and every unit is done.
func TestSweepTasksEqualLocal(t *testing.T) {
	spec, out := writeSweep(t)
	local := filepath.Join(t.TempDir(), "local")
	if _, err := run(t, "sweep", spec, "-q", "--set", "output="+local); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := run(t, "sweep", spec, "--task", []string{"0", "1", "2"}[i], "--tasks", "3"); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, storeFile)); !os.IsNotExist(err) {
		t.Fatalf("the tasks wrote the store (%v); they must write result files only", err)
	}
	status, err := run(t, "status", out)
	if err != nil || !strings.Contains(status, "6 units: 6 done, 0 running, 0 failed, 0 pending") || !strings.Contains(status, "6 result files are not in") {
		t.Errorf("status after the tasks: %v\n%s", err, status)
	}
	_, stderr, err := runWithStderr(t, "board", "--output", out)
	if err != nil || !strings.Contains(stderr, "collected result files into") || !strings.Contains(stderr, "6 new, 0 unchanged, 0 conflicting") {
		t.Fatalf("board of the tasks' folder: %v; stderr %q", err, stderr)
	}
	if got, want := boardCSV(t, out), boardCSV(t, local); got != want {
		t.Errorf("board of the tasks:\n%s\nwant the local sweep's:\n%s", got, want)
	}
	// Collected once: collect finds nothing new, status nothing pending.
	got, err := run(t, "collect", out)
	if err != nil || !strings.Contains(got, "6 result files: 0 new, 6 unchanged, 0 conflicting") {
		t.Errorf("collect after board: %v: %q", err, got)
	}
	list, err := run(t, "sweep", spec, "--list")
	if err != nil || !strings.Contains(list, "6 units: 6 done") {
		t.Errorf("--list: %v\n%s", err, list)
	}
}

// Bad --task input is refused with what to do, before anything runs.
func TestSweepTaskBadInput(t *testing.T) {
	spec, out := writeSweep(t)
	for _, env := range []string{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"} {
		t.Setenv(env, "")
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--task", "3", "--tasks", "3"}, "--task 3 of --tasks 3: want a task from 0 to 2"},
		{[]string{"--task", "-1", "--tasks", "3"}, "want a task from 0 to 2"},
		{[]string{"--task", "1"}, "--task 1 needs --tasks N"},
		{[]string{"--tasks", "3"}, "--tasks needs --task"},
		{[]string{"--task", "env"}, "not a task of an array job"},
		{[]string{"--units", "x.units"}, "--units needs --task"},
		{[]string{"--task", "first", "--tasks", "2"}, `--task "first"`},
		{[]string{"--task", "0", "--tasks", "2", "--units", filepath.Join(out, "none.units")}, "--units"},
	}
	for _, c := range cases {
		_, err := run(t, append([]string{"sweep", spec}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("bad --task input made the output folder (%v)", err)
	}
	// In an array job, --task env finds its index.
	t.Setenv("SLURM_ARRAY_TASK_ID", "5")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "6")
	if _, err := run(t, "sweep", spec, "--task", "env"); err != nil {
		t.Fatal(err)
	}
	list, _ := run(t, "sweep", spec, "--list")
	if !strings.Contains(list, "6 units: 1 done") {
		t.Errorf("task 5 of 6 ran other than one unit:\n%s", list)
	}
}

// A spec without a sweep block is one point: its units are its replicates.
func TestSweepTaskWithoutSweepBlock(t *testing.T) {
	spec, _ := writeSpec(t)
	list, err := run(t, "sweep", spec, "--list")
	if err != nil || !strings.Contains(list, "1 units:") {
		t.Errorf("--list of a spec without sweep: %v\n%s", err, list)
	}
	if _, err := run(t, "sweep", spec, "--task", "0", "--tasks", "1"); err != nil {
		t.Fatal(err)
	}
}

// slurm --dry-run writes the script and the unit list and submits
// nothing; without sbatch, submitting says so and names the script; a
// task of the written unit list runs its share.
func TestSlurmDryRun(t *testing.T) {
	spec, out := writeSweep(t)
	t.Setenv("PATH", t.TempDir()) // no sbatch, no squeue
	script, err := run(t, "slurm", spec, "--dry-run", "--max-parallel", "2", "--time", "0:10:00", "--sbatch", "#SBATCH --qos=test")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#SBATCH --array=0-5%2\n", "#SBATCH --time=0:10:00\n", "#SBATCH --qos=test\n", "--task env --units ", "#SBATCH --signal=B:USR1@120\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("dry-run script lacks %q:\n%s", want, script)
		}
	}
	sbatch, _ := filepath.Glob(filepath.Join(cluster.Dir(out), "*.sbatch"))
	units, _ := filepath.Glob(filepath.Join(cluster.Dir(out), "*.units"))
	if len(sbatch) != 1 || len(units) != 1 {
		t.Fatalf("files: %v %v", sbatch, units)
	}
	if _, err := run(t, "slurm", spec); err == nil || !strings.Contains(err.Error(), "sbatch is not on PATH") || !strings.Contains(err.Error(), sbatch[0]) {
		t.Errorf("slurm without sbatch: %v", err)
	}
	if _, err := run(t, "slurm", spec, "--sbatch", "--qos=test", "--dry-run"); err == nil || !strings.Contains(err.Error(), `"#SBATCH "`) {
		t.Errorf("an --sbatch line without #SBATCH: %v", err)
	}
	// Task 4 of the list runs its one unit, taking the spec from the run
	// folder (--set and --where do not apply).
	if _, err := run(t, "sweep", spec, "--task", "4", "--tasks", "6", "--units", units[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "sweep", spec, "--task", "4", "--tasks", "6", "--units", units[0], "--set", "training.lr=1"); err == nil || !strings.Contains(err.Error(), "--set and --where do not apply") {
		t.Errorf("--units with --set: %v", err)
	}
	st, err := run(t, "status", out)
	if err != nil || !strings.Contains(st, "6 units: 1 done, 0 running, 0 failed, 5 pending") {
		t.Errorf("status: %v\n%s", err, st)
	}
	// The next dry run leaves the done unit out.
	script, err = run(t, "slurm", spec, "--dry-run")
	if err != nil || !strings.Contains(script, "#SBATCH --array=0-4\n") {
		t.Errorf("second dry run: %v\n%s", err, script)
	}
}
