package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

// lsTimeLayout shows finish times, in the local time zone.
const lsTimeLayout = "2006-01-02 15:04:05"

func newLsCmd() *cobra.Command {
	var output string
	var whereFlags []string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the runs in the results store, one line per run",
		Long: `List the runs in OUTPUT/results.db, one line per run (spec hash): its
pipeline, model, data set, methods, the levels and replicates that finished,
how many results (levels and branches) are stored, and when the last one
finished. The newest run is last. --where keeps the results whose column
equals a value (key=value; several flags must all hold); numbers match
numerically, e.g. --where density=0.2. Show one run with "prunebench show RUN".`,
		Example: `  prunebench ls
  prunebench ls --output runs --where dataset=mnist --where method=imp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWhere(whereFlags)
			if err != nil {
				return err
			}
			st, err := openStoreToRead(cmd.ErrOrStderr(), output)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return nil
			}
			if err != nil {
				return err
			}
			defer st.Close()
			rs, err := w.results(st)
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				path := filepath.Join(output, storeFile)
				if len(whereFlags) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), missingStore{path})
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "no results in %s match --where %s\n", path, strings.Join(whereFlags, " --where "))
				}
				return nil
			}
			width, err := tableWidth(cmd)
			if err != nil {
				return err
			}
			return lsRender(cmd.OutOrStdout(), width, rs)
		},
	}
	cmd.Flags().StringVar(&output, "output", experiments.Defaults().Output, "the output folder that holds "+storeFile)
	cmd.Flags().StringArrayVar(&whereFlags, "where", nil, "keep results whose column or spec key equals a value, key=value (repeatable; all must hold)")
	return cmd
}

func newShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show every stored result of one run",
		Long: `Show every result of one run stored in OUTPUT/results.db: one line per
replicate, level and branch, with density, sparsity, compression, nonzero
and total parameters, nonzero FLOPs per example, the early-stopping
iteration, test accuracy there and at the end, and wall time. RUN is the
run's spec hash (the name of its folder under OUTPUT) or enough of its start
to name one run; "prunebench ls" lists them.`,
		Example: `  prunebench show 3f2a9c
  prunebench show 3f2a9c41d07e --output runs`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStoreToRead(cmd.ErrOrStderr(), output)
			if err != nil {
				return err
			}
			defer st.Close()
			rs, err := st.Run(args[0])
			if err != nil {
				return err
			}
			width, err := tableWidth(cmd)
			if err != nil {
				return err
			}
			return showRender(cmd.OutOrStdout(), width, rs)
		},
	}
	cmd.Flags().StringVar(&output, "output", experiments.Defaults().Output, "the output folder that holds "+storeFile)
	return cmd
}

// lsRender prints one line per run, the run finished last at the bottom.
func lsRender(w io.Writer, width int, rs []results.Result) error {
	type run struct {
		hash, pipeline, model, dataset string
		methods                        []string
		levels, replicates             map[int]bool
		results                        int
		last                           time.Time
	}
	byHash := map[string]*run{}
	var runs []*run
	for _, r := range rs {
		u := byHash[r.SpecHash]
		if u == nil {
			u = &run{hash: r.SpecHash, pipeline: r.Pipeline, model: r.Model, dataset: r.Dataset,
				levels: map[int]bool{}, replicates: map[int]bool{}}
			byHash[r.SpecHash] = u
			runs = append(runs, u)
		}
		if !slices.Contains(u.methods, r.Method) {
			u.methods = append(u.methods, r.Method)
		}
		u.levels[r.Level] = true
		u.replicates[r.Replicate] = true
		u.results++
		if r.Finished.After(u.last) {
			u.last = r.Finished
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].last.Equal(runs[j].last) {
			return runs[i].last.Before(runs[j].last)
		}
		return runs[i].hash < runs[j].hash
	})
	rows := make([][]string, len(runs))
	for i, u := range runs {
		last := "—"
		if !u.last.IsZero() {
			last = u.last.Local().Format(lsTimeLayout)
		}
		rows[i] = []string{u.hash, u.pipeline, u.model, u.dataset, strings.Join(u.methods, ", "),
			lsRanges(u.levels), strconv.Itoa(len(u.replicates)), strconv.Itoa(u.results), last}
	}
	return renderTableHiding(w, width, []string{"run", "pipeline", "model", "dataset", "methods", "levels", "replicates", "results", "last finished"}, rows,
		[]string{"results", "levels", "dataset"})
}

// lsRanges writes a set of integers as ranges: 0-3,5.
func lsRanges(set map[int]bool) string {
	xs := make([]int, 0, len(set))
	for x := range set {
		xs = append(xs, x)
	}
	sort.Ints(xs)
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(xs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// showRender prints a run's rows under a line that names the run.
func showRender(w io.Writer, width int, rs []results.Result) error {
	first := rs[0]
	var backends, versions []string
	for _, r := range rs {
		if !slices.Contains(backends, r.Backend) {
			backends = append(backends, r.Backend)
		}
		if !slices.Contains(versions, r.Version) {
			versions = append(versions, r.Version)
		}
	}
	fmt.Fprintf(w, "run %s: %s, %s on %s, backend %s, prunebench %s\n", first.SpecHash, first.Pipeline,
		first.Model, first.Dataset, strings.Join(backends, ", "), strings.Join(versions, ", "))
	rows := make([][]string, len(rs))
	for i, r := range rs {
		rows[i] = []string{
			strconv.Itoa(r.Replicate), strconv.Itoa(r.Level), r.Branch, r.Method,
			showFloat(r.Density), showFloat(r.Sparsity), showFloat(r.Compression),
			fmt.Sprintf("%d / %d", r.ParamsNonzero, r.ParamsTotal), strconv.FormatInt(r.FLOPsNonzero, 10),
			strconv.Itoa(r.BestIter), showPct(r.BestTestAcc), showPct(r.FinalTestAcc), showWall(r.Wall),
		}
	}
	return renderTableHiding(w, width, []string{"rep", "level", "branch", "method", "density", "sparsity", "compression",
		"nonzero / params", "nonzero FLOPs", "best iter", "test acc @best", "test acc @end", "wall"}, rows,
		[]string{"sparsity", "compression", "nonzero FLOPs", "wall"})
}

func showFloat(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func showPct(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", 100*x)
}

func showWall(d time.Duration) string {
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
