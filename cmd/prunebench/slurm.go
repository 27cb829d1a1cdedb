package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/cluster"
	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/internal/slurm"
)

// slurmWarning is how long before its time limit a task is warned
// (SIGUSR1): enough to finish the iteration at hand and write a checkpoint.
const slurmWarning = 120 * time.Second

type slurmFlags struct {
	sets, where, sbatch           []string
	partition, time, mem, account string
	cpus, gpus, maxParallel       int
	tasks                         int
	dryRun                        bool
}

func newSlurmCmd() *cobra.Command {
	var f slurmFlags
	cmd := &cobra.Command{
		Use:   "slurm SPEC.yaml",
		Short: "Submit a sweep's unfinished units to Slurm as an array job",
		Long: `Submit the work units (point × replicate) of SPEC's sweep that are not
done, not running and not already queued by an earlier submission, as one
Slurm array job of --tasks tasks (default: one per unit). It writes
OUTPUT/slurm/<sweep>.sbatch, whose task I runs this very prunebench binary as
` + "`prunebench sweep SPEC --task env --units LIST`" + `: the units in positions I,
I+N, … of the unit list frozen at submission (OUTPUT/slurm/<sweep>-*.units),
each with the spec its run folder keeps. Tasks log to
OUTPUT/slurm/logs/<job>_<task>.out and write result files, which board (or
prunebench collect) ingests.

A task that Slurm stops loses at most the work since its last checkpoint:
on SIGTERM (scancel, preemption, node failure with --requeue) it
checkpoints; on the warning before its time limit (SIGUSR1, 120 s before) it
checkpoints and requeues itself, and the task resumes when it runs again.
Submitting again after a partial run submits only what is unfinished. A lock
per unit keeps two tasks from ever training the same unit. --dry-run writes
the files and prints the script, and submits nothing.`,
		Example: `  prunebench slurm experiments/papers/lth-lenet-mnist.yaml --partition cpu --time 4:00:00 --max-parallel 50
  bin/prunebench-torch slurm cifar.yaml --gpus-per-task 1 --cpus-per-task 8 --mem 32G --set backend=torch --set device=cuda
  prunebench slurm sweep.yaml --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return submitSweep(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sets, "set", nil, "override a spec key for every point (repeatable)")
	fl.StringArrayVar(&f.where, "where", nil, "submit only the points whose spec has key=value (repeatable; all must hold)")
	fl.StringVar(&f.partition, "partition", "", "Slurm partition (default: the cluster's)")
	fl.StringVar(&f.time, "time", "", "time limit of each task, as sbatch --time takes it (e.g. 4:00:00)")
	fl.StringVar(&f.mem, "mem", "", "memory of each task, as sbatch --mem takes it (e.g. 8G)")
	fl.StringVar(&f.account, "account", "", "Slurm account to charge")
	intFlag(fl, &f.cpus, "cpus-per-task", "", 1, 1, maxJobs, "cores per task; without GPUs the task trains that many units at once")
	intFlag(fl, &f.gpus, "gpus-per-task", "", 0, 0, 64, "GPUs per task (with backend: torch and device: cuda)")
	intFlag(fl, &f.maxParallel, "max-parallel", "", 0, 0, cluster.MaxTasks, "tasks that run at once (the array's %K); 0: no limit")
	intFlag(fl, &f.tasks, "tasks", "", 0, 0, cluster.MaxTasks, "tasks of the array; 0: one per unfinished unit")
	fl.StringArrayVar(&f.sbatch, "sbatch", nil, "an extra line for the script, e.g. --sbatch '#SBATCH --qos=long' (repeatable)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "write the script and the unit list, print the script, submit nothing")
	return cmd
}

func submitSweep(cmd *cobra.Command, spec string, f slurmFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	sw, err := experiments.LoadSweep(spec, f.sets)
	if err != nil {
		return err
	}
	for _, note := range sw.Notes {
		fmt.Fprintf(stderr, "note: %s\n", note)
	}
	specs, err := experiments.FilterSweep(sw.Specs, f.where)
	if err != nil {
		return err
	}
	if len(specs) == 0 {
		return fmt.Errorf("no point of %s has those --where values", spec)
	}
	// Every point is checked here, on the login node: nothing is submitted
	// for a sweep with a bad value.
	if err := experiments.ValidateSweep(specs); err != nil {
		return err
	}
	// Tasks run elsewhere, in another working directory.
	output, err := filepath.Abs(specs[0].Output)
	if err != nil {
		return err
	}
	absSpec, err := filepath.Abs(spec)
	if err != nil {
		return err
	}
	for i := range specs {
		specs[i].Output = output
	}
	sweep := experiments.SweepHash(specs)
	queued, err := cluster.QueuedUnits(output, sweep)
	if err != nil && !f.dryRun {
		return fmt.Errorf("checking earlier submissions of this sweep: %w", err)
	}
	var todo []string
	var done, running, inQueue int
	for _, u := range experiments.WorkUnits(specs) {
		switch st := experiments.ReadUnitStatus(u); {
		case st.State == experiments.Finished:
			done++
		case st.State == experiments.Running:
			running++
		case queued[u.ID()] != "":
			inQueue++
		default:
			todo = append(todo, u.ID())
		}
	}
	if inQueue > 0 || running > 0 {
		fmt.Fprintf(stderr, "%d units are queued or running in earlier submissions and are not submitted again\n", inQueue+running)
	}
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "nothing to submit: of %d units, %d are done, %d running, %d queued\n", done+running+inQueue, done, running, inQueue)
		return nil
	}
	tasks := f.tasks
	if tasks == 0 || tasks > len(todo) {
		tasks = len(todo)
	}
	// An array job has at most MaxArraySize tasks (1001 by default): a
	// larger sweep gives each task several units.
	if limit, err := slurm.MaxArraySize(); err == nil && tasks > limit {
		if f.tasks != 0 {
			return fmt.Errorf("--tasks %d: this cluster's MaxArraySize is %d; give --tasks %d or fewer (each task then runs several units)", f.tasks, limit, limit)
		}
		fmt.Fprintf(stderr, "%d units in %d tasks (the cluster's MaxArraySize), %d or %d units each\n", len(todo), limit, len(todo)/limit, (len(todo)+limit-1)/limit)
		tasks = limit
	}
	if _, err := experiments.WriteSweepManifest(absSpec, specs); err != nil {
		return err
	}
	written := map[string]bool{}
	for _, s := range specs {
		if h := experiments.Hash(s); !written[h] {
			written[h] = true
			if err := experiments.WriteRunSpec(s); err != nil {
				return err
			}
		}
	}
	units, err := cluster.WriteUnitList(cluster.UnitList{Output: output, Sweep: sweep, Spec: absSpec, Submitted: time.Now().UTC().Truncate(time.Second), Tasks: tasks, Units: todo})
	if err != nil {
		return err
	}
	binary, err := os.Executable()
	if err == nil {
		binary, err = filepath.EvalSymlinks(binary)
	}
	if err != nil {
		return fmt.Errorf("finding this prunebench binary for the tasks to run: %w", err)
	}
	logs := cluster.LogDir(output)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	script, err := cluster.Script(cluster.ScriptOptions{
		Sweep: sweep, Spec: absSpec, Binary: binary, Units: units, Tasks: tasks, MaxParallel: f.maxParallel, Logs: logs,
		Partition: f.partition, Time: f.time, Mem: f.mem, Account: f.account, CPUsPerTask: f.cpus, GPUsPerTask: f.gpus,
		Extra: f.sbatch, Warn: slurmWarning,
	})
	if err != nil {
		return err
	}
	path := filepath.Join(cluster.Dir(output), sweep+".sbatch")
	if err := atomicfile.Write(path, func(w *os.File) error { _, err := w.WriteString(script); return err }); err != nil {
		return err
	}
	if f.dryRun {
		fmt.Fprint(stdout, script)
		fmt.Fprintf(stderr, "dry run: wrote %s for %d units in %d tasks; nothing was submitted (submit it with: sbatch %s)\n", path, len(todo), tasks, path)
		return nil
	}
	job, err := cluster.Submit(path)
	if errors.Is(err, cluster.ErrNoSbatch) {
		return fmt.Errorf("%w; the script is written: %s", err, path)
	}
	if err != nil {
		return err
	}
	if err := cluster.RecordSubmission(output, sweep, cluster.Submission{Job: job, Units: units, Submitted: time.Now()}); err != nil {
		return fmt.Errorf("job %s was submitted, but recording it failed (a second submission could queue its units again): %w", job, err)
	}
	fmt.Fprintf(stdout, "submitted job %s: %d tasks for %d units of sweep %s (%s)\n", job, tasks, len(todo), sweep, spec)
	fmt.Fprintf(stdout, "follow it:   squeue -j %s    prunebench status %s    tail -f %s/%s_*.out\n", job, output, logs, job)
	fmt.Fprintf(stdout, "when done:   prunebench board --output %s\n", output)
	return nil
}
