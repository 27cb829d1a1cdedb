package results

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/prunebench/prunebench/internal/termtable"
)

// BoardOptions configures a leaderboard (WriteBoard).
type BoardOptions struct {
	// By lists the grouping keys: result columns by their names (Columns)
	// or spec keys (training.lr). Results that agree on every key are
	// replicates of one entry and are aggregated. Empty means
	// DefaultBoardBy: one entry per experiment, level and branch.
	By []string
	// SpecDefaults maps every spec key to its default as text; a result's
	// Settings leave out the keys at their defaults. Without it, a board
	// can group by result columns only, and shows the settings a result
	// records.
	SpecDefaults map[string]string
	// Format is "table" (the default: a terminal table), "markdown" (a
	// GitHub-flavoured pipe table) or "csv" (machine-readable: raw numbers,
	// means and standard deviations in separate columns).
	Format string
	// Sort is a comma-separated list of sort keys, each optionally prefixed
	// by "-" for descending order: a grouping key, method, model or
	// dataset, or one of n, density, sparsity, compression, params_total,
	// params_nonzero, flops_nonzero, best_test_acc, final_test_acc, wall,
	// or a metric the results record (Result.Metrics) (metrics sort by
	// their means; entries without a value go last).
	// Empty means DefaultBoardSort. Wherever methods are compared, "dense"
	// (the baseline) comes before the others; ties are broken by the
	// grouping keys in order, so the order is total.
	Sort string
	// Width is the widest a line of the table format may be: its text
	// columns wrap in their cells to fit (termtable.Fit). 0 means no limit;
	// markdown and csv, written for files, are never wrapped.
	Width int
	// Metrics chooses the columns of the named metrics the results record
	// (Result.Metrics), after the board's own: metric names, or "all", or
	// "none". Empty means at most DefaultBoardMetrics, those the most
	// entries record (a table names the others below itself); the csv
	// format, for programs, shows all of them. See BoardMetrics.
	Metrics []string
}

// DefaultBoardBy makes one entry of each experiment (a run without its
// seed and replicate count) at each level and branch: its replicates are
// its seeds, and runs that differ in anything else are different entries.
var DefaultBoardBy = []string{"experiment", "level", "branch"}

// DefaultBoardSort orders a board by model, then dataset, then method (the
// dense baseline first), then density from dense to sparse.
const DefaultBoardSort = "model,dataset,method,-density"

// BoardFormats are the accepted values of BoardOptions.Format.
var BoardFormats = []string{"table", "markdown", "csv"}

// WriteBoard aggregates rs (Aggregate), sorts the groups (SortGroups) and
// writes the leaderboard to w in o.Format.
//
// The first columns name the entries: under the default grouping, method,
// model and dataset, then every spec key whose value differs between the
// entries shown (so a learning-rate sweep has a training.lr column and one
// row per rate); otherwise the grouping keys except density, sparsity and
// compression, which have their own columns. Then n (replicates), density,
// sparsity (percent), compression ("10.0×"), params (total), nonzero
// (parameters that are non-zero after training), FLOPs (nonzero), test
// accuracy at the early-stopping iteration and final test accuracy (percent,
// mean ± sample std), the early-stopping iteration t* (mean ± std), and the
// mean wall time; then the named metrics the results record that
// o.Metrics chooses (BoardMetrics, formatMetric). Counts are means over
// replicates. An accuracy of one replicate reads "97.81 (n=1)", never
// "± 0"; NaN accuracies are left out of the mean and std, and the count of
// the others is shown when it is below n ("97.81 ± 0.12 (n=2)"); "—" means
// no replicate has a value. A density range ("0.1–1") marks a group that
// mixes densities.
//
// The table and markdown formats are rendered with tablewriter. The csv
// format uses encoding/csv, since tablewriter's CSV support reads CSV
// into a table and does not write it; its numbers are raw (accuracies as
// stored fractions, wall time in seconds) with means, standard deviations
// and counts in separate columns, and empty cells for undefined values.
func WriteBoard(w io.Writer, rs []Result, o BoardOptions) error {
	format := o.Format
	if format == "" {
		format = "table"
	}
	if !slices.Contains(BoardFormats, format) {
		return fmt.Errorf("board: unknown format %q; want one of %s", o.Format, strings.Join(BoardFormats, ", "))
	}
	keys, gs, err := BoardGroups(rs, o)
	if err != nil {
		return err
	}
	if format == "csv" && len(o.Metrics) == 0 {
		o.Metrics = []string{"all"}
	}
	metrics, omitted, err := BoardMetrics(gs, o)
	if err != nil {
		return err
	}
	if format == "csv" {
		if len(o.By) == 0 || slices.Equal(o.By, DefaultBoardBy) {
			keys = append([]string{"experiment"}, keys...)
		}
		return writeBoardCSV(w, keys, metrics, gs)
	}
	header := BoardHeader(keys, metrics...)
	rows := make([][]string, len(gs))
	for i := range gs {
		cells := BoardCells(keys, &gs[i], metrics...)
		row := make([]string, len(cells))
		for j, c := range cells {
			row[j] = c.Text
		}
		rows[i] = row
	}
	nkeys := len(keys)
	var above, below string
	if format == "table" {
		header, rows, nkeys, above, below = narrowBoard(o.Width, nkeys, header, rows, metrics)
		if len(omitted) > 0 {
			note := fmt.Sprintf("metrics not shown: %s (--metrics NAME,... or --metrics all shows them)", strings.Join(omitted, ", "))
			if o.Width > 0 {
				note = termtable.WrapWords(note, o.Width)
			}
			below = strings.TrimPrefix(below+"\n"+note, "\n")
		}
	}
	opts := []tablewriter.Option{}
	if format == "markdown" {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	if format == "table" {
		t.Configure(termtable.Fit(o.Width, header, rows).Configure)
	}
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignRight
		if i < nkeys {
			align[i] = tw.AlignLeft
		}
	}
	t.Configure(func(c *tablewriter.Config) {
		c.Header.Formatting.AutoFormat = tw.Off // keep "test acc @ best-val (%)" as written
		c.Header.Alignment.PerColumn = align
		c.Row.Alignment.PerColumn = align
	})
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	if above != "" {
		fmt.Fprintln(w, above)
	}
	t.Header(hdr...)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	if below != "" {
		fmt.Fprintln(w, below)
	}
	return nil
}

// BoardGroups is the board WriteBoard renders, before formatting: the
// columns that name its entries (keys) and its entries, aggregated
// (Aggregate), with each key's value filled in (a spec key's default where
// an entry leaves it out) and sorted by o.Sort (SortGroups). o.Format is
// not read. Other renderings of a board (the report site) start here, so
// that they show the numbers the board shows.
func BoardGroups(rs []Result, o BoardOptions) (keys []string, gs []Group, err error) {
	by := o.By
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	gs, err = Aggregate(rs, by, o.SpecDefaults)
	if err != nil {
		return nil, nil, err
	}
	keys = boardKeys(gs, by, o.SpecDefaults)
	for i := range gs {
		for k, v := range gs[i].Settings {
			if _, grouped := gs[i].Keys[k]; !grouped {
				gs[i].Keys[k] = v
			}
		}
		for _, k := range keys {
			if _, ok := gs[i].Keys[k]; !ok {
				if d, ok := o.SpecDefaults[k]; ok {
					gs[i].Keys[k] = d
				}
			}
		}
	}
	// Sorted after the defaults are filled in, so that an entry at a key's
	// default sorts by the default's value.
	if err := SortGroups(gs, by, o.Sort); err != nil {
		return nil, nil, err
	}
	return keys, gs, nil
}

// BoardHeader is the header of a board (table and markdown formats) whose
// entries are named by keys: the keys, then the board's columns, then
// the named metrics (BoardMetrics chooses them), each headed by its name.
func BoardHeader(keys []string, metrics ...string) []string {
	h := append(slices.Clone(keys), "n", "density", "sparsity", "compression", "params", "nonzero",
		"FLOPs (nonzero)", "test acc @ best-val (%)", "final test acc (%)", "t* (it)", "wall time")
	return append(h, metrics...)
}

// BoardCell is one cell of a board's row: its text as the table shows it,
// and the number it renders (a mean; NaN for a key's text or no value),
// by which a rendering can sort.
type BoardCell struct {
	Text  string
	Value float64
}

// BoardCells is the row of entry g under BoardHeader(keys, metrics...): a
// metric's cell is its formatMetric text and the mean of the results that
// reached it.
func BoardCells(keys []string, g *Group, metrics ...string) []BoardCell {
	nan := math.NaN()
	row := make([]BoardCell, 0, len(keys)+11+len(metrics))
	for _, k := range keys {
		row = append(row, BoardCell{g.Keys[k], nan})
	}
	mean := func(s Stat) float64 {
		if s.N == 0 {
			return nan
		}
		return s.Mean
	}
	dens, spars, comp := formatDensity(g)
	row = append(row,
		BoardCell{strconv.Itoa(g.N), float64(g.N)},
		BoardCell{dens, g.Density}, BoardCell{spars, g.Sparsity}, BoardCell{comp, g.Compression},
		BoardCell{formatCount(g.ParamsTotal), mean(g.ParamsTotal)},
		BoardCell{formatCount(g.ParamsNonzero), mean(g.ParamsNonzero)},
		BoardCell{formatCount(g.FLOPsNonzero), mean(g.FLOPsNonzero)},
		BoardCell{FormatAccuracy(g.BestTestAcc, g.N), mean(g.BestTestAcc)},
		BoardCell{FormatAccuracy(g.FinalTestAcc, g.N), mean(g.FinalTestAcc)},
		BoardCell{formatIter(g.BestIter, g.N), mean(g.BestIter)},
		BoardCell{formatWall(g.Wall), mean(g.Wall)})
	for _, m := range metrics {
		ms := g.Metrics[m]
		row = append(row, BoardCell{formatMetric(ms), mean(ms.Stat)})
	}
	return row
}

// writeBoardCSV writes the csv format; each metric has three columns,
// NAME_mean and NAME_std over the results that reached it and NAME_n, their
// number (the n column counts the results).
func writeBoardCSV(w io.Writer, keys, metrics []string, gs []Group) error {
	cw := csv.NewWriter(w)
	header := append(slices.Clone(keys), "n", "density", "sparsity", "compression",
		"params_total", "params_nonzero", "flops_nonzero",
		"best_test_acc_mean", "best_test_acc_std", "best_test_acc_n",
		"final_test_acc_mean", "final_test_acc_std", "final_test_acc_n",
		"best_iter_mean", "best_iter_std", "wall_s_mean")
	for _, m := range metrics {
		header = append(header, m+"_mean", m+"_std", m+"_n")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 10, 64)
	}
	for i := range gs {
		g := &gs[i]
		row := make([]string, 0, len(header))
		for _, k := range keys {
			row = append(row, g.Keys[k])
		}
		row = append(row, strconv.Itoa(g.N), num(g.Density), num(g.Sparsity), num(g.Compression),
			num(g.ParamsTotal.Mean), num(g.ParamsNonzero.Mean), num(g.FLOPsNonzero.Mean),
			num(g.BestTestAcc.Mean), num(g.BestTestAcc.Std), strconv.Itoa(g.BestTestAcc.N),
			num(g.FinalTestAcc.Mean), num(g.FinalTestAcc.Std), strconv.Itoa(g.FinalTestAcc.N),
			num(g.BestIter.Mean), num(g.BestIter.Std), num(g.Wall.Mean))
		for _, m := range metrics {
			ms := g.Metrics[m]
			row = append(row, num(ms.Mean), num(ms.Std), strconv.Itoa(ms.N))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// FormatAccuracy renders an accuracy Stat (fractions) of a group of n rows
// as a percentage with two decimals: "97.81 ± 0.12", "97.81 (n=1)" for a
// single value, "97.81 ± 0.12 (n=2)" when some of the n values were NaN,
// and "—" when none has a value.
func FormatAccuracy(s Stat, n int) string {
	switch {
	case s.N == 0:
		return "—"
	case s.N == 1:
		return fmt.Sprintf("%.2f (n=1)", 100*s.Mean)
	case s.N < n:
		return fmt.Sprintf("%.2f ± %.2f (n=%d)", 100*s.Mean, 100*s.Std, s.N)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
}

// formatDensity renders density, sparsity (percent) and compression.
func formatDensity(g *Group) (d, s, c string) {
	if math.IsNaN(g.Density) {
		return "—", "—", "—"
	}
	if g.DensityMax-g.DensityMin > 1e-9*g.DensityMax {
		lo, hi := g.DensityMin, g.DensityMax
		return fmt.Sprintf("%.4g–%.4g", lo, hi),
			fmt.Sprintf("%.2f–%.2f%%", 100*(1-hi), 100*(1-lo)),
			fmt.Sprintf("%.1f–%.1f×", 1/hi, 1/lo)
	}
	return fmt.Sprintf("%.4g", g.Density), fmt.Sprintf("%.2f%%", 100*g.Sparsity), fmt.Sprintf("%.1f×", g.Compression)
}

// formatCount renders the mean of a count, rounded, with thousands
// separators.
func formatCount(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	n := int64(math.Round(s.Mean))
	neg := n < 0
	if neg {
		n = -n
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// formatWall renders a mean wall time in seconds as a duration rounded to
// a precision that suits its size.
// formatIter renders an iteration Stat as "2,340 ± 410" (one replicate:
// "2,340 (n=1)").
func formatIter(s Stat, n int) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return formatCount(s) + " (n=1)"
	}
	out := formatCount(s) + " ± " + formatCount(Stat{N: 1, Mean: s.Std})
	if s.N < n {
		out += fmt.Sprintf(" (n=%d)", s.N)
	}
	return out
}

func formatWall(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	d := time.Duration(s.Mean * float64(time.Second))
	switch {
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// boardKeys are the columns that name a board's entries (WriteBoard).
func boardKeys(gs []Group, by []string, specDefaults map[string]string) []string {
	if !slices.Equal(by, DefaultBoardBy) {
		var keys []string
		for _, k := range by {
			if k != "density" && k != "sparsity" && k != "compression" {
				keys = append(keys, k)
			}
		}
		return keys
	}
	keys := slices.Clone(describing)
	value := func(g *Group, k string) string {
		if v, ok := g.Settings[k]; ok {
			return v
		}
		return specDefaults[k]
	}
	var varying []string
	for i := range gs {
		for k := range gs[i].Settings {
			if slices.Contains(varying, k) || describedBy[k] != "" {
				continue
			}
			for j := range gs {
				if value(&gs[j], k) != value(&gs[i], k) {
					varying = append(varying, k)
					break
				}
			}
		}
	}
	slices.Sort(varying)
	return append(keys, varying...)
}
