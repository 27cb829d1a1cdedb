package slurmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jobID returns the job ID that sbatch --parsable printed ("ID" or
// "ID;cluster").
func jobID(out string) string {
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	return id
}

// waitFor polls cond every 100 ms until it holds, and fails the test with
// what after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// running reports whether the process exists and is not a zombie (where
// PID 1 does not reap orphans, a daemon that exited stays a zombie).
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndex(s, ") "); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z'
	}
	return true
}

// parentPID is the parent of a process, or 0.
func parentPID(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// readPID reads a pid file.
func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// An array of four one-CPU tasks runs on both nodes, and a client needs
// nothing but SLURM_CONF to reach the cluster.
func TestArrayRunsOnBothNodes(t *testing.T) {
	c := Start(t)

	cmd := exec.Command("sinfo", "-h", "-N", "-o", "%N %t")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SLURM_CONF=" + c.Conf}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Fields(string(out))[0] != "n1" {
		t.Fatalf("sinfo with only PATH and SLURM_CONF: %v\n%s", err, out)
	}

	id := jobID(c.Run(t, "sbatch", "--parsable", "--array=0-3",
		"--output="+filepath.Join(c.Dir, "%A_%a.out"),
		"--wrap", "echo task $SLURM_ARRAY_TASK_ID on $SLURMD_NODENAME; sleep 1"))
	c.WaitJob(t, id, 40*time.Second)

	states := c.JobStates(t, id)
	want := map[string]string{"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED", "3": "COMPLETED"}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("JobStates(%s) = %v, want %v", id, states, want)
	}
	nodes := map[string]int{}
	for task := range 4 {
		path := filepath.Join(c.Dir, id+"_"+strconv.Itoa(task)+".out")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		line := strings.TrimSpace(string(data))
		node, ok := strings.CutPrefix(line, "task "+strconv.Itoa(task)+" on ")
		if !ok {
			t.Errorf("%s: %q", path, line)
			continue
		}
		nodes[node]++
	}
	if nodes["n1"] == 0 || nodes["n2"] == 0 {
		t.Errorf("tasks per node: %v, want some on n1 and on n2", nodes)
	}
}

// requeueScript is a batch script in the shape the product relies on: its
// first run waits for USR1 (Slurm's warning before the time limit, which
// --signal=B:USR1@N asks for; sent by hand here), then requeues its own
// array task and exits; the requeued run (SLURM_RESTART_COUNT=1) finishes.
// The exec makes the trapping shell the batch step's process, the one that
// the B: in --signal and scancel --batch signal.
const requeueScript = `#!/bin/bash
echo "run SLURM_RESTART_COUNT=${SLURM_RESTART_COUNT:-0}"
if [[ ${SLURM_RESTART_COUNT:-0} -gt 0 ]]; then
  echo finished
  exit 0
fi
exec bash -c '
trap "echo got USR1; scontrol requeue ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} || echo requeue failed; exit 0" USR1
echo ready
while :; do sleep 0.1 & wait $!; done'
`

// A task that gets USR1 requeues itself and runs again, appending to the
// same log.
func TestRequeueOnSignal(t *testing.T) {
	c := Start(t)
	script := filepath.Join(c.Dir, "requeue.sh")
	if err := os.WriteFile(script, []byte(requeueScript), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(c.Dir, "requeue_0.out")
	id := jobID(c.Run(t, "sbatch", "--parsable", "--array=0-0", "--requeue",
		"--open-mode=append", "--signal=B:USR1@1",
		"--output="+filepath.Join(c.Dir, "requeue_%a.out"), script))
	task := id + "_0"

	// RUNNING, and the trap in place (a USR1 before it would kill the
	// shell).
	waitFor(t, 30*time.Second, task+" running with its USR1 trap set", func() bool {
		if c.Run(t, "squeue", "-h", "-j", task, "-o", "%T") != "RUNNING" {
			return false
		}
		data, _ := os.ReadFile(logFile)
		return strings.Contains(string(data), "ready\n")
	})
	c.Run(t, "scancel", "--signal=USR1", "--batch", task)
	// A requeued task may start again after cluster.sh's cred_expire (5 s).
	c.WaitJob(t, id, 40*time.Second)

	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	want := []string{"run SLURM_RESTART_COUNT=0", "ready", "got USR1", "run SLURM_RESTART_COUNT=1", "finished"}
	at := 0
	for _, w := range want {
		i := strings.Index(log[at:], w+"\n")
		if i < 0 {
			t.Fatalf("the log lacks %q after offset %d, want the lines %q in order:\n%s", w, at, want, log)
		}
		at += i + len(w) + 1
	}
	if got := c.JobStates(t, id); !reflect.DeepEqual(got, map[string]string{"0": "COMPLETED"}) {
		t.Errorf("JobStates(%s) = %v, want task 0 COMPLETED", id, got)
	}
	if show := c.Run(t, "scontrol", "show", "job", task); !strings.Contains(show, "Restarts=1 ") {
		t.Errorf("scontrol show job %s does not say Restarts=1:\n%s", task, show)
	}
}

// The cleanup that Start registers stops every daemon by its pid file, and
// a running job with its slurmstepd, and removes the folder.
func TestStopLeavesNothingRunning(t *testing.T) {
	var dir string
	pids := map[string]int{}
	ok := t.Run("cluster", func(t *testing.T) {
		c := Start(t)
		dir = c.Dir
		jobPIDFile := filepath.Join(c.Dir, "job.pid")
		c.Run(t, "sbatch", "--parsable", "--output=/dev/null",
			"--wrap", "echo $$ >"+jobPIDFile+".tmp && mv "+jobPIDFile+".tmp "+jobPIDFile+" && exec sleep 300")
		waitFor(t, 30*time.Second, "the job wrote "+jobPIDFile, func() bool {
			_, err := os.Stat(jobPIDFile)
			return err == nil
		})
		for name, path := range map[string]string{
			"munged":    filepath.Join(c.Dir, "munge", "munged.pid"),
			"slurmctld": filepath.Join(c.Dir, "run", "slurmctld.pid"),
			"slurmd n1": filepath.Join(c.Dir, "run", "slurmd-n1.pid"),
			"slurmd n2": filepath.Join(c.Dir, "run", "slurmd-n2.pid"),
			"job":       jobPIDFile,
		} {
			pids[name] = readPID(t, path)
		}
		pids["slurmstepd"] = parentPID(pids["job"])
		for name, pid := range pids {
			if !running(pid) {
				t.Fatalf("%s (PID %d) is not running", name, pid)
			}
		}
	})
	if len(pids) == 0 {
		if ok {
			t.Skip("the cluster did not start: skipped")
		}
		return
	}
	for name, pid := range pids {
		if running(pid) {
			t.Errorf("%s (PID %d) still runs after the cluster's cleanup", name, pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the cleanup (%v)", dir, err)
	}
}

func TestParseJobStates(t *testing.T) {
	out := "JobId=7 ArrayJobId=5 ArrayTaskId=0 JobName=wrap JobState=COMPLETED Reason=None\n" +
		"JobId=8 ArrayJobId=5 ArrayTaskId=1 JobName=wrap JobState=RUNNING Reason=None\n" +
		"JobId=5 ArrayJobId=5 ArrayTaskId=2-4,6,8-12:2%2 JobName=wrap JobState=PENDING Reason=Resources\n"
	got, err := parseJobStates(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"0": "COMPLETED", "1": "RUNNING"}
	for _, id := range []string{"2", "3", "4", "6", "8", "10", "12"} {
		want[id] = "PENDING"
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, err = parseJobStates("JobId=9 JobName=x JobState=FAILED Reason=NonZeroExitCode\n")
	if err != nil || !reflect.DeepEqual(got, map[string]string{"9": "FAILED"}) {
		t.Errorf("not an array: %v, %v", got, err)
	}
	if _, err := parseJobStates(""); err == nil {
		t.Error("no record: no error")
	}
}
