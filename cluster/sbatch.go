package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ScriptOptions are what a batch script of a sweep says.
type ScriptOptions struct {
	// Sweep names the job (prunebench-<sweep>); Spec is the spec file, for
	// the log.
	Sweep, Spec string
	// Binary is the absolute path of the prunebench that each task runs:
	// the one that submitted, so that tasks train with the same code.
	Binary string
	// Units is the unit list (absolute path) and Tasks the array's size.
	Units string
	Tasks int
	// MaxParallel throttles the array (%K); 0: no throttle.
	MaxParallel int
	// Logs is the folder of the tasks' logs (absolute).
	Logs string
	// Resources; empty or 0 leaves the cluster's default.
	Partition, Time, Mem, Account string
	CPUsPerTask, GPUsPerTask      int
	// Extra are verbatim "#SBATCH ..." lines.
	Extra []string
	// Warn is how long before the time limit Slurm sends the warning
	// signal (SIGUSR1) on which a task checkpoints and requeues itself.
	Warn time.Duration
}

// Script writes the batch script of an array job whose tasks run
// `prunebench sweep SPEC --task env --units LIST`.
func Script(o ScriptOptions) (string, error) {
	if o.Tasks < 1 || o.Binary == "" || o.Units == "" || o.Logs == "" {
		return "", errors.New("batch script: tasks, binary, unit list and log folder are required")
	}
	for _, l := range o.Extra {
		if !strings.HasPrefix(l, "#SBATCH ") {
			return "", fmt.Errorf("--sbatch %q: want a line that starts with \"#SBATCH \", e.g. --sbatch '#SBATCH --qos=long'", l)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# Written by `prunebench slurm` for sweep %s (%s): %d tasks.\n", o.Sweep, o.Spec, o.Tasks)
	fmt.Fprintf(&b, "#SBATCH --job-name=prunebench-%s\n", o.Sweep)
	array := fmt.Sprintf("0-%d", o.Tasks-1)
	if o.MaxParallel > 0 {
		array += fmt.Sprintf("%%%d", o.MaxParallel)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", array)
	fmt.Fprintf(&b, "#SBATCH --output=%s/%%A_%%a.out\n", o.Logs)
	// A requeued task appends to its log, which then shows both runs.
	fmt.Fprintf(&b, "#SBATCH --open-mode=append\n")
	fmt.Fprintf(&b, "#SBATCH --requeue\n")
	fmt.Fprintf(&b, "#SBATCH --signal=B:USR1@%d\n", int(o.Warn.Seconds()))
	for _, kv := range [][2]string{{"partition", o.Partition}, {"time", o.Time}, {"mem", o.Mem}, {"account", o.Account}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "#SBATCH --%s=%s\n", kv[0], kv[1])
		}
	}
	if o.CPUsPerTask > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPUsPerTask)
	}
	if o.GPUsPerTask > 0 {
		fmt.Fprintf(&b, "#SBATCH --gpus-per-task=%d\n", o.GPUsPerTask)
	}
	for _, l := range o.Extra {
		b.WriteString(l + "\n")
	}
	b.WriteString(`
# The batch shell becomes prunebench (exec), so that the warning signal
# (B:USR1, sent to the batch shell before the time limit) reaches it: it
# checkpoints, asks Slurm to requeue this task, and exits; the task resumes
# from its checkpoints when it runs again. SIGTERM (scancel, preemption)
# checkpoints too.
`)
	fmt.Fprintf(&b, "export PRUNEBENCH_LOG=%s/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out\n", shellQuote(o.Logs))
	// A task trains one unit per core; with GPUs, one unit at a time on
	// them, and the cores feed it.
	jobs := max(1, o.CPUsPerTask)
	if o.GPUsPerTask > 0 {
		jobs = 1
	}
	fmt.Fprintf(&b, "exec %s sweep %s --task env --units %s --jobs %d\n", shellQuote(o.Binary), shellQuote(o.Spec), shellQuote(o.Units), jobs)
	return b.String(), nil
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == ',' || r == '=' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ErrNoSbatch is the error of a machine without Slurm's sbatch on PATH.
var ErrNoSbatch = errors.New("sbatch is not on PATH: run `prunebench slurm` on a machine of the Slurm cluster (a login node), or give --dry-run to write the script without submitting it")

// Submit submits a batch script with `sbatch --parsable` and returns the
// job id. An error says what sbatch said; nothing was submitted then.
func Submit(script string) (string, error) {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return "", ErrNoSbatch
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("sbatch refused the job, so nothing was submitted: %s (the script is %s)", msg, script)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";") // "jobid;cluster" on federations
	if id == "" {
		return "", fmt.Errorf("sbatch printed no job id for %s: %q", script, stdout.String())
	}
	return id, nil
}
