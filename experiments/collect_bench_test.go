package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// writeSyntheticResults writes n result files in the layout of an output
// folder: runs of 10 replicates × 5 levels, so 50 files a run, as an IMP
// sweep makes them. They name no spec.yaml, which Collect then skips
// reading, as it does for runs of other machines.
func writeSyntheticResults(b *testing.B, out string, n int) {
	b.Helper()
	for i := range n {
		run, rep, level := i/50, i/5%10, i%5
		r := results.Result{
			SpecHash: fmt.Sprintf("%012x", run), Pipeline: "imp", Method: "imp", Dataset: "mnist", Model: "lenet-300-100",
			Backend: "native", Replicate: rep, Seed: uint64(rep), Level: level, Density: 1 / float64(level+1),
			ParamsTotal: 266610, ParamsNonzero: int64(266610 / (level + 1)), FLOPsDense: 266200, FLOPsNonzero: int64(266200 / (level + 1)),
			Bytes: 4 * 266610, BestIter: 3000, BestTestAcc: 0.97, FinalTestAcc: 0.97, Iterations: 5000,
			Wall: time.Second, Version: "bench", Finished: time.Unix(1e9, 0).UTC(),
		}
		dir := filepath.Join(out, r.SpecHash, fmt.Sprintf("replicate_%d", rep), fmt.Sprintf("level_%d", level))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := results.WriteFile(filepath.Join(dir, results.FileName), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollect ingests n result files into an empty store (the first
// collect after an array job) and, as "again", collects them a second time
// into the full store (what board does when one file is newer: it reads
// every file). docs/cluster.md quotes the 10,000-file numbers.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		out := b.TempDir()
		writeSyntheticResults(b, out, n)
		b.Run(fmt.Sprintf("files=%d/first", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), "results.db")
				st, err := results.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := Collect(out, st)
				if err != nil || rep.New != n {
					b.Fatalf("%+v, %v", rep, err)
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("files=%d/again", n), func(b *testing.B) {
			st, err := results.Open(filepath.Join(b.TempDir(), "results.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if _, err := Collect(out, st); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rep, err := Collect(out, st)
				if err != nil || rep.Unchanged != n {
					b.Fatalf("%+v, %v", rep, err)
				}
			}
		})
	}
}
