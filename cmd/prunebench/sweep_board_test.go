package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepBoardAndPlot: --board ends the sweep with the leaderboard of its
// results (one row per method and density, n seeds), --plot writes their
// plot, and a --plot file of an unknown type is refused before anything
// trains.
func TestSweepBoardAndPlot(t *testing.T) {
	spec, out := writeSpec(t)
	f, err := os.OpenFile(spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("replicates: 2\nsweep_mode: zip\nsweep:\n  pipeline: [train, pai]\n  prune.criterion: [null, random]\n  prune.density: [null, 0.5]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if _, err := run(t, "sweep", spec, "-q", "--plot", filepath.Join(t.TempDir(), "p.jpg")); err == nil || !strings.Contains(err.Error(), `--plot`) || !strings.Contains(err.Error(), ".png, .svg") {
		t.Errorf("bad --plot: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused --plot trained something: %v", err)
	}

	plot := filepath.Join(t.TempDir(), "board.svg")
	stdout, stderr, err := runWithStderr(t, "sweep", spec, "-q", "--board", "--plot", plot)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	_, board, ok := strings.Cut(stdout, "leaderboard")
	if !ok {
		t.Fatalf("no leaderboard after the sweep:\n%s", stdout)
	}
	for _, row := range []string{"dense", "random"} {
		found := false
		for _, line := range strings.Split(board, "\n") {
			cells := strings.Split(line, "│")
			if len(cells) > 2 && strings.TrimSpace(cells[1]) == row {
				found = true
				if !strings.Contains(line, "│ 2 │") {
					t.Errorf("row %s does not show n = 2: %s", row, line)
				}
			}
		}
		if !found {
			t.Errorf("no %s row in the leaderboard:\n%s", row, board)
		}
	}
	if fi, err := os.Stat(plot); err != nil || fi.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
	if !strings.Contains(stderr, "wrote "+plot+" (4 results)") {
		t.Errorf("stderr does not say the plot was written:\n%s", stderr)
	}
}

func TestSetSettings(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"pipeline=imp prune.criterion=- prune.density= prune.imp_rate=0.5", "pipeline=imp prune.imp_rate=0.5"},
		{"pipeline=train", "pipeline=train"},
		{"prune.rewind=- training.lr=", ""},
		{"", ""},
	} {
		if got := setSettings(c.in); got != c.want {
			t.Errorf("setSettings(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
