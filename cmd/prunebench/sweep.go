package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sort"
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
failures are listed at the end and the exit status is non-zero. Running the
command again skips what finished. --where key=value runs only the points
whose spec has that value (repeatable; all must hold), e.g. --where
model.name=lenet-300-100 for one half of a paper's sweep.`,
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
			fmt.Fprintf(cmd.ErrOrStderr(), "sweep of %d runs, %d at a time, into %s\n", len(specs), jobs, specs[0].Output)
			opts := experiments.SweepOptions{Jobs: jobs, Rerun: rerun}
			var bar *progressbar.ProgressBar
			if !quiet {
				bar = progressbar.NewOptions(1000*len(specs),
					progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("sweep"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
					progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish())
				var mu sync.Mutex
				done := make([]int, len(specs))
				opts.Progress = func(run int, frac float64) {
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
				bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			return reportSweep(cmd, outcomes)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key for every run (repeatable)")
	cmd.Flags().StringArrayVar(&where, "where", nil, "run only the points whose spec has key=value (repeatable; all must hold)")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", runtime.NumCPU(), "runs trained at once (one core each)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	cmd.Flags().BoolVar(&rerun, "rerun", false, "train levels whose run folder was deleted although results.db holds them, replacing their results")
	return cmd
}

// reportSweep prints one row per run (its swept settings and mean accuracy)
// and then the failures.
func reportSweep(cmd *cobra.Command, outcomes []experiments.SweepOutcome) error {
	var rows, failed [][]string
	for _, o := range outcomes {
		settings := canonicalString(o.Spec)
		if o.Err != nil {
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
		return fmt.Errorf("%d of %d runs failed", len(failed), len(outcomes))
	}
	return nil
}

// canonicalString is a spec's non-default settings as key=value pairs.
func canonicalString(s experiments.Spec) string {
	c := experiments.Canonical(s)
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := reflect.ValueOf(c[k])
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem() // prune.density is a *float64: print the value
		}
		parts[i] = fmt.Sprintf("%s=%v", k, v)
	}
	return strings.Join(parts, " ")
}
