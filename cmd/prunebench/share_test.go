package main

import (
	"bytes"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// unitStart matches the line of a unit that begins training, fresh or
// from a checkpoint.
var unitStart = regexp.MustCompile(`(?m)^(\w+ replicate \d+/\d+ level \d+): (started|resumed from)`)

// Two sweep processes on one output folder share the work: no unit is
// trained twice (each unit's start appears once in the two logs), both end
// with success, and the store holds every unit once. Before units had
// locks, both trained every unit, and one of them sometimes failed.
func TestTwoLocalSweeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two sweeps as processes, three times")
	}
	for round := range 3 {
		spec, out := clusterSweep(t, "pipeline: imp\nprune: {imp_rate: 0.5, imp_rounds: 1}\nsweep:\n  training.lr: [0.005, 0.01, 0.02]\n", 2, 600)
		var logs [2]bytes.Buffer
		var cmds [2]*exec.Cmd
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "sweep", spec, "-q", "--jobs", "2")
			cmds[i].Env = append(os.Environ(), "PRUNEBENCH_RUN_MAIN=1")
			cmds[i].Stdout, cmds[i].Stderr = &logs[i], &logs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d: sweep %d: %v\n%s", round, i, err, logs[i].String())
			}
		}
		starts := map[string]int{}
		for _, l := range logs {
			for _, m := range unitStart.FindAllStringSubmatch(l.String(), -1) {
				starts[m[1]]++
			}
		}
		// 3 points × 2 replicates × 2 levels.
		if len(starts) != 12 {
			t.Errorf("round %d: %d units started, want 12:\n%s\n%s", round, len(starts), logs[0].String(), logs[1].String())
		}
		for u, n := range starts {
			if n != 1 {
				t.Errorf("round %d: %s started %d times", round, u, n)
			}
		}
		db, err := sql.Open("sqlite", filepath.Join(out, storeFile))
		if err != nil {
			t.Fatal(err)
		}
		var check string
		var rows, units int
		db.QueryRow("PRAGMA integrity_check").Scan(&check)
		db.QueryRow("SELECT count(*), count(DISTINCT spec_hash || '/' || replicate || '/' || level || '/' || branch) FROM results").Scan(&rows, &units)
		db.Close()
		if check != "ok" || rows != 12 || units != 12 {
			t.Errorf("round %d: integrity %q, %d rows of %d units; want ok, 12 of 12", round, check, rows, units)
		}
	}
}
