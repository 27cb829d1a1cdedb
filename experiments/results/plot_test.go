package results

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// plotRows is 3 methods × 4 densities × 3 replicates and 3 dense runs.
func plotRows() []Result {
	var rs []Result
	for mi, m := range []string{"imp", "snip", "random"} {
		for _, d := range []float64{0.8, 0.512, 0.2, 0.05} {
			for r := range 3 {
				acc := 0.98 + 0.004*float64(mi+1)*math.Log10(d) + 0.002*float64(r-1)
				rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: m, Replicate: r, Seed: uint64(r), Density: d,
					Experiment: fmt.Sprintf("%s-%g", m, d), BestTestAcc: acc, FinalTestAcc: acc - 0.001})
			}
		}
	}
	for r := range 3 {
		rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "dense", Replicate: r, Seed: uint64(r), Density: 1,
			Experiment: "dense", BestTestAcc: 0.981 + 0.001*float64(r-1), FinalTestAcc: 0.98, BestIter: 2000 + 100*r})
	}
	return rs
}

func TestWritePlotPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acc.png")
	if err := WritePlot(path, plotRows(), PlotOptions{Width: 5 * vg.Inch, Height: 3 * vg.Inch}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Size() < 10_000 {
		t.Errorf("%s is %d bytes, too small for a plot", path, fi.Size())
	}
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode: %v", path, err)
	}
	// 96 dpi.
	if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 288 {
		t.Errorf("image %v, want 480 × 288", b)
	}
}

func TestWritePlotSVG(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		o    PlotOptions
		base string
	}{
		{PlotOptions{}, ">98.10 ± 0.10%<"},
		{PlotOptions{Metric: "final", Title: "LeNet-300-100, final"}, ">98.00 ± 0.00%<"},
		{PlotOptions{Metric: "best_iter"}, ">2100 ± 100 it<"},
	} {
		o := c.o
		path := filepath.Join(dir, "acc.SVG") // the extension's case does not matter
		if err := WritePlot(path, plotRows(), o); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		svg := string(data)
		if len(data) < 10_000 {
			t.Errorf("%d bytes, too small for a plot", len(data))
		}
		if !strings.HasPrefix(svg, "<?xml") && !strings.HasPrefix(svg, "<svg") {
			t.Errorf("not an SVG: %.60q", svg)
		}
		title := o.Title
		if title == "" {
			title = "lenet on mnist"
		}
		for _, want := range []string{">imp<", ">snip<", ">random<", ">dense (mean ± std)<", c.base, title, "weights remaining"} {
			if !strings.Contains(svg, want) {
				t.Errorf("%+v: SVG lacks %q", o, want)
			}
		}
	}
}

// One replicate, NaN values and a line key other than method still plot.
func TestWritePlotOddInputs(t *testing.T) {
	dir := t.TempDir()
	rs := plotRows()
	rs[0].BestTestAcc = math.NaN()
	rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "gmp", Density: 0.1, BestTestAcc: 0.97})
	rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "broken", Density: 0.1, BestTestAcc: math.NaN()})
	if err := WritePlot(filepath.Join(dir, "odd.png"), rs, PlotOptions{}); err != nil {
		t.Error(err)
	}
	// Two models, one line each, each with its own baseline.
	two := plotRows()
	for _, r := range plotRows() {
		r.Model, r.Experiment = "conv2", "conv2 "+r.Experiment
		r.BestTestAcc -= 0.3
		two = append(two, r)
	}
	if err := WritePlot(filepath.Join(dir, "models.svg"), two, PlotOptions{By: "model"}); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "models.svg"))
	for _, want := range []string{"conv2 dense", "lenet dense", ">on mnist<"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// Only the baseline.
	if err := WritePlot(filepath.Join(dir, "dense.png"), plotRows()[36:], PlotOptions{}); err != nil {
		t.Error(err)
	}
}

func TestWritePlotErrors(t *testing.T) {
	dir := t.TempDir()
	two := append(plotRows(), Result{Model: "conv2", Dataset: "mnist", Method: "imp", Density: 0.5, BestTestAcc: 0.7})
	nan := []Result{{Model: "lenet", Dataset: "mnist", Method: "imp", Density: 0.5, BestTestAcc: math.NaN()}}
	cases := []struct {
		name string
		file string
		rs   []Result
		o    PlotOptions
		want []string
	}{
		{"no results", "a.png", nil, PlotOptions{}, []string{"no results"}},
		{"extension", "a.jpg", plotRows(), PlotOptions{}, []string{`".jpg"`, ".png", ".svg"}},
		{"no extension", "plot", plotRows(), PlotOptions{}, []string{".png, .svg"}},
		{"line key", "a.png", plotRows(), PlotOptions{By: "colour"}, []string{`"colour"`, "method"}},
		{"metric", "a.png", plotRows(), PlotOptions{Metric: "oracle"}, []string{`"oracle"`, "best", "final"}},
		{"two models", "a.png", two, PlotOptions{}, []string{"2 models", "conv2, lenet", "--where model="}},
		{"all NaN", "a.png", nan, PlotOptions{}, []string{"no result"}},
	}
	for _, c := range cases {
		wantPlotError(t, c.name, filepath.Join(dir, c.file), c.rs, c.o, c.want...)
	}
}

// wantPlotError checks that WritePlot refuses rs with an error holding
// every want, and writes no file.
func wantPlotError(t *testing.T, name, path string, rs []Result, o PlotOptions, want ...string) {
	t.Helper()
	err := WritePlot(path, rs, o)
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q lacks %q", name, err, w)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s: wrote %s anyway", name, path)
	}
}

// With the dense model among the rows, another method's rows at density 1
// (a shared model at 1×) are a point of that method's line, not part of the
// dense baseline.
func TestWritePlotBaselineIsTheDenseMethod(t *testing.T) {
	rs := plotRows()
	for r := range 3 {
		rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "stable-rps", Replicate: r, Seed: uint64(r), Experiment: "rps", Density: 1, BestTestAcc: 0.90})
	}
	path := filepath.Join(t.TempDir(), "acc.svg")
	if err := WritePlot(path, rs, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if svg := string(data); !strings.Contains(svg, ">98.10 ± 0.10%<") || !strings.Contains(svg, ">stable-rps<") {
		t.Errorf("the baseline is not the dense method's 98.10 ± 0.10%%, or stable-rps has no line")
	}
}

// Lines by a spec key, read from the results' settings as a board groups
// by it: the dense reference, whose pipeline does not read the key, is
// named by its method, in the density plot and the learning curves alike.
func TestWritePlotBySpecKey(t *testing.T) {
	var rs []Result
	for _, c := range []struct {
		sparsity string
		density  float64
	}{{"0.98", 0.02}, {"0.99", 0.01}, {"", 1}} {
		for seed := range 2 {
			r := Result{Model: "lenet5", Dataset: "mnist", Method: "snip", Seed: uint64(seed), Density: c.density,
				Experiment: "snip-" + c.sparsity, Settings: `{"pipeline":"pai","prune.sparsity":` + c.sparsity + `}`, BestTestAcc: 0.99 - c.density/100}
			if c.sparsity == "" {
				r.Method, r.Experiment, r.Settings = "dense", "dense", `{}`
			}
			for i := range 3 {
				r.Curve = append(r.Curve, CurvePoint{Step: 100 * (i + 1), TrainAcc: math.NaN(), TestAcc: 0.9 + 0.01*float64(i), Density: c.density})
			}
			rs = append(rs, r)
		}
	}
	defaults := map[string]string{"prune.sparsity": "", "training.lr": "0.1"}
	dir := t.TempDir()
	for _, metric := range []string{"best", "curve"} {
		path := filepath.Join(dir, metric+".svg")
		if err := WritePlot(path, rs, PlotOptions{By: "prune.sparsity", SpecDefaults: defaults, Metric: metric}); err != nil {
			t.Fatalf("%s: %v", metric, err)
		}
		svg, _ := os.ReadFile(path)
		for _, want := range []string{">0.98", ">0.99", ">dense"} {
			if !bytes.Contains(svg, []byte(want)) {
				t.Errorf("%s: SVG lacks %q", metric, want)
			}
		}
	}
	// A spec key the plot was not told of is unknown, as a board's.
	wantPlotError(t, "spec key without defaults", filepath.Join(dir, "x.svg"), rs, PlotOptions{By: "prune.sparsity"}, `"prune.sparsity"`, "spec key")
}
