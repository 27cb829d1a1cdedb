package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
)

// unitLines reports units as lines instead of progress bars: when several
// train at once, and in the log files of array tasks. Each unit gets a line
// when it starts ("resumed from iteration N" when it resumes a checkpoint,
// which always gets a line) and one when it ends; name starts the unit's
// lines; with evalLines, each evaluation gets a line too (evalLine), where a
// terminal would show a bar. The returned watch is safe for concurrent use.
func unitLines(w io.Writer, startLines, evalLines bool) func(name string, u experiments.UnitInfo) ([]experiments.Callback, func()) {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
	}
	return func(name string, u experiments.UnitInfo) ([]experiments.Callback, func()) {
		prefix := name + " " + u.Label()
		var h *train.History
		var iter, total int
		began := time.Now()
		first := true
		keep := func(e *train.Event) error {
			if first {
				first = false
				switch {
				case e.History != nil && e.History.Resumed > 0:
					say("%s: resumed from iteration %d of %d", prefix, e.History.Resumed, e.Total)
				case startLines:
					say("%s: started, %d iterations", prefix, e.Total)
				}
			}
			h, iter, total = e.History, e.Iter, e.Total
			if evalLines && e.Phase == train.AfterEval {
				say("%s", evalLine(prefix, e, time.Since(began)))
			}
			return nil
		}
		return []experiments.Callback{keep}, func() {
			what := "done"
			if iter < total {
				what = fmt.Sprintf("stopped at iteration %d of %d", iter, total) // interrupted or failed
			}
			line := fmt.Sprintf("%s: %s in %s", prefix, what, time.Since(began).Round(time.Second))
			if h != nil && len(h.Points) > 0 {
				line += ", " + pointSummary(h.Final())
			}
			say("%s", line)
		}
	}
}

// notifier prints what the runner tells a user as it happens (a stale lock
// taken over, a unit waiting for another process) on stderr.
func notifier(cmd interface{ ErrOrStderr() io.Writer }) func(string) {
	var mu sync.Mutex
	return func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(cmd.ErrOrStderr(), "prunebench:", msg)
	}
}
