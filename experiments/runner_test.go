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
	if _, err := os.Stat(filepath.Join(rep1, "level_0", resultFile)); err != nil {
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
