package main

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// TestPlotCurveCommand runs an lr sweep of two seeds per rate and draws
// its learning curves: one line per rate with a band over the two seeds;
// the training split needs training.eval_train, and a run with it set
// draws it; a result without a curve is left out with a note.
func TestPlotCurveCommand(t *testing.T) {
	out := runLRSweep(t)
	dir := t.TempDir()
	svg := filepath.Join(dir, "curves.svg")
	_, stderr, err := runWithStderr(t, "plot", "--output", out, "--metric", "curve", "-o", svg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">dense training.lr=0.01 (n=2)<", ">dense training.lr=0.05 (n=2)<", ">training step<", ">test accuracy (%), mean ± std over seeds<"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if strings.Contains(stderr, "no learning curve") {
		t.Errorf("a note on missing curves where every result has one: %q", stderr)
	}
	pngFile := filepath.Join(dir, "val.png")
	if _, err := run(t, "plot", "--output", out, "--metric", "curve", "--split", "val", "--where", "training.lr=0.05", "-o", pngFile); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", pngFile, err)
	}
	f.Close()

	train := filepath.Join(dir, "train.svg")
	if _, err := run(t, "plot", "--output", out, "--metric", "curve", "--split", "train", "-o", train); err == nil || !strings.Contains(err.Error(), "training.eval_train: true") {
		t.Errorf("a training-accuracy plot of runs without it: %v, want the key that records it", err)
	}
	spec := filepath.Join(filepath.Dir(out), "tiny.yaml")
	if _, err := run(t, "sweep", spec, "-q", "--jobs", "1", "--set", "training.eval_train=true"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "plot", "--output", out, "--metric", "curve", "--split", "train", "--where", "training.eval_train=true", "--where", "training.lr=0.01", "-o", train); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(train); !strings.Contains(string(data), ">training accuracy (%), mean ± std over seeds<") || !strings.Contains(string(data), ">dense (n=2)<") {
		t.Errorf("the training-accuracy plot lacks its axis or its line")
	}

	// A result without a curve (stored by an older prunebench) is left out
	// with a note; a store of such results only is an error.
	st, err := results.Open(filepath.Join(out, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.Results(nil)
	if err == nil {
		old := rows[0]
		old.SpecHash, old.Experiment, old.Curve = "0ld000000000", "old", nil
		err = st.Put(old)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runWithStderr(t, "plot", "--output", out, "--metric", "curve", "-o", svg)
	if err != nil || !strings.Contains(stderr, "note: 1 of 9 results have no learning curve") || !strings.Contains(stderr, "(8 results)") {
		t.Errorf("plot of a store with one result without a curve: %v, stderr %q", err, stderr)
	}
	boards := boardStore(t)
	_, err = run(t, "plot", "--output", boards, "--metric", "curve", "--where", "model=mlp", "-o", filepath.Join(dir, "none.png"))
	if err == nil || !strings.Contains(err.Error(), "none of the 15 results has a learning curve") {
		t.Errorf("curves of a store without any: %v", err)
	}
}

func TestPlotCurveFlagErrors(t *testing.T) {
	dir := boardStore(t)
	file := filepath.Join(t.TempDir(), "p.png")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--metric", "curves"}, []string{`--metric "curves"`, "best", "curve (accuracy against the training step)"}},
		{[]string{"--metric", "curve", "--split", "holdout"}, []string{`--split "holdout"`, "test, val, train"}},
		{[]string{"--split", "val"}, []string{"--split val", "only --metric curve"}},
	} {
		_, err := execBoard(t, newPlotCmd(), append([]string{"--output", dir, "-o", file}, c.args...)...)
		wantError(t, fmt.Sprint(c.args), err, c.want...)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("a refused plot wrote %s", file)
	}
}

// TestBoardMetricsCommand: the metrics the results record are columns of
// the board (a few of them by default), --metrics picks them and names
// itself in its errors, and the csv format has them all.
func TestBoardMetricsCommand(t *testing.T) {
	wholeTables(t)
	dir := t.TempDir()
	st, err := results.Open(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, tg := range []float64{1720, math.NaN(), 1960} {
		err := st.Put(results.Result{SpecHash: "grok00000000", Pipeline: "train", Method: "dense", Dataset: "modular", Model: "mlp",
			Backend: "native", Replicate: i, Seed: uint64(i), Density: 1, ParamsTotal: 100, BestTestAcc: 0.9, Finished: time.Now(),
			Metrics: map[string]float64{"t_grok": tg, "t_mem": 400}})
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, err := execBoard(t, newBoardCmd(), "--output", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"t_grok", "1840 ± 170 (2/3)", "t_mem", "400 ± 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("the board lacks %q:\n%s", want, out)
		}
	}
	out, err = execBoard(t, newBoardCmd(), "--output", dir, "--metrics", "t_mem")
	if err != nil || strings.Contains(out, "t_grok") || !strings.Contains(out, "t_mem") {
		t.Errorf("--metrics t_mem: %v\n%s", err, out)
	}
	out, err = execBoard(t, newBoardCmd(), "--output", dir, "--metrics", "none", "--format", "csv")
	if err != nil || strings.Contains(out, "t_grok") {
		t.Errorf("--metrics none --format csv: %v\n%s", err, out)
	}
	out, err = execBoard(t, newBoardCmd(), "--output", dir, "--format", "csv")
	if err != nil || !strings.Contains(out, "t_grok_mean,t_grok_std,t_grok_n") {
		t.Errorf("--format csv: %v\n%s", err, out)
	}
	_, err = execBoard(t, newBoardCmd(), "--output", dir, "--metrics", "t_gork")
	if err == nil || !strings.Contains(err.Error(), "--metrics t_gork") || !strings.Contains(err.Error(), `did you mean "t_grok"?`) {
		t.Errorf("--metrics t_gork: %v", err)
	}
}
