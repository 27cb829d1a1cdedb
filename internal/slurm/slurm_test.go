package slurm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/internal/slurm"
	"github.com/prunebench/prunebench/internal/slurmtest"
)

// JobRunning against a real cluster: true while a job runs, false once it
// was cancelled, and false for a job Slurm never had.
func TestJobRunning(t *testing.T) {
	c := slurmtest.Start(t)
	job := c.Run(t, "sbatch", "--parsable", "--output=/dev/null", "--wrap", "sleep 60")
	deadline := time.Now().Add(30 * time.Second)
	for {
		running, err := slurm.JobRunning(job)
		if err != nil {
			t.Fatal(err)
		}
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never ran", job)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Run(t, "scancel", job)
	c.WaitJob(t, job, 30*time.Second)
	if running, err := slurm.JobRunning(job); err != nil || running {
		t.Errorf("cancelled job: running %v, %v", running, err)
	}
	if running, err := slurm.JobRunning("999999"); err != nil || running {
		t.Errorf("unknown job: running %v, %v", running, err)
	}
	// cluster.sh sets MaxArraySize=10001.
	if n, err := slurm.MaxArraySize(); err != nil || n != 10001 {
		t.Errorf("MaxArraySize = %d, %v; want 10001", n, err)
	}
	if err := slurm.Requeue("999999"); err == nil || !strings.Contains(err.Error(), "999999") {
		t.Errorf("requeue of an unknown job: %v", err)
	}
}
