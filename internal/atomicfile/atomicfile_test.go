package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.yaml")
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("old"); return err }); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the old content and no temporary file.
	boom := errors.New("boom")
	if err := Write(path, func(f *os.File) error { f.WriteString("half"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want %q", b, "old")
	}
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("file holds %q, want %q", b, "new")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1 (temporary files left behind)", len(entries))
	}
}

// TestWriteNames: temporary files are named with TempPrefix and a random
// part, so that two writers of one folder never collide and Clean finds
// what a killed one left.
func TestWriteNames(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		f, err := create(dir)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		name := filepath.Base(f.Name())
		if !strings.HasPrefix(name, TempPrefix) || len(name) <= len(TempPrefix) {
			t.Errorf("temporary file %q does not start with %q and a random part", name, TempPrefix)
		}
		if seen[name] {
			t.Errorf("temporary name %q was given twice", name)
		}
		seen[name] = true
	}
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".tmp-0123abcd", ".tmp-jackpot-42", ".checkpoint-991"}
	keep := []string{"result.yaml", "checkpoint.gob", "tmp-not-hidden", ".tmpx"}
	for _, name := range append(append([]string{}, stale...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder with a temporary-looking name is not a temporary file.
	if err := os.Mkdir(filepath.Join(dir, ".tmp-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".tmp-folder")
	if err := Clean(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(keep)
	if !slices.Equal(got, keep) {
		t.Errorf("after Clean the folder holds %q, want %q", got, keep)
	}
	if err := Clean(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("Clean of a missing folder: %v, want nil", err)
	}
}

// TestCleanAfterKilledWrite: a temporary file left by a writer that died
// between create and rename is removed by Clean, and Write then works.
func TestCleanAfterKilledWrite(t *testing.T) {
	dir := t.TempDir()
	f, err := create(dir) // what a killed Write leaves behind
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	f.Close()
	if err := Clean(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "spec.yaml")
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("whole"); return err }); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "spec.yaml" {
		t.Errorf("folder holds %v, want only spec.yaml", entries)
	}
}

// CleanOlder leaves a temporary file that may belong to a writer still at
// work, and removes one older than the age.
func TestCleanOlder(t *testing.T) {
	dir := t.TempDir()
	fresh, old := filepath.Join(dir, ".tmp-fresh"), filepath.Join(dir, ".tmp-old")
	for _, p := range []string{fresh, old} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	if err := CleanOlder(dir, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the fresh temporary file is gone: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old temporary file is still there: %v", err)
	}
}
