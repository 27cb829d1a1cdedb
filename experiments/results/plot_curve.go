package results

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/prunebench/prunebench/internal/termtable"
)

// curveStep is one step of a line of learning curves: the Stat, over the
// line's curves, of the accuracy at that step.
type curveStep struct {
	step int
	s    Stat
}

// curveMean pools the curves of one line (its seeds) into the mean and
// sample standard deviation at each step. Seeds may have been evaluated at
// different steps (another eval_every, a run cut short): only the steps
// that every curve has are kept, so that the mean at a step never changes
// which seeds it averages because one seed was not evaluated there. A
// value that is NaN (the split was not evaluated at that point) is left
// out of its step's Stat, and a step where no curve has a value is dropped.
// value reads the plotted quantity of a point.
func curveMean(curves [][]CurvePoint, value func(CurvePoint) float64) []curveStep {
	if len(curves) == 0 {
		return nil
	}
	// at[i] maps a step to its point in curve i: the last one, should a
	// curve repeat a step.
	at := make([]map[int]int, len(curves))
	for i, c := range curves {
		at[i] = make(map[int]int, len(c))
		for j, p := range c {
			at[i][p.Step] = j
		}
	}
	var steps []int
	for st := range at[0] {
		if !slices.ContainsFunc(at[1:], func(m map[int]int) bool { _, ok := m[st]; return !ok }) {
			steps = append(steps, st)
		}
	}
	slices.Sort(steps)
	var out []curveStep
	xs := make([]float64, len(curves))
	for _, st := range steps {
		for i, c := range curves {
			xs[i] = value(c[at[i][st]])
		}
		if s := NewStat(xs); s.N > 0 {
			out = append(out, curveStep{st, s})
		}
	}
	return out
}

// curveLine is one line of a learning-curve plot: its legend name, the
// number of curves (seeds) it pools and their mean at each step.
type curveLine struct {
	name  string
	n     int
	steps []curveStep
}

// curveLines groups the results that have a curve as the accuracy plot
// groups them into points: by line (the line key's value, split by the
// settings that tell apart experiments meeting at one density, lineNames)
// and, unless the line key is density, sparsity or compression, by
// density. A line of several densities names each ("imp density=0.2").
// Lines come in the order of their key values (compareKey), each line's
// densities from dense to sparse; a line whose curves have no value of
// the split is left out.
func curveLines(rs []Result, key lineKey, specDefaults map[string]string, value func(CurvePoint) float64) []curveLine {
	var with []Result
	for _, r := range rs {
		if len(r.Curve) > 0 {
			with = append(with, r)
		}
	}
	names := lineNames(with, key, specDefaults)
	perDensity := key.name != "density" && key.name != "sparsity" && key.name != "compression"
	type group struct {
		name, density string
		d             float64
		curves        [][]CurvePoint
	}
	var groups []*group
	byID := map[string]*group{}
	densities := map[string]map[string]bool{} // line name → densities
	for i := range with {
		r := &with[i]
		g := &group{name: names[i], d: r.Density}
		if perDensity {
			g.density = strconv.FormatFloat(r.Density, 'g', 6, 64)
		}
		id := g.name + "\x00" + g.density
		if have, ok := byID[id]; ok {
			g = have
		} else {
			byID[id] = g
			groups = append(groups, g)
		}
		g.curves = append(g.curves, r.Curve)
		if densities[g.name] == nil {
			densities[g.name] = map[string]bool{}
		}
		densities[g.name][g.density] = true
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if c := compareKey(key.name, groups[i].name, groups[j].name); c != 0 {
			return c < 0
		}
		return groups[i].d > groups[j].d
	})
	var lines []curveLine
	for _, g := range groups {
		name := g.name
		if len(densities[g.name]) > 1 {
			name += " density=" + g.density
		}
		if steps := curveMean(g.curves, value); len(steps) > 0 {
			lines = append(lines, curveLine{name: name, n: len(g.curves), steps: steps})
		}
	}
	return lines
}

// curveLabelWidth is the most characters a line of a legend entry of the
// learning-curve plot holds: about a third of the default figure's width.
const curveLabelWidth = 30

// writeCurvePlot draws learning curves (WritePlot with o.Metric "curve"):
// the x axis is the training step, the y axis the accuracy in percent of
// the split o.Split (test by default; val; train, which a run records only
// under training.eval_train: true). Each line (curveLines) is the mean
// over its seeds at each step that all of them were evaluated at
// (curveMean), with a shaded band of ± one sample standard deviation where
// two or more seeds have a value; the y axis says "mean ± std over seeds"
// and each legend entry its number of seeds, "(n=3)".
// Results without a curve (stored before results kept curves) are left
// out; none with a curve, or none with a value of the split, is an error
// that says why.
func writeCurvePlot(path string, rs []Result, key lineKey, title string, o PlotOptions) error {
	var value func(CurvePoint) float64
	var what string
	switch o.Split {
	case "", "test":
		value, what = func(p CurvePoint) float64 { return 100 * p.TestAcc }, "test accuracy"
	case "val":
		value, what = func(p CurvePoint) float64 { return 100 * p.ValAcc }, "validation accuracy"
	case "train":
		value, what = func(p CurvePoint) float64 { return 100 * p.TrainAcc }, "training accuracy"
	default:
		return fmt.Errorf("plot %s: unknown split %q; want test, val or train", path, o.Split)
	}
	if !slices.ContainsFunc(rs, func(r Result) bool { return len(r.Curve) > 0 }) {
		return fmt.Errorf("plot %s: none of the %d results has a learning curve (results stored before prunebench kept curves have none; train them again to record one)", path, len(rs))
	}
	lines := curveLines(rs, key, o.SpecDefaults, value)
	if len(lines) == 0 {
		why := map[string]string{
			"train": "the training split is evaluated only when the spec sets training.eval_train: true",
			"val":   "the runs have no validation split (dataset.val_size)",
		}[o.Split]
		if why == "" {
			why = "the test split was not evaluated"
		}
		return fmt.Errorf("plot %s: no learning curve has a %s: %s", path, what, why)
	}

	ylabel := what + " (%)"
	if slices.ContainsFunc(lines, func(l curveLine) bool { return l.n > 1 }) {
		// Said once, not in every legend entry, which must stay narrow.
		ylabel += ", mean ± std over seeds"
	}
	p, lg := newFigure(title, "training step", ylabel)
	for i, l := range lines {
		sty := plotStyle(i)
		xys := make(plotter.XYs, len(l.steps))
		for j, st := range l.steps {
			xys[j] = plotter.XY{X: float64(st.step), Y: st.s.Mean}
		}
		r, g, b, _ := sty.color.RGBA()
		bandColor := color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x30}
		for _, seg := range bandSegments(l.steps) {
			band, err := plotter.NewPolygon(seg)
			if err != nil {
				return fmt.Errorf("plot %s: line %s: %w", path, l.name, err)
			}
			band.Color = bandColor
			band.LineStyle.Width = 0
			p.Add(band)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("plot %s: line %s: %w", path, l.name, err)
		}
		line.Color = sty.color
		line.Width = vg.Points(1.5)
		line.Dashes = sty.dashes
		// Markers on about a dozen points, so that lines stay apart in
		// greyscale without hiding the curve under its markers.
		every := max(1, (len(xys)+11)/12)
		var marks plotter.XYs
		for j := 0; j < len(xys); j += every {
			marks = append(marks, xys[j])
		}
		sc, err := plotter.NewScatter(marks)
		if err != nil {
			return fmt.Errorf("plot %s: line %s: %w", path, l.name, err)
		}
		sc.Color = sty.color
		sc.Shape = sty.glyph
		sc.Radius = vg.Points(3)
		p.Add(line, sc)
		// Names of lines that differ in several settings are long: they
		// wrap at spaces, so that the legend keeps to its half of the
		// figure.
		label := l.name
		if l.n > 1 {
			label += fmt.Sprintf(" (n=%d)", l.n)
		}
		lg.Add(termtable.WrapWords(label, curveLabelWidth), line, sc)
	}
	if yspan := p.Y.Max - p.Y.Min; yspan > 0 {
		p.Y.Min -= 0.05 * yspan
		p.Y.Max += 0.05 * yspan
	}
	return writeFigure(path, p, lg, o)
}

// bandSegments are the polygons of a line's ± std band: one per run of
// consecutive steps with a standard deviation (two or more values), the
// upper edge forward and the lower edge back. The band is cut to 0–100%:
// an accuracy cannot leave it, though mean ± std can where seeds differ a
// lot (one has grokked and another not).
func bandSegments(steps []curveStep) []plotter.XYs {
	var segs []plotter.XYs
	var run []curveStep
	flush := func() {
		if len(run) >= 2 {
			seg := make(plotter.XYs, 0, 2*len(run))
			for _, st := range run {
				seg = append(seg, plotter.XY{X: float64(st.step), Y: math.Min(100, st.s.Mean+st.s.Std)})
			}
			for j := len(run) - 1; j >= 0; j-- {
				seg = append(seg, plotter.XY{X: float64(run[j].step), Y: math.Max(0, run[j].s.Mean-run[j].s.Std)})
			}
			segs = append(segs, seg)
		}
		run = run[:0]
	}
	for _, st := range steps {
		if st.s.N >= 2 && !math.IsNaN(st.s.Std) {
			run = append(run, st)
		} else {
			flush()
		}
	}
	flush()
	return segs
}
