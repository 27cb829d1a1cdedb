package results

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// TestCurveMean: seeds evaluated at different steps pool only at the steps
// all of them have (100 and 200 here, not 0 or 400); a NaN is left out of
// its step (at 200, two values); a step where every value is NaN (300) is
// dropped; a step a curve repeats counts by its last point.
func TestCurveMean(t *testing.T) {
	nan := math.NaN()
	pt := func(step int, acc float64) CurvePoint { return CurvePoint{Step: step, TestAcc: acc} }
	curves := [][]CurvePoint{
		{pt(0, 10), pt(100, 20), pt(200, 30), pt(300, nan)},
		{pt(100, 22), pt(200, 34), pt(300, nan), pt(400, 50)},
		{pt(100, 99), pt(100, 24), pt(200, nan), pt(300, nan)},
	}
	got := curveMean(curves, func(p CurvePoint) float64 { return p.TestAcc })
	// Step 100: 20, 22, 24: mean 22, sample std √((4+0+4)/2) = 2.
	// Step 200: 30, 34: mean 32, std √((4+4)/1) = 2√2.
	want := []curveStep{{100, Stat{Mean: 22, Std: 2, N: 3}}, {200, Stat{Mean: 32, Std: 2 * math.Sqrt2, N: 2}}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.step != w.step || g.s.N != w.s.N || math.Abs(g.s.Mean-w.s.Mean) > 1e-12 || math.Abs(g.s.Std-w.s.Std) > 1e-12 {
			t.Errorf("step %d: got %+v, want %+v", i, g, w)
		}
	}
	// One seed: its own points, without a spread.
	one := curveMean(curves[:1], func(p CurvePoint) float64 { return p.TestAcc })
	if len(one) != 3 || one[0].step != 0 || one[2].s.Mean != 30 || !math.IsNaN(one[2].s.Std) {
		t.Errorf("one seed: %+v, want steps 0, 100, 200 as they are", one)
	}
	if c := curveMean(nil, func(p CurvePoint) float64 { return p.TestAcc }); c != nil {
		t.Errorf("no curves: %+v", c)
	}
}

// TestBandSegments: the band is drawn where two or more seeds have a
// value, as one polygon per run of such steps.
func TestBandSegments(t *testing.T) {
	var steps []curveStep
	for i, n := range []int{3, 3, 1, 3, 3, 3, 1, 2} {
		s := Stat{Mean: float64(10 * i), Std: 1, N: n}
		if n < 2 {
			s.Std = math.NaN()
		}
		steps = append(steps, curveStep{100 * i, s})
	}
	segs := bandSegments(steps)
	// Steps 0–100 and 300–500; step 700 alone makes no polygon.
	if len(segs) != 2 || len(segs[0]) != 4 || len(segs[1]) != 6 {
		t.Fatalf("segments %v, want two of 4 and 6 corners", segs)
	}
	want := plotter.XYs{{X: 300, Y: 31}, {X: 400, Y: 41}, {X: 500, Y: 51}, {X: 500, Y: 49}, {X: 400, Y: 39}, {X: 300, Y: 29}}
	if !slices.Equal(segs[1], want) {
		t.Errorf("second segment %v, want %v", segs[1], want)
	}
}

// curveRows is imp at densities 0.5 and 0.2 and snip at 0.2, two seeds
// each, curves of 5 evaluations every 100 steps (the second seed's test
// accuracy 2 points above the first's), and one imp row stored without a
// curve.
func curveRows() []Result {
	var rs []Result
	for _, c := range []struct {
		method string
		d      float64
	}{{"imp", 0.5}, {"imp", 0.2}, {"snip", 0.2}} {
		for seed := range 2 {
			r := Result{Model: "lenet", Dataset: "mnist", Method: c.method, Seed: uint64(seed), Replicate: seed, Density: c.d,
				Experiment: fmt.Sprintf("%s-%g", c.method, c.d), BestTestAcc: 0.9}
			for i := range 5 {
				acc := 0.5 + 0.1*float64(i) - c.d/10 + 0.02*float64(seed)
				r.Curve = append(r.Curve, CurvePoint{Step: 100 * (i + 1), TrainLoss: 1, TrainAcc: math.NaN(),
					ValAcc: acc - 0.01, TestAcc: acc, ValLoss: 1, TestLoss: 1, Density: c.d})
			}
			rs = append(rs, r)
		}
	}
	return append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "imp", Density: 0.8, Experiment: "old", BestTestAcc: 0.9})
}

func TestCurveLines(t *testing.T) {
	get, _ := resultKey("method", nil)
	lines := curveLines(curveRows(), lineKey{"method", get}, nil, func(p CurvePoint) float64 { return 100 * p.TestAcc })
	var names []string
	for _, l := range lines {
		names = append(names, fmt.Sprintf("%s n=%d steps=%d", l.name, l.n, len(l.steps)))
	}
	// Dense to sparse within a line; the row without a curve is no line;
	// snip has one density, so its name does not give it.
	want := []string{"imp density=0.5 n=2 steps=5", "imp density=0.2 n=2 steps=5", "snip n=2 steps=5"}
	if !slices.Equal(names, want) {
		t.Fatalf("lines %q, want %q", names, want)
	}
	// imp at 0.5, step 100: seeds at 45% and 47%.
	if s := lines[0].steps[0].s; s.N != 2 || math.Abs(s.Mean-46) > 1e-9 || math.Abs(s.Std-math.Sqrt2) > 1e-9 {
		t.Errorf("imp at 0.5, step 100: %+v, want 46 ± √2 over 2", s)
	}
	// By density: one line per density, pooling the methods.
	get, _ = resultKey("density", nil)
	lines = curveLines(curveRows(), lineKey{"density", get}, nil, func(p CurvePoint) float64 { return 100 * p.TestAcc })
	if len(lines) != 2 || lines[0].name != "0.2" || lines[0].n != 4 || lines[1].name != "0.5" {
		t.Errorf("by density: %+v", lines)
	}
}

func TestWritePlotCurve(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "curve.svg")
	if err := WritePlot(svg, curveRows(), PlotOptions{Metric: "curve"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">imp density=0.5 (n=2)<", ">snip (n=2)<", ">training step<", ">test accuracy (%), mean ± std over seeds<", ">lenet on mnist<"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if err := WritePlot(svg, curveRows(), PlotOptions{Metric: "curve", Split: "val"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(svg); !strings.Contains(string(data), ">validation accuracy (%), mean ± std over seeds<") {
		t.Error("the validation plot's y axis does not say so")
	}
	// One seed: no band, and neither the axis nor the legend speaks of one.
	if err := WritePlot(svg, curveRows()[:1], PlotOptions{Metric: "curve"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(svg); !strings.Contains(string(data), ">test accuracy (%)<") || !strings.Contains(string(data), ">imp<") {
		t.Error("the plot of one seed has a band's axis label or a count in its legend")
	}
	// A long line name wraps in the legend instead of widening it.
	long := curveRows()
	for i := range long {
		long[i].Method = "imp with a rather long name that goes on"
	}
	if err := WritePlot(svg, long, PlotOptions{Metric: "curve"}); err != nil {
		t.Fatalf("a long line name: %v", err)
	}
	pngPath := filepath.Join(dir, "curve.png")
	if err := WritePlot(pngPath, curveRows(), PlotOptions{Metric: "curve", By: "density"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s does not decode: %v", pngPath, err)
	}

	noCurves := curveRows()[6:]
	cases := []struct {
		name string
		rs   []Result
		o    PlotOptions
		want []string
	}{
		{"split", curveRows(), PlotOptions{Metric: "curve", Split: "holdout"}, []string{`"holdout"`, "test, val or train"}},
		{"no train accuracy", curveRows(), PlotOptions{Metric: "curve", Split: "train"}, []string{"training accuracy", "training.eval_train: true"}},
		{"no curves", noCurves, PlotOptions{Metric: "curve"}, []string{"none of the 1 results has a learning curve"}},
	}
	for _, c := range cases {
		wantPlotError(t, c.name, filepath.Join(dir, c.name+".png"), c.rs, c.o, c.want...)
	}
}

// TestBandSegmentsClipped checks that the ± std band stays within 0–100%:
// mean 90 ± 20 reaches up to 100, not 110, and 5 ± 10 down to 0.
func TestBandSegmentsClipped(t *testing.T) {
	segs := bandSegments([]curveStep{{100, Stat{Mean: 90, Std: 20, N: 2}}, {200, Stat{Mean: 5, Std: 10, N: 2}}})
	if len(segs) != 1 || len(segs[0]) != 4 {
		t.Fatalf("segments %v, want one of 4 corners", segs)
	}
	want := []float64{100, 15, 0, 70} // upper edge forward, lower edge back
	for i, p := range segs[0] {
		if p.Y != want[i] {
			t.Errorf("corner %d at %v, want %v", i, p.Y, want[i])
		}
	}
}
