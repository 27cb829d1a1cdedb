package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// TestSweptSettings: the sweep table names each run by the keys that set
// it apart, with values as a spec writes them (pointer fields print their
// values), the default where a run leaves a key unset, and "-" where its
// pipeline does not read the key.
func TestSweptSettings(t *testing.T) {
	parse := func(text string) experiments.SweepOutcome {
		s, err := experiments.ParseSpec("t.yaml", []byte(text), nil)
		if err != nil {
			t.Fatal(err)
		}
		return experiments.SweepOutcome{Spec: s}
	}
	lr := experiments.KeyDefaults()["training.lr"]
	outcomes := []experiments.SweepOutcome{
		parse("pipeline: pai\nprune: {density: 0.05, criterion: snip}\n"),
		parse("pipeline: pai\nprune: {density: 0.05, criterion: snip}\ntraining: {lr: 0.5}\n"),
		parse("pipeline: train\n"),
	}
	want := []string{
		"pipeline=pai prune.criterion=snip prune.density=0.05 training.lr=" + lr,
		"pipeline=pai prune.criterion=snip prune.density=0.05 training.lr=0.5",
		"pipeline=train prune.criterion=- prune.density=- training.lr=" + lr,
	}
	if got := sweptSettings(outcomes); !slices.Equal(got, want) {
		t.Errorf("sweptSettings:\n got %q\nwant %q", got, want)
	}
	if got := sweptSettings(outcomes[1:2]); len(got) != 1 || !strings.Contains(got[0], "training.lr=0.5") || !strings.Contains(got[0], "prune.density=0.05") {
		t.Errorf("one point: %q, want all its settings", got)
	}
}

// A sweep that mixes pipelines says once, before it trains, that a key of
// the file applies only to the points whose pipeline reads it; a stray key
// in a single run is refused by name before anything is named or trained.
func TestSweepCommandNotes(t *testing.T) {
	spec, out := writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("prune: {density: 0.5}\nsweep:\n  pipeline: [train, imp]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"sweep", spec, "-q"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if got := strings.Count(stderr.String(), "note: "); got != 1 || !strings.Contains(stderr.String(), "note: prune.density applies to 1 of 2 points") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if rs, _ := filepath.Glob(filepath.Join(out, "*", "replicate_0", "level_*", "result.yaml")); len(rs) != 3 {
		t.Errorf("%d results, want 3 (train: level 0; imp: levels 0 and 1)", len(rs))
	}

	single := filepath.Join(t.TempDir(), "stray.yaml")
	if err := os.WriteFile(single, []byte("prune: {density: 0.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "run", single, "-q"); err == nil || err.Error() != "pipeline train does not read prune.density (remove it, or use pipeline bip, dst, gmp, granet, imp, jackpot, narrow, pai or rps)" {
		t.Errorf("stray key: %v", err)
	}
}

// A sweep point that does not validate is named by its settings, written as
// a spec writes them (no Go map or pointer), before anything is written.
func TestSweepInvalidPointMessage(t *testing.T) {
	spec, out := writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("pipeline: pai\nprune: {density: 0.05, criterion: snip}\nsweep:\n  training.lr: [0.01, -1]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = run(t, "sweep", spec, "-q")
	if err == nil {
		t.Fatal("a sweep with lr -1 ran")
	}
	msg := err.Error()
	for _, want := range []string{"point 1 (", "training.lr=-1", "prune.density=0.05", "prune.criterion=snip", "model.widths=[8]", "dataset.shape=[1,4,4]", "training.lr"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	for _, bad := range []string{"map[", "0x", "*float64", "experiments."} {
		if strings.Contains(msg, bad) {
			t.Errorf("%q shows Go's %q", msg, bad)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("an invalid sweep created %s", out)
	}
}
