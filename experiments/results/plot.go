package results

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	_ "gonum.org/v1/plot/vg/vgimg" // png
	_ "gonum.org/v1/plot/vg/vgsvg" // svg
)

// PlotOptions configures WritePlot.
type PlotOptions struct {
	// Title is the plot's title; empty means "MODEL on DATASET" from the
	// results.
	Title string
	// Width and Height are the size of the figure; zero means 7 × 4.5 in
	// (taller when the legend needs it, for a zero Height).
	// PNGs are rendered at 96 dpi (672 × 432 pixels by default).
	Width, Height vg.Length
	// By is the result column (Columns) or the spec key (one of
	// SpecDefaults, read from each result's settings as a board groups by
	// it) whose values are the lines; empty means "method".
	By string
	// SpecDefaults maps spec keys to their defaults as text, for naming
	// the lines of experiments that differ in a setting (see WritePlot);
	// as BoardOptions.SpecDefaults.
	SpecDefaults map[string]string
	// Metric is the y axis: "best" (the default: test accuracy at the
	// early-stopping iteration), "final" (test accuracy at the end of
	// training) or "best_iter" (the early-stopping iteration t*, the LTH
	// paper's "learns faster"), each against density; or "curve", the
	// learning curves: accuracy against the training step (WritePlot).
	Metric string
	// Split is the split whose accuracy a learning-curve plot draws:
	// "test" (the default), "val" or "train" (which the runs record only
	// under training.eval_train: true). Other metrics do not read it.
	Split string
}

// PlotMetrics are the accepted values of PlotOptions.Metric.
var PlotMetrics = []string{"best", "final", "best_iter", "curve"}

// PlotMetricsHelp says what each of PlotMetrics draws, for messages.
const PlotMetricsHelp = "best (test accuracy at the early-stopping iteration), final (at the end of training), best_iter (the early-stopping iteration), or curve (accuracy against the training step)"

// PlotSplits are the accepted values of PlotOptions.Split.
var PlotSplits = []string{"test", "val", "train"}

// PlotFormats are the file extensions WritePlot accepts.
var PlotFormats = []string{".png", ".svg"}

// Default figure size of WritePlot. Without PlotOptions.Height, a plot
// whose legend needs more room is taller.
const (
	DefaultPlotWidth  = 7 * vg.Inch
	DefaultPlotHeight = 4.5 * vg.Inch
)

// legendSlack is the height the title and the x axis take from the data
// area, beside which the legend is drawn.
const legendSlack = vg.Length(80) // points

// WritePlot draws test accuracy against density and writes it to path, a
// PNG or an SVG file by its extension; with o.Metric "curve" it draws the
// learning curves instead (writeCurvePlot has the details).
//
// The x axis is the percentage of prunable weights remaining (100 ×
// density) on a log10 scale, reversed so that the dense model is on the
// left and sparsity grows to the right, as in the lottery-ticket papers;
// its ticks are the densities in the results (thinned where they would
// crowd), with unlabelled ticks at 1–9 × the powers of ten. The y axis is
// the test accuracy in percent (o.Metric).
//
// Each value of the line key o.By is one line: the mean over replicates at
// each density, points connected in density order, and
// error bars of ± one sample standard deviation where there are two or
// more replicates. NaN accuracies are left out. Rows of the method "dense"
// (or, when there are none, rows at density 1) make the dense baseline, drawn as a dashed
// horizontal line with a band of ± std, labelled in the legend "dense
// (mean ± std)" and its values;
// density-1 rows of a pruning method are also the first point of their
// line. With a line key other than method and several baseline values of
// that key, each line gets its own baseline in its colour. The legend is
// drawn beside the plot, to the right, so that it never hides data. Lines
// differ in colour, marker and dash pattern (plotStyles), so that they stay
// apart in greyscale and for readers with colour-vision deficiencies.
//
// Rows of several models or datasets are refused unless the line key is
// model or dataset: a curve over different networks would mean nothing.
//
// Results group as on a board: one result per experiment, level, branch
// and seed (Dedupe), and a point pools the replicates of one experiment
// only. Where two experiments of one line meet at one density (a sweep over
// learning rates), the line splits into one line per value of the settings
// that tell them apart ("imp training.lr=0.1").
func WritePlot(path string, rs []Result, o PlotOptions) error {
	ext := strings.ToLower(filepath.Ext(path))
	if !slices.Contains(PlotFormats, ext) {
		return fmt.Errorf("plot %s: unknown file type %q; want one of %s", path, ext, strings.Join(PlotFormats, ", "))
	}
	if len(rs) == 0 {
		return fmt.Errorf("plot %s: no results to plot", path)
	}
	rs = Dedupe(rs)
	by := o.By
	if by == "" {
		by = "method"
	}
	get, ok := resultKey(by, o.SpecDefaults)
	if !ok {
		return fmt.Errorf("plot %s: unknown line key %q; draw lines by a result column (%s) or by a spec key (prunebench config --defaults lists them)", path, by, columnList())
	}
	// An empty value (a spec key that a result's pipeline does not read,
	// such as prune.sparsity for the dense reference; the main branch
	// under --by branch) would be a line with no name: it is named by its
	// method instead.
	key := lineKey{by, func(r *Result, settings map[string]string) string {
		if v := get(r, settings); v != "" {
			return v
		}
		return r.Method
	}}
	// metric is in the units plotted (accuracies in percent), and
	// formatStat labels the dense baseline in them.
	formatStat := formatPercent
	metric, ylabel := func(r *Result) float64 { return 100 * r.BestTestAcc }, "test acc. at best val. (%)"
	switch o.Metric {
	case "", "best":
	case "final":
		metric, ylabel = func(r *Result) float64 { return 100 * r.FinalTestAcc }, "final test acc. (%)"
	case "best_iter":
		metric, ylabel = func(r *Result) float64 { return float64(r.BestIter) }, "early-stopping iteration t*"
		formatStat = formatIters
	case "curve":
	default:
		return fmt.Errorf("plot %s: unknown metric %q; want %s", path, o.Metric, PlotMetricsHelp)
	}
	title := o.Title
	if title == "" {
		var err error
		if title, err = plotTitle(rs, by); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	if o.Metric == "curve" {
		return writeCurvePlot(path, rs, key, title, o)
	}
	// Lines and baselines, in the board's order of keys.
	type point struct {
		x float64 // percent remaining
		s Stat    // of the metric, in percent
	}
	type series struct {
		name   string
		points []point
	}
	lineRows := map[string][]Result{}
	baseRows := map[string][]Result{}
	// Density-1 rows of other methods join the baseline only when no row
	// is the method "dense": a shared model at 1× or a pruning method at
	// density 1 is not the dense model when the dense model is there.
	haveDense := slices.ContainsFunc(rs, func(r Result) bool { return r.Method == "dense" })
	names := lineNames(rs, key, o.SpecDefaults)
	for i := range rs {
		r := &rs[i]
		if !(r.Density > 0 && r.Density <= 1) {
			continue // not a density: nothing to place on the axis
		}
		k := names[i]
		dense := r.Method == "dense" || (!haveDense && r.Density == 1)
		if dense {
			bk := k
			if by == "method" {
				bk = "dense"
			}
			baseRows[bk] = append(baseRows[bk], *r)
		}
		if r.Method != "dense" {
			lineRows[k] = append(lineRows[k], *r)
		}
	}
	sortedKeys := func(m map[string][]Result) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Slice(ks, func(i, j int) bool { return compareKey(by, ks[i], ks[j]) < 0 })
		return ks
	}
	var lines []series
	for _, k := range sortedKeys(lineRows) {
		byDensity := map[string][]float64{}
		densities := map[string][]float64{}
		for i := range lineRows[k] {
			r := &lineRows[k][i]
			dk := strconv.FormatFloat(r.Density, 'g', 6, 64)
			byDensity[dk] = append(byDensity[dk], metric(r))
			densities[dk] = append(densities[dk], r.Density)
		}
		s := series{name: k}
		for dk, ys := range byDensity {
			st := NewStat(ys)
			if st.N == 0 {
				continue
			}
			s.points = append(s.points, point{x: 100 * NewStat(densities[dk]).Mean, s: st})
		}
		if len(s.points) == 0 {
			continue
		}
		sort.Slice(s.points, func(i, j int) bool { return s.points[i].x > s.points[j].x })
		lines = append(lines, s)
	}
	var bases []series
	for _, k := range sortedKeys(baseRows) {
		ys := make([]float64, len(baseRows[k]))
		for i := range baseRows[k] {
			ys[i] = metric(&baseRows[k][i])
		}
		if st := NewStat(ys); st.N > 0 {
			bases = append(bases, series{name: k, points: []point{{x: 100, s: st}}})
		}
	}
	if len(lines) == 0 && len(bases) == 0 {
		return fmt.Errorf("plot %s: no result has both a density in (0, 1] and a %s", path, ylabel)
	}

	// The x range: the densities, padded a little in log space.
	var xs []float64
	for _, s := range lines {
		for _, p := range s.points {
			xs = append(xs, p.x)
		}
	}
	if len(bases) > 0 {
		xs = append(xs, 100)
	}
	xlo, xhi := slices.Min(xs), slices.Max(xs)
	if xlo == xhi {
		xlo = xhi / 10
	}
	pad := math.Pow(xhi/xlo, 0.04)
	xlo, xhi = xlo/pad, xhi*pad

	p, lg := newFigure(title, "weights remaining (%, log scale)", ylabel)
	p.X.Scale = plot.InvertedScale{Normalizer: plot.LogScale{}}
	p.X.Tick.Marker = densityTicks{at: xs}

	colorOf := map[string]int{}
	for i, s := range lines {
		colorOf[s.name] = i
	}
	for i, b := range bases {
		st := b.points[0].s
		col := color.Color(color.Gray{Y: 0x55})
		bandCol := color.Color(color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x30})
		label := "dense"
		if len(bases) > 1 {
			ci, ok := colorOf[b.name]
			if !ok {
				ci = len(lines) + i
			}
			col = plotStyle(ci).color
			r, g, bl, _ := col.RGBA()
			bandCol = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: 0x30}
			label = b.name + " dense"
		}
		// The legend says what the band is: the dense runs' mean ± one
		// standard deviation, then their values.
		var band *plotter.Polygon
		if st.N >= 2 {
			label += " (mean ± std)"
		}
		label += "\n" + formatStat(st)
		if st.N >= 2 && st.Std > 0 {
			var err error
			band, err = plotter.NewPolygon(plotter.XYs{
				{X: xlo, Y: st.Mean - st.Std}, {X: xhi, Y: st.Mean - st.Std},
				{X: xhi, Y: st.Mean + st.Std}, {X: xlo, Y: st.Mean + st.Std},
			})
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			band.Color = bandCol
			band.LineStyle.Width = 0
			p.Add(band)
		}
		l, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: st.Mean}, {X: xhi, Y: st.Mean}})
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(l)
		if band != nil {
			lg.Add(label, band, l)
		} else {
			lg.Add(label, l)
		}
	}
	for i, s := range lines {
		sty := plotStyle(i)
		col := sty.color
		xys := make(plotter.XYs, len(s.points))
		var errPts struct {
			plotter.XYs
			plotter.YErrors
		}
		for j, pt := range s.points {
			xys[j] = plotter.XY{X: pt.x, Y: pt.s.Mean}
			if pt.s.N >= 2 {
				errPts.XYs = append(errPts.XYs, xys[j])
				errPts.YErrors = append(errPts.YErrors, struct{ Low, High float64 }{pt.s.Std, pt.s.Std})
			}
		}
		if len(errPts.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(errPts)
			if err != nil {
				return fmt.Errorf("plot %s: line %s: %w", path, s.name, err)
			}
			eb.Color = col
			eb.Width = vg.Points(1)
			eb.CapWidth = vg.Points(5)
			p.Add(eb)
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plot %s: line %s: %w", path, s.name, err)
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		l.Dashes = sty.dashes
		sc.Color = col
		sc.Shape = sty.glyph
		sc.Radius = vg.Points(3)
		p.Add(l, sc)
		lg.Add(s.name, l, sc)
	}
	p.X.Min, p.X.Max = xlo, xhi
	if yspan := p.Y.Max - p.Y.Min; yspan > 0 {
		p.Y.Min -= 0.05 * yspan
		p.Y.Max += 0.05 * yspan
	}

	return writeFigure(path, p, lg, o)
}

// newFigure is a plot with the title and axis labels in the figure's
// fonts and a light grid, and its legend, which writeFigure draws beside
// it.
func newFigure(title, xlabel, ylabel string) (*plot.Plot, *plot.Legend) {
	p := plot.New()
	sans := func(size vg.Length) font.Font { return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size} }
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(14)
	p.Title.Padding = 6
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(10)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xE0}
	grid.Horizontal.Color = color.Gray{Y: 0xE0}
	p.Add(grid)

	lg := plot.NewLegend()
	lg.TextStyle.Font = sans(11)
	lg.Top, lg.Left = true, true
	lg.ThumbnailWidth = vg.Points(24)
	lg.Padding = vg.Points(3)
	return p, &lg
}

// writeFigure draws p with its legend to the right, at the size o asks
// (DefaultPlotWidth × DefaultPlotHeight by default, taller when the
// legend needs it), and writes it to path in the format of its extension.
func writeFigure(path string, p *plot.Plot, lg *plot.Legend, o PlotOptions) error {
	ext := strings.ToLower(filepath.Ext(path))
	width, height := o.Width, o.Height
	if width <= 0 {
		width = DefaultPlotWidth
	}
	if height <= 0 {
		height = DefaultPlotHeight
	}
	if o.Height <= 0 {
		// The legend runs down the right of the data area, which the
		// title and the x axis leave about legendSlack shorter than the
		// figure: a plot of many methods grows taller by default rather
		// than lose the last of its legend entries off the bottom.
		scratch, err := draw.NewFormattedCanvas(width, height, ext[1:])
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		height = max(height, lg.Rectangle(draw.New(scratch)).Size().Y+legendSlack)
	}
	c, err := draw.NewFormattedCanvas(width, height, ext[1:])
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	const margin = vg.Length(8)
	lw := lg.Rectangle(dc).Size().X
	if lw > width/2 {
		return fmt.Errorf("plot %s: the legend is %.0f pt wide, more than half of the figure's %.0f pt: make the figure wider", path, float64(lw), float64(width))
	}
	pc := draw.Crop(dc, margin/2, -(lw + 2*margin), margin/2, -margin/2)
	p.Draw(pc)
	lc := draw.Crop(dc, width-lw-margin, 0, 0, 0)
	lc.Max.Y = p.DataCanvas(pc).Max.Y
	lg.Draw(lc)

	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// plotTitle is "MODEL on DATASET"; rows of several models or datasets are
// an error unless the line key tells them apart.
func plotTitle(rs []Result, by string) (string, error) {
	distinct := func(get func(*Result) string) []string {
		var vs []string
		for i := range rs {
			if v := get(&rs[i]); !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		sort.Strings(vs)
		return vs
	}
	models := distinct(func(r *Result) string { return r.Model })
	datasets := distinct(func(r *Result) string { return r.Dataset })
	for _, c := range []struct {
		name string
		vs   []string
	}{{"model", models}, {"dataset", datasets}} {
		if len(c.vs) > 1 && by != c.name {
			return "", fmt.Errorf("the results span %d %ss (%s): select one with --where %s=..., or draw one line per %s with --by %s",
				len(c.vs), c.name, strings.Join(c.vs, ", "), c.name, c.name, c.name)
		}
	}
	switch {
	case len(models) > 1:
		return "on " + datasets[0], nil
	case len(datasets) > 1:
		return models[0], nil
	}
	return models[0] + " on " + datasets[0], nil
}

// formatPercent renders a Stat of percentages as "98.12 ± 0.05%" or
// "98.12% (n=1)".
func formatPercent(s Stat) string {
	if s.N == 1 {
		return fmt.Sprintf("%.2f%% (n=1)", s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f%%", s.Mean, s.Std)
}

// formatIters renders a Stat of iterations as "2340 ± 410 it".
func formatIters(s Stat) string {
	if s.N == 1 {
		return fmt.Sprintf("%.0f it (n=1)", s.Mean)
	}
	return fmt.Sprintf("%.0f ± %.0f it", s.Mean, s.Std)
}

// densityTicks labels a log axis of percentages at the data's values,
// dropping those that would crowd their neighbours, with unlabelled minor
// ticks at 1–9 × the powers of ten.
type densityTicks struct{ at []float64 }

func (t densityTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for _, tk := range (plot.LogTicks{}).Ticks(lo, hi) {
		if tk.Value >= lo && tk.Value <= hi {
			ticks = append(ticks, plot.Tick{Value: tk.Value})
		}
	}
	at := slices.Clone(t.at)
	sort.Sort(sort.Reverse(sort.Float64Slice(at)))
	at = slices.Compact(at)
	minGap := math.Log10(hi/lo) / 12
	last := math.Inf(1)
	for _, x := range at {
		if math.Log10(last)-math.Log10(x) < minGap {
			continue
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 3, 64)})
		last = x
	}
	return ticks
}

// lineKey is a plot's line key: its name and how a result's value of it
// reads from the result and its parsed settings (resultKey).
type lineKey struct {
	name string
	text func(r *Result, settings map[string]string) string
}

// lineNames names each result's line: its value of the line key, and where
// experiments of one line meet at one density, the settings that differ
// between them.
func lineNames(rs []Result, key lineKey, specDefaults map[string]string) []string {
	settings := make([]map[string]string, len(rs))
	for i := range rs {
		settings[i] = settingsOf(&rs[i])
	}
	value := func(i int, k string) string {
		if v, ok := settings[i][k]; ok {
			return v
		}
		return specDefaults[k]
	}
	// The settings that tell apart experiments sharing a line and a density.
	split := map[string][]string{}
	type cell struct{ line, density string }
	first := map[cell]int{}
	for i := range rs {
		c := cell{key.text(&rs[i], settings[i]), strconv.FormatFloat(rs[i].Density, 'g', 6, 64)}
		j, seen := first[c]
		if !seen {
			first[c] = i
			continue
		}
		if experimentOf(&rs[i]) == experimentOf(&rs[j]) {
			continue
		}
		for k := range settings[i] {
			if value(i, k) != value(j, k) && !slices.Contains(split[c.line], k) {
				split[c.line] = append(split[c.line], k)
			}
		}
		for k := range settings[j] {
			if value(i, k) != value(j, k) && !slices.Contains(split[c.line], k) {
				split[c.line] = append(split[c.line], k)
			}
		}
	}
	names := make([]string, len(rs))
	for i := range rs {
		line := key.text(&rs[i], settings[i])
		keys := slices.Sorted(slices.Values(split[line]))
		parts := []string{line}
		for _, k := range keys {
			parts = append(parts, k+"="+value(i, k))
		}
		names[i] = strings.Join(parts, " ")
	}
	return names
}
