package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

func newRunCmd() *cobra.Command {
	var sets []string
	var quiet, rerun bool
	var jobs int
	var device deviceFlags
	cmd := &cobra.Command{
		Use:   "run SPEC.yaml",
		Short: "Run every replicate and level of a spec's pipeline; resumes what is unfinished",
		Example: `  prunebench run experiments/papers/lth-lenet-mnist-quick.yaml --jobs 2
  prunebench run experiments/papers/lth-lenet-mnist-quick.yaml --set replicates=1 --set sparse=off`,
		Long: `Run every replicate (seed) and every level of the spec's pipeline. Runs live in
OUTPUT/HASH/replicate_R/level_L, where HASH names the spec's non-default
settings, and every finished level is written to OUTPUT/results.db.
Running the same command again skips what finished and resumes what did
not from its last checkpoint. Ctrl-C checkpoints and stops. --jobs N trains N
replicates at once, each on one core (a line per finished unit instead of
progress bars).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := experiments.LoadSpec(args[0], sets)
			if err != nil {
				return err
			}
			return runAndReport(cmd, spec, runFlags{quiet: quiet, rerun: rerun, jobs: jobs, device: device})
		},
	}
	intFlag(cmd.Flags(), &jobs, "jobs", "j", 1, 1, maxJobs, "replicates trained at once (one core each, or N units sharing a GPU)")
	addDeviceFlags(cmd.Flags(), &device)
	cmd.Flags().BoolVar(&rerun, "rerun", false, "train levels whose run folder was deleted although results.db holds them, replacing their results")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key, e.g. --set training.lr=0.01 (repeatable)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	return cmd
}

type runFlags struct {
	quiet, rerun bool
	jobs         int
	device       deviceFlags
}

// runAndReport runs a spec with a progress bar per unit (a line per
// finished unit when replicates run in parallel) and prints its results
// table.
func runAndReport(cmd *cobra.Command, spec experiments.Spec, f runFlags) error {
	if _, err := experiments.Validate(spec); err != nil {
		return err // before naming a run folder that will not be made
	}
	dir := filepath.Join(spec.Output, experiments.Hash(spec))
	fmt.Fprintf(cmd.ErrOrStderr(), "run %s\n", dir)
	opts := experiments.RunOptions{Rerun: f.rerun, Jobs: f.jobs, Notify: notifier(cmd)}
	switch {
	case f.quiet:
	case f.jobs > 1:
		watch := unitLines(cmd.ErrOrStderr(), false, false)
		opts.Watch = func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
			return watch(spec.Model.Name+"/"+spec.Dataset.Name, u)
		}
	default:
		opts.Watch = func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
			bar := newProgress(cmd.ErrOrStderr(), fmt.Sprintf("%s/%s %s", spec.Model.Name, spec.Dataset.Name, u.Label()))
			return []experiments.Callback{bar.callback}, bar.finish
		}
	}
	var rs []results.Result
	var err error
	if f.jobs > 1 {
		// Replicates at once go through the sweep's scheduler, which
		// guards device memory and retries a unit that ran out of it.
		rs, err = runReplicatesAtOnce(cmd.Context(), spec, opts, f.device)
	} else {
		rs, err = experiments.RunSpec(cmd.Context(), spec, opts)
	}
	if errors.Is(err, context.Canceled) {
		// Finished levels are stored; the one that was training saved a
		// checkpoint in dir before stopping.
		return interrupted(cmd, "interrupted: checkpointed; rerun to resume")
	}
	if err != nil {
		return err
	}
	width, err := tableWidth(cmd)
	if err != nil {
		return err
	}
	return printResults(cmd.OutOrStdout(), width, rs)
}

// runReplicatesAtOnce runs spec's replicates opts.Jobs at a time as the
// units of a one-point sweep (experiments.RunSweep), with the memory guard
// and out-of-memory retries of the device flags.
func runReplicatesAtOnce(ctx context.Context, spec experiments.Spec, opts experiments.RunOptions, device deviceFlags) ([]results.Result, error) {
	so := experiments.SweepOptions{Jobs: opts.Jobs, Rerun: opts.Rerun, Notify: opts.Notify}
	if opts.Watch != nil {
		so.Watch = func(_ int, u experiments.UnitInfo) ([]experiments.Callback, func()) { return opts.Watch(u) }
	}
	device.apply(&so)
	out, err := experiments.RunSweep(ctx, []experiments.Spec{spec}, so)
	if err != nil {
		return nil, err
	}
	return out[0].Results, out[0].Err
}

// printResults prints one row per replicate and level.
func printResults(w io.Writer, width int, rs []results.Result) error {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		rows = append(rows, []string{
			fmt.Sprint(r.Replicate), fmt.Sprint(r.Level), r.Branch, r.Method,
			fmt.Sprintf("%.4g", r.Density), fmt.Sprint(r.ParamsNonzero), fmt.Sprint(r.FLOPsNonzero),
			fmt.Sprint(r.BestIter), pct(r.BestValAcc), pct(r.BestTestAcc), pct(r.FinalTestAcc),
			r.Wall.Round(time.Millisecond).String(),
		})
	}
	return renderTable(w, width, []string{"rep", "level", "branch", "method", "density", "nonzero params", "nonzero FLOPs",
		"best iter", "val acc @best", "test acc @best", "test acc @end", "wall"}, rows)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}
