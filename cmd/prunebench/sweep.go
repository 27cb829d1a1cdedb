package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/cluster"
	"github.com/prunebench/prunebench/experiments"
)

// sweepFlags are the flags of the sweep command.
type sweepFlags struct {
	sets, where     []string
	jobs, tasks     int
	quiet, rerun    bool
	list            bool
	task, unitsFile string
	board           bool   // end with the leaderboard of the sweep's results
	plot            string // and write their plot here
	device          deviceFlags
}

func newSweepCmd() *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep SPEC.yaml",
		Short: "Run every point of a spec's sweep block, N at a time; resumes, keeps going past failures",
		Long: `Expand the spec's sweep block (the cartesian product of its lists, or
their zip with sweep_mode: zip) and run its work units, one per point and
replicate, as ` + "`prunebench run`" + ` would, --jobs at a time, each on one core. A
failed unit does not stop the others; failures are listed at the end and the
exit status is non-zero. Ctrl-C checkpoints the units in progress and stops
(exit status 130). Running the command again skips what finished and resumes
what did not. Two sweeps on one output folder share the work: a unit one of
them trains is waited for by the other, never trained twice. --where
key=value runs only the points whose spec has that value (repeatable; all
must hold), e.g. --where model.name=lenet-300-100 for one half of a paper's
sweep. A spec without a sweep block is one point.

--task I --tasks N runs the share of task I of an array job of N tasks: the
units in positions I, I+N, I+2N, … of the sweep's unit list, which is
sorted by run hash and then replicate and so the same on every machine.
--task env takes I and N from the scheduler (SLURM_ARRAY_TASK_ID and
SLURM_ARRAY_TASK_COUNT; JOB_COMPLETION_INDEX of a Kubernetes indexed job,
with --tasks N). A task writes each unit's result.yaml and not results.db
(cluster file systems do not support SQLite's WAL): prunebench collect, or
any of board, ls, show and plot, ingests the files. --units LIST takes the
list from a file written by ` + "`prunebench slurm`" + ` (the units unfinished at
submission), and each run's spec from its spec.yaml; SPEC then only names
the sweep in the logs. --list prints every unit and its state instead of
running.`,
		Example: `  prunebench sweep experiments/examples/quickstart.yaml --board --plot quickstart.png
  prunebench sweep experiments/papers/lth-lenet-mnist.yaml --jobs 2
  prunebench sweep experiments/papers/lth-lenet-mnist.yaml --list
  prunebench sweep experiments/papers/lth-lenet-mnist.yaml --task 3 --tasks 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSweepCmd(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sets, "set", nil, "override a spec key for every run (repeatable)")
	fl.StringArrayVar(&f.where, "where", nil, "run only the points whose spec has key=value (repeatable; all must hold)")
	intFlag(fl, &f.jobs, "jobs", "j", min(runtime.NumCPU(), maxJobs), 1, maxJobs, "units trained at once (one core each; in a Slurm task, SLURM_CPUS_PER_TASK by default)")
	addDeviceFlags(fl, &f.device)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar (a line per unit instead)")
	fl.BoolVar(&f.rerun, "rerun", false, "train levels whose run folder was deleted although results.db holds them, replacing their results")
	fl.StringVar(&f.task, "task", "", "run only the units of this task of an array job: an index below --tasks, or env")
	intFlag(fl, &f.tasks, "tasks", "", 0, 0, cluster.MaxTasks, "the number of tasks of the array job (with --task; from the environment with --task env under Slurm)")
	fl.StringVar(&f.unitsFile, "units", "", "with --task: the unit list a `prunebench slurm` submission wrote")
	fl.BoolVar(&f.list, "list", false, "print every unit (or, with --task, the task's units) and its state; run nothing")
	fl.BoolVar(&f.board, "board", false, "end with the leaderboard of the sweep's results (as prunebench board)")
	fl.StringVar(&f.plot, "plot", "", "write the sweep's accuracy-against-density plot to FILE.png or FILE.svg (as prunebench plot)")
	return cmd
}

// sweepWork is what one sweep command runs: the points, the units among
// them (nil: all) and the task of an array job it is (nil: none).
type sweepWork struct {
	specs []experiments.Spec
	units []string
	task  *cluster.Task
	name  string // the spec file, or the unit list with --units
}

// loadSweepWork reads the sweep's points and, for a task, its share.
func loadSweepWork(cmd *cobra.Command, spec string, f sweepFlags) (sweepWork, error) {
	w := sweepWork{name: spec}
	switch {
	case f.task == "" && f.tasks != 0:
		return w, errors.New("--tasks needs --task: the index of this task (or env)")
	case f.task == "" && f.unitsFile != "":
		return w, errors.New("--units needs --task: a unit list is the work of an array job's tasks")
	case f.task != "":
		t, err := cluster.ParseTask(f.task, f.tasks, os.Getenv)
		if err != nil {
			return w, err
		}
		w.task = &t
	}
	if f.unitsFile != "" {
		if len(f.sets) > 0 || len(f.where) > 0 {
			return w, errors.New("--units takes the points from the unit list: --set and --where do not apply (give them to prunebench slurm)")
		}
		l, err := cluster.ReadUnitList(f.unitsFile)
		if err != nil {
			return w, err
		}
		if w.units, err = l.Share(*w.task); err != nil {
			return w, err
		}
		seen := map[string]bool{}
		for _, id := range w.units {
			hash, _, _ := strings.Cut(id, "/")
			if seen[hash] {
				continue
			}
			seen[hash] = true
			s, err := experiments.LoadRunSpec(l.Output, hash)
			if err != nil {
				return w, fmt.Errorf("unit %s of %s: %w", id, f.unitsFile, err)
			}
			w.specs = append(w.specs, s)
		}
		w.name = f.unitsFile
		if w.units == nil {
			w.units = []string{} // this task has no share: run nothing, not everything
		}
		return w, nil
	}
	sw, err := experiments.LoadSweep(spec, f.sets)
	if err != nil {
		return w, err
	}
	for _, note := range sw.Notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", note)
	}
	if w.specs, err = experiments.FilterSweep(sw.Specs, f.where); err != nil {
		return w, err
	}
	if len(w.specs) == 0 {
		return w, fmt.Errorf("no point of %s has %s", spec, strings.Join(f.where, " and "))
	}
	if w.task != nil {
		share, err := experiments.Shard(experiments.WorkUnits(w.specs), w.task.Index, w.task.Count)
		if err != nil {
			return w, err
		}
		w.units = []string{}
		for _, u := range share {
			w.units = append(w.units, u.ID())
		}
	}
	return w, nil
}

func runSweepCmd(cmd *cobra.Command, spec string, f sweepFlags) error {
	if f.plot != "" {
		if err := checkPlotFile("--plot", f.plot); err != nil {
			return err
		}
	}
	w, err := loadSweepWork(cmd, spec, f)
	if err != nil {
		return err
	}
	if f.list {
		return listUnits(cmd, w)
	}
	stderr := cmd.ErrOrStderr()
	if w.task == nil {
		if err := experiments.ValidateSweep(w.specs); err != nil {
			return err
		}
	}
	if f.unitsFile == "" {
		if _, err := experiments.WriteSweepManifest(spec, w.specs); err != nil {
			return err
		}
	}
	jobs := f.jobs
	if w.task != nil && !cmd.Flags().Changed("jobs") {
		jobs = 1
		if n, err := strconv.Atoi(os.Getenv("SLURM_CPUS_PER_TASK")); err == nil && n > 0 {
			jobs = min(n, maxJobs)
		}
	}
	opts := experiments.SweepOptions{Jobs: jobs, Rerun: f.rerun, Units: w.units, NoStore: w.task != nil, Notify: notifier(cmd)}
	f.device.apply(&opts)
	if w.task != nil {
		if len(w.units) == 0 {
			fmt.Fprintf(stderr, "%s: no units of %s fall to this task\n", w.task, w.name)
			return nil
		}
		host, _ := os.Hostname()
		fmt.Fprintf(stderr, "%s on %s: %s of %s, %d at a time, into %s (result files only; prunebench collect ingests them)\n",
			w.task, host, plural(len(w.units), "unit"), w.name, min(jobs, len(w.units)), w.specs[0].Output)
	} else {
		fmt.Fprintf(stderr, "sweep of %d runs, %d at a time, into %s\n", len(w.specs), min(jobs, len(experiments.WorkUnits(w.specs))), w.specs[0].Output)
	}
	var bar *progressbar.ProgressBar
	if f.quiet || w.task != nil || !isTerminal(stderr) {
		// Lines, not a bar: -q asks for them, and a task's log file or any
		// stderr that is no terminal would keep every redraw of a bar.
		hashes := make([]string, len(w.specs))
		for i, s := range w.specs {
			hashes[i] = experiments.Hash(s)
		}
		watch := unitLines(stderr, true, !f.quiet)
		opts.Watch = func(point int, u experiments.UnitInfo) ([]experiments.Callback, func()) {
			return watch(hashes[point], u)
		}
	} else {
		bar = sweepBar(cmd, len(w.specs), &opts)
	}
	outcomes, err := experiments.RunSweep(cmd.Context(), w.specs, opts)
	if bar != nil {
		if cmd.Context().Err() != nil {
			bar.Exit()
		} else {
			bar.Finish()
		}
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	err = reportSweep(cmd, outcomes)
	return errors.Join(err, sweepLeaderboard(cmd, outcomes, f.board, f.plot))
}

// sweepBar is the sweep's progress bar, over its points.
func sweepBar(cmd *cobra.Command, points int, opts *experiments.SweepOptions) *progressbar.ProgressBar {
	bar := progressbar.NewOptions(1000*points,
		progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("sweep"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish())
	var mu sync.Mutex
	done := make([]int, points)
	opts.Progress = func(run int, frac float64) {
		if cmd.Context().Err() != nil {
			return // an interrupted run is not done: leave the bar where it stopped
		}
		mu.Lock()
		defer mu.Unlock()
		if d := int(1000 * frac); d > done[run] {
			bar.Add(d - done[run])
			done[run] = d
		}
	}
	return bar
}

// listUnits prints every unit of the work and its state.
func listUnits(cmd *cobra.Command, w sweepWork) error {
	units := experiments.WorkUnits(w.specs)
	if w.units != nil {
		want := map[string]bool{}
		for _, id := range w.units {
			want[id] = true
		}
		units = slices.DeleteFunc(units, func(u experiments.WorkUnit) bool { return !want[u.ID()] })
	}
	settings := map[string]string{}
	swept := pointSettings(w.specs)
	for i, s := range w.specs {
		settings[experiments.Hash(s)] = swept[i]
	}
	counts := map[experiments.UnitState]int{}
	rows := make([][]string, len(units))
	for i, u := range units {
		st := experiments.ReadUnitStatus(u)
		counts[st.State]++
		rows[i] = []string{u.ID(), settings[u.Hash], st.String()}
	}
	if err := printTable(cmd, []string{"unit", "settings", "state"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d units: %d done, %d running, %d partial, %d failed, %d not started\n", len(units),
		counts[experiments.Finished], counts[experiments.Running], counts[experiments.Partial], counts[experiments.Failed], counts[experiments.NotStarted])
	return nil
}

// reportSweep prints one row per finished run (its swept settings and mean
// accuracy) and then the failures. After an interrupt (Ctrl-C, SIGTERM) the
// runs it stopped are not failures: one line counts the finished, the
// checkpointed (started, stopped, resumed by the next run) and the runs
// never started, and the error wraps context.Canceled.
func reportSweep(cmd *cobra.Command, outcomes []experiments.SweepOutcome) error {
	var rows, failed [][]string
	var checkpointed, notStarted, total int
	specs := make([]experiments.Spec, len(outcomes))
	for i, o := range outcomes {
		specs[i] = o.Spec
	}
	settingsOf := pointSettings(specs)
	for i, o := range outcomes {
		settings := settingsOf[i]
		if o.Units == 0 {
			continue // not part of this task's work
		}
		total++
		switch {
		case o.Err == nil:
		case !o.Started:
			notStarted++
			continue
		case errors.Is(o.Err, context.Canceled):
			checkpointed++
			continue
		default:
			failed = append(failed, []string{experiments.Hash(o.Spec), settings, o.Err.Error()})
			continue
		}
		var sum float64
		for _, r := range o.Results {
			sum += r.BestTestAcc
		}
		rows = append(rows, []string{experiments.Hash(o.Spec), settings, fmt.Sprint(len(o.Results)), pct(sum / float64(len(o.Results)))})
	}
	if len(rows) > 0 {
		if err := printTable(cmd, []string{"run", "settings", "results", "mean test acc @best"}, rows); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "\n%d of %d runs failed:\n", len(failed), total)
		if err := printTable(cmd, []string{"run", "settings", "error"}, failed); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	if checkpointed > 0 || notStarted > 0 || (ctx != nil && ctx.Err() != nil) {
		counts := fmt.Sprintf("%d finished", len(rows))
		if len(failed) > 0 {
			counts += fmt.Sprintf(", %d failed", len(failed))
		}
		return interrupted(cmd, fmt.Sprintf("interrupted: %s, %d checkpointed, %d not started; rerun to resume", counts, checkpointed, notStarted))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d runs failed", len(failed), total)
	}
	return nil
}

// pointSettings names each point of a sweep in its tables by the keys
// that vary across the points (experiments.SweptSettings). A sweep of one
// point varies nothing: its run name says which it is, and its every
// non-default key would make a line of hundreds of characters. Within a
// point, a varied key that its pipeline does not read ("key=-") or that it
// leaves at an empty default ("key=") is left out: in a sweep that zips
// pipelines, every pipeline's keys vary, and the row should say what the
// point sets.
func pointSettings(specs []experiments.Spec) []string {
	if len(specs) < 2 {
		return make([]string, len(specs))
	}
	out := experiments.SweptSettings(specs)
	for i, s := range out {
		out[i] = setSettings(s)
	}
	return out
}

// setSettings keeps, of a point's swept settings ("k=v k=v"), the keys the
// point sets: not those its pipeline does not read ("k=-") or leaves at an
// empty default ("k=").
func setSettings(swept string) string {
	parts := strings.Fields(swept)
	parts = slices.DeleteFunc(parts, func(p string) bool { return strings.HasSuffix(p, "=-") || strings.HasSuffix(p, "=") })
	return strings.Join(parts, " ")
}

// plural counts things in words: "1 unit", "2 units".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
