package experiments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
)

func TestParseSweepProductAndZip(t *testing.T) {
	base := "model:\n  name: mlp\n"
	cases := []struct {
		name, sweep string
		want        []string // "lr seed" of each run, sorted
	}{
		{"product", "sweep:\n  training.lr: [0.1, 0.01]\n  seed: [1, 2]\n",
			[]string{"0.01 1", "0.01 2", "0.1 1", "0.1 2"}},
		{"nested keys", "sweep:\n  training:\n    lr: [0.1, 0.01]\n",
			[]string{"0.01 0", "0.1 0"}},
		{"zip", "sweep:\n  training.lr: [0.1, 0.01]\n  seed: [1, 2]\nsweep_mode: zip\n",
			[]string{"0.01 2", "0.1 1"}},
		{"duplicates kept once", "sweep:\n  training.lr: [0.1, 0.1]\n", []string{"0.1 0"}},
		{"no sweep block", "", []string{"0.0012 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sw, err := ParseSweep("s.yaml", []byte(base+c.sweep), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sw.Specs {
				if s.Model.Name != "mlp" {
					t.Errorf("a sweep point lost the base spec: model %q", s.Model.Name)
				}
				got = append(got, strings.TrimSpace(fmtFloat(s.Training.LR)+" "+fmtUint(s.Seed)))
			}
			sort.Strings(got)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("runs %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseSweepErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"sweep:\n  training.lrr: [1]\n", `did you mean "training.lr"`},
		{"sweep:\n  training.lr: 0.1\n", "want a non-empty list"},
		{"sweep:\n  training.lr: [0.1]\n  seed: [1, 2]\nsweep_mode: zip\n", "one length"},
		{"sweep:\n  training.lr: [0.1]\nsweep_mode: grid\n", "product or zip"},
		{"sweep:\n  output: [a, b]\n", "one output folder"},
		{"sweep:\n  training.batch_size: [8, x]\n", "batch_size"},
		{"sweep: [1, 2]\n", "must map keys"},
	}
	for _, c := range cases {
		if _, err := ParseSweep("s.yaml", []byte(c.yaml), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.yaml, err, c.want)
		}
	}
	// A sweep file given to ParseSpec (prunebench run) points to sweep.
	if _, err := ParseSpec("s.yaml", []byte("sweep:\n  seed: [1, 2]\n"), nil); err == nil || !strings.Contains(err.Error(), "prunebench sweep") {
		t.Errorf("ParseSpec on a sweep: %v", err)
	}
}

// TestRunSweepKeepsGoing runs a sweep in which one point cannot load its data:
// the others finish, the failure is reported, and a second call resumes
// (finds everything that finished).
func TestRunSweepKeepsGoing(t *testing.T) {
	out := t.TempDir()
	good := tinySpec()
	good.Output = out
	other := good
	other.Training.LR = 0.02
	bad := good
	bad.Dataset = DatasetSpec{Name: "cifar10", Dir: filepath.Join(out, "no-such-dir"), Augment: "default"}
	specs := []Spec{good, bad, other}
	var progress []float64
	outs, err := RunSweep(context.Background(), specs, SweepOptions{Jobs: 2, Progress: func(_ int, f float64) { progress = append(progress, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || outs[2].Err != nil || len(outs[0].Results) != 1 || len(outs[2].Results) != 1 {
		t.Fatalf("good runs: %+v / %+v", outs[0].Err, outs[2].Err)
	}
	if outs[1].Err == nil || !strings.Contains(outs[1].Err.Error(), "no-such-dir") {
		t.Errorf("bad run error %v, want one naming the missing folder", outs[1].Err)
	}
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
	st, err := results.Open(filepath.Join(out, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(nil)
	if err != nil || len(rs) != 2 {
		t.Fatalf("store has %d results (err %v), want 2", len(rs), err)
	}
	again, err := RunSweep(context.Background(), []Spec{good}, SweepOptions{Jobs: 1})
	if err != nil || again[0].Err != nil || again[0].Results[0].Finished != outs[0].Results[0].Finished {
		t.Errorf("resuming the sweep retrained a finished run (err %v)", err)
	}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
func fmtUint(v uint64) string   { return strconv.FormatUint(v, 10) }

// A sweep checks every point before anything runs and lists every bad one
// with its key: one NaN does not hide the others, and a valid point does
// not start while another is bad.
func TestSweepListsEveryBadPoint(t *testing.T) {
	_, err := ParseSweep("s.yaml", []byte("sweep:\n  training.lr: [.nan, 0.1, x]\n"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"2 of 3 sweep points", `point 0 (training.lr=NaN)`, `training.lr = "NaN": want a finite number`, `point 2 (training.lr=x)`, `training.lr = "x": want a number`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	out := filepath.Join(t.TempDir(), "runs")
	sw, err := ParseSweep("s.yaml", []byte("output: "+out+"\nsweep:\n  training.batch_size: [0, 12, -1]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunSweep(context.Background(), sw.Specs, SweepOptions{Jobs: 1})
	if err == nil {
		t.Fatal("RunSweep ran a sweep with bad points")
	}
	for _, want := range []string{"2 of 3 points are not valid; nothing ran", "point 0 (training.batch_size=0)", "point 2 (training.batch_size=-1)", "training.batch_size = -1: want at least 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output folder exists after a refused sweep: %v", err)
	}
}

// TestSweptSettings: sweep tables and messages name each point by the
// keys that set it apart, with values as a spec writes them (pointer fields print their
// values), the default where a run leaves a key unset, and "-" where its
// pipeline does not read the key.
func TestSweptSettings(t *testing.T) {
	parse := func(text string) Spec {
		s, err := ParseSpec("t.yaml", []byte(text), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	lr := KeyDefaults()["training.lr"]
	specs := []Spec{
		parse("pipeline: pai\nprune: {density: 0.05, criterion: snip}\n"),
		parse("pipeline: pai\nprune: {density: 0.05, criterion: snip}\ntraining: {lr: 0.5}\n"),
		parse("pipeline: train\n"),
	}
	want := []string{
		"pipeline=pai prune.criterion=snip prune.density=0.05 training.lr=" + lr,
		"pipeline=pai prune.criterion=snip prune.density=0.05 training.lr=0.5",
		"pipeline=train prune.criterion=- prune.density=- training.lr=" + lr,
	}
	if got := SweptSettings(specs); !slices.Equal(got, want) {
		t.Errorf("sweptSettings:\n got %q\nwant %q", got, want)
	}
	if got := SweptSettings(specs[1:2]); len(got) != 1 || !strings.Contains(got[0], "training.lr=0.5") || !strings.Contains(got[0], "prune.density=0.05") {
		t.Errorf("one point: %q, want all its settings", got)
	}
}
