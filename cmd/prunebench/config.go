package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
)

func newConfigCmd() *cobra.Command {
	var sets []string
	var defaults bool
	var pipeline string
	cmd := &cobra.Command{
		Use:   "config [SPEC.yaml] [--defaults [--pipeline NAME]]",
		Short: "Print every spec key with its default and meaning, or a spec resolved with its run name",
		Example: `  prunebench config --defaults --pipeline imp
  prunebench config experiments/papers/lth-lenet-mnist-quick.yaml --set prune.imp_rounds=5`,
		Long: `With --defaults (or no spec), list every key with its default and meaning;
--pipeline NAME lists only the keys that pipeline reads (the common sections
and its own). With a spec, print it resolved, every key its pipeline reads,
under its run name.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if defaults || len(args) == 0 {
				if pipeline != "" {
					if _, err := experiments.PipelineDefaults(pipeline); err != nil {
						return fmt.Errorf("--pipeline: %w", err)
					}
				}
				var rows [][]string
				for _, k := range experiments.Keys() {
					if pipeline == "" || k.Pipelines == nil || slices.Contains(k.Pipelines, pipeline) {
						rows = append(rows, []string{k.Key, k.Default, k.Help})
					}
				}
				return printTable(cmd, []string{"key", "default", "meaning"}, rows)
			}
			spec, err := experiments.LoadSpec(args[0], sets)
			if err != nil {
				return err
			}
			if _, err := experiments.Validate(spec); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# run %s\n", experiments.Hash(spec))
			return experiments.WriteSpecYAML(cmd.OutOrStdout(), spec)
		},
	}
	cmd.Flags().BoolVar(&defaults, "defaults", false, "list every key with its default and meaning")
	cmd.Flags().StringVar(&pipeline, "pipeline", "", "with --defaults: list only the keys this pipeline reads")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a spec key (repeatable)")
	return cmd
}
