package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
)

func newBenchCmd() *cobra.Command {
	var sets []string
	var steps string
	var warmup int
	var label, cpuprofile string
	cmd := &cobra.Command{
		Use:   "bench SPEC.yaml",
		Short: "Time training steps of a spec on this machine (no evaluation, nothing saved)",
		Example: `  GOMAXPROCS=1 prunebench bench experiments/papers/lenet-300-100-mnist.yaml --steps 1ep
  prunebench bench experiments/papers/lenet-300-100-mnist.yaml --steps 300it --cpuprofile cpu.prof`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := experiments.LoadSpec(args[0], sets)
			if err != nil {
				return err
			}
			st, err := train.ParseStep(steps)
			if err != nil {
				return fmt.Errorf("--steps: %w", err)
			}
			p, err := experiments.Prepare(spec)
			if err != nil {
				return err
			}
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			// TimeSteps takes no context: Ctrl-C, which the process
			// catches (main.go), stops the command here instead.
			type timing struct {
				d   time.Duration
				n   int
				err error
			}
			timed := make(chan timing, 1)
			go func() {
				d, n, err := experiments.TimeSteps(p, st, warmup)
				timed <- timing{d, n, err}
			}()
			var t timing
			select {
			case t = <-timed:
			case <-cmd.Context().Done():
				return interrupted(cmd, "interrupted: nothing timed")
			}
			d, n, err := t.d, t.n, t.err
			if err != nil {
				return err
			}
			if label != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %.3f\n", label, d.Seconds())
				return nil
			}
			return printTable(cmd, []string{"model", "backend", "batch", "steps", "seconds", "ms/step", "GOMAXPROCS"}, [][]string{{
				p.Arch.Name, spec.Backend, fmt.Sprint(spec.Training.BatchSize), fmt.Sprint(n),
				fmt.Sprintf("%.3f", d.Seconds()), fmt.Sprintf("%.2f", 1000*d.Seconds()/float64(n)),
				fmt.Sprint(runtime.GOMAXPROCS(0)),
			}})
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key (repeatable)")
	cmd.Flags().StringVar(&steps, "steps", "100it", "how many training steps to time (e.g. 1ep, 50it)")
	intFlag(cmd.Flags(), &warmup, "warmup", "", 2, 0, maxWarmup, "untimed steps first")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	cmd.Flags().StringVar(&label, "label", "", "print only \"LABEL seconds\" (for comparison scripts)")
	return cmd
}
