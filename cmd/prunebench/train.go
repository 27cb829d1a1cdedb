package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
)

func newTrainCmd() *cobra.Command {
	var sets []string
	var quiet, rerun bool
	cmd := &cobra.Command{
		Use:   "train SPEC.yaml",
		Short: "Train a dense model from a spec (the train pipeline of `run`)",
		Example: `  prunebench train experiments/papers/lenet-300-100-mnist.yaml
  prunebench train experiments/papers/lenet-300-100-mnist.yaml --set training.lr=3e-3 --set model.name=lenet5`,
		Long: `Train a dense model described by a YAML spec: ` + "`prunebench run`" + ` with the
train pipeline, so runs, resuming and results.db are the same. A spec
that names another pipeline is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := experiments.LoadSpec(args[0], sets)
			if err != nil {
				return err
			}
			if spec.Pipeline != "train" {
				return fmt.Errorf("spec %s uses pipeline %q: run it with `prunebench run %s`", args[0], spec.Pipeline, args[0])
			}
			return runAndReport(cmd, spec, runFlags{quiet: quiet, rerun: rerun})
		},
	}
	cmd.Flags().BoolVar(&rerun, "rerun", false, "train levels whose run folder was deleted although results.db holds them, replacing their results")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key, e.g. --set training.lr=0.01 (repeatable)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}
