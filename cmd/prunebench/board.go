package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot/vg"
)

// boardResultsDB is the results store's file name inside the output folder.
const boardResultsDB = "results.db"

func newBoardCmd() *cobra.Command {
	var output, format, sortBy string
	var where, by []string
	cmd := &cobra.Command{
		Use:   "board",
		Short: "Print a leaderboard of the results store: replicates as mean ± std with n",
		Long: `Print a leaderboard of OUTPUT/results.db. Rows that agree on the --by
columns are replicates of one entry; each entry shows n, density, sparsity,
compression, parameter and FLOP counts, test accuracy at the early-stopping
iteration and at the end (mean ± sample std; one replicate reads "(n=1)")
and wall time. --where selects rows (key=value on a results column; several
flags must all hold). The default order is model, dataset, method (dense
first), then density from dense to sparse; --sort changes it, e.g.
--sort -best_test_acc.`,
		Example: `  prunebench board
  prunebench board --where dataset=mnist --where model=lenet-300-100 --format markdown
  prunebench board --by method,density --sort -best_test_acc --format csv > board.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(results.BoardFormats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(results.BoardFormats, ", "))
			}
			for _, k := range by {
				if err := checkBoardColumn("--by", k); err != nil {
					return err
				}
			}
			rs, err := loadBoardResults(output, where)
			if err != nil {
				return err
			}
			return results.WriteBoard(cmd.OutOrStdout(), rs, results.BoardOptions{By: by, Format: format, Sort: sortBy})
		},
	}
	f := cmd.Flags()
	f.StringVar(&output, "output", "runs", "the output folder that holds "+boardResultsDB)
	f.StringArrayVar(&where, "where", nil, "keep rows whose column equals a value, key=value (repeatable; all must hold)")
	f.StringSliceVar(&by, "by", results.DefaultBoardBy, "columns that name an entry; other rows with the same values are its replicates")
	f.StringVar(&format, "format", "table", "table, markdown or csv")
	f.StringVar(&sortBy, "sort", "", "sort keys, comma-separated, - for descending (default model,dataset,method,-density)")
	return cmd
}

func newPlotCmd() *cobra.Command {
	var output, file, by, metric, title string
	var where []string
	var width, height float64
	cmd := &cobra.Command{
		Use:   "plot -o FILE.png|FILE.svg",
		Short: "Plot test accuracy against density from the results store",
		Long: `Plot test accuracy against the percentage of weights remaining (log
scale, dense on the left) from OUTPUT/results.db: one line per --by value
with error bars of ± one std over replicates, and the dense baseline (method
dense, or density 1) as a dashed line. The file's extension chooses PNG or
SVG. Select one model and dataset with --where unless --by tells them apart.`,
		Example: `  prunebench plot --where model=lenet-300-100 --where dataset=mnist -o lenet.png
  prunebench plot --metric final --title "LeNet-300-100, final accuracy" -o final.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("-o FILE is required: the plot to write, .png or .svg")
			}
			if ext := strings.ToLower(filepath.Ext(file)); !slices.Contains(results.PlotFormats, ext) {
				return fmt.Errorf("-o %s: unknown file type %q; want one of %s", file, ext, strings.Join(results.PlotFormats, ", "))
			}
			if !slices.Contains(results.PlotMetrics, metric) {
				return fmt.Errorf("--metric %q: want best (test accuracy at the early-stopping iteration), final, or best_iter (the early-stopping iteration)", metric)
			}
			if err := checkBoardColumn("--by", by); err != nil {
				return err
			}
			rs, err := loadBoardResults(output, where)
			if err != nil {
				return err
			}
			o := results.PlotOptions{
				Title: title, By: by, Metric: metric,
				Width: vg.Length(width) * vg.Inch, Height: vg.Length(height) * vg.Inch,
			}
			if err := results.WritePlot(file, rs, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d results)\n", file, len(rs))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "o", "", "the plot to write: FILE.png or FILE.svg (required)")
	f.StringVar(&output, "output", "runs", "the output folder that holds "+boardResultsDB)
	f.StringArrayVar(&where, "where", nil, "keep rows whose column equals a value, key=value (repeatable; all must hold)")
	f.StringVar(&by, "by", "method", "the column whose values are the lines")
	f.StringVar(&metric, "metric", "best", "best (test accuracy at the early-stopping iteration), final, or best_iter (the early-stopping iteration)")
	f.StringVar(&title, "title", "", `the title (default "MODEL on DATASET")`)
	floatFlag(f, &width, "width", "", float64(results.DefaultPlotWidth/vg.Inch), minPlotInches, maxPlotInches, "inches", "width in inches (PNG at 96 dpi)")
	floatFlag(f, &height, "height", "", float64(results.DefaultPlotHeight/vg.Inch), minPlotInches, maxPlotInches, "inches", "height in inches")
	return cmd
}

// checkBoardColumn says which flag named an unknown results column.
func checkBoardColumn(flag, name string) error {
	if cols := results.Columns(); !slices.Contains(cols, name) {
		return fmt.Errorf("%s %q: unknown column; the columns are %s", flag, name, strings.Join(cols, ", "))
	}
	return nil
}

// loadBoardResults reads the rows of OUTPUT/results.db that match every
// --where flag. A missing database, a malformed or unknown --where, and no
// matching rows are errors; the latter two name the flag.
func loadBoardResults(output string, where []string) ([]results.Result, error) {
	filter := map[string]string{}
	flagOf := map[string]string{}
	for _, w := range where {
		k, v, ok := strings.Cut(w, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--where %q: want key=value, e.g. --where method=imp", w)
		}
		if !slices.Contains(results.Columns(), k) {
			return nil, fmt.Errorf("--where %q: unknown column %q; the columns are %s", w, k, strings.Join(results.Columns(), ", "))
		}
		if prev, dup := flagOf[k]; dup && filter[k] != v {
			return nil, fmt.Errorf("--where %q: contradicts --where %q (all --where flags must hold)", w, prev)
		}
		filter[k], flagOf[k] = v, w
	}
	path := filepath.Join(output, boardResultsDB)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no results store %s: run experiments first, or point --output at the folder that holds %s", path, boardResultsDB)
	}
	st, err := results.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rs, err := st.Results(filter)
	if err != nil {
		// Name the flag whose value the store refused, if one alone does.
		for _, w := range where {
			k, v, _ := strings.Cut(w, "=")
			k = strings.TrimSpace(k)
			if _, e := st.Results(map[string]string{k: v}); e != nil {
				return nil, fmt.Errorf("--where %q: %w", w, e)
			}
		}
		return nil, err
	}
	if len(rs) == 0 {
		if len(where) == 0 {
			return nil, fmt.Errorf("results store %s holds no results yet", path)
		}
		return nil, fmt.Errorf("no results in %s match --where %s", path, strings.Join(where, " --where "))
	}
	return rs, nil
}
