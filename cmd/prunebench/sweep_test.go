package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// A sweep point that does not validate is named by the settings that set
// it apart from the other points, written as a spec writes them (no Go map
// or pointer), before anything is written.
func TestSweepInvalidPointMessage(t *testing.T) {
	spec, out := writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("pipeline: pai\nprune: {criterion: snip}\nsweep:\n  prune.density: [0.05, -1]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = run(t, "sweep", spec, "-q")
	if err == nil {
		t.Fatal("a sweep with density -1 ran")
	}
	msg := err.Error()
	for _, want := range []string{"1 of 2 points are not valid", "point 1 (prune.density=-1): prune.density"} {
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
