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
	r.Metrics["t_grok"] = math.NaN() // not reached
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
	// Diff leaves the curve out: compare it, and the NaNs, field by field.
	if d, ok := sameResult(got, want); !ok {
		t.Errorf("round trip changed %s", d)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\nchecksum: ") {
		t.Errorf("no checksum line:\n%s", data)
	}
	// One line per curve point; NaN as YAML writes it.
	for _, want := range []string{"\n    - {step: 100, train_loss: 1, train_acc: .nan, val_loss: 1.1, ", "\n    t_grok: .nan\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the file lacks %q:\n%s", want, data)
		}
	}
	// A file without metrics and curve (older ones) has neither key.
	old := fileResult()
	old.Metrics, old.Curve = nil, nil
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), "metrics") || strings.Contains(string(data), "curve") {
		t.Errorf("a result without metrics or curve writes them:\n%s", data)
	}
	if got, err := ReadFile(path); err != nil || got.Metrics != nil || got.Curve != nil {
		t.Errorf("reading it back: %v, %v, %v", err, got.Metrics, got.Curve)
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

	// Metrics compare as stored: NaN equals NaN, a changed or missing
	// metric differs; the curve is not compared.
	a, b = fileResult(), fileResult()
	b.Curve = b.Curve[:1]
	b.Curve[0].TestAcc = 0.1
	if d := Diff(a, b); d != "" {
		t.Errorf("results that differ in their curves only: %s", d)
	}
	for name, mod := range map[string]func(*Result){
		"changed":   func(r *Result) { r.Metrics["t_mem"] = 401 },
		"reached":   func(r *Result) { r.Metrics["t_grok"] = 2000 },
		"missing":   func(r *Result) { delete(r.Metrics, "grokked") },
		"none":      func(r *Result) { r.Metrics = nil },
		"one extra": func(r *Result) { r.Metrics["delay"] = 1400 },
	} {
		b := fileResult()
		mod(&b)
		if d := Diff(a, b); !strings.HasPrefix(d, "metrics: ") {
			t.Errorf("metrics %s: diff %q, want one on metrics", name, d)
		}
	}
	if d := Diff(Result{Metrics: map[string]float64{}}, Result{}); d != "" {
		t.Errorf("empty and nil metrics differ: %s", d)
	}
}
