// Command prunebench runs pruning and compression experiments from YAML specs.
//
//	prunebench train SPEC.yaml [--set key=value ...]
//
// See the README for a tour.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines" // every pipeline
	_ "github.com/prunebench/prunebench/nn/native"             // the default engine
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, received, stop := stopContext()
	defer stop()
	experiments.Version = version
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	afterWarning(os.Stderr, received())
	if err != nil {
		reportError(os.Stderr, err)
		os.Exit(exitStatus(err))
	}
}

// exitStatus is the process's exit status for a command's error: 0 for
// none, 130 (128 + SIGINT, as shells report Ctrl-C) for an interrupt, 1 for
// any other error.
func exitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return 130
	default:
		return 1
	}
}

// reportError prints a command's error once. An interrupt the command
// already reported (interruptedError) prints nothing more, and a bare
// context.Canceled says "interrupted" rather than Go's "context canceled".
func reportError(w io.Writer, err error) {
	var ie *interruptedError
	switch {
	case errors.As(err, &ie):
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "prunebench: interrupted")
	default:
		fmt.Fprintln(w, "prunebench:", err)
	}
}

// interruptedError is the error of a command that stopped on Ctrl-C or
// SIGTERM and has said so (interrupted) on stderr; it wraps
// context.Canceled, so the exit status is 130.
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return context.Canceled }

// interrupted prints msg, a line that starts "interrupted:", on the
// command's stderr and returns it as an interruptedError.
func interrupted(cmd *cobra.Command, msg string) error {
	fmt.Fprintln(cmd.ErrOrStderr(), msg)
	return &interruptedError{msg}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "prunebench",
		Short: "A workbench for neural-network pruning and compression research",
		Example: `  prunebench sweep experiments/examples/quickstart.yaml --board --plot quickstart.png
  prunebench board --output runs/quickstart`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every numeric flag's range is checked here, before any command
		// reads a file or trains (flags.go).
		PersistentPreRunE: checkNumericFlags,
	}
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().Bool(wideFlag, false, "print tables at their full width, each row on one line (by default they fit COLUMNS or the terminal, else 100 characters)")
	root.AddCommand(newTrainCmd(), newRunCmd(), newSweepCmd(), newLsCmd(), newShowCmd(), newBoardCmd(), newPlotCmd(), newConfigCmd(), newBenchCmd(), newMigrateCmd(), newCollectCmd(), newStatusCmd(), newSlurmCmd(), newExportCmd(), newReportCmd())
	return root
}
