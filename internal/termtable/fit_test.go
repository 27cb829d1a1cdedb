package termtable

import (
	"bytes"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"
)

// render draws a table as the commands do, fitted to width.
func render(t *testing.T, width int, header []string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	tbl := tablewriter.NewTable(&b, tablewriter.WithHeaderAutoFormat(tw.Off))
	tbl.Configure(Fit(width, header, rows).Configure)
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	tbl.Header(hdr...)
	if err := tbl.Bulk(rows); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Render(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func widest(s string) int {
	w := 0
	for _, line := range strings.Split(s, "\n") {
		w = max(w, twwidth.Width(line))
	}
	return w
}

// TestFitWidth: a fitted table has no line wider than the width it was
// given, keeps every word of its text, and leaves its numbers whole.
func TestFitWidth(t *testing.T) {
	meaning := strings.TrimSpace(strings.Repeat("the iteration a lottery ticket rewinds to ", 7)) // 300 characters
	settings := strings.Repeat("prune.density=0.05 ", 15)
	longWord := strings.Repeat("x", 200)
	tests := []struct {
		name   string
		width  int
		header []string
		rows   [][]string
		keep   []string // cells that must appear whole on one line
	}{
		{"a 300-character meaning at 80", 80, []string{"key", "default", "meaning"},
			[][]string{{"training.rewind", "0", meaning}, {"prune.density", "0.2", "the fraction kept"}}, []string{"training.rewind", "prune.density"}},
		{"settings beside numbers at 60", 60, []string{"run", "settings", "results", "mean test acc @best"},
			[][]string{{"a4f974f1fc58", settings, "3", "96.21%"}, {"55f788cb8271", "model.name=lenet5", "3", "98.59%"}}, []string{"a4f974f1fc58", "96.21%", "98.59%"}},
		{"two long text columns at 50", 50, []string{"unit", "error", "log"},
			[][]string{{"a4f974f1fc58/0", meaning, settings}}, []string{"a4f974f1fc58/0"}},
		{"a word longer than the width at 40", 40, []string{"key", "value"},
			[][]string{{"k", longWord}}, nil},
		{"numbers with spreads at 70", 70, []string{"method", "n", "test acc @ best-val (%)", "wall time"},
			[][]string{{meaning, "3", "97.81 ± 0.12 (n=2)", "1m2.5s"}}, []string{"97.81 ± 0.12 (n=2)", "1m2.5s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.width, tc.header, tc.rows)
			if w := widest(out); w > tc.width {
				t.Errorf("widest line %d > %d:\n%s", w, tc.width, out)
			}
			for _, cell := range tc.keep {
				if !strings.Contains(out, cell) {
					t.Errorf("%q is not whole on a line:\n%s", cell, out)
				}
			}
			words := strings.Fields(meaning)
			if strings.Contains(tc.name, "meaning") && !strings.Contains(out, words[len(words)-1]) {
				t.Errorf("the meaning lost its end:\n%s", out)
			}
		})
	}
}

// TestFitNoLimit: width 0 (--wide) and a table that already fits are drawn
// as they are, on one line per row.
func TestFitNoLimit(t *testing.T) {
	long := strings.Repeat("a b ", 100)
	for _, tc := range []struct {
		width int
		cell  string
	}{{0, long}, {-1, long}, {80, "short"}} {
		if l := Fit(tc.width, []string{"k", "v"}, [][]string{{"k", tc.cell}}); len(l.Widths) != 0 {
			t.Errorf("width %d, cell of %d: narrowed %v, want nothing", tc.width, len(tc.cell), l.Widths)
		}
		out := render(t, tc.width, []string{"k", "v"}, [][]string{{"k", tc.cell}})
		if !strings.Contains(out, strings.TrimSpace(tc.cell)) {
			t.Errorf("width %d: the cell is not whole on one line:\n%s", tc.width, out)
		}
	}
}

// TestFitKeepsNumbers: the text column gives way and the numbers keep
// their width, even when the text must then be broken inside its words.
func TestFitKeepsNumbers(t *testing.T) {
	header := []string{"settings", "params", "accuracy"}
	rows := [][]string{{"lr=0.1 dens=0.2 model=mlp", "266200", "97.12%"}}
	// Borders and padding: 3 columns take 10; the numbers 6 + 8.
	l := Fit(10+6+8+10, header, rows)
	if len(l.Widths) != 1 || l.Widths[0] != 10+padding || l.Wrap != tw.WrapNormal {
		t.Errorf("layout %+v, want only column 0 narrowed to %d, wrapped at spaces", l, 10+padding)
	}
	path := [][]string{{"/runs/slurm/logs/1_1.out", "266200", "97.12%"}}
	l = Fit(20, header, path) // the numbers alone do not fit
	if _, ok := l.Widths[1]; ok {
		t.Errorf("the column of numbers was narrowed: %v", l.Widths)
	}
	if l.Wrap != tw.WrapBreak || l.Widths[0] != keepWhole+padding {
		t.Errorf("layout %+v, want the path broken at %d", l, keepWhole+padding)
	}
}

// TestFitKeepsShortWords: a run name is never broken, even when the table
// then stays wider than asked.
func TestFitKeepsShortWords(t *testing.T) {
	out := render(t, 20, []string{"run", "params"}, [][]string{{"a4f974f1fc58", "266200"}})
	if !strings.Contains(out, "a4f974f1fc58") {
		t.Errorf("the run name was broken:\n%s", out)
	}
}

func TestIsNumber(t *testing.T) {
	for cell, want := range map[string]bool{
		"3": true, "96.21%": true, "97.81 ± 0.12 (n=2)": true, "10.0×": true, "0.1–1": true, "1.2e-3": true,
		"1m2.5s": true, "1200 / 266200": true, "2026-11-27 06:38:33": false, "—": true, "": true,
		"1840 ± 120 (2/3)": true, "— (0/3)": true, "— none": false, "— (lenet)": false,
		"lenet5": false, "a4f974f1fc58": false, "55f788cb8271": false, "model.name=lenet5": false, "3 runs": false,
	} {
		if got := isNumber(cell); got != want {
			t.Errorf("isNumber(%q) = %v, want %v", cell, got, want)
		}
	}
}
