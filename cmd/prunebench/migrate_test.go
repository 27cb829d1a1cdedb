package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
)

// TestMigrateCommand: a store of schema version 1 (no experiment or
// settings, no metrics or curves) is refused by board with the command that migrates it; migrate
// brings it up to date, names each result's experiment from its run's
// spec.yaml, and gives back the board of a store written by this build;
// migrating again changes nothing.
func TestMigrateCommand(t *testing.T) {
	out := runLRSweep(t)
	want := boardCSV(t, out)
	if !strings.Contains(want, "training.lr") {
		t.Fatalf("the board of an lr sweep has no training.lr column:\n%s", want)
	}

	// Take the store back to version 1, as an older prunebench wrote it.
	path := filepath.Join(out, storeFile)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP TABLE curves",
		"ALTER TABLE results DROP COLUMN metrics",
		"DROP INDEX results_experiment",
		"ALTER TABLE results DROP COLUMN experiment",
		"ALTER TABLE results DROP COLUMN settings",
		"PRAGMA user_version = 1",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if results.SchemaVersion() != 3 {
		t.Fatalf("this test builds a version 1 store by undoing migrations 3 and 2; the schema is at version %d: undo the newer migrations too", results.SchemaVersion())
	}

	_, err = run(t, "board", "--output", out)
	if err == nil || !strings.Contains(err.Error(), "prunebench migrate --output "+out) {
		t.Fatalf("board of a version 1 store: %v, want the migrate command", err)
	}
	// A run whose spec.yaml is gone keeps its results unnamed, with a
	// warning; once the file is back, a second migrate names them.
	specs, _ := filepath.Glob(filepath.Join(out, "*", "spec.yaml"))
	if len(specs) != 2 {
		t.Fatalf("%d spec.yaml files, want 2", len(specs))
	}
	if err := os.Rename(specs[0], specs[0]+".away"); err != nil {
		t.Fatal(err)
	}
	got, stderr, err := runWithStderr(t, "migrate", "--output", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"schema version 1 → 3", "named the experiment of 2 results"} {
		if !strings.Contains(got, w) {
			t.Errorf("migrate printed %q, want %q", got, w)
		}
	}
	if run := filepath.Base(filepath.Dir(specs[0])); !strings.Contains(stderr, "not named") || !strings.Contains(stderr, run) {
		t.Errorf("migrate without run %s's spec.yaml warned %q", run, stderr)
	}
	if err := os.Rename(specs[0]+".away", specs[0]); err != nil {
		t.Fatal(err)
	}
	got, err = run(t, "migrate", "--output", out)
	if err != nil || !strings.Contains(got, "already current") || !strings.Contains(got, "named the experiment of 2 results") {
		t.Errorf("migrate with the spec.yaml back: %q, %v", got, err)
	}
	if b := boardCSV(t, out); b != want {
		t.Errorf("the board after migrate:\n%s\nwant\n%s", b, want)
	}
	got, err = run(t, "migrate", "--output", out)
	if err != nil || !strings.Contains(got, "already current") || !strings.Contains(got, "named the experiment of 0 results") {
		t.Errorf("migrating again: %q, %v", got, err)
	}
	if b := boardCSV(t, out); b != want {
		t.Errorf("the board after migrating twice:\n%s\nwant\n%s", b, want)
	}

	if _, err := run(t, "migrate", "--output", filepath.Join(out, "nothing")); err == nil || !strings.Contains(err.Error(), "no results yet in") {
		t.Errorf("migrate of a missing store: %v", err)
	}
}
