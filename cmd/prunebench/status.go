package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/cluster"
	"github.com/prunebench/prunebench/experiments"
)

func newStatusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [OUTPUT]",
		Short: "Show where every unit of the sweeps in an output folder stands",
		Long: `For every point of every sweep run or submitted into OUTPUT (default:
--output), and every run outside a sweep, count its units (replicates) that
are done, running (a live process holds the unit's lock), failed (with the
reason and the log of the Slurm task), and pending (not started, or partial:
started and stopped, resumed by the next run). Then list the Slurm jobs
found in OUTPUT/slurm/logs and the failed units. status only reads files;
it works while the sweep runs.`,
		Example: `  prunebench status runs/lth`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := outputArg(cmd, args, output)
			if err != nil {
				return err
			}
			points, err := experiments.Status(out)
			if err != nil {
				return err
			}
			if len(points) == 0 {
				return fmt.Errorf("no sweeps or runs in %s: point at the output folder of a sweep", out)
			}
			w := cmd.OutOrStdout()
			width, err := tableWidth(cmd)
			if err != nil {
				return err
			}
			var rows, failed [][]string
			var total [4]int
			for _, p := range points {
				sweep := p.Sweep
				if sweep == "" {
					sweep = "-"
				}
				pending := p.Count(experiments.NotStarted) + p.Count(experiments.Partial)
				counts := [4]int{p.Count(experiments.Finished), p.Count(experiments.Running), p.Count(experiments.Failed), pending}
				for i := range total {
					total[i] += counts[i]
				}
				rows = append(rows, []string{sweep, p.Point.Run, setSettings(p.Point.Settings),
					fmt.Sprint(counts[0]), fmt.Sprint(counts[1]), fmt.Sprint(counts[2]), fmt.Sprint(counts[3])})
				for _, u := range p.Units {
					if u.State == experiments.Failed {
						log := u.Failure.Log
						if log == "" {
							log = "-"
						}
						failed = append(failed, []string{u.Unit.ID(), firstLine(u.Failure.Error), log})
					}
				}
			}
			if err := renderTable(w, width, []string{"sweep", "run", "settings", "done", "running", "failed", "pending"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d units: %d done, %d running, %d failed, %d pending\n", total[0]+total[1]+total[2]+total[3], total[0], total[1], total[2], total[3])
			if jobs := cluster.LoggedJobs(out); len(jobs) > 0 {
				fmt.Fprintf(w, "Slurm jobs with logs in %s: %s\n", cluster.LogDir(out), strings.Join(jobs, ", "))
			}
			if files, err := experiments.Uncollected(out, filepath.Join(out, storeFile)); err == nil && len(files) > 0 {
				fmt.Fprintf(w, "%d result files are not in %s yet: prunebench collect %s (board does it too)\n", len(files), filepath.Join(out, storeFile), out)
			}
			if len(failed) > 0 {
				fmt.Fprintf(w, "\nfailed units:\n")
				return renderTable(w, width, []string{"unit", "error", "log"}, failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", experiments.Defaults().Output, "the output folder")
	return cmd
}

// firstLine is the first line of s: a table cell.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
