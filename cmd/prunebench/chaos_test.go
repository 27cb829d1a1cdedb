package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestSweepSurvivesChaos kills a small sweep with SIGKILL at random moments,
// at least ten times on the same output folder, resuming it each time, then
// lets it finish. The store must pass SQLite's integrity check, hold every
// unit exactly once, and give the board of an uninterrupted sweep, bit for
// bit (the native engine is deterministic, and a killed unit resumes from
// its last checkpoint).
func TestSweepSurvivesChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a sweep a dozen times")
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "chaos.yaml")
	// Ten classes in nine dimensions keep the accuracies away from 100%, so
	// the board shows it if resuming changed any weight. Uninterrupted, the
	// sweep takes about 3 s on one core per job.
	yaml := `dataset: {name: synthetic, shape: [1, 3, 3], classes: 10, train_size: 480, test_size: 96, val_size: 96}
model: {name: mlp, widths: [64]}
training: {steps: 100ep, batch_size: 16, lr: 0.01, eval_every: 6it}
prune: {imp_rate: 0.5, imp_rounds: 2}
replicates: 2
sweep:
  pipeline: [train, imp]
`
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill moments drawn from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	chaos := filepath.Join(dir, "chaos")
	kills := 0 // on the current output folder
	for try := 1; kills < 10; try++ {
		if try > 60 {
			t.Fatalf("%d tries gave no ten kills in a row: make the sweep longer", try-1)
		}
		cmd := exec.Command(os.Args[0], "sweep", spec, "-q", "--jobs", "2", "--set", "output="+chaos)
		cmd.Env = append(os.Environ(), "PRUNEBENCH_RUN_MAIN=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the sweep failed on its own after %d kills: %v\n%s", kills, err, out.String())
			}
			// It finished before ten kills: start over from nothing, so
			// that every kill counted lands on the store compared below.
			t.Logf("the sweep finished after %d kills; starting over", kills)
			if err := os.RemoveAll(chaos); err != nil {
				t.Fatal(err)
			}
			kills = 0
		case <-time.After(time.Duration(30+rng.IntN(300)) * time.Millisecond):
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			<-done
			kills++
		}
	}
	if _, err := run(t, "sweep", spec, "-q", "--jobs", "2", "--set", "output="+chaos); err != nil {
		t.Fatalf("the last resume: %v", err)
	}
	clean := filepath.Join(dir, "clean")
	if _, err := run(t, "sweep", spec, "-q", "--jobs", "2", "--set", "output="+clean); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", filepath.Join(chaos, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q (err %v)", check, err)
	}
	var rows, units int
	db.QueryRow("SELECT count(*), count(DISTINCT spec_hash || '/' || replicate || '/' || level || '/' || branch) FROM results").Scan(&rows, &units)
	db.Close()
	// train: 2 replicates × level 0; imp: 2 replicates × levels 0, 1, 2.
	if rows != 8 || units != 8 {
		t.Errorf("%d rows of %d units, want 8 of 8", rows, units)
	}
	got, want := boardCSV(t, chaos), boardCSV(t, clean)
	if got != want {
		t.Errorf("the board after %d kills differs from the uninterrupted one:\n%s\nwant\n%s", kills, got, want)
	}
}

// boardCSV is the board of an output folder as CSV without the wall time,
// the one column that differs between two runs of the same work.
func boardCSV(t *testing.T, output string) string {
	t.Helper()
	out, err := run(t, "board", "--output", output, "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("board: %v\n%s", err, out)
	}
	wall := slices.Index(recs[0], "wall_s_mean")
	var b strings.Builder
	for _, r := range recs {
		if wall >= 0 {
			r = slices.Delete(slices.Clone(r), wall, wall+1)
		}
		fmt.Fprintln(&b, strings.Join(r, ","))
	}
	return b.String()
}
