package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prunebench/prunebench/experiments"
)

func TestTerminalWidth(t *testing.T) {
	for _, tc := range []struct {
		columns string
		want    int
		err     string
	}{
		{"", defaultTableWidth, ""}, // a buffer is no terminal
		{"80", 80, ""},
		{"0", 0, `COLUMNS="0": want a positive number`},
		{"wide", 0, `COLUMNS="wide": want a positive number`},
	} {
		got, err := terminalWidth(tc.columns, &bytes.Buffer{})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("COLUMNS=%q: error %v, want %q", tc.columns, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("COLUMNS=%q: %d, %v; want %d", tc.columns, got, err, tc.want)
		}
	}
}

// widestLine is the number of characters of out's longest line.
func widestLine(out string) int {
	w := 0
	for _, l := range strings.Split(out, "\n") {
		w = max(w, utf8.RuneCountInString(l))
	}
	return w
}

// longestHelp is the longest meaning config --defaults prints.
func longestHelp() string {
	var long string
	for _, k := range experiments.Keys() {
		if len(k.Help) > len(long) {
			long = k.Help
		}
	}
	return long
}

// TestConfigTableFits: config --defaults fits COLUMNS, or 100 characters
// off a terminal, and --wide prints every meaning whole on its line.
func TestConfigTableFits(t *testing.T) {
	long := longestHelp()
	if len(long) < 120 {
		t.Fatalf("the longest meaning has %d characters: too short to test wrapping", len(long))
	}
	for _, tc := range []struct {
		columns string
		args    []string
		widest  int // the most characters a line may have; 0: no limit
		whole   bool
	}{
		{"", nil, defaultTableWidth, false},
		{"80", nil, 80, false},
		{"60", nil, 60, false},
		{"60", []string{"--wide"}, 0, true},
	} {
		t.Setenv("COLUMNS", tc.columns)
		out, err := run(t, append([]string{"config", "--defaults"}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if tc.widest > 0 && widestLine(out) > tc.widest {
			t.Errorf("COLUMNS=%q %v: a line of %d characters, want at most %d", tc.columns, tc.args, widestLine(out), tc.widest)
		}
		if got := strings.Contains(out, long); got != tc.whole {
			t.Errorf("COLUMNS=%q %v: the longest meaning whole on a line: %v, want %v", tc.columns, tc.args, got, tc.whole)
		}
	}
	t.Setenv("COLUMNS", "x")
	if _, err := run(t, "config", "--defaults"); err == nil || !strings.Contains(err.Error(), "COLUMNS") {
		t.Errorf("COLUMNS=x: %v, want an error that names COLUMNS", err)
	}
}

// TestBoardFilesUnwrapped: markdown and csv are for files and never
// wrapped, whatever the width; the table fits it.
func TestBoardFilesUnwrapped(t *testing.T) {
	dir := boardStore(t)
	for _, format := range []string{"csv", "markdown", "table"} {
		t.Setenv("COLUMNS", "")
		wide, err := run(t, "board", "--output", dir, "--format", format, "--wide")
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("COLUMNS", "40")
		narrow, err := run(t, "board", "--output", dir, "--format", format)
		if err != nil {
			t.Fatal(err)
		}
		if format != "table" && narrow != wide {
			t.Errorf("%s at 40 columns differs from --wide:\n%s\nwant\n%s", format, narrow, wide)
		}
		if format == "table" && widestLine(narrow) >= widestLine(wide) {
			t.Errorf("the table at 40 columns is not narrower than --wide (%d):\n%s", widestLine(wide), narrow)
		}
	}
}

// TestSweepSummaryShowsVaryingKeys: the table at the end of a sweep names
// each run by the keys its points vary, not by every key the spec sets;
// a sweep of one point varies none.
func TestSweepSummaryShowsVaryingKeys(t *testing.T) {
	for _, tc := range []struct {
		sweep   string
		want    []string
		notWant []string
	}{
		{"sweep:\n  training.lr: [0.01, 0.05]\n", []string{"training.lr=0.01", "training.lr=0.05"}, []string{"model.name=", "dataset.name=", "training.steps="}},
		{"", nil, []string{"training.lr=", "model.name=", "dataset.name="}},
	} {
		spec, _ := writeSpec(t)
		f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(tc.sweep); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out, err := run(t, "sweep", spec, "-q", "--jobs", "1", "--wide")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.want {
			if !strings.Contains(out, s) {
				t.Errorf("sweep %q: summary lacks %q:\n%s", tc.sweep, s, out)
			}
		}
		for _, s := range tc.notWant {
			if strings.Contains(out, s) {
				t.Errorf("sweep %q: summary shows %q, a key the points share:\n%s", tc.sweep, s, out)
			}
		}
	}
}

// wholeTables lets the test's tables print at their full width (as --wide
// does, for commands run without the root's flags): the test reads their
// headers and cells whole.
func wholeTables(t *testing.T) {
	t.Helper()
	t.Setenv("COLUMNS", "100000")
}
