package report

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/prunebench/prunebench/experiments/results"
	"gonum.org/v1/plot/vg"
)

// group is one model on one dataset: its leaderboard and plots.
type group struct {
	Model, Dataset, Slug string
	Methods              []string
	Header               []string
	Rows                 [][]cell
	Runs                 []runLink
	// Plots are the SVG files beside the page, with what they show; Notes
	// say which plots could not be drawn and why.
	Plots []plotFile
	Notes []string

	results []results.Result
}

// cell is a board cell as the page shows it; Sort is the number it sorts
// by ("" for text, which sorts as text).
type cell struct {
	Text, Sort string
	// Run links the cell to a run's page (the method column).
	Links []runLink
}

type runLink struct{ Hash, Page string }

type plotFile struct{ File, Alt string }

// newGroup renders the board of one model on one dataset with the board's
// default grouping and order.
func newGroup(model, dataset string, rs []results.Result, o Options) (group, error) {
	g := group{Model: model, Dataset: dataset, Slug: slug(model + "-" + dataset), results: rs,
		Methods: distinct(rs, func(r *results.Result) string { return r.Method })}
	keys, gs, err := results.BoardGroups(rs, results.BoardOptions{SpecDefaults: o.SpecDefaults})
	if err != nil {
		return group{}, fmt.Errorf("report: %s on %s: %w", model, dataset, err)
	}
	// The metrics a pipeline derived from the learning curves, as the
	// board shows them by default (a few: all; many: none).
	metrics, _, err := results.BoardMetrics(gs, results.BoardOptions{})
	if err != nil {
		return group{}, fmt.Errorf("report: %s on %s: %w", model, dataset, err)
	}
	g.Header = results.BoardHeader(keys, metrics...)
	// runsOf lists the runs of an experiment, for links from its rows.
	runsOf := map[string][]runLink{}
	for _, r := range rs {
		l := runLink{Hash: r.SpecHash, Page: "../runs/" + runPage(r.SpecHash)}
		if !slices.Contains(runsOf[r.Experiment], l) {
			runsOf[r.Experiment] = append(runsOf[r.Experiment], l)
		}
		if !slices.Contains(g.Runs, l) {
			g.Runs = append(g.Runs, l)
		}
	}
	slices.SortFunc(g.Runs, func(a, b runLink) int { return cmp.Compare(a.Hash, b.Hash) })
	for i := range gs {
		var row []cell
		for j, c := range results.BoardCells(keys, &gs[i], metrics...) {
			x := cell{Text: c.Text}
			if !math.IsNaN(c.Value) {
				x.Sort = strconv.FormatFloat(c.Value, 'g', 10, 64)
			}
			if j == 0 {
				x.Links = runsOf[gs[i].Keys["experiment"]]
			}
			row = append(row, x)
		}
		g.Rows = append(g.Rows, row)
	}
	return g, nil
}

// plot draws the group's accuracy plot and, where the results record an
// early-stopping iteration, its t* plot, into dir. A plot WritePlot
// refuses (no result with a density) is a note on the page, not an error.
func (g *group) plot(dir string, o Options) error {
	plots := []struct{ suffix, metric, alt string }{
		{"accuracy", "best", "test accuracy at the early-stopping iteration against the weights remaining"},
		{"tstar", "best_iter", "early-stopping iteration t* against the weights remaining"},
	}
	for _, p := range plots {
		if p.metric == "best_iter" && !slices.ContainsFunc(g.results, func(r results.Result) bool { return r.BestIter > 0 }) {
			continue
		}
		file := g.Slug + "-" + p.suffix + ".svg"
		err := results.WritePlot(filepath.Join(dir, file), g.results, results.PlotOptions{
			Metric: p.metric, SpecDefaults: o.SpecDefaults, Width: 9 * vg.Inch, Height: 5 * vg.Inch,
		})
		if err != nil {
			g.Notes = append(g.Notes, fmt.Sprintf("No %s plot: %v", p.suffix, err))
			continue
		}
		g.Plots = append(g.Plots, plotFile{File: file, Alt: p.alt})
	}
	return nil
}
