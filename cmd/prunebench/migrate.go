package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

func newMigrateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring a results store written by an older prunebench up to date",
		Long: `Migrate OUTPUT/results.db to this prunebench's schema, and name the
experiment of results stored before results recorded one, from the spec.yaml
of their run folder, so that board groups, shows and selects them by their
spec keys. board, plot, ls and show only read a store and never migrate it;
they name this command when a store is older than they read. run and sweep
migrate the store they write to as they open it. Migrating twice changes
nothing the second time. The store must be writable: a store you may not
write must be migrated by its owner.`,
		Example: `  prunebench migrate --output runs`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(output, storeFile)
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return missingStore{path}
			}
			st, err := results.Open(path)
			if err != nil {
				return err
			}
			defer st.Close()
			named, skipped, err := experiments.NameExperiments(output, st)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if n := st.Migrated(); n > 0 {
				fmt.Fprintf(w, "%s: schema version %d → %d\n", path, results.SchemaVersion()-n, results.SchemaVersion())
			} else {
				fmt.Fprintf(w, "%s: schema version %d, already current\n", path, results.SchemaVersion())
			}
			fmt.Fprintf(w, "named the experiment of %d results\n", named)
			// A run that cannot be named keeps its results, grouped by run:
			// a warning, not a failed migration.
			for _, s := range skipped {
				fmt.Fprintf(cmd.ErrOrStderr(), "not named (board groups its results by run): %s\n", s)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", experiments.Defaults().Output, "the output folder that holds "+storeFile)
	return cmd
}
