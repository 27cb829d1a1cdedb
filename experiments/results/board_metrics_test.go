package results

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestFormatMetric(t *testing.T) {
	for _, c := range []struct {
		m    MetricStat
		want string
	}{
		{MetricStat{NewStat([]float64{1720, 1960}), 2}, "1840 ± 170"},
		{MetricStat{NewStat([]float64{1720, 1960, math.NaN()}), 3}, "1840 ± 170 (2/3)"},
		{MetricStat{NewStat([]float64{1720, math.NaN()}), 2}, "1720 (1/2)"},
		{MetricStat{NewStat([]float64{1720}), 1}, "1720 (n=1)"},
		{MetricStat{NewStat([]float64{math.NaN(), math.NaN()}), 2}, "— (0/2)"},
		{MetricStat{NewStat(nil), 0}, "—"},
		{MetricStat{NewStat([]float64{1, 1, 0}), 3}, "0.6667 ± 0.5774"},
		{MetricStat{NewStat([]float64{0, 0}), 2}, "0 ± 0"},
		{MetricStat{NewStat([]float64{123456, 123460}), 2}, "123458 ± 3"},
		{MetricStat{NewStat([]float64{2.5e9}), 1}, "2.5e+09 (n=1)"},
		{MetricStat{NewStat([]float64{400, 400}), 2}, "400 ± 0"},
		{MetricStat{NewStat([]float64{400, 420}), 2}, "410.0 ± 14.1"},
		{MetricStat{NewStat([]float64{0.5}), 1}, "0.5 (n=1)"},
		{MetricStat{NewStat([]float64{-0.0123, -0.0125}), 2}, "-0.01240 ± 0.00014"},
	} {
		if got := formatMetric(c.m); got != c.want {
			t.Errorf("formatMetric(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}

// metricRows are three seeds of two experiments with grokking metrics: a
// reaches t_grok in two of three seeds (1720, 1960), b in none; b's rows
// also record t_extra.
func metricRows() []Result {
	nan := math.NaN()
	var rs []Result
	for i, tg := range []float64{1720, nan, 1960} {
		rs = append(rs, Result{SpecHash: "a", Experiment: "a", Model: "mlp", Dataset: "modular", Method: "dense", Density: 1, Seed: uint64(i), Replicate: i,
			BestTestAcc: 0.9, Metrics: map[string]float64{"t_mem": 400 + 10*float64(i), "t_grok": tg, "grokked": map[bool]float64{true: 0, false: 1}[math.IsNaN(tg)]}})
	}
	for i := range 3 {
		rs = append(rs, Result{SpecHash: "b", Experiment: "b", Model: "mlp", Dataset: "modular", Method: "imp", Density: 0.5, Seed: uint64(i), Replicate: i,
			BestTestAcc: 0.5, Metrics: map[string]float64{"t_mem": 300, "t_grok": nan, "grokked": 0, "t_extra": 7}})
	}
	return rs
}

func TestAggregateMetrics(t *testing.T) {
	gs, err := Aggregate(metricRows(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := findGroup(t, gs, map[string]string{"experiment": "a"})
	if m := a.Metrics["t_grok"]; m.N != 2 || m.Of != 3 || m.Mean != 1840 {
		t.Errorf("a's t_grok: %+v, want 1840 over 2 of 3", m)
	}
	if m := a.Metrics["t_mem"]; m.N != 3 || m.Of != 3 || m.Mean != 410 || m.Std != 10 {
		t.Errorf("a's t_mem: %+v, want 410 ± 10 over 3", m)
	}
	if _, ok := a.Metrics["t_extra"]; ok {
		t.Error("a records t_extra, which only b's rows have")
	}
	if len(Group{}.Metrics) != 0 {
		t.Error("a zero group has metrics")
	}
}

func TestBoardMetrics(t *testing.T) {
	gs, err := Aggregate(metricRows(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	five := append(metricRows(), Result{Experiment: "c", Seed: 9, Metrics: map[string]float64{"delay": 1}})
	gs5, err := Aggregate(five, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	none, err := Aggregate(boardRows(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		gs            []Group
		ask           []string
		shown, hidden []string
		err           []string
	}{
		{"default, four recorded", gs, nil, []string{"grokked", "t_extra", "t_grok", "t_mem"}, nil, nil},
		// grokked, t_grok and t_mem are recorded by two entries, delay and
		// t_extra by one each: the tie goes to the name.
		{"default, five recorded", gs5, nil, []string{"delay", "grokked", "t_grok", "t_mem"}, []string{"t_extra"}, nil},
		{"default, none recorded", none, nil, nil, nil, nil},
		{"all", gs5, []string{"all"}, []string{"delay", "grokked", "t_extra", "t_grok", "t_mem"}, nil, nil},
		{"none", gs, []string{"none"}, nil, nil, nil},
		{"names in their order", gs5, []string{"t_grok", "delay"}, []string{"t_grok", "delay"}, nil, nil},
		{"misspelt", gs, []string{"t_gork"}, nil, nil, []string{`unknown metric "t_gork"`, `did you mean "t_grok"?`, "grokked, t_extra, t_grok, t_mem", "all or none"}},
		{"twice", gs, []string{"t_mem", "t_mem"}, nil, nil, []string{`"t_mem" given twice`}},
		{"all in a list", gs, []string{"t_mem", "all"}, nil, nil, []string{`"t_mem,all"`, "all stands alone"}},
		{"none recorded", none, []string{"t_grok"}, nil, nil, []string{`unknown metric "t_grok"`, "record no metrics"}},
	} {
		shown, hidden, err := BoardMetrics(c.gs, BoardOptions{Metrics: c.ask})
		if c.err != nil {
			if err == nil || !errors.Is(err, ErrBoardMetrics) {
				t.Errorf("%s: error %v, want one that is ErrBoardMetrics", c.name, err)
				continue
			}
			for _, w := range c.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", c.name, err, w)
				}
			}
			continue
		}
		if err != nil || !slices.Equal(shown, c.shown) || !slices.Equal(hidden, c.hidden) {
			t.Errorf("%s: shown %v, left out %v, %v; want %v and %v", c.name, shown, hidden, err, c.shown, c.hidden)
		}
	}
}

func TestWriteBoardMetrics(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBoard(&buf, metricRows(), BoardOptions{Format: "markdown", Metrics: []string{"t_grok", "grokked"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	last2 := func(line string) string {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		return strings.TrimSpace(cells[len(cells)-2]) + " | " + strings.TrimSpace(cells[len(cells)-1])
	}
	for i, want := range map[int]string{0: "t_grok | grokked", 2: "1840 ± 170 (2/3) | 0.6667 ± 0.5774", 3: "— (0/3) | 0 ± 0"} {
		if got := last2(lines[i]); got != want {
			t.Errorf("line %d ends %q, want %q:\n%s", i, got, want, buf.String())
		}
	}

	// CSV: every metric by default, mean, std and the count that reached it.
	recs := boardCSV(t, metricRows(), BoardOptions{})
	h := recs[0]
	at := slices.Index(h, "t_grok_mean")
	if at < 0 || h[at+1] != "t_grok_std" || h[at+2] != "t_grok_n" || !slices.Contains(h, "t_extra_mean") {
		t.Fatalf("CSV header %v, want t_grok_mean, _std, _n and the other metrics", h)
	}
	for _, r := range recs[1:] {
		want := []string{"", "", "0"} // b: never reached
		if r[0] == "a" {
			want = []string{"1840", "169.7056275", "2"}
		}
		if got := r[at : at+3]; !slices.Equal(got, want) {
			t.Errorf("CSV t_grok of %s: %v, want %v", r[0], got, want)
		}
	}

	// Sorted by a metric: a's mean t_mem 410 comes after b's 300.
	recs = boardCSV(t, metricRows(), BoardOptions{Sort: "t_mem"})
	if recs[1][0] != "b" || recs[2][0] != "a" {
		t.Errorf("sorted by t_mem: %v then %v, want b then a", recs[1][0], recs[2][0])
	}
	err := WriteBoard(&buf, metricRows(), BoardOptions{Sort: "t_gork"})
	if err == nil || !strings.Contains(err.Error(), "t_grok, t_mem") {
		t.Errorf("an unknown sort key does not list the metrics: %v", err)
	}

	// More than DefaultBoardMetrics: those most entries record are shown,
	// the others named below a table.
	buf.Reset()
	five := append(metricRows(), Result{Experiment: "c", Model: "mlp", Dataset: "modular", Method: "gmp", Density: 0.2, Metrics: map[string]float64{"zeta": 1}})
	if err := WriteBoard(&buf, five, BoardOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "metrics not shown: zeta (--metrics") || !strings.Contains(out, "t_extra") || !strings.Contains(out, "1840 ± 170 (2/3)") {
		t.Errorf("a board of five metrics:\n%s", out)
	}
}

// TestWriteBoardNarrowMetrics: in a narrow terminal the board's own
// derived columns leave before a metric column.
func TestWriteBoardNarrowMetrics(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBoard(&buf, metricRows(), BoardOptions{Width: 120, Metrics: []string{"t_grok"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "t_grok") || !strings.Contains(out, "1840 ± 170 (2/3)") || !strings.Contains(out, "not shown at this width: sparsity") {
		t.Errorf("a narrow board with a metric:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 120 {
			t.Errorf("a line of %d characters:\n%s", n, out)
		}
	}
}
