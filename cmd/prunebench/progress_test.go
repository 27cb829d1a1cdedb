package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// evalLinePattern is a line evalLine writes for writeSpec's run: 8
// iterations (48 training examples after validation's 12, batches of 12,
// two epochs), evaluated every 2.
var evalLinePattern = regexp.MustCompile(`^\S+ .*it (\d+)/8 val \d+\.\d\d% \d+\.\ds$`)

// evalLines are the lines of stderr that evalLine wrote, by their
// iteration.
func evalLines(stderr string) []string {
	var its []string
	for _, l := range strings.Split(stderr, "\n") {
		if m := evalLinePattern.FindStringSubmatch(l); m != nil {
			its = append(its, m[1])
		}
	}
	return its
}

// TestProgressOffTerminal: where stderr is no terminal (here a buffer),
// training reports one plain line per evaluation and never a carriage
// return; -q keeps it quiet.
func TestProgressOffTerminal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sweep string // appended to the spec
		args  []string
		want  []string // the iterations of the evaluation lines, in order
	}{
		{"train", "", []string{"train"}, []string{"2", "4", "6", "8"}},
		{"train -q", "", []string{"train", "-q"}, nil},
		{"sweep of two points", "sweep:\n  training.lr: [0.01, 0.05]\n", []string{"sweep", "--jobs", "1"},
			[]string{"2", "4", "6", "8", "2", "4", "6", "8"}},
		{"sweep -q", "sweep:\n  training.lr: [0.01, 0.05]\n", []string{"sweep", "--jobs", "1", "-q"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := writeSpec(t)
			if err := os.WriteFile(spec, append(must(os.ReadFile(spec)), tc.sweep...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := runWithStderr(t, append(tc.args, spec)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if strings.Contains(stderr, "\r") {
				t.Errorf("stderr has a carriage return:\n%q", stderr)
			}
			if got := evalLines(stderr); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("evaluation lines at iterations %v, want %v:\n%s", got, tc.want, stderr)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
