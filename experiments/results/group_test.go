package results

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sweepRows are the results of a sweep over learning rates: one method and
// density, two rates, three seeds each; every other setting equal.
func sweepRows() []Result {
	var rs []Result
	for _, lr := range []string{"0.1", "0.01"} {
		for seed := range 3 {
			acc := 0.90 + 0.01*float64(seed)
			if lr == "0.01" {
				acc -= 0.1
			}
			rs = append(rs, Result{
				SpecHash: fmt.Sprintf("lr%s", lr), Experiment: "exp-" + lr, Settings: `{"pipeline":"pai","training.lr":` + lr + `}`,
				Pipeline: "pai", Method: "snip", Model: "lenet", Dataset: "mnist", Level: 0,
				Replicate: seed, Seed: uint64(seed), Density: 0.1, BestTestAcc: acc, FinalTestAcc: acc,
				Finished: time.Unix(int64(seed), 0),
			})
		}
	}
	return rs
}

var sweepDefaults = map[string]string{"pipeline": "train", "training.lr": "0.0012", "training.batch_size": "60"}

// A learning-rate sweep gives one row per rate, with a training.lr column;
// by method and density (the old default) it would have been one row of n=6.
func TestBoardLearningRateSweep(t *testing.T) {
	gs, err := Aggregate(sweepRows(), nil, sweepDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].N != 3 || gs[1].N != 3 {
		t.Fatalf("%d groups (n %v): want 2 of n=3", len(gs), []int{gs[0].N})
	}
	var buf bytes.Buffer
	if err := WriteBoard(&buf, sweepRows(), BoardOptions{Format: "csv", SpecDefaults: sweepDefaults}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0][:6], ","); got != "experiment,method,model,dataset,training.lr,n" {
		t.Errorf("columns %s: want the varying training.lr after the describing ones (pipeline is the same everywhere)", got)
	}
	rates := map[string]string{}
	for _, r := range recs[1:] {
		rates[r[4]] = r[5]
	}
	if rates["0.1"] != "3" || rates["0.01"] != "3" || len(rates) != 2 {
		t.Errorf("rows by rate %v, want 0.1 and 0.01 with n=3", rates)
	}
	// Grouping by a spec key: a key a result leaves out has its default.
	gs, err = Aggregate(sweepRows(), []string{"training.batch_size", "training.lr"}, sweepDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].Keys["training.batch_size"] != "60" {
		t.Errorf("by spec keys: %d groups, batch size %q", len(gs), gs[0].Keys["training.batch_size"])
	}
	if _, err := Aggregate(sweepRows(), []string{"training.lrr"}, sweepDefaults); err == nil || !strings.Contains(err.Error(), "spec key") {
		t.Errorf("unknown spec key: %v", err)
	}
}

// A sweep over models shows the model once: model.name is what the model
// column says, not a setting column of its own; rows come in the order of
// the rates.
func TestBoardModelSweepShowsModelOnce(t *testing.T) {
	rs := sweepRows()
	for i := range rs {
		if strings.Contains(rs[i].Settings, "0.01") {
			rs[i].Model, rs[i].Settings = "lenet5", `{"pipeline":"pai","training.lr":0.01,"model.name":"lenet5"}`
		}
	}
	defaults := map[string]string{"pipeline": "train", "training.lr": "0.0012", "model.name": "lenet"}
	var buf bytes.Buffer
	if err := WriteBoard(&buf, rs, BoardOptions{Format: "csv", SpecDefaults: defaults, Sort: "training.lr"}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0][:6], ","); got != "experiment,method,model,dataset,training.lr,n" {
		t.Errorf("columns %s: want model once and the varying training.lr", got)
	}
	if len(recs) != 3 || recs[1][2] != "lenet5" || recs[2][2] != "lenet" {
		t.Errorf("rows %q: want lenet5 (lr 0.01) then lenet (lr 0.1)", recs[1:])
	}
}

// Results of one experiment and seed are one result, whichever runs and
// stores they come from: identical runs never make "± 0.00" replicates, and
// the latest result of a unit wins.
func TestBoardIdenticalRunsAreOneResult(t *testing.T) {
	rs := sweepRows()[:3] // one rate, seeds 0, 1, 2
	dup := sweepRows()[:3]
	for i := range dup {
		dup[i].SpecHash = "other" // the same settings run again under another name
		dup[i].Finished = dup[i].Finished.Add(time.Hour)
		dup[i].BestTestAcc += 0.001
	}
	gs, err := Aggregate(append(rs, dup...), nil, sweepDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].N != 3 {
		t.Fatalf("%d groups, n %d: want one of n=3 (three seeds)", len(gs), gs[0].N)
	}
	if got := gs[0].BestTestAcc.Mean; got != 0.911 {
		t.Errorf("mean %v: want the later results' 0.911", got)
	}
	one := append(sweepRows()[:1], sweepRows()[:1]...)
	var buf bytes.Buffer
	if err := WriteBoard(&buf, one, BoardOptions{SpecDefaults: sweepDefaults}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "± 0.00") || !strings.Contains(buf.String(), "(n=1)") {
		t.Errorf("two copies of one result show as replicates:\n%s", buf.String())
	}
}

// The replicates of one spec are one row with n = replicates.
func TestBoardReplicatesOfOneSpec(t *testing.T) {
	gs, err := Aggregate(sweepRows()[3:], nil, sweepDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].N != 3 || gs[0].Keys["method"] != "snip" || gs[0].Settings["training.lr"] != "0.01" {
		t.Errorf("groups %+v: want one snip row of n=3 at lr 0.01", gs)
	}
}

// A plot groups the same way: a sweep over learning rates draws one line
// per rate, named by it.
func TestPlotSplitsExperiments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lr.svg")
	if err := WritePlot(path, sweepRows(), PlotOptions{SpecDefaults: sweepDefaults}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"snip training.lr=0.1", "snip training.lr=0.01"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("plot has no line %q", want)
		}
	}
}

// TestWhereSettings: a spec key selects by the value a result's settings
// record, by the default where they leave it out, and by number value.
func TestWhereSettings(t *testing.T) {
	defaults := map[string]string{"training.lr": "0.1", "pipeline": "train"}
	rs := []Result{
		{SpecHash: "a", Settings: `{"training.lr":0.01}`},
		{SpecHash: "b", Settings: `{}`},
		{SpecHash: "c", Settings: `{"training.lr":0.1,"pipeline":"imp"}`},
	}
	for _, c := range []struct {
		filter map[string]string
		want   string
	}{
		{map[string]string{"training.lr": "0.01"}, "a"},
		{map[string]string{"training.lr": "0.10"}, "bc"},
		{map[string]string{"training.lr": "0.1", "pipeline": "imp"}, "c"},
		{map[string]string{"pipeline": "lottery"}, ""},
	} {
		got, err := WhereSettings(rs, c.filter, defaults)
		if err != nil {
			t.Fatal(err)
		}
		var hashes string
		for _, r := range got {
			hashes += r.SpecHash
		}
		if hashes != c.want {
			t.Errorf("%v: got %q, want %q", c.filter, hashes, c.want)
		}
	}
	if _, err := WhereSettings(rs, map[string]string{"training.lrr": "1"}, defaults); err == nil || !strings.Contains(err.Error(), `"training.lrr"`) {
		t.Errorf("unknown key: %v", err)
	}
}
