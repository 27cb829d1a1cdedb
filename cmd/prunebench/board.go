package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot/vg"
)

func newBoardCmd() *cobra.Command {
	var output, format, sortBy string
	var where, by, metrics []string
	cmd := &cobra.Command{
		Use:   "board",
		Short: "Print a leaderboard of the results store: replicates as mean ± std with n",
		Long: `Print a leaderboard of OUTPUT/results.db. By default an entry is one
experiment (a spec without its seed), level and branch, and its n is the
number of distinct seeds: replicates of one spec are one entry, and two
results of one spec and seed count once. Entries that differ in spec keys
show those keys as columns. --by groups by other keys instead: result
columns or spec keys, e.g. --by method,training.lr. Each entry shows n,
density, sparsity, compression, parameter and FLOP counts, test accuracy at
the early-stopping iteration and at the end (mean ± sample std; one
replicate reads "(n=1)") and wall time. --where keeps the results whose
column or spec key equals a value (key=value; several flags must all hold).
The default order is model, dataset, method (dense first), then density from
dense to sparse; --sort changes it, e.g. --sort -best_test_acc. The store is
opened read-only: board works on a read-only mount and never changes it.

Metrics a pipeline derives from each run's learning curve (such as the
grokking measures t_mem, t_grok, delay, grokked) are columns after those:
mean ± std over the seeds that reached them, with how many of n did when
some did not ("1840 ± 120 (2/3)"). By default a board shows at most 4, those
the most entries record, and names the others below the table; --metrics
picks them (NAME,NAME), or all, or none; --format csv has all of them.
--sort takes a metric's name too.`,
		Example: `  prunebench board
  prunebench board --where dataset=mnist --where model=lenet-300-100 --format markdown
  prunebench board --by method,training.lr --where pipeline=imp
  prunebench board --sort -best_test_acc --format csv > board.csv
  prunebench board --metrics t_grok,delay --sort t_grok`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(results.BoardFormats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(results.BoardFormats, ", "))
			}
			defaults := experiments.KeyDefaults()
			for _, k := range by {
				if err := checkKey("--by", k, k, defaults); err != nil {
					return err
				}
			}
			rs, err := loadBoardResults(cmd.ErrOrStderr(), output, where)
			if err != nil {
				return err
			}
			width, err := tableWidth(cmd)
			if err != nil {
				return err
			}
			err = results.WriteBoard(cmd.OutOrStdout(), rs, results.BoardOptions{By: by, SpecDefaults: defaults, Format: format, Sort: sortBy, Width: width, Metrics: metrics})
			if errors.Is(err, results.ErrBoardMetrics) {
				return fmt.Errorf("--metrics %s: %w", strings.Join(metrics, ","), err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&output, "output", "runs", "the output folder that holds "+storeFile)
	f.StringArrayVar(&where, "where", nil, "keep results whose column or spec key equals a value, key=value (repeatable; all must hold)")
	f.StringSliceVar(&by, "by", results.DefaultBoardBy, "result columns or spec keys that name an entry; other results with the same values are its replicates")
	f.StringVar(&format, "format", "table", "table, markdown or csv")
	f.StringVar(&sortBy, "sort", "", "sort keys, comma-separated, - for descending (default model,dataset,method,-density)")
	f.StringSliceVar(&metrics, "metrics", nil, "the metrics derived from the learning curves to show as columns, comma-separated, or all, or none (default: at most 4, those the most entries record)")
	return cmd
}

func newPlotCmd() *cobra.Command {
	var output, file, by, metric, split, title string
	var where []string
	var width, height float64
	cmd := &cobra.Command{
		Use:   "plot -o FILE.png|FILE.svg",
		Short: "Plot test accuracy against density, or learning curves, from the results store",
		Long: `Plot test accuracy against the percentage of weights remaining (log
scale, dense on the left) from OUTPUT/results.db: one line per --by value
with error bars of ± one std over replicates, and the dense baseline (method
dense, or density 1) as a dashed line. The file's extension chooses PNG or
SVG. Select one model and dataset with --where unless --by tells them apart.

--metric curve draws the learning curves instead: accuracy (percent) of the
--split (test, val, or train, which runs record only under
training.eval_train: true) against the training step, one line per entry of
the density plot (each --by value at each density), the mean over seeds at
the steps every seed was evaluated at, with a band of ± one std where there
are two or more. Results stored before prunebench kept curves have none and
are left out, with a note.`,
		Example: `  prunebench plot --where model=lenet-300-100 --where dataset=mnist -o lenet.png
  prunebench plot --metric final --title "LeNet-300-100, final accuracy" -o final.svg
  prunebench plot --metric curve --where method=imp --by density -o curves.png
  prunebench plot --metric curve --split train --where pipeline=train -o train-acc.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("-o FILE is required: the plot to write, .png or .svg")
			}
			if err := checkPlotFile("-o", file); err != nil {
				return err
			}
			if !slices.Contains(results.PlotMetrics, metric) {
				return fmt.Errorf("--metric %q: want %s", metric, results.PlotMetricsHelp)
			}
			if !slices.Contains(results.PlotSplits, split) {
				return fmt.Errorf("--split %q: want %s", split, strings.Join(results.PlotSplits, ", "))
			}
			if cmd.Flags().Changed("split") && metric != "curve" {
				return fmt.Errorf("--split %s: only --metric curve draws a split; --metric %s is the test accuracy", split, metric)
			}
			defaults := experiments.KeyDefaults()
			if err := checkKey("--by", by, by, defaults); err != nil {
				return err
			}
			rs, err := loadResults(cmd.ErrOrStderr(), output, where, metric == "curve")
			if err != nil {
				return err
			}
			drawn := len(rs)
			if metric == "curve" {
				// None with a curve is WritePlot's error; some without one
				// are a note, so that the plot is not taken for all of them.
				without := 0
				for _, r := range rs {
					if len(r.Curve) == 0 {
						without++
					}
				}
				if without > 0 && without < len(rs) {
					drawn -= without
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %d of %d results have no learning curve (stored before prunebench kept curves) and are left out\n", without, len(rs))
				}
			}
			o := results.PlotOptions{
				Title: title, By: by, Metric: metric, Split: split, SpecDefaults: defaults,
				Width: vg.Length(width) * vg.Inch, Height: vg.Length(height) * vg.Inch,
			}
			if err := results.WritePlot(file, rs, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d results)\n", file, drawn)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "o", "", "the plot to write: FILE.png or FILE.svg (required)")
	f.StringVar(&output, "output", "runs", "the output folder that holds "+storeFile)
	f.StringArrayVar(&where, "where", nil, "keep results whose column or spec key equals a value, key=value (repeatable; all must hold)")
	f.StringVar(&by, "by", "method", "the result column or spec key whose values are the lines")
	f.StringVar(&metric, "metric", "best", results.PlotMetricsHelp)
	f.StringVar(&split, "split", "test", "--metric curve: the split whose accuracy is drawn, test, val or train (train needs training.eval_train: true in the runs' spec)")
	f.StringVar(&title, "title", "", `the title (default "MODEL on DATASET")`)
	floatFlag(f, &width, "width", "", float64(results.DefaultPlotWidth/vg.Inch), minPlotInches, maxPlotInches, "inches", "width in inches (PNG at 96 dpi)")
	floatFlag(f, &height, "height", "", float64(results.DefaultPlotHeight/vg.Inch), minPlotInches, maxPlotInches, "inches", "height in inches")
	return cmd
}

// loadBoardResults reads the results of OUTPUT/results.db that match every
// --where flag, without their curves. A missing store, a malformed or
// unknown --where, and no matching results are errors; the latter two name
// the flag.
func loadBoardResults(stderr io.Writer, output string, whereFlags []string) ([]results.Result, error) {
	return loadResults(stderr, output, whereFlags, false)
}

// loadResults is loadBoardResults, reading the results' learning curves too
// when withCurves: only a plot of curves needs them, and a board of many
// results should not read them.
func loadResults(stderr io.Writer, output string, whereFlags []string, withCurves bool) ([]results.Result, error) {
	w, err := parseWhere(whereFlags)
	if err != nil {
		return nil, err
	}
	st, err := openStoreToRead(stderr, output)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rs, err := w.results(st)
	if err != nil {
		return nil, err
	}
	if withCurves {
		if err := st.FillCurves(rs); err != nil {
			return nil, err
		}
	}
	if len(rs) == 0 {
		path := filepath.Join(output, storeFile)
		if len(whereFlags) == 0 {
			return nil, fmt.Errorf("results store %s holds no results yet", path)
		}
		return nil, fmt.Errorf("no results in %s match --where %s", path, strings.Join(whereFlags, " --where "))
	}
	return rs, nil
}
