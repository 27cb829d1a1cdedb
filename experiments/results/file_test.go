package results

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fileResult() Result {
	r := result("0123456789ab", 1, 2, "")
	r.Experiment, r.Settings = "fedcba987654", `{"pipeline":"imp"}`
	r.BestValLoss = math.NaN()
	return r
}

func TestResultFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	want := fileResult()
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(got, want); d != "" {
		t.Errorf("round trip changed %s", d)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\nchecksum: ") {
		t.Errorf("no checksum line:\n%s", data)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A result file cut short at any byte, or with any byte changed, is an
// error that names the file: it is never believed.
func TestResultFileDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := WriteFile(path, fileResult()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	bad := filepath.Join(dir, "bad.yaml")
	for n := 0; n < len(data)-1; n++ { // the trailing newline may go
		os.WriteFile(bad, data[:n], 0o644)
		if _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Fatalf("cut to %d of %d bytes: %v", n, len(data), err)
		}
	}
	for _, at := range []int{0, 10, len(data) / 2, len(data) - 30} {
		flipped := append([]byte(nil), data...)
		flipped[at] ^= 0x01
		os.WriteFile(bad, flipped, 0o644)
		if _, err := ReadFile(bad); err == nil {
			t.Errorf("byte %d changed: accepted", at)
		}
	}
}

// A file of a version without checksums (no format line, no experiment) is
// read when it is complete, and refused when it is cut short (its last
// field, finished, is gone).
func TestResultFileWithoutChecksum(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := WriteFile(path, fileResult()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	old := data[len("format: 2\n"):strings.Index(string(data), "experiment:")]
	os.WriteFile(path, old, 0o644)
	if _, err := ReadFile(path); err != nil {
		t.Errorf("complete file without checksum: %v", err)
	}
	cut := old[:strings.Index(string(old), "finished:")]
	os.WriteFile(path, cut, 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "finished") {
		t.Errorf("cut short before finished: %v", err)
	}
	os.WriteFile(path, nil, 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("empty file: %v", err)
	}
}

func TestDiff(t *testing.T) {
	a, b := fileResult(), fileResult()
	if d := Diff(a, b); d != "" {
		t.Errorf("equal results differ: %s", d)
	}
	b.BestTestAcc = 0.5
	if d := Diff(a, b); !strings.HasPrefix(d, "best_test_acc: ") {
		t.Errorf("diff %q", d)
	}
	if d := Diff(a, b, "best_test_acc"); d != "" {
		t.Errorf("ignored column still differs: %s", d)
	}
}
