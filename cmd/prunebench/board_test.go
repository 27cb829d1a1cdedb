package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/spf13/cobra"
)

// boardStore writes a results store with the dense baseline and two methods
// at two densities, three replicates each, on one model, and one row of
// another model; it returns the output folder.
func boardStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := results.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(model, method string, level int, d float64, accs ...float64) {
		for r, a := range accs {
			err := st.Put(results.Result{
				SpecHash: model + "-" + method, Pipeline: "imp", Method: method, Dataset: "mnist", Model: model,
				Backend: "native", Replicate: r, Seed: uint64(r), Level: level,
				Density: d, Sparsity: 1 - d, Compression: 1 / d,
				ParamsTotal: 1000, ParamsNonzero: int64(1000 * d), FLOPsDense: 2000, FLOPsNonzero: int64(2000 * d),
				BestTestAcc: a, FinalTestAcc: a - 0.01, Wall: 2 * time.Second, Finished: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	put("mlp", "dense", 0, 1, 0.97, 0.98, 0.99)
	put("mlp", "imp", 1, 0.5, 0.96, 0.97, 0.98)
	put("mlp", "imp", 2, 0.25, 0.95, 0.96, 0.97)
	put("mlp", "random", 1, 0.5, 0.93, 0.94, 0.95)
	put("mlp", "random", 2, 0.25, 0.90, 0.91, 0.92)
	put("conv", "imp", 1, 0.5, 0.80)
	return dir
}

// execBoard runs a command built by one of this file's constructors.
func execBoard(t *testing.T, cmd *cobra.Command, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestBoardCommand(t *testing.T) {
	wholeTables(t)
	dir := boardStore(t)
	out, err := execBoard(t, newBoardCmd(), "--output", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"98.00 ± 1.00", "80.00 (n=1)", "test acc @ best-val (%)", "│"} {
		if !strings.Contains(out, want) {
			t.Errorf("board lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "± 0.00") {
		t.Errorf("board shows ± 0:\n%s", out)
	}

	out, err = execBoard(t, newBoardCmd(), "--output", dir, "--where", "model=mlp", "--where", "method=imp",
		"--by", "method,density", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, out)
	}
	if len(recs) != 3 || recs[0][0] != "method" || recs[1][0] != "imp" || recs[1][2] != "0.5" || recs[2][2] != "0.25" {
		t.Errorf("imp on mlp by density, dense first:\n%s", out)
	}
	if recs[1][8] != "0.97" || recs[1][10] != "3" {
		t.Errorf("imp at 0.5: best acc %s over %s, want 0.97 over 3", recs[1][8], recs[1][10])
	}

	out, err = execBoard(t, newBoardCmd(), "--output", dir, "--where", "model=mlp", "--format", "markdown")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[1], "|:--") || !strings.Contains(lines[2], "dense") {
		t.Errorf("markdown board, want header, separator, dense first and 4 more rows:\n%s", out)
	}
}

func TestPlotCommand(t *testing.T) {
	dir := boardStore(t)
	file := filepath.Join(t.TempDir(), "mlp.png")
	if _, err := execBoard(t, newPlotCmd(), "--output", dir, "--where", "model=mlp", "-o", file, "--width", "5", "--height", "3.5"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 336 {
		t.Errorf("PNG %v, want 480 × 336 (96 dpi)", b)
	}

	svg := filepath.Join(t.TempDir(), "models.svg")
	if _, err := execBoard(t, newPlotCmd(), "--output", dir, "--by", "model", "--metric", "final", "-o", svg); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">mlp<", ">conv<", "final test acc."} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestBoardAndPlotCommandErrors(t *testing.T) {
	dir := boardStore(t)
	png := filepath.Join(t.TempDir(), "p.png")
	cases := []struct {
		cmd  func() *cobra.Command
		args []string
		want []string
	}{
		{newBoardCmd, []string{"--output", dir, "--where", "method"}, []string{`--where "method"`, "key=value"}},
		{newBoardCmd, []string{"--output", dir, "--where", "=imp"}, []string{`--where "=imp"`}},
		{newBoardCmd, []string{"--output", dir, "--where", "methd=imp"}, []string{`--where "methd=imp"`, "method, dataset"}},
		{newBoardCmd, []string{"--output", dir, "--where", "density=dense"}, []string{`--where "density=dense"`, "number"}},
		{newBoardCmd, []string{"--output", dir, "--where", "method=imp", "--where", "method=snip"}, []string{`"method=snip"`, `"method=imp"`}},
		{newBoardCmd, []string{"--output", dir, "--where", "method=snip"}, []string{"no results", "method=snip"}},
		{newBoardCmd, []string{"--output", dir, "--format", "html"}, []string{`--format "html"`, "table, markdown, csv"}},
		{newBoardCmd, []string{"--output", dir, "--by", "method,colour"}, []string{`--by "colour"`}},
		{newBoardCmd, []string{"--output", dir, "--sort", "accuracy"}, []string{`"accuracy"`}},
		{newBoardCmd, []string{"--output", filepath.Join(dir, "nothing")}, []string{"no results yet in", "nothing"}},
		{newPlotCmd, []string{"--output", dir}, []string{"-o FILE is required"}},
		{newPlotCmd, []string{"--output", dir, "-o", "p.pdf"}, []string{`".pdf"`, ".png, .svg"}},
		{newPlotCmd, []string{"--output", dir, "-o", png, "--metric", "oracle"}, []string{`--metric "oracle"`}},
		{newPlotCmd, []string{"--output", dir, "-o", png}, []string{"2 models", "--where model="}},
		{newPlotCmd, []string{"--output", dir, "-o", png, "--where", "model=mlp", "--by", "colour"}, []string{`--by "colour"`}},
	}
	for _, c := range cases {
		_, err := execBoard(t, c.cmd(), c.args...)
		wantError(t, fmt.Sprint(c.args), err, c.want...)
	}
	if _, err := os.Stat(png); err == nil {
		t.Errorf("a failed plot wrote %s", png)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Error("board created an output folder that did not exist")
	}
}

// TestBoardSpecKeys: over a learning-rate sweep of two replicates each, the
// default board has one row per rate with n = 2 and a training.lr column;
// --where and --by take spec keys; a misspelt key is refused with the
// closest name.
func TestBoardSpecKeys(t *testing.T) {
	out := runLRSweep(t)
	rows := func(args ...string) [][]string {
		t.Helper()
		got, err := run(t, append([]string{"board", "--output", out, "--format", "csv"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(got)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	col := func(recs [][]string, name string) []string {
		t.Helper()
		i := slices.Index(recs[0], name)
		if i < 0 {
			t.Fatalf("no column %q in %q", name, recs[0])
		}
		var vs []string
		for _, r := range recs[1:] {
			vs = append(vs, r[i])
		}
		return vs
	}
	all := rows()
	if lr, n := col(all, "training.lr"), col(all, "n"); !slices.Equal(lr, []string{"0.01", "0.05"}) || !slices.Equal(n, []string{"2", "2"}) {
		t.Errorf("default board: training.lr %q, n %q; want one row per rate with n = 2", lr, n)
	}
	// One experiment is left, so no key sets entries apart: the row is
	// the 0.05 row of the whole board.
	one := rows("--where", "training.lr=0.050")
	if acc := col(one, "best_test_acc_mean"); !slices.Equal(acc, col(all, "best_test_acc_mean")[1:]) {
		t.Errorf("--where training.lr=0.050: best_test_acc_mean %q, want the 0.05 row of %q", acc, col(all, "best_test_acc_mean"))
	}
	by := rows("--by", "training.lr")
	if lr, n := col(by, "training.lr"), col(by, "n"); !slices.Equal(lr, []string{"0.01", "0.05"}) || !slices.Equal(n, []string{"2", "2"}) {
		t.Errorf("--by training.lr: training.lr %q, n %q", lr, n)
	}
	for _, args := range [][]string{{"--by", "trainig.lr"}, {"--where", "trainig.lr=0.01"}} {
		_, err := run(t, append([]string{"board", "--output", out}, args...)...)
		if err == nil || !strings.Contains(err.Error(), `did you mean "training.lr"`) {
			t.Errorf("%v: %v, want the closest key", args, err)
		}
	}
}

// runLRSweep runs the tiny spec of writeSpec over two learning rates, two
// replicates each, and returns the output folder.
func runLRSweep(t *testing.T) string {
	t.Helper()
	spec, out := writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("replicates: 2\nsweep:\n  training.lr: [0.01, 0.05]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := run(t, "sweep", spec, "-q", "--jobs", "1"); err != nil {
		t.Fatal(err)
	}
	return out
}
