package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/spf13/cobra"
)

// lsBase is when the first result of lsStore finished.
var lsBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// lsStore writes a store with three runs and returns the output folder:
//   - abc123000000: IMP on lenet-300-100/mnist, replicates 0 and 1, levels
//     0-3, a random-reinit branch at level 2, finished last;
//   - abd456000000: dense resnet-20 on cifar10, one replicate, level 0,
//     finished first, a NaN final accuracy;
//   - f00000000000: SNIP levels 1 and 3 only (a gap), finished in between.
func lsStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	st, err := results.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(hash, pipeline, method, model, dataset string, rep, level int, branch string, d, acc float64, finished time.Duration) {
		t.Helper()
		err := st.Put(results.Result{
			SpecHash: hash, Pipeline: pipeline, Method: method, Dataset: dataset, Model: model, Backend: "native",
			Replicate: rep, Seed: uint64(rep), Level: level, Branch: branch,
			Density: d, Sparsity: 1 - d, Compression: 1 / d,
			ParamsTotal: 266610, ParamsNonzero: int64(math.Round(266610 * d)), FLOPsDense: 532000, FLOPsNonzero: int64(math.Round(532000 * d)),
			BestIter: 1200 + level, BestTestAcc: acc, FinalTestAcc: acc - 0.0042, Iterations: 2000,
			Wall: 83*time.Second + 400*time.Millisecond, Version: "v0.3.0", Finished: lsBase.Add(finished),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("abd456000000", "dense", "dense", "resnet-20", "cifar10", 0, 0, "", 1, math.NaN(), 0)
	for rep := range 2 {
		d := 1.0
		for level := range 4 {
			method := "imp"
			if level == 0 {
				method = "dense"
			}
			put("abc123000000", "imp", method, "lenet-300-100", "mnist", rep, level, "", d, 0.98-0.01*float64(level), time.Duration(10+rep*4+level)*time.Hour)
			d *= 0.8
		}
	}
	put("abc123000000", "imp", "random-reinit", "lenet-300-100", "mnist", 0, 2, "reinit", 0.64, 0.9512, 11*time.Hour)
	put("f00000000000", "snip", "snip", "lenet-300-100", "mnist", 0, 1, "", 0.1, 0.95, 5*time.Hour)
	put("f00000000000", "snip", "snip", "lenet-300-100", "mnist", 0, 3, "", 0.01, 0.90, 6*time.Hour)
	return dir
}

// execLs runs a command built by newLsCmd or newShowCmd.
func execLs(t *testing.T, cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// lsLine returns the line of out that contains s.
func lsLine(t *testing.T, out, s string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	t.Fatalf("no line with %q in\n%s", s, out)
	return ""
}

func containsAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func TestLsCommand(t *testing.T) {
	wholeTables(t)
	dir := lsStore(t)
	out, _, err := execLs(t, newLsCmd(), "--output", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prunebench ls:\n%s", out)
	containsAll(t, "header", out, "run", "pipeline", "model", "dataset", "methods", "levels", "replicates", "results", "last finished")
	last := func(h time.Duration) string { return lsBase.Add(h).Local().Format(lsTimeLayout) }
	containsAll(t, "imp line", lsLine(t, out, "abc123000000"),
		"imp", "lenet-300-100", "mnist", "dense, imp, random-reinit", "0-3", " 2 ", " 9 ", last(17*time.Hour))
	containsAll(t, "dense line", lsLine(t, out, "abd456000000"), "dense", "resnet-20", "cifar10", " 0 ", " 1 ", last(0))
	containsAll(t, "snip line", lsLine(t, out, "f00000000000"), "snip", "1,3", last(6*time.Hour))
	// The newest run is last.
	if a, b, c := strings.Index(out, "abd456"), strings.Index(out, "f00000"), strings.Index(out, "abc123"); !(a < b && b < c) {
		t.Errorf("runs not in order of last finish (abd456, f00000, abc123):\n%s", out)
	}

	// --where selects results, and so runs and their counts.
	out, _, err = execLs(t, newLsCmd(), "--output", dir, "--where", "dataset=mnist", "--where", "density=0.64")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "abd456") || strings.Contains(out, "f00000") {
		t.Errorf("--where dataset=mnist --where density=0.64 kept other runs:\n%s", out)
	}
	containsAll(t, "filtered imp line", lsLine(t, out, "abc123000000"), "imp, random-reinit", " 2 ", " 3 ")

	_, stderr, err := execLs(t, newLsCmd(), "--output", dir, "--where", "method=obd")
	if err != nil || !strings.Contains(stderr, "match --where method=obd") {
		t.Errorf("no match: err %v, stderr %q", err, stderr)
	}
}

func TestLsCommandErrors(t *testing.T) {
	dir := lsStore(t)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--where", "density"}, []string{`--where "density"`, "key=value"}},
		{[]string{"--where", "densty=0.2"}, []string{`"densty"`, `did you mean "density"`, "spec_hash"}},
		{[]string{"--where", "density=half"}, []string{"density", "number"}},
		{[]string{"--where", "level=1", "--where", "level=2"}, []string{"contradicts"}},
		{[]string{"extra"}, []string{"unknown command"}},
	}
	for _, c := range cases {
		_, _, err := execLs(t, newLsCmd(), append([]string{"--output", dir}, c.args...)...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		containsAll(t, "error", err.Error(), c.want...)
	}
}

func TestLsMissingStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs")
	path := filepath.Join(dir, "results.db")
	want := "no results yet in " + path + "; run `prunebench run SPEC.yaml` first"

	// ls: an empty listing and the message, not an error.
	out, stderr, err := execLs(t, newLsCmd(), "--output", dir)
	if err != nil || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("ls without a store: err %v, stdout %q, stderr %q; want no error, nothing and %q", err, out, stderr, want)
	}
	// show: an error.
	_, _, err = execLs(t, newShowCmd(), "abc", "--output", dir)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("show without a store: %v, want %q", err, want)
	}
	// Neither creates the store or its folder.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s exists after ls and show: %v", dir, err)
	}

	// A store with no rows is an empty listing too.
	st, err := results.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, stderr, err = execLs(t, newLsCmd(), "--output", dir)
	if err != nil || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("ls of an empty store: err %v, stdout %q, stderr %q", err, out, stderr)
	}
}

func TestLsCorruptStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.db")
	os.WriteFile(path, []byte("this is not a database, it is a note"), 0o644)
	for _, cmd := range []*cobra.Command{newLsCmd(), newShowCmd()} {
		args := []string{"--output", dir}
		if cmd.Name() == "show" {
			args = append(args, "abc")
		}
		_, _, err := execLs(t, cmd, args...)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a SQLite database") {
			t.Errorf("%s of a corrupt store: %v", cmd.Name(), err)
		}
	}
}

func TestShowCommand(t *testing.T) {
	wholeTables(t)
	dir := lsStore(t)
	out, _, err := execLs(t, newShowCmd(), "abc1", "--output", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prunebench show abc1:\n%s", out)
	containsAll(t, "title", strings.SplitN(out, "\n", 2)[0], "run abc123000000", "imp", "lenet-300-100 on mnist", "native", "v0.3.0")
	containsAll(t, "header", out, "rep", "level", "branch", "density", "sparsity", "compression",
		"nonzero / params", "nonzero FLOPs", "best iter", "test acc @best", "test acc @end", "wall")
	if n := strings.Count(out, "lenet") + strings.Count(out, "abd456"); n != 1 {
		t.Errorf("show printed other runs or repeated the title:\n%s", out)
	}
	// Replicate 0, level 2, and its branch (density 0.8² = 0.64).
	containsAll(t, "level 2 branch", lsLine(t, out, "reinit"),
		"random-reinit", "0.64", "0.36", "1.562", "170630 / 266610", "340480", "1202", "95.12%", "94.70%", "1m23s")
	containsAll(t, "level 3", lsLine(t, out, "0.512"), "0.488", "1.953", "136504 / 266610", "1203", "95.00%", "94.58%")
	if n := strings.Count(out, "0.512"); n != 2 {
		t.Errorf("level 3 appears %d times, want 2 (two replicates):\n%s", n, out)
	}

	out, _, err = execLs(t, newShowCmd(), "abd456000000", "--output", dir)
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "dense run", out, "resnet-20 on cifar10", "—", "266610 / 266610")

	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"ab"}, []string{"ambiguous", "abc123000000", "abd456000000", filepath.Join(dir, "results.db")}},
		{[]string{"zzz"}, []string{`no run "zzz"`, filepath.Join(dir, "results.db")}},
		{[]string{}, []string{"accepts 1 arg"}},
		{[]string{"abc", "abd"}, []string{"accepts 1 arg"}},
	}
	for _, c := range cases {
		_, _, err := execLs(t, newShowCmd(), append(c.args, "--output", dir)...)
		if err == nil {
			t.Errorf("show %v: no error", c.args)
			continue
		}
		containsAll(t, "error", err.Error(), c.want...)
	}
}

func TestLsRanges(t *testing.T) {
	cases := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{3, 0, 1, 2}, "0-3"},
		{[]int{0, 2, 3, 5, 7, 8, 9}, "0,2-3,5,7-9"},
	}
	for _, c := range cases {
		set := map[int]bool{}
		for _, x := range c.in {
			set[x] = true
		}
		if got := lsRanges(set); got != c.want {
			t.Errorf("lsRanges(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
