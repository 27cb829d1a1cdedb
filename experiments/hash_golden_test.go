package experiments_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

var updateHashes = flag.Bool("update-hashes", false, "rewrite testdata/run_hashes.txt from the current code")

// The run name of every point of every paper and example config is pinned:
// a refactoring of the spec layer must not rename a run, or the evidence in
// docs/results and every researcher's run folders would stop matching their
// configs. A deliberate rename updates the file with -update-hashes and says
// why in its commit.
func TestRunHashesPinned(t *testing.T) {
	const golden = "testdata/run_hashes.txt"
	var files []string
	for _, g := range []string{"papers/*.yaml", "examples/*.yaml"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no configs found")
	}
	var b strings.Builder
	for _, f := range files {
		sw, err := experiments.LoadSweep(f, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, s := range sw.Specs {
			fmt.Fprintf(&b, "%s %d %s\n", f, i, experiments.Hash(s))
		}
	}
	if *updateHashes {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	wantLines, gotLines := strings.Split(string(want), "\n"), strings.Split(b.String(), "\n")
	for i := 0; i < max(len(wantLines), len(gotLines)); i++ {
		w, g := line(wantLines, i), line(gotLines, i)
		if w != g {
			t.Errorf("run name changed: pinned %q, now %q", w, g)
		}
	}
}

func line(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}
