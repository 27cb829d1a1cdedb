package results

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every line of a plot of up to len(plotStyles) lines has its own colour
// and its own marker, and lines that share a dash pattern differ clearly
// in greyscale.
func TestPlotStylesDistinct(t *testing.T) {
	n := len(plotStyles)
	if n < 10 {
		t.Fatalf("%d line styles; want at least 10", n)
	}
	const minLumaStep = 0.1
	for i := range n {
		for j := range i {
			a, b := plotStyle(i), plotStyle(j)
			if sameColor(a, b) {
				t.Errorf("lines %d and %d share the colour %v", j, i, a.color)
			}
			if reflect.DeepEqual(a.glyph, b.glyph) {
				t.Errorf("lines %d and %d share the marker %T%+v", j, i, a.glyph, a.glyph)
			}
			if d := math.Abs(luma(a.color) - luma(b.color)); d < minLumaStep && slices.Equal(a.dashes, b.dashes) {
				t.Errorf("lines %d and %d: luma %.3f and %.3f (less than %g apart) and the same dashes %v: alike in greyscale",
					j, i, luma(b.color), luma(a.color), minLumaStep, a.dashes)
			}
		}
	}
	// Past one round the colours repeat, but never with the same marker.
	seen := map[string]int{}
	for i := range 3 * n {
		s := plotStyle(i)
		k := fmt.Sprintf("%v %T%+v", s.color, s.glyph, s.glyph)
		if j, dup := seen[k]; dup {
			t.Errorf("lines %d and %d share colour and marker %s", j, i, k)
		}
		seen[k] = i
	}
}

func sameColor(a, b lineStyle) bool {
	r1, g1, b1, a1 := a.color.RGBA()
	r2, g2, b2, a2 := b.color.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// A plot of 12 methods draws each in its style, and the legend names the
// dense band.
func TestWritePlotUsesEveryStyle(t *testing.T) {
	var rs []Result
	for m := range len(plotStyles) {
		for _, d := range []float64{0.5, 0.1} {
			rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: fmt.Sprintf("m%02d", m), Density: d,
				Experiment: fmt.Sprintf("m%02d-%g", m, d), BestTestAcc: 0.9 + 0.005*float64(m)})
		}
	}
	for r := range 2 {
		rs = append(rs, Result{Model: "lenet", Dataset: "mnist", Method: "dense", Seed: uint64(r), Replicate: r, Density: 1,
			Experiment: "dense", BestTestAcc: 0.98 + 0.01*float64(r)})
	}
	path := filepath.Join(t.TempDir(), "many.svg")
	if err := WritePlot(path, rs, PlotOptions{Width: 9 * DefaultPlotWidth / 7}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(data)
	for i, s := range plotStyles {
		r, g, b, _ := s.color.RGBA()
		stroke := fmt.Sprintf("stroke:#%02X%02X%02X", r>>8, g>>8, b>>8)
		if !strings.Contains(svg, stroke) {
			t.Errorf("line %d: no %s in the SVG", i, stroke)
		}
	}
	if !strings.Contains(svg, "stroke-dasharray") {
		t.Error("no dashed line in the SVG")
	}
	for _, want := range []string{">dense (mean ± std)<", ">98.50 ± 0.71%<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the legend lacks %q", want)
		}
	}
}
