package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/spf13/cobra"
)

// checkPlotFile refuses a plot file whose type WritePlot cannot write,
// naming the flag that gave it (plot -o, sweep --plot), before anything is
// read or trained.
func checkPlotFile(flag, file string) error {
	if ext := strings.ToLower(filepath.Ext(file)); !slices.Contains(results.PlotFormats, ext) {
		return fmt.Errorf("%s %s: unknown file type %q; want one of %s", flag, file, ext, strings.Join(results.PlotFormats, ", "))
	}
	return nil
}

// sweepLeaderboard ends a sweep with the leaderboard of its results
// (--board) and their accuracy-against-density plot (--plot FILE), as
// `prunebench board` and `prunebench plot` would draw them for exactly the
// sweep's points, so that one command goes from a spec to a board. Points
// that failed or were interrupted contribute what finished; with no
// finished result there is nothing to show, and that is said, not an
// error (the sweep's own report has the failures).
func sweepLeaderboard(cmd *cobra.Command, outcomes []experiments.SweepOutcome, board bool, plotFile string) error {
	if !board && plotFile == "" {
		return nil
	}
	var rs []results.Result
	for _, o := range outcomes {
		rs = append(rs, o.Results...)
	}
	if len(rs) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "no finished results: no leaderboard or plot")
		return nil
	}
	defaults := experiments.KeyDefaults()
	var errs []error
	if board {
		width, err := tableWidth(cmd)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		fmt.Fprintln(out, "\nleaderboard (mean ± std over seeds, n seeds):")
		errs = append(errs, results.WriteBoard(out, rs, results.BoardOptions{By: results.DefaultBoardBy, SpecDefaults: defaults, Format: "table", Width: width}))
	}
	if plotFile != "" {
		err := results.WritePlot(plotFile, rs, results.PlotOptions{SpecDefaults: defaults})
		if err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d results)\n", plotFile, len(rs))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
