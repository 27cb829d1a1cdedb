package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn"
)

func newTrainCmd() *cobra.Command {
	var sets []string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "train SPEC.yaml",
		Short: "Train a dense model from a spec, with resumable checkpoints",
		Long: `Train a dense model described by a YAML spec. The run lives in
OUTPUT/train/HASH, where HASH names the spec's non-default settings;
running the same spec again resumes from its checkpoint or reports the
finished result. Ctrl-C checkpoints and stops.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := experiments.LoadSpec(args[0], sets)
			if err != nil {
				return err
			}
			dir := filepath.Join(spec.Output, "train", experiments.Hash(spec))
			var cbs []nn.Callback
			bar := newProgress(fmt.Sprintf("%s/%s", spec.Model.Name, spec.Dataset.Name))
			if !quiet {
				cbs = append(cbs, bar.callback)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s\n", dir)
			p, h, err := experiments.Train(cmd.Context(), spec, dir, cbs...)
			bar.finish()
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("interrupted: checkpoint saved in %s; run the same command to resume", dir)
			}
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), p, h)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key, e.g. --set training.lr=0.01 (repeatable)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func printResult(w io.Writer, p *experiments.Prepared, h *nn.History) error {
	counts := nn.Count(p.Arch)
	best, final := h.BestPoint(), h.Final()
	rows := [][]string{
		{"model", p.Arch.Name},
		{"dataset", p.Spec.Dataset.Name},
		{"parameters", fmt.Sprintf("%d (%d prunable)", counts.Params, counts.Prunable)},
		{"FLOPs per example", fmt.Sprintf("%d", counts.FLOPs)},
		{"iterations", fmt.Sprintf("%d (%d per epoch)", h.Total, h.ItersPerEpoch)},
		{"best validation iteration", fmt.Sprintf("%d", best.Iter)},
		{"validation loss / acc @ best", fmt.Sprintf("%.4f / %.2f%%", best.ValLoss, 100*best.ValAcc)},
		{"test acc @ best", fmt.Sprintf("%.2f%%", 100*best.TestAcc)},
		{"test loss / acc @ end", fmt.Sprintf("%.4f / %.2f%%", final.TestLoss, 100*final.TestAcc)},
		{"wall time", h.Wall.Round(time.Millisecond).String()},
	}
	if h.Resumed > 0 {
		rows = append(rows, []string{"resumed from iteration", fmt.Sprint(h.Resumed)})
	}
	return renderTable(w, []string{"result", "value"}, rows)
}
