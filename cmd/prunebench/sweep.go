package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
)

func newSweepCmd() *cobra.Command {
	var sets, where []string
	var jobs int
	var quiet, rerun bool
	cmd := &cobra.Command{
		Use:   "sweep SPEC.yaml",
		Short: "Run every point of a spec's sweep block, N at a time; resumes, keeps going past failures",
		Long: `Expand the spec's sweep block (the cartesian product of its lists, or
their zip with sweep_mode: zip) and run each point as ` + "`prunebench run`" + ` would,
--jobs at a time, each on one core. A failed run does not stop the others;
failures are listed at the end and the exit status is non-zero. Ctrl-C
checkpoints the runs in progress and stops (exit status 130). Running the
command again skips what finished and resumes what did not. --where
key=value runs only the points whose spec has that value (repeatable; all
must hold), e.g. --where model.name=lenet-300-100 for one half of a paper's
sweep.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sw, err := experiments.LoadSweep(args[0], sets)
			if err != nil {
				return err
			}
			for _, note := range sw.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", note)
			}
			specs, err := experiments.FilterSweep(sw.Specs, where)
			if err != nil {
				return err
			}
			if len(specs) == 0 {
				return fmt.Errorf("no point of %s has %s", args[0], strings.Join(where, " and "))
			}
			if err := experiments.ValidateSweep(specs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sweep of %d runs, %d at a time, into %s\n", len(specs), min(jobs, len(specs)), specs[0].Output)
			opts := experiments.SweepOptions{Jobs: jobs, Rerun: rerun}
			var bar *progressbar.ProgressBar
			if !quiet {
				bar = progressbar.NewOptions(1000*len(specs),
					progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("sweep"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
					progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish())
				var mu sync.Mutex
				done := make([]int, len(specs))
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
			}
			outcomes, err := experiments.RunSweep(cmd.Context(), specs, opts)
			if bar != nil {
				if cmd.Context().Err() != nil {
					bar.Exit()
				} else {
					bar.Finish()
				}
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			return reportSweep(cmd, outcomes)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key for every run (repeatable)")
	cmd.Flags().StringArrayVar(&where, "where", nil, "run only the points whose spec has key=value (repeatable; all must hold)")
	intFlag(cmd.Flags(), &jobs, "jobs", "j", min(runtime.NumCPU(), maxJobs), 1, maxJobs, "runs trained at once (one core each)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	cmd.Flags().BoolVar(&rerun, "rerun", false, "train levels whose run folder was deleted although results.db holds them, replacing their results")
	return cmd
}

// reportSweep prints one row per finished run (its swept settings and mean
// accuracy) and then the failures. After an interrupt (Ctrl-C, SIGTERM) the
// runs it stopped are not failures: one line counts the finished, the
// checkpointed (started, stopped, resumed by the next run) and the runs
// never started, and the error wraps context.Canceled.
func reportSweep(cmd *cobra.Command, outcomes []experiments.SweepOutcome) error {
	var rows, failed [][]string
	var checkpointed, notStarted int
	specs := make([]experiments.Spec, len(outcomes))
	for i, o := range outcomes {
		specs[i] = o.Spec
	}
	settingsOf := experiments.SweptSettings(specs)
	for i, o := range outcomes {
		settings := settingsOf[i]
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
		if err := renderTable(cmd.OutOrStdout(), []string{"run", "settings", "results", "mean test acc @best"}, rows); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "\n%d of %d runs failed:\n", len(failed), len(outcomes))
		if err := renderTable(cmd.OutOrStdout(), []string{"run", "settings", "error"}, failed); err != nil {
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
		return fmt.Errorf("%d of %d runs failed", len(failed), len(outcomes))
	}
	return nil
}
