// Package slurm asks a Slurm cluster what prunebench needs to know of it,
// through its client commands (squeue, scontrol), which find the cluster by
// their usual configuration (SLURM_CONF or /etc/slurm).
package slurm

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// timeout bounds each query: a controller that does not answer must not
// stall a status display or a lock check.
const timeout = 20 * time.Second

// running are the job states in which a job's processes may exist.
var running = map[string]bool{
	"RUNNING": true, "COMPLETING": true, "CONFIGURING": true, "SUSPENDED": true,
	"STOPPED": true, "RESIZING": true, "SIGNALING": true, "STAGE_OUT": true,
}

// JobRunning says whether a job (an id as squeue -j takes it, "123" or
// "123_4" for an array task) may still have processes: false once it has
// ended, is pending, or was requeued (its processes are gone), also when
// Slurm no longer knows it. An error means the question could not be
// answered (no squeue, no controller).
func JobRunning(job string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-j", job, "-o", "%T").CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && strings.Contains(text, "Invalid job id") {
			return false, nil // purged: it ended a while ago
		}
		return false, fmt.Errorf("squeue -j %s: %v: %s", job, err, text)
	}
	for _, state := range strings.Fields(text) {
		if running[state] {
			return true, nil
		}
	}
	return false, nil
}

// Requeue asks Slurm to put a job back in the queue (scontrol requeue),
// which a task does for itself when it gets the warning signal before its
// time limit, after it checkpointed.
func Requeue(job string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "scontrol", "requeue", job).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scontrol requeue %s: %v: %s", job, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// MaxArraySize is the cluster's MaxArraySize (scontrol show config): an
// array's task indices must be below it, so an array job has at most that
// many tasks.
func MaxArraySize() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "scontrol", "show", "config").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("scontrol show config: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "MaxArraySize" {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err == nil && n > 0 {
				return n, nil
			}
		}
	}
	return 0, errors.New("scontrol show config: no MaxArraySize")
}
