package experiments

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
)

// TestRunSpecDeletedFolder deletes a finished run's folder by hand: running
// again is an error that names the folder and keeps the stored result, and
// with Rerun the level is trained anew and its result replaced.
func TestRunSpecDeletedFolder(t *testing.T) {
	s := tinySpec()
	s.Output = t.TempDir()
	s.Replicates = 2
	first, err := RunSpec(context.Background(), s, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Seed == first[1].Seed {
		t.Fatalf("results %+v: want two replicates with their own seeds", first)
	}
	rep1 := filepath.Join(s.Output, Hash(s), "replicate_1")
	if err := os.RemoveAll(rep1); err != nil {
		t.Fatal(err)
	}
	_, err = RunSpec(context.Background(), s, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), rep1) || !strings.Contains(err.Error(), "--rerun") {
		t.Fatalf("error %v, want one naming %s and --rerun", err, rep1)
	}
	st, err := results.Open(filepath.Join(s.Output, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := st.Results(map[string]string{"replicate": "1"})
	st.Close()
	if err != nil || len(kept) != 1 || !kept[0].Finished.Equal(first[1].Finished) {
		t.Fatalf("stored result of replicate 1 changed: %+v (err %v)", kept, err)
	}
	again, err := RunSpec(context.Background(), s, RunOptions{Rerun: true})
	if err != nil {
		t.Fatal(err)
	}
	// Training is deterministic: the rerun reproduces the deleted result.
	if len(again) != 2 || again[1].BestTestLoss != first[1].BestTestLoss || again[0].Finished != first[0].Finished {
		t.Errorf("rerun results %+v, first %+v", again, first)
	}
	if _, err := os.Stat(filepath.Join(rep1, "level_0", results.FileName)); err != nil {
		t.Errorf("rerun did not restore the folder: %v", err)
	}
}

// TestRunSpecJobs: replicates trained in parallel give the results of the
// sequential run, in replicate order.
func TestRunSpecJobs(t *testing.T) {
	var got [2][]results.Result
	for k, jobs := range []int{1, 3} {
		s := tinySpec()
		s.Replicates = 3
		s.Output = t.TempDir()
		rs, err := RunSpec(context.Background(), s, RunOptions{Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		got[k] = rs
	}
	if len(got[0]) != 3 || len(got[1]) != 3 {
		t.Fatalf("%d and %d results, want 3", len(got[0]), len(got[1]))
	}
	for i := range got[0] {
		a, b := got[0][i], got[1][i]
		if a.Replicate != i || b.Replicate != i || a.FinalTestLoss != b.FinalTestLoss || a.BestIter != b.BestIter {
			t.Errorf("replicate %d: sequential (rep %d, loss %v, t* %d), parallel (rep %d, loss %v, t* %d)",
				i, a.Replicate, a.FinalTestLoss, a.BestIter, b.Replicate, b.FinalTestLoss, b.BestIter)
		}
	}
	if got[0][0].FinalTestLoss == got[0][1].FinalTestLoss {
		t.Error("replicates 0 and 1 have the same loss: seeds not applied")
	}
}

// storedRows reads every row of a run's store.
func storedRows(t *testing.T, output string) []results.Result {
	t.Helper()
	st, err := results.Open(filepath.Join(output, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func sameRows(t *testing.T, what string, got, want []results.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := results.Diff(got[i], want[i]); d != "" {
			t.Errorf("%s: row %d changed: %s", what, i, d)
		}
	}
}

// A result file is believed only when it is whole, belongs to its folder
// and agrees with the store: a file cut short, one copied in from another
// replicate, and a store row edited by hand are errors that name the file,
// and leave the store as it was; reading a good file twice changes nothing.
func TestRunSpecChecksResultFiles(t *testing.T) {
	s := tinySpec()
	s.Output = t.TempDir()
	s.Replicates = 2
	if _, err := RunSpec(context.Background(), s, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	before := storedRows(t, s.Output)
	if len(before) != 2 || before[0].Experiment == "" || before[0].Experiment != before[1].Experiment || before[0].Settings == "" {
		t.Fatalf("rows %+v: want two replicates of one named experiment", before)
	}
	run := filepath.Join(s.Output, Hash(s))
	file0 := filepath.Join(run, "replicate_0", "level_0", results.FileName)
	file1 := filepath.Join(run, "replicate_1", "level_0", results.FileName)
	good, err := os.ReadFile(file1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		damage func()
		want   string
	}{
		{"cut short", func() { os.WriteFile(file1, good[:len(good)/2], 0o644) }, "cut short"},
		{"copied from replicate 0", func() {
			b, _ := os.ReadFile(file0)
			os.WriteFile(file1, b, 0o644)
		}, "belongs to another unit"},
	} {
		c.damage()
		_, err := RunSpec(context.Background(), s, RunOptions{})
		if err == nil || !strings.Contains(err.Error(), file1) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--rerun") {
			t.Errorf("%s: error %v, want one naming %s, %q and what to do", c.name, err, file1, c.want)
		}
		sameRows(t, c.name, storedRows(t, s.Output), before)
		os.WriteFile(file1, good, 0o644)
	}
	// Good files, read again and again: nothing changes.
	for range 2 {
		if _, err := RunSpec(context.Background(), s, RunOptions{}); err != nil {
			t.Fatal(err)
		}
		sameRows(t, "a rerun", storedRows(t, s.Output), before)
	}
	// A store row that disagrees with its file.
	st, err := results.Open(filepath.Join(s.Output, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	edited := before[1]
	edited.BestTestAcc = 0.5
	if err := st.Put(edited); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = RunSpec(context.Background(), s, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "disagrees") || !strings.Contains(err.Error(), "best_test_acc") {
		t.Errorf("edited store row: error %v", err)
	}
	if rows := storedRows(t, s.Output); rows[1].BestTestAcc != 0.5 {
		t.Errorf("the store was changed: best_test_acc %v", rows[1].BestTestAcc)
	}
}
