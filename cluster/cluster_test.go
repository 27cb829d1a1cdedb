package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTask(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		task  string
		count int
		env   func(string) string
		want  Task
		err   string
	}{
		{"2", 5, env(), Task{2, 5}, ""},
		{"0", 1, env(), Task{0, 1}, ""},
		{"5", 5, env(), Task{}, "--task 5 of --tasks 5: want a task from 0 to 4"},
		{"-1", 5, env(), Task{}, "want a task from 0 to 4"},
		{"3", 0, env(), Task{}, "needs --tasks N"},
		{"two", 5, env(), Task{}, `--task "two": want a task index (0, 1, …) or env`},
		{"env", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "8"), Task{3, 8}, ""},
		{"env", 8, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "8"), Task{3, 8}, ""},
		{"env", 4, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "8"), Task{}, "disagrees"},
		{"env", 0, env("SLURM_ARRAY_TASK_ID", "9", "SLURM_ARRAY_TASK_COUNT", "8"), Task{}, "the array must run 0 to 7"},
		{"env", 0, env("SLURM_ARRAY_TASK_ID", "3"), Task{}, "SLURM_ARRAY_TASK_COUNT is not"},
		{"env", 6, env("JOB_COMPLETION_INDEX", "5"), Task{5, 6}, ""},
		{"env", 0, env("JOB_COMPLETION_INDEX", "5"), Task{}, "give --tasks N"},
		{"env", 0, env(), Task{}, "not a task of an array job"},
		{"env", 0, env("SLURM_ARRAY_TASK_ID", "x", "SLURM_ARRAY_TASK_COUNT", "8"), Task{}, `SLURM_ARRAY_TASK_ID = "x"`},
	}
	for _, c := range cases {
		got, err := ParseTask(c.task, c.count, c.env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("--task %s --tasks %d: %v, want an error with %q", c.task, c.count, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("--task %s --tasks %d: %v, %v; want %v", c.task, c.count, got, err, c.want)
		}
	}
}

// The script asks for what the design needs (an array 0..N-1 throttled to
// K, logs per task appended to on requeue, the warning signal to the batch
// shell, requeue) and runs this prunebench on the unit list with exec, so
// the signal reaches it.
func TestScript(t *testing.T) {
	s, err := Script(ScriptOptions{
		Sweep: "abc123", Spec: "/w/my sweep.yaml", Binary: "/opt/pb/prunebench", Units: "/o/slurm/abc123-1.units",
		Tasks: 12, MaxParallel: 4, Logs: "/o/slurm/logs", Partition: "gpu", Time: "02:00:00", Mem: "8G",
		CPUsPerTask: 2, GPUsPerTask: 1, Extra: []string{"#SBATCH --qos=long"}, Warn: 120 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n", "#SBATCH --array=0-11%4\n", "#SBATCH --output=/o/slurm/logs/%A_%a.out\n", "#SBATCH --open-mode=append\n",
		"#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@120\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=02:00:00\n",
		"#SBATCH --mem=8G\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --gpus-per-task=1\n", "#SBATCH --qos=long\n",
		"exec /opt/pb/prunebench sweep '/w/my sweep.yaml' --task env --units /o/slurm/abc123-1.units --jobs 1\n", // one unit at a time on the GPU
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if cpu, _ := Script(ScriptOptions{Tasks: 1, Binary: "b", Units: "u", Logs: "l", CPUsPerTask: 4}); !strings.Contains(cpu, "--jobs 4\n") {
		t.Errorf("a CPU task does not train a unit per core:\n%s", cpu)
	}
	if strings.Contains(s, "--account") {
		t.Error("an empty account is written")
	}
	if _, err := Script(ScriptOptions{Tasks: 1, Binary: "b", Units: "u", Logs: "l", Extra: []string{"--qos=long"}}); err == nil || !strings.Contains(err.Error(), `"#SBATCH "`) {
		t.Errorf("an --sbatch line without #SBATCH: %v", err)
	}
	// bash reads the quoting back as the path.
	if _, err := exec.LookPath("bash"); err == nil {
		out, err := exec.Command("bash", "-c", "printf %s "+shellQuote(`it's a "path" $HOME`)).Output()
		if err != nil || string(out) != `it's a "path" $HOME` {
			t.Errorf("shellQuote round trip: %q, %v", out, err)
		}
	}
}

func TestUnitList(t *testing.T) {
	out := t.TempDir()
	l := UnitList{Output: out, Sweep: "abc", Spec: "s.yaml", Tasks: 2, Units: []string{"a/replicate_0", "a/replicate_1", "b/replicate_0"}}
	path, err := WriteUnitList(l)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != Dir(out) || !strings.HasPrefix(filepath.Base(path), "abc-") {
		t.Errorf("unit list at %s", path)
	}
	got, err := ReadUnitList(path)
	if err != nil {
		t.Fatal(err)
	}
	share, _ := got.Share(Task{0, 2})
	if strings.Join(share, " ") != "a/replicate_0 b/replicate_0" {
		t.Errorf("task 0's share: %v", share)
	}
	other := l
	other.Units = l.Units[:2]
	if p2, _ := WriteUnitList(other); p2 == path {
		t.Error("another list overwrote the first")
	}
	os.WriteFile(filepath.Join(out, "junk.units"), []byte("units: 3\n"), 0o644)
	if _, err := ReadUnitList(filepath.Join(out, "junk.units")); err == nil || !strings.Contains(err.Error(), "not a unit list") {
		t.Errorf("junk: %v", err)
	}
}

func TestSubmissionsAndLogs(t *testing.T) {
	out := t.TempDir()
	for _, s := range []Submission{{"41", "/o/a.units", time.Unix(0, 0)}, {"57", "/o/b.units", time.Unix(60, 0)}} {
		if err := RecordSubmission(out, "abc", s); err != nil {
			t.Fatal(err)
		}
	}
	subs, err := Submissions(out, "abc")
	if err != nil || len(subs) != 2 || subs[1].Job != "57" || subs[1].Units != "/o/b.units" || !subs[1].Submitted.Equal(time.Unix(60, 0)) {
		t.Errorf("Submissions: %+v, %v", subs, err)
	}
	os.MkdirAll(LogDir(out), 0o755)
	for _, n := range []string{"57_0.out", "57_1.out", "9_3.out", "notes.txt"} {
		os.WriteFile(filepath.Join(LogDir(out), n), nil, 0o644)
	}
	if got := strings.Join(LoggedJobs(out), " "); got != "9 57" {
		t.Errorf("LoggedJobs: %q", got)
	}
}

func TestSubmitWithoutSbatch(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Submit("x.sbatch"); err != ErrNoSbatch {
		t.Errorf("Submit without sbatch: %v", err)
	}
}
