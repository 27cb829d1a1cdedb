package experiments

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// BoardOptions configures a leaderboard (WriteBoard).
type BoardOptions struct {
	// By lists the grouping keys: Result columns by their snake_case names
	// (Columns). Rows that agree on every key are replicates of one entry
	// and are aggregated. Empty means DefaultBoardBy.
	By []string
	// Format is "table" (the default: a terminal table), "markdown" (a
	// GitHub-flavoured pipe table) or "csv" (machine-readable: raw numbers,
	// means and standard deviations in separate columns).
	Format string
	// Sort is a comma-separated list of sort keys, each optionally prefixed
	// by "-" for descending order: a grouping key, or one of n, density,
	// sparsity, compression, params_total, params_nonzero, flops_nonzero,
	// best_test_acc, final_test_acc, wall (metrics sort by their means;
	// entries without a value go last). Empty means DefaultBoardSort.
	// Keys of the default that are not grouping keys are skipped. Wherever
	// methods are compared, "dense" (the baseline) comes before the others;
	// ties are broken by the grouping keys in order, so the order is total.
	Sort string
}

// DefaultBoardBy groups replicates of one method, model, dataset and density.
var DefaultBoardBy = []string{"method", "model", "dataset", "density"}

// DefaultBoardSort orders a board by model, then dataset, then method (the
// dense baseline first), then density from dense to sparse.
const DefaultBoardSort = "model,dataset,method,-density"

// BoardFormats are the accepted values of BoardOptions.Format.
var BoardFormats = []string{"table", "markdown", "csv"}

// Stat summarizes replicate values: Mean and the sample standard deviation
// Std (denominator N − 1) over the N values that are not NaN. Mean is NaN
// when N = 0, and Std is NaN when N < 2 (undefined), so that a single value
// is never reported as "± 0".
type Stat struct {
	Mean, Std float64
	N         int
}

// NewStat summarizes xs, skipping NaNs.
func NewStat(xs []float64) Stat {
	s := Stat{Mean: math.NaN(), Std: math.NaN()}
	var sum float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			sum += x
			s.N++
		}
	}
	if s.N == 0 {
		return s
	}
	s.Mean = sum / float64(s.N)
	if s.N < 2 {
		return s
	}
	var ss float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			d := x - s.Mean
			ss += d * d
		}
	}
	s.Std = math.Sqrt(ss / float64(s.N-1))
	return s
}

// Group is one entry of a leaderboard: the replicates that share the values
// of the grouping keys.
type Group struct {
	// Keys holds the value of each grouping key as text (density and other
	// real columns with 6 significant digits).
	Keys map[string]string
	// N is the number of rows (replicates) in the group.
	N int
	// Density is the mean density of the rows; Sparsity = 1 − Density and
	// Compression = 1/Density. DensityMin and DensityMax differ when the
	// group mixes densities (density is not a grouping key).
	Density, Sparsity, Compression float64
	DensityMin, DensityMax         float64
	// Parameter and FLOP counts over the replicates.
	ParamsTotal, ParamsNonzero, FLOPsNonzero Stat
	// Test accuracies (fractions, as stored) at the early-stopping iteration
	// and at the end of training.
	BestTestAcc, FinalTestAcc Stat
	// BestIter is the early-stopping iteration t* (minimum validation
	// loss), whose decrease is the LTH paper's "learns faster".
	BestIter Stat
	// Wall is the wall time in seconds.
	Wall Stat
}

// boardField is a Result field under its column name (the snake_case in
// its yaml tag, which is also its name in the results store).
type boardField struct {
	name  string
	index int
	typ   reflect.Type
}

var boardFields = func() []boardField {
	t := reflect.TypeOf(Result{})
	fs := make([]boardField, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fs = append(fs, boardField{name: name, index: i, typ: f.Type})
	}
	return fs
}()

func boardFieldByName(name string) (boardField, bool) {
	for _, f := range boardFields {
		if f.name == name {
			return f, true
		}
	}
	return boardField{}, false
}

func boardFieldNames() string {
	names := make([]string, len(boardFields))
	for i, f := range boardFields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// text is the grouping value of the field in r.
func (f boardField) text(r *Result) string {
	v := reflect.ValueOf(r).Elem().Field(f.index)
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float64, reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'g', 6, 64)
	}
	return fmt.Sprint(v.Interface())
}

// Aggregate groups rs by the columns in by (DefaultBoardBy when empty) and
// summarizes each group. Groups come in the order of their first row; use
// WriteBoard or SortGroups for a sorted board. An unknown key is an error
// that lists the accepted ones.
func Aggregate(rs []Result, by []string) ([]Group, error) {
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	fields := make([]boardField, len(by))
	for i, k := range by {
		f, ok := boardFieldByName(k)
		if !ok {
			return nil, fmt.Errorf("board: unknown grouping key %q; the keys are the result columns: %s", k, boardFieldNames())
		}
		if slices.Contains(by[:i], k) {
			return nil, fmt.Errorf("board: grouping key %q given twice", k)
		}
		fields[i] = f
	}
	var order []string
	members := map[string][]int{}
	for i := range rs {
		parts := make([]string, len(fields))
		for j, f := range fields {
			parts[j] = f.text(&rs[i])
		}
		id := strings.Join(parts, "\x00")
		if _, ok := members[id]; !ok {
			order = append(order, id)
		}
		members[id] = append(members[id], i)
	}
	groups := make([]Group, len(order))
	for gi, id := range order {
		idx := members[id]
		g := Group{Keys: map[string]string{}, N: len(idx), DensityMin: math.Inf(1), DensityMax: math.Inf(-1)}
		for _, f := range fields {
			g.Keys[f.name] = f.text(&rs[idx[0]])
		}
		col := func(get func(*Result) float64) Stat {
			xs := make([]float64, len(idx))
			for j, i := range idx {
				xs[j] = get(&rs[i])
			}
			return NewStat(xs)
		}
		d := col(func(r *Result) float64 { return r.Density })
		for _, i := range idx {
			if x := rs[i].Density; !math.IsNaN(x) {
				g.DensityMin = min(g.DensityMin, x)
				g.DensityMax = max(g.DensityMax, x)
			}
		}
		if d.N == 0 {
			g.DensityMin, g.DensityMax = math.NaN(), math.NaN()
		}
		g.Density, g.Sparsity, g.Compression = d.Mean, 1-d.Mean, 1/d.Mean
		g.ParamsTotal = col(func(r *Result) float64 { return float64(r.ParamsTotal) })
		g.ParamsNonzero = col(func(r *Result) float64 { return float64(r.ParamsNonzero) })
		g.FLOPsNonzero = col(func(r *Result) float64 { return float64(r.FLOPsNonzero) })
		g.BestTestAcc = col(func(r *Result) float64 { return r.BestTestAcc })
		g.FinalTestAcc = col(func(r *Result) float64 { return r.FinalTestAcc })
		g.BestIter = col(func(r *Result) float64 { return float64(r.BestIter) })
		g.Wall = col(func(r *Result) float64 { return r.Wall.Seconds() })
		groups[gi] = g
	}
	return groups, nil
}

// boardMetrics are the sort keys that are not grouping keys.
var boardMetrics = map[string]func(*Group) float64{
	"n":              func(g *Group) float64 { return float64(g.N) },
	"density":        func(g *Group) float64 { return g.Density },
	"sparsity":       func(g *Group) float64 { return g.Sparsity },
	"compression":    func(g *Group) float64 { return g.Compression },
	"params_total":   func(g *Group) float64 { return g.ParamsTotal.Mean },
	"params_nonzero": func(g *Group) float64 { return g.ParamsNonzero.Mean },
	"flops_nonzero":  func(g *Group) float64 { return g.FLOPsNonzero.Mean },
	"best_test_acc":  func(g *Group) float64 { return g.BestTestAcc.Mean },
	"final_test_acc": func(g *Group) float64 { return g.FinalTestAcc.Mean },
	"best_iter":      func(g *Group) float64 { return g.BestIter.Mean },
	"wall":           func(g *Group) float64 { return g.Wall.Mean },
}

// SortGroups sorts gs, grouped by the keys in by, by the sort
// specification of BoardOptions.Sort (DefaultBoardSort when empty).
func SortGroups(gs []Group, by []string, spec string) error {
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	type sortKey struct {
		name   string
		desc   bool
		metric func(*Group) float64 // nil for a grouping key
	}
	var keys []sortKey
	explicit := spec != ""
	if !explicit {
		spec = DefaultBoardSort
	}
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		k := sortKey{name: strings.TrimPrefix(s, "-"), desc: strings.HasPrefix(s, "-")}
		switch {
		case slices.Contains(by, k.name) && boardMetrics[k.name] == nil:
		case boardMetrics[k.name] != nil:
			k.metric = boardMetrics[k.name]
		case !explicit:
			continue // a default key that is not grouped on
		default:
			metrics := make([]string, 0, len(boardMetrics))
			for m := range boardMetrics {
				metrics = append(metrics, m)
			}
			sort.Strings(metrics)
			return fmt.Errorf("board: unknown sort key %q; sort by a grouping key (%s) or by %s, with a leading - for descending order",
				s, strings.Join(by, ", "), strings.Join(metrics, ", "))
		}
		keys = append(keys, k)
	}
	for _, b := range by {
		keys = append(keys, sortKey{name: b})
	}
	sort.SliceStable(gs, func(i, j int) bool {
		for _, k := range keys {
			var c int
			if k.metric != nil {
				c = compareNaNLast(k.metric(&gs[i]), k.metric(&gs[j]), k.desc)
			} else {
				c = compareKey(k.name, gs[i].Keys[k.name], gs[j].Keys[k.name])
				if k.desc {
					c = -c
				}
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	return nil
}

// compareNaNLast orders a and b (descending if desc) with NaN last.
func compareNaNLast(a, b float64, desc bool) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	c := 0
	if a < b {
		c = -1
	} else if a > b {
		c = 1
	}
	if desc {
		c = -c
	}
	return c
}

// compareKey orders values of a grouping key: numerically when both are
// numbers, otherwise as text; the method "dense" comes first.
func compareKey(name, a, b string) int {
	if name == "method" && a != b {
		if a == "dense" {
			return -1
		}
		if b == "dense" {
			return 1
		}
	}
	x, errx := strconv.ParseFloat(a, 64)
	y, erry := strconv.ParseFloat(b, 64)
	if errx == nil && erry == nil && x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// WriteBoard aggregates rs (Aggregate), sorts the groups (SortGroups) and
// writes the leaderboard to w in o.Format.
//
// The columns are the grouping keys except density, sparsity and
// compression, which have their own columns; then n (replicates), density,
// sparsity (percent), compression ("10.0×"), params (total), nonzero
// (parameters that are non-zero after training), FLOPs (nonzero), test
// accuracy at the early-stopping iteration and final test accuracy (percent,
// mean ± sample std), the early-stopping iteration t* (mean ± std), and the
// mean wall time. Counts are means over
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
	by := o.By
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	gs, err := Aggregate(rs, by)
	if err != nil {
		return err
	}
	if err := SortGroups(gs, by, o.Sort); err != nil {
		return err
	}
	var keys []string
	for _, k := range by {
		if k != "density" && k != "sparsity" && k != "compression" {
			keys = append(keys, k)
		}
	}
	if format == "csv" {
		return writeBoardCSV(w, keys, gs)
	}
	header := append(slices.Clone(keys), "n", "density", "sparsity", "compression", "params", "nonzero",
		"FLOPs (nonzero)", "test acc @ best-val (%)", "final test acc (%)", "t* (it)", "wall time")
	rows := make([][]string, len(gs))
	for i := range gs {
		g := &gs[i]
		row := make([]string, 0, len(header))
		for _, k := range keys {
			row = append(row, g.Keys[k])
		}
		dens, spars, comp := formatDensity(g)
		row = append(row, strconv.Itoa(g.N), dens, spars, comp,
			formatCount(g.ParamsTotal), formatCount(g.ParamsNonzero), formatCount(g.FLOPsNonzero),
			FormatAccuracy(g.BestTestAcc, g.N), FormatAccuracy(g.FinalTestAcc, g.N), formatIter(g.BestIter, g.N), formatWall(g.Wall))
		rows[i] = row
	}
	opts := []tablewriter.Option{}
	if format == "markdown" {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignRight
		if i < len(keys) {
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
	t.Header(hdr...)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

func writeBoardCSV(w io.Writer, keys []string, gs []Group) error {
	cw := csv.NewWriter(w)
	header := append(slices.Clone(keys), "n", "density", "sparsity", "compression",
		"params_total", "params_nonzero", "flops_nonzero",
		"best_test_acc_mean", "best_test_acc_std", "best_test_acc_n",
		"final_test_acc_mean", "final_test_acc_std", "final_test_acc_n",
		"best_iter_mean", "best_iter_std", "wall_s_mean")
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
