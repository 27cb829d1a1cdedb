package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/schollz/progressbar/v3"

	"github.com/prunebench/prunebench/nn/train"
)

// renderTable prints rows under a header as a terminal table. Headers are
// printed as written: tablewriter's automatic upper-casing turns "FLOPs"
// into "FLO PS".
func renderTable(w io.Writer, header []string, rows [][]string) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
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
