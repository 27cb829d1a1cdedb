package results

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestPlotGrowsForLegend: at the default size a plot of 3 methods is
// 7 × 4.5 in (672 × 432 pixels at 96 dpi); one of 12 methods, whose legend
// would not fit beside the data area, is taller by default and keeps a
// height that was asked for.
func TestPlotGrowsForLegend(t *testing.T) {
	results := func(methods int) []Result {
		var rs []Result
		for m := 0; m < methods; m++ {
			for _, d := range []float64{1, 0.5, 0.1} {
				for rep := 0; rep < 2; rep++ {
					method := fmt.Sprintf("method%02d", m)
					if d == 1 {
						method = "dense"
					}
					rs = append(rs, Result{SpecHash: method, Experiment: fmt.Sprintf("%s/%g", method, d), Model: "lenet", Dataset: "mnist",
						Method: method, Pipeline: "imp", Replicate: rep, Seed: uint64(rep), Density: d,
						BestTestAcc: 0.9 + 0.005*float64(m) - 0.1*(1-d) + 0.001*float64(rep), FinalTestAcc: 0.9})
				}
			}
		}
		return rs
	}
	size := func(rs []Result, o PlotOptions) (int, int) {
		path := filepath.Join(t.TempDir(), "p.png")
		if err := WritePlot(path, rs, o); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg, err := png.DecodeConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Width, cfg.Height
	}
	if w, h := size(results(3), PlotOptions{}); w != 672 || h != 432 {
		t.Errorf("3 methods: %d × %d pixels, want 672 × 432", w, h)
	}
	if w, h := size(results(12), PlotOptions{}); w != 672 || h <= 432 {
		t.Errorf("12 methods: %d × %d pixels, want 672 wide and taller than 432", w, h)
	}
	if _, h := size(results(12), PlotOptions{Height: DefaultPlotHeight}); h != 432 {
		t.Errorf("12 methods at an asked height of 4.5 in: %d pixels high, want 432", h)
	}
}
