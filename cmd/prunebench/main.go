// Command prunebench runs pruning and compression experiments from YAML specs.
//
//	prunebench train SPEC.yaml [--set key=value ...]
//
// See the README for a tour.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines" // every pipeline
	_ "github.com/prunebench/prunebench/nn/native"             // the default engine
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	experiments.Version = version
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "prunebench:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "prunebench",
		Short:         "A workbench for neural-network pruning and compression research",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newTrainCmd(), newRunCmd(), newSweepCmd(), newLsCmd(), newShowCmd(), newBoardCmd(), newPlotCmd(), newConfigCmd(), newBenchCmd())
	return root
}
