package main

import (
	"fmt"
	"io"
	"os"
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

// progress shows one training run as a bar with ETA on stderr, with the last
// validation accuracy in its description.
type progress struct {
	name        string
	bar         *progressbar.ProgressBar
	iter, total int // the last step seen, of total
}

func newProgress(name string) *progress { return &progress{name: name} }

func (p *progress) callback(e *train.Event) error {
	if p.bar == nil {
		p.bar = progressbar.NewOptions(e.Total,
			progressbar.OptionSetWriter(os.Stderr),
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
	p.iter, p.total = e.Iter, e.Total
	switch e.Phase {
	case train.AfterStep:
		p.bar.Set(e.Iter)
	case train.AfterEval:
		last := e.History.Final()
		p.bar.Describe(fmt.Sprintf("%s val %.2f%%", p.name, 100*last.ValAcc))
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
		fmt.Fprintln(os.Stderr)
	}
}
