package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// A sweep that writes result files only (an array job's tasks) is
// collected into the store: the first Collect adds every result, the
// second changes nothing; a file that disagrees with the store is a
// conflict and the store keeps its row; a file in the wrong folder is not
// ingested.
func TestCollect(t *testing.T) {
	specs := tinySweep(t)
	out := specs[0].Output
	if _, err := RunSweep(context.Background(), specs, SweepOptions{NoStore: true}); err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(out, "results.db")
	if _, err := os.Stat(storePath); !os.IsNotExist(err) {
		t.Fatalf("a NoStore sweep made a store (%v)", err)
	}
	files, err := Uncollected(out, storePath)
	if err != nil || len(files) != 4 {
		t.Fatalf("Uncollected before collecting: %d files, %v; want 4", len(files), err)
	}
	st, err := results.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := Collect(out, st)
	if err != nil || rep.New != 4 || rep.Unchanged != 0 || len(rep.Conflicts)+len(rep.Bad) != 0 {
		t.Fatalf("first Collect: %+v, %v", rep, err)
	}
	rows, _ := st.Results(nil)
	for _, r := range rows {
		if r.Experiment == "" || r.Settings == "" {
			t.Errorf("collected row without its experiment: %+v", r)
		}
	}
	// Each row's curve comes along from its file.
	if err := st.FillCurves(rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		f, err := results.ReadFile(filepath.Join(out, r.SpecHash, fmt.Sprintf("replicate_%d", r.Replicate), "level_0", results.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Curve) == 0 {
			t.Fatalf("%s replicate %d: the result file has no curve", r.SpecHash, r.Replicate)
		}
		sameCurve(t, "a collected curve", r.Curve, f.Curve)
	}
	if rep, err = Collect(out, st); err != nil || rep.New != 0 || rep.Unchanged != 4 || rep.String() != "0 new, 4 unchanged, 0 conflicting" {
		t.Fatalf("second Collect: %+v (%s), %v", rep, rep, err)
	}
	if files, _ := Uncollected(out, storePath); len(files) != 0 {
		t.Errorf("Uncollected after collecting: %v", files)
	}

	// A file rewritten with another accuracy (a valid file, not the
	// store's) is a conflict; the store keeps its row.
	edited := filepath.Join(WorkUnits(specs)[0].Dir(), "level_0", results.FileName)
	r, err := results.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	before := r.BestTestAcc
	r.BestTestAcc = 0.5
	if err := results.WriteFile(edited, r); err != nil {
		t.Fatal(err)
	}
	if files, _ := Uncollected(out, storePath); len(files) != 1 || files[0] != edited {
		t.Errorf("Uncollected after an edit: %v, want %s", files, edited)
	}
	rep, err = Collect(out, st)
	if err != nil || rep.New != 0 || rep.Unchanged != 3 || len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0], edited) || !strings.Contains(rep.Conflicts[0], "best_test_acc") {
		t.Fatalf("Collect of an edited file: %+v, %v", rep, err)
	}
	got, _ := st.Results(map[string]string{"spec_hash": r.SpecHash, "replicate": "0"})
	if len(got) != 1 || got[0].BestTestAcc != before {
		t.Errorf("the store's row changed: %+v", got)
	}

	// A file whose metrics disagree with the store's row is a conflict too.
	m, err := results.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	m.BestTestAcc, m.Metrics = before, map[string]float64{"t_grok": 120}
	if err := results.WriteFile(edited, m); err != nil {
		t.Fatal(err)
	}
	rep, err = Collect(out, st)
	if err != nil || rep.New != 0 || len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0], "metrics") {
		t.Fatalf("Collect of a file with other metrics: %+v, %v", rep, err)
	}

	// A file copied into another unit's folder is refused by name.
	other := filepath.Join(WorkUnits(specs)[1].Dir(), "level_0", results.FileName)
	data, _ := os.ReadFile(edited)
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Collect(out, st)
	if err != nil || len(rep.Bad) != 1 || !strings.Contains(rep.Bad[0], other) || !strings.Contains(rep.Bad[0], "not to the folder it sits in") {
		t.Fatalf("Collect of a copied file: %+v, %v", rep, err)
	}
}

// StoreTime follows the WAL, where a writer's rows go first.
func TestStoreTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.db")
	if !StoreTime(path).IsZero() {
		t.Error("a missing store has a time")
	}
	os.WriteFile(path, nil, 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(path, old, old)
	os.WriteFile(path+"-wal", nil, 0o644)
	if got := StoreTime(path); got.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("StoreTime %v ignores the WAL", got)
	}
}
