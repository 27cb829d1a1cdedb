// Package slurmtest gives tests a real Slurm cluster: two nodes (n1 and n2,
// one CPU each) on this machine, with munged, slurmctld and two slurmd
// started by the project's own script, scripts/slurm/cluster.sh, in a fresh
// temporary folder, and stopped by the PIDs in that folder's pid files when
// the test ends.
//
// It exists because the product submits Slurm job arrays and relies on
// Slurm's behaviour (array tasks, requeueing, signals before the time
// limit, append-mode logs): a fake scheduler would only test what its
// author believed Slurm does. A real one, started per test, keeps the tests
// honest and leaves nothing of the system's own Slurm configuration in play:
// the clients find the cluster through SLURM_CONF alone.
//
// Slurm is installed by scripts/slurm/install.sh, which the README's test
// command (scripts/test.sh) runs; that script also sets
// PRUNEBENCH_REQUIRE_SLURM=1, under which a missing Slurm fails the tests
// instead of skipping them. The daemons need root.
//
// Start sets SLURM_CONF for the whole test process (tb.Setenv), so a test
// that uses it cannot be parallel (t.Parallel panics after Setenv).
package slurmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing Slurm (or
// a user other than root) from a skip into a failure, when set to 1.
const RequireEnv = "PRUNEBENCH_REQUIRE_SLURM"

const (
	// startTimeout bounds cluster.sh start (which itself waits up to 30 s
	// for the nodes to become idle).
	startTimeout = 90 * time.Second
	// stopTimeout bounds cluster.sh stop (TERM, 5 s, KILL).
	stopTimeout = 60 * time.Second
	// runTimeout bounds one client command (Slurm's clients retry for a
	// while when slurmctld does not answer).
	runTimeout = 2 * time.Minute
	// dirMax is the longest cluster folder that cluster.sh accepts: unix
	// socket paths (at most 107 bytes) are made inside it, the longest
	// being slurmstepd's, Dir/spool/n1/n1_JOBID.STEPID.
	dirMax = 64
)

// Cluster is a running test cluster.
type Cluster struct {
	// Dir holds all of the cluster's files: slurm.conf, the pid files
	// (run/), the daemons' logs (log/, munge/munged.log), slurmctld's state
	// (state/) and the nodes' spool folders (spool/n1, spool/n2). Tests may
	// put their own files there too (job scripts, job logs); it is removed
	// when the test ends.
	Dir string
	// Conf is Dir/slurm.conf, the SLURM_CONF of the cluster's clients.
	Conf string
}

// daemons are the programs a cluster runs; clients are what tests use.
var (
	daemons = []string{"munged", "slurmctld", "slurmd"}
	clients = []string{"sbatch", "squeue", "scancel", "scontrol", "sinfo"}
)

// Available reports whether a cluster can start here: nil, or why not (Slurm
// or MUNGE is not installed, the user is not root, or the repository's
// scripts/slurm/cluster.sh cannot be found).
func Available() error {
	var missing []string
	for _, name := range append(append([]string{}, daemons...), clients...) {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("slurmtest: Slurm is not installed (%s not on PATH); scripts/slurm/install.sh installs it (scripts/test.sh, the README's test command, runs it)", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return errors.New("slurmtest: the test cluster needs root (slurmd runs jobs as their submitter, and munged's files must belong to the munge user)")
	}
	if _, err := clusterScript(); err != nil {
		return err
	}
	return nil
}

// clusterScript finds scripts/slurm/cluster.sh at the repository root: the
// first folder with a go.mod, walking up from the working directory (a
// test's working directory is its package's folder).
func clusterScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("slurmtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			script := filepath.Join(dir, "scripts", "slurm", "cluster.sh")
			if _, err := os.Stat(script); err != nil {
				return "", fmt.Errorf("slurmtest: %w", err)
			}
			return script, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("slurmtest: no go.mod above the working directory: cannot find scripts/slurm/cluster.sh")
		}
		dir = parent
	}
}

// Start starts a cluster for the test and stops it (and removes its folder)
// when the test ends; it sets SLURM_CONF for the rest of the test. It skips
// the test when Available says no, or fails it if PRUNEBENCH_REQUIRE_SLURM=1.
// Each call starts its own cluster (0.1 to 1.5 s on a 2-core machine; a
// one-CPU job then runs within about a second of sbatch, and a requeued one
// may start again 5 s after its requeue).
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%v; failing, not skipping, because %s=1", err, RequireEnv)
		}
		tb.Skip(err)
	}
	script, _ := clusterScript()

	// Not tb.TempDir(): its path (test name included) can be too long for
	// the unix sockets made inside it, and its parents are not always
	// searchable by the munge user. cluster.sh makes the folder searchable
	// (0755).
	base := ""
	if len(filepath.Join(os.TempDir(), "slurm0123456789")) > dirMax {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "slurm")
	if err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf")}

	// Registered before the start, so that a start that fails half way
	// still stops whatever it started.
	tb.Cleanup(func() {
		if out, err := runScript(stopTimeout, script, "stop", dir); err != nil {
			tb.Errorf("slurmtest: stopping the cluster in %s (left in place): %v\n%s", dir, err, out)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("slurmtest: %v", err)
		}
	})

	started := time.Now()
	out, err := runScript(startTimeout, script, "start", dir)
	if err != nil {
		// cluster.sh prints the logs' tails when it fails, but not when it
		// is killed for taking too long.
		var tails string
		if errors.Is(err, errTimeout) {
			tails = c.logTails()
		}
		tb.Fatalf("slurmtest: starting a cluster in %s: %v\n%s%s", dir, err, out, tails)
	}
	want := "SLURM_CONF=" + c.Conf
	if !strings.Contains(out, want) {
		tb.Fatalf("slurmtest: %s start printed no %s:\n%s", script, want, out)
	}
	tb.Logf("slurmtest: cluster started in %v: %s", time.Since(started).Round(time.Millisecond), want)
	tb.Setenv("SLURM_CONF", c.Conf)
	return c
}

// runScript runs cluster.sh with a time limit and returns its stdout and
// stderr together. On timeout the script's process group is killed (the
// daemons it started have their own sessions; the test's cleanup stops
// them).
func runScript(timeout time.Duration, script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: %w: no answer within %v (%v)", script, args[0], errTimeout, timeout, err)
	}
	return out.String(), err
}

var errTimeout = errors.New("timed out")

// logTails returns the last lines of each daemon's log, for a failure
// message.
func (c *Cluster) logTails() string {
	logs, _ := filepath.Glob(filepath.Join(c.Dir, "log", "*.log"))
	logs = append([]string{filepath.Join(c.Dir, "munge", "munged.log")}, logs...)
	var b strings.Builder
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", f, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// Env returns the environment of a client of the cluster: the process's
// environment with SLURM_CONF set to c.Conf.
func (c *Cluster) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_CONF=") {
			env = append(env, kv)
		}
	}
	return append(env, "SLURM_CONF="+c.Conf)
}

// Run runs a Slurm client command (sbatch, squeue, scontrol, ...) against
// the cluster and returns its standard output with surrounding white space
// trimmed; the test fails with the command's output when it fails (or takes
// more than two minutes).
func (c *Cluster) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := c.run(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func (c *Cluster) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.Env()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("slurmtest: %s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// WaitJob waits until no task of the job (a job ID, an array job's ID, or
// one task's ID_TASK) is pending, running or completing: until
// `squeue -h -j ID` lists nothing. The test fails on timeout, with the
// output of squeue and of scontrol show job.
func (c *Cluster) WaitJob(tb testing.TB, jobID string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		out, err := c.run("squeue", "-h", "-j", jobID, "-o", "%i %T %r")
		if err == nil && out == "" {
			return
		}
		if err != nil && strings.Contains(err.Error(), "Invalid job id") {
			return // Gone from slurmctld's memory: long finished.
		}
		if err != nil {
			last = err.Error()
		} else {
			last = out
		}
		if time.Now().After(deadline) {
			show, err := c.run("scontrol", "show", "job", jobID)
			if err != nil {
				show = err.Error()
			}
			tb.Fatalf("slurmtest: job %s still queued or running after %v:\nsqueue:\n%s\nscontrol show job:\n%s", jobID, timeout, last, show)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// JobStates returns the state (COMPLETED, RUNNING, PENDING, FAILED, ...) of
// each task of an array job, keyed by array task ID ("0", "1", ...), as
// `scontrol -o show job ID` reports them (one record per task that has
// started, and one record for the tasks still pending together, whose
// ArrayTaskId is a range such as 4-9%2, expanded here). A job that is not
// an array has one entry, keyed by its job ID. Finished jobs are known for
// MinJobAge (5 minutes in cluster.sh's slurm.conf).
func (c *Cluster) JobStates(tb testing.TB, jobID string) map[string]string {
	tb.Helper()
	out := c.Run(tb, "scontrol", "-o", "show", "job", jobID)
	states, err := parseJobStates(out)
	if err != nil {
		tb.Fatalf("slurmtest: scontrol -o show job %s: %v\n%s", jobID, err, out)
	}
	return states
}

// parseJobStates reads `scontrol -o show job` output: one job record a line
// of Key=Value fields.
func parseJobStates(out string) (map[string]string, error) {
	states := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := map[string]string{}
		for _, f := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(f, "="); ok {
				if _, seen := fields[k]; !seen {
					fields[k] = v
				}
			}
		}
		state, ok := fields["JobState"]
		if !ok {
			continue
		}
		tasks, ok := fields["ArrayTaskId"]
		if !ok {
			states[fields["JobId"]] = state
			continue
		}
		ids, err := expandTaskIDs(tasks)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			states[id] = state
		}
	}
	if len(states) == 0 {
		return nil, errors.New("no job record")
	}
	return states, nil
}

// expandTaskIDs expands an ArrayTaskId value: "3", "4-9", "0,2,5-7",
// "4-9%2" (a throttle), "0-9:2" (a step).
func expandTaskIDs(s string) ([]string, error) {
	s, _, _ = strings.Cut(s, "%")
	var ids []string
	for _, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, ":")
		loStr, hiStr, isRange := strings.Cut(rng, "-")
		lo, err := strconv.Atoi(loStr)
		if err != nil {
			return nil, fmt.Errorf("ArrayTaskId %q: %v", s, err)
		}
		hi, step := lo, 1
		if isRange {
			if hi, err = strconv.Atoi(hiStr); err != nil {
				return nil, fmt.Errorf("ArrayTaskId %q: %v", s, err)
			}
		}
		if hasStep {
			if step, err = strconv.Atoi(stepStr); err != nil || step < 1 {
				return nil, fmt.Errorf("ArrayTaskId %q: bad step", s)
			}
		}
		for i := lo; i <= hi; i += step {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	return ids, nil
}
