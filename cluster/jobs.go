package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Submission is one array job of a sweep.
type Submission struct {
	Job       string
	Units     string // its unit list
	Submitted time.Time
}

// jobsFile is <output>/slurm/<sweep>.jobs: one line per submission, "job
// unit-list time".
func jobsFile(output, sweep string) string { return filepath.Join(Dir(output), sweep+".jobs") }

// RecordSubmission appends a submission to its sweep's record.
func RecordSubmission(output, sweep string, s Submission) error {
	if err := os.MkdirAll(Dir(output), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(jobsFile(output, sweep), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintf(f, "%s %s %s\n", s.Job, s.Units, s.Submitted.UTC().Format(time.RFC3339))
	return errors.Join(werr, f.Close())
}

// Submissions lists a sweep's submissions, oldest first.
func Submissions(output, sweep string) ([]Submission, error) {
	f, err := os.Open(jobsFile(output, sweep))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var subs []Submission
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		t, _ := time.Parse(time.RFC3339, fields[2])
		subs = append(subs, Submission{Job: fields[0], Units: fields[1], Submitted: t})
	}
	return subs, sc.Err()
}

// QueuedUnits maps the units of a sweep's earlier submissions whose tasks
// Slurm still has pending or running to their task ("123_4"): submitting
// them again would run them twice (the second would only wait on the
// first's lock), so a new submission leaves them out.
func QueuedUnits(output, sweep string) (map[string]string, error) {
	subs, err := Submissions(output, sweep)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	queued := map[string]string{}
	for _, s := range subs {
		tasks, err := queuedTasks(s.Job)
		if err != nil {
			return nil, err
		}
		if len(tasks) == 0 {
			continue
		}
		l, err := ReadUnitList(s.Units)
		if err != nil {
			return nil, err
		}
		for _, i := range tasks {
			share, err := l.Share(Task{i, l.Tasks})
			if err != nil {
				continue // a task outside the list's count: not ours
			}
			for _, u := range share {
				queued[u] = fmt.Sprintf("%s_%d", s.Job, i)
			}
		}
	}
	return queued, nil
}

var taskLine = regexp.MustCompile(`^(\d+)_(\d+)\s+(\S+)$`)

// queuedTasks lists the tasks of an array job that are pending, running
// or being requeued (squeue -r shows one line per task).
func queuedTasks(job string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-r", "-j", job, "-o", "%i %T").CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		if strings.Contains(text, "Invalid job id") {
			return nil, nil // long finished
		}
		return nil, fmt.Errorf("squeue -j %s: %v: %s", job, err, text)
	}
	var tasks []int
	for _, line := range strings.Split(text, "\n") {
		m := taskLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[1] != job {
			continue
		}
		switch m[3] {
		case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED":
			continue
		}
		i, _ := strconv.Atoi(m[2])
		tasks = append(tasks, i)
	}
	slices.Sort(tasks)
	return tasks, nil
}

var logName = regexp.MustCompile(`^(\d+)_(\d+)\.out$`)

// LoggedJobs lists the Slurm job ids that wrote logs under output (from
// the names of <output>/slurm/logs/<job>_<task>.out), sorted.
func LoggedJobs(output string) []string {
	entries, _ := os.ReadDir(LogDir(output))
	seen := map[string]bool{}
	var jobs []string
	for _, e := range entries {
		if m := logName.FindStringSubmatch(e.Name()); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			jobs = append(jobs, m[1])
		}
	}
	slices.SortFunc(jobs, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return jobs
}
