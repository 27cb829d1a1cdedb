package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

// outputArg is the output folder of a command that takes it as its
// argument or, like the others, as --output.
func outputArg(cmd *cobra.Command, args []string, output string) (string, error) {
	if len(args) == 1 {
		if cmd.Flags().Changed("output") && args[0] != output {
			return "", fmt.Errorf("output folder given twice: %s and --output %s", args[0], output)
		}
		return args[0], nil
	}
	return output, nil
}

func newCollectCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "collect [OUTPUT]",
		Short: "Ingest the result files of an output folder into its results store",
		Long: `Read every result.yaml under OUTPUT (default: --output) and add to
OUTPUT/results.db the results it does not hold. The tasks of an array job
write result files only, because SQLite's WAL does not work on the file
systems that cluster nodes share; a local sweep writes both, and collect
then finds nothing new. A file that agrees with the store changes nothing,
so collecting twice is harmless. A file that disagrees with the store's row
for its unit is a conflict: it is listed, the store keeps its row, and the
exit status is 1, as it is for files that cannot be believed (cut short,
edited, in another unit's folder). board, ls, show and plot collect by
themselves when they find result files newer than the store.`,
		Example: `  prunebench collect runs/lth`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := outputArg(cmd, args, output)
			if err != nil {
				return err
			}
			files, err := experiments.ResultFiles(out)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no result files under %s: point at the output folder of a sweep", out)
			}
			st, err := results.Open(filepath.Join(out, storeFile))
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := experiments.Collect(out, st)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d result files: %s\n", len(files), rep)
			printCollectProblems(cmd.ErrOrStderr(), rep)
			if n := len(rep.Conflicts) + len(rep.Bad); n > 0 {
				return fmt.Errorf("%d result files were not ingested (listed above)", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", experiments.Defaults().Output, "the output folder")
	return cmd
}
