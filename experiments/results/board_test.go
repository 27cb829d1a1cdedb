package results

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewStat(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		xs        []float64
		mean, std float64 // NaN: want NaN
		n         int
	}{
		{[]float64{0.97, 0.98, 0.99}, 0.98, 0.01, 3},
		{[]float64{0.97, nan, 0.99}, 0.98, math.Sqrt(0.0002), 2},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7), 8},
		{[]float64{0.9781}, 0.9781, nan, 1},
		{[]float64{nan, nan}, nan, nan, 0},
		{nil, nan, nan, 0},
	}
	same := func(got, want float64) bool {
		if math.IsNaN(want) {
			return math.IsNaN(got)
		}
		return math.Abs(got-want) < 1e-12
	}
	for _, c := range cases {
		s := NewStat(c.xs)
		if s.N != c.n || !same(s.Mean, c.mean) || !same(s.Std, c.std) {
			t.Errorf("NewStat(%v) = %+v, want mean %v std %v n %d", c.xs, s, c.mean, c.std, c.n)
		}
	}
}

func TestFormatAccuracy(t *testing.T) {
	cases := []struct {
		xs   []float64
		want string
	}{
		{[]float64{0.97, 0.98, 0.99}, "98.00 ± 1.00"},
		{[]float64{0.9781}, "97.81 (n=1)"},
		{[]float64{0.97, math.NaN(), 0.99}, "98.00 ± 1.41 (n=2)"},
		{[]float64{0.9781, math.NaN()}, "97.81 (n=1)"},
		{[]float64{math.NaN(), math.NaN()}, "—"},
		{[]float64{0.98, 0.98}, "98.00 ± 0.00"}, // two equal values: a measured zero spread
	}
	for _, c := range cases {
		if got := FormatAccuracy(NewStat(c.xs), len(c.xs)); got != c.want {
			t.Errorf("FormatAccuracy(%v) = %q, want %q", c.xs, got, c.want)
		}
	}
}

// boardRows is a small results set: two models, the dense baseline and two
// pruning methods at two densities, three replicates each (LeNet), and one
// replicate of a conv net.
func boardRows() []Result {
	var rs []Result
	add := func(model, method string, d float64, accs ...float64) {
		for i, a := range accs {
			rs = append(rs, Result{
				SpecHash: model + method, Experiment: fmt.Sprintf("%s/%s/%g", model, method, d), Model: model, Dataset: "mnist", Method: method, Pipeline: "imp",
				Replicate: i, Seed: uint64(10 + i), Density: d, Sparsity: 1 - d, Compression: 1 / d,
				ParamsTotal: 266610, ParamsNonzero: int64(math.Round(266610 * d)), FLOPsNonzero: int64(math.Round(532810 * d)),
				BestTestAcc: a, FinalTestAcc: a - 0.001, Wall: time.Duration(10+i) * time.Second,
				BestIter: 1000 + 1000*i,
			})
		}
	}
	add("lenet", "snip", 0.1, 0.95, 0.96, 0.97)
	add("lenet", "imp", 0.1, 0.97, 0.98, 0.99)
	add("lenet", "imp", 0.5, 0.98, 0.98, 0.98)
	add("lenet", "dense", 1, 0.98, 0.981, 0.982)
	add("conv2", "imp", 0.2, 0.70)
	add("lenet", "snip", 0.5, 0.96, 0.97, 0.98)
	return rs
}

func findGroup(t *testing.T, gs []Group, keys map[string]string) Group {
	t.Helper()
	for _, g := range gs {
		match := true
		for k, v := range keys {
			if g.Keys[k] != v {
				match = false
			}
		}
		if match {
			return g
		}
	}
	t.Fatalf("no group %v", keys)
	return Group{}
}

func TestAggregate(t *testing.T) {
	gs, err := Aggregate(boardRows(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 6 {
		t.Fatalf("%d groups, want 6", len(gs))
	}
	g := findGroup(t, gs, map[string]string{"experiment": "lenet/imp/0.1", "method": "imp", "model": "lenet"})
	if g.N != 3 || g.BestTestAcc.N != 3 || math.Abs(g.BestTestAcc.Mean-0.98) > 1e-12 || math.Abs(g.BestTestAcc.Std-0.01) > 1e-12 {
		t.Errorf("imp at 0.1: %+v, want n=3, best 0.98 ± 0.01", g)
	}
	if math.Abs(g.Sparsity-0.9) > 1e-12 || math.Abs(g.Compression-10) > 1e-9 || g.ParamsNonzero.Mean != 26661 {
		t.Errorf("imp at 0.1: sparsity %v compression %v nonzero %v", g.Sparsity, g.Compression, g.ParamsNonzero.Mean)
	}
	if g.Wall.Mean != 11 {
		t.Errorf("wall mean %v s, want 11", g.Wall.Mean)
	}

	// By method alone pools models and densities.
	gs, err = Aggregate(boardRows(), []string{"method"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 {
		t.Fatalf("by method: %d groups, want 3", len(gs))
	}
	g = findGroup(t, gs, map[string]string{"method": "imp"})
	if g.N != 7 || g.DensityMin != 0.1 || g.DensityMax != 0.5 {
		t.Errorf("imp pooled: n %d density range %v–%v, want 7 and 0.1–0.5", g.N, g.DensityMin, g.DensityMax)
	}

	// Integer keys group and read as numbers.
	gs, err = Aggregate(boardRows(), []string{"seed"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := findGroup(t, gs, map[string]string{"seed": "10"}); g.N != 6 {
		t.Errorf("seed 10: n %d, want 6", g.N)
	}
}

func TestAggregateUnknownKey(t *testing.T) {
	_, err := Aggregate(boardRows(), []string{"method", "colour"}, nil)
	if err == nil {
		t.Fatal("no error for an unknown key")
	}
	for _, want := range []string{`"colour"`, "method", "density", "best_test_acc", "spec_hash"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Aggregate(boardRows(), []string{"method", "method"}, nil); err == nil {
		t.Error("no error for a repeated key")
	}
}

// Every column of the results store groups a board, so that --by and
// --where speak the same language.
func TestBoardKeysAreStoreColumns(t *testing.T) {
	for _, c := range Columns() {
		if _, err := Aggregate(boardRows(), []string{c}, nil); err != nil {
			t.Errorf("grouping by store column %s: %v", c, err)
		}
	}
}

// boardCSV renders rs as CSV and parses it back.
func boardCSV(t *testing.T, rs []Result, o BoardOptions) [][]string {
	t.Helper()
	o.Format = "csv"
	var buf bytes.Buffer
	if err := WriteBoard(&buf, rs, o); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, buf.String())
	}
	return recs
}

func TestWriteBoardSortOrder(t *testing.T) {
	col := func(recs [][]string, name string) []string {
		i := slices.Index(recs[0], name)
		if i < 0 {
			t.Fatalf("no column %q in %v", name, recs[0])
		}
		var out []string
		for _, r := range recs[1:] {
			out = append(out, r[i])
		}
		return out
	}
	// Default: model, dataset, method (dense first), density descending.
	recs := boardCSV(t, boardRows(), BoardOptions{})
	got := make([]string, len(recs)-1)
	for i := range got {
		got[i] = col(recs, "model")[i] + "/" + col(recs, "method")[i] + "/" + col(recs, "density")[i]
	}
	want := []string{"conv2/imp/0.2", "lenet/dense/1", "lenet/imp/0.5", "lenet/imp/0.1", "lenet/snip/0.5", "lenet/snip/0.1"}
	if !slices.Equal(got, want) {
		t.Errorf("default order %v, want %v", got, want)
	}

	// By accuracy, best first: pooled over models, imp has conv2's 0.70.
	recs = boardCSV(t, boardRows(), BoardOptions{By: []string{"method"}, Sort: "-best_test_acc"})
	if got, want := col(recs, "method"), []string{"dense", "snip", "imp"}; !slices.Equal(got, want) {
		t.Errorf("order by -best_test_acc %v, want %v", got, want)
	}
	recs = boardCSV(t, boardRows(), BoardOptions{By: []string{"method", "density"}, Sort: "density,method"})
	if got, want := col(recs, "density"), []string{"0.1", "0.1", "0.2", "0.5", "0.5", "1"}; !slices.Equal(got, want) {
		t.Errorf("order by density ascending %v, want %v", got, want)
	}

	var buf bytes.Buffer
	err := WriteBoard(&buf, boardRows(), BoardOptions{Sort: "accuracy"})
	if err == nil || !strings.Contains(err.Error(), `"accuracy"`) || !strings.Contains(err.Error(), "best_test_acc") {
		t.Errorf("unknown sort key: error %v", err)
	}
}

func TestWriteBoardCSV(t *testing.T) {
	recs := boardCSV(t, boardRows(), BoardOptions{})
	if len(recs) != 7 {
		t.Fatalf("%d records, want a header and 6 rows", len(recs))
	}
	wantHeader := []string{"experiment", "method", "model", "dataset", "n", "density", "sparsity", "compression",
		"params_total", "params_nonzero", "flops_nonzero", "best_test_acc_mean", "best_test_acc_std", "best_test_acc_n",
		"final_test_acc_mean", "final_test_acc_std", "final_test_acc_n", "best_iter_mean", "best_iter_std", "wall_s_mean"}
	if !slices.Equal(recs[0], wantHeader) {
		t.Errorf("header %v\nwant %v", recs[0], wantHeader)
	}
	// conv2/imp has one replicate: no std.
	if got := recs[1][1:]; got[1] != "conv2" || got[3] != "1" || got[10] != "0.7" || got[11] != "" || got[12] != "1" {
		t.Errorf("conv2 row %v", got)
	}
	// lenet/imp at 0.1: 0.98 ± 0.01 over 3.
	if got := recs[4][1:]; got[0] != "imp" || got[4] != "0.1" || got[10] != "0.98" || got[11] != "0.01" || got[12] != "3" || got[16] != "2000" || got[17] != "1000" || got[18] != "11" {
		t.Errorf("imp 0.1 row %v", got)
	}
}

func TestWriteBoardMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBoard(&buf, boardRows(), BoardOptions{Format: "markdown"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want header, separator and 6 rows:\n%s", len(lines), buf.String())
	}
	sep := regexp.MustCompile(`^\|( *:?-+:? *\|)+$`)
	if !sep.MatchString(lines[1]) {
		t.Errorf("no | --- | separator line:\n%s", buf.String())
	}
	cells := func(line string) []string {
		var out []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			out = append(out, strings.TrimSpace(c))
		}
		return out
	}
	header := cells(lines[0])
	wantHeader := []string{"method", "model", "dataset", "n", "density", "sparsity", "compression", "params", "nonzero",
		"FLOPs (nonzero)", "test acc @ best-val (%)", "final test acc (%)", "t* (it)", "wall time"}
	if !slices.Equal(header, wantHeader) {
		t.Errorf("header %q\nwant %q", header, wantHeader)
	}
	for i, line := range lines {
		if n := len(cells(line)); n != len(wantHeader) {
			t.Errorf("line %d has %d cells, want %d: %s", i, n, len(wantHeader), line)
		}
	}
	// lenet/imp at 0.1 is the fourth row.
	want := []string{"imp", "lenet", "mnist", "3", "0.1", "90.00%", "10.0×", "266,610", "26,661", "53,281", "98.00 ± 1.00", "97.90 ± 1.00", "2,000 ± 1,000", "11s"}
	if got := cells(lines[5]); !slices.Equal(got, want) {
		t.Errorf("row %q\nwant %q", got, want)
	}
	// One replicate: the value and n=1, never ± 0.
	if got := cells(lines[2]); got[10] != "70.00 (n=1)" || strings.Contains(lines[2], "±") {
		t.Errorf("conv2 row %q, want 70.00 (n=1) and no ±", got)
	}
}

func TestWriteBoardTableAndNaN(t *testing.T) {
	rs := boardRows()
	for i := range rs {
		if rs[i].Method == "snip" && rs[i].Density == 0.1 {
			rs[i].FinalTestAcc = math.NaN() // every replicate
		}
		if rs[i].Method == "snip" && rs[i].Replicate == 0 {
			rs[i].BestTestAcc = math.NaN() // one of three
		}
	}
	var buf bytes.Buffer
	if err := WriteBoard(&buf, rs, BoardOptions{By: []string{"method", "density"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var snip01, snip05 string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "snip") && strings.Contains(line, "0.1") {
			snip01 = line
		}
		if strings.Contains(line, "snip") && strings.Contains(line, "0.5") {
			snip05 = line
		}
	}
	// Best acc of snip at 0.1: 0.96 and 0.97 remain.
	if !strings.Contains(snip01, "96.50 ± 0.71 (n=2)") || !strings.Contains(snip01, "—") {
		t.Errorf("snip 0.1 row %q, want 96.50 ± 0.71 (n=2) and — for the final accuracy", snip01)
	}
	if !strings.Contains(snip05, "97.50 ± 0.71 (n=2)") || !strings.Contains(snip05, "96.90 ± 1.00") {
		t.Errorf("snip 0.5 row %q", snip05)
	}
	for _, want := range []string{"test acc @ best-val (%)", "─", "│"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NaN") {
		t.Errorf("table shows NaN:\n%s", out)
	}
}

func TestWriteBoardErrors(t *testing.T) {
	var buf bytes.Buffer
	err := WriteBoard(&buf, boardRows(), BoardOptions{Format: "html"})
	if err == nil || !strings.Contains(err.Error(), `"html"`) || !strings.Contains(err.Error(), "markdown") {
		t.Errorf("unknown format: error %v", err)
	}
	err = WriteBoard(&buf, boardRows(), BoardOptions{By: []string{"methd"}})
	if err == nil || !strings.Contains(err.Error(), `"methd"`) {
		t.Errorf("unknown key: error %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q before failing", buf.String())
	}
}
