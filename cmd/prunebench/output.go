package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/internal/termtable"
	"github.com/prunebench/prunebench/nn/train"
)

// printTable prints rows under a header as a table on the command's stdout,
// fitted to the terminal's width (tableWidth).
func printTable(cmd *cobra.Command, header []string, rows [][]string) error {
	width, err := tableWidth(cmd)
	if err != nil {
		return err
	}
	return renderTable(cmd.OutOrStdout(), width, header, rows)
}

// renderTable prints rows under a header as a terminal table with no line
// wider than width (0: no limit), its text wrapped in its cells
// (termtable.Fit). Headers are printed as written: tablewriter's automatic
// upper-casing turns "FLOPs" into "FLO PS".
func renderTable(w io.Writer, width int, header []string, rows [][]string) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Configure(termtable.Fit(width, header, rows).Configure)
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	t.Header(hdr...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	return t.Render()
}

// renderTableHiding is renderTable for a table with columns a reader can
// do without (optional, least needed first): those are left out, and named
// below the table, while it does not fit width with its words whole
// (termtable.Hide).
func renderTableHiding(w io.Writer, width int, header []string, rows [][]string, optional []string) error {
	header, rows, hidden := termtable.Hide(width, header, rows, optional)
	if err := renderTable(w, width, header, rows); err != nil {
		return err
	}
	if line := termtable.Hidden(hidden, width); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}

// progress shows one training run on w. On a terminal it is a bar with
// ETA and the last validation accuracy in its description; elsewhere (a log
// file, a pipe, CI) it is one line per evaluation (evalLine), since a bar
// redraws itself with carriage returns that a file keeps.
type progress struct {
	name        string
	w           io.Writer
	lines       bool // a line per evaluation instead of a bar
	began       time.Time
	bar         *progressbar.ProgressBar
	iter, total int // the last step seen, of total
}

func newProgress(w io.Writer, name string) *progress {
	return &progress{name: name, w: w, lines: !isTerminal(w), began: time.Now()}
}

func (p *progress) callback(e *train.Event) error {
	p.iter, p.total = e.Iter, e.Total
	if p.lines {
		if e.Phase == train.AfterEval {
			fmt.Fprintln(p.w, evalLine(p.name, e, time.Since(p.began)))
		}
		return nil
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(e.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("it"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
		p.bar.Set(e.Iter)
	}
	switch e.Phase {
	case train.AfterStep:
		p.bar.Set(e.Iter)
	case train.AfterEval:
		last := e.History.Final()
		p.bar.Describe(p.name + " " + pointSummary(last))
	}
	return nil
}

// finish ends the bar: full when training got to the end, where it
// stopped when it was interrupted (or failed).
func (p *progress) finish() {
	if p.bar != nil {
		if p.iter >= p.total {
			p.bar.Finish()
		} else {
			p.bar.Exit()
		}
		fmt.Fprintln(p.w)
	}
}

// pointSummary is what progress shows of an evaluation: the validation
// accuracy, or the test accuracy of a run without a validation split
// (modular arithmetic), then the training accuracy when it was measured
// (training.eval_train), e.g. "val 97.12%" or "test 42.10% train 100.00%".
func pointSummary(p train.EvalPoint) string {
	s := fmt.Sprintf("val %.2f%%", 100*p.ValAcc)
	if math.IsNaN(p.ValAcc) && !math.IsNaN(p.TestAcc) {
		s = fmt.Sprintf("test %.2f%%", 100*p.TestAcc)
	}
	if !math.IsNaN(p.TrainAcc) {
		s += fmt.Sprintf(" train %.2f%%", 100*p.TrainAcc)
	}
	return s
}

// evalLine is the line of one evaluation where no bar is drawn: the unit,
// the iteration of the budget, the validation accuracy and the time since
// the unit started, e.g. "mlp/mnist it 1200/3000 val 97.12% 12.3s".
func evalLine(name string, e *train.Event, elapsed time.Duration) string {
	line := fmt.Sprintf("%s it %d/%d", name, e.Iter, e.Total)
	if e.History != nil && len(e.History.Points) > 0 {
		line += " " + pointSummary(e.History.Final())
	}
	return fmt.Sprintf("%s %.1fs", line, elapsed.Seconds())
}
