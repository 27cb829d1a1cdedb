package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxTasks bounds --tasks: far above any array a scheduler accepts (Slurm's
// MaxArraySize is 1001 by default), low enough that a typo is caught.
const MaxTasks = 1_000_000

// Task is one task of an array job: Index of Count.
type Task struct{ Index, Count int }

func (t Task) String() string { return fmt.Sprintf("task %d of %d", t.Index, t.Count) }

// ParseTask reads --task and --tasks: --task is an index below --tasks, or
// "env" for the index the scheduler gives the task (TaskFromEnv); count is
// --tasks, 0 when not given.
func ParseTask(task string, count int, getenv func(string) string) (Task, error) {
	if task == "env" {
		return TaskFromEnv(count, getenv)
	}
	i, err := strconv.Atoi(strings.TrimSpace(task))
	if err != nil {
		return Task{}, fmt.Errorf("--task %q: want a task index (0, 1, …) or env", task)
	}
	if count == 0 {
		return Task{}, fmt.Errorf("--task %d needs --tasks N, the number of tasks the work is shared by", i)
	}
	if i < 0 || i >= count {
		return Task{}, fmt.Errorf("--task %d of --tasks %d: want a task from 0 to %d", i, count, count-1)
	}
	return Task{i, count}, nil
}

// TaskFromEnv reads the task's index and the number of tasks from the
// environment of an array job:
//   - Slurm: SLURM_ARRAY_TASK_ID, and SLURM_ARRAY_TASK_COUNT (the array
//     must be 0 to N-1, as `prunebench slurm` submits it);
//   - Kubernetes indexed jobs: JOB_COMPLETION_INDEX, with the count from
//     --tasks (Kubernetes does not export it).
//
// count, when not 0, is --tasks and must agree with the environment.
func TaskFromEnv(count int, getenv func(string) string) (Task, error) {
	var idx, n string
	var where string
	switch {
	case getenv("SLURM_ARRAY_TASK_ID") != "":
		idx, n, where = getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_ID"
		if n == "" {
			return Task{}, fmt.Errorf("--task env: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (a Slurm older than 19.05?): give --tasks N")
		}
	case getenv("JOB_COMPLETION_INDEX") != "":
		idx, where = getenv("JOB_COMPLETION_INDEX"), "JOB_COMPLETION_INDEX"
		if count == 0 {
			return Task{}, fmt.Errorf("--task env: JOB_COMPLETION_INDEX (a Kubernetes indexed job) gives the index but not the number of tasks: give --tasks N, the job's completions")
		}
	default:
		return Task{}, fmt.Errorf("--task env: this is not a task of an array job (neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set); run it inside one, or give --task I --tasks N")
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 {
		return Task{}, fmt.Errorf("--task env: %s = %q: want a task index ≥ 0", where, idx)
	}
	if n != "" {
		c, err := strconv.Atoi(n)
		if err != nil || c < 1 {
			return Task{}, fmt.Errorf("--task env: SLURM_ARRAY_TASK_COUNT = %q: want a count ≥ 1", n)
		}
		if count != 0 && count != c {
			return Task{}, fmt.Errorf("--task env: --tasks %d disagrees with SLURM_ARRAY_TASK_COUNT = %d; leave --tasks out", count, c)
		}
		count = c
	}
	if i >= count {
		return Task{}, fmt.Errorf("--task env: %s = %d, but there are %d tasks (the array must run 0 to %d)", where, i, count, count-1)
	}
	return Task{i, count}, nil
}
