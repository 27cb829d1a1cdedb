package main

import (
	"fmt"
	"path/filepath"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var dir, title string
	cmd := &cobra.Command{
		Use:   "report OUTPUT -o DIR",
		Short: "Write a static leaderboard site (HTML, SVG plots) from a results store",
		Long: `Write a static site from OUTPUT/results.db into DIR: index.html lists
the sweeps, the leaderboards (one per model and dataset) and the runs with
their pipelines and models; each leaderboard page has the board (sortable
by any column; the numbers of ` + "`prunebench board`" + `), the accuracy-vs-density
plot and the t* plot as SVG; each run's page has its spec.yaml and the
provenance of its units. Plain HTML and CSS with relative links: open
DIR/index.html from disk or serve DIR from any static host. The store is
opened read-only, as by board (result files newer than it are collected
first).`,
		Example: `  prunebench report runs -o site
  prunebench report runs/lth-sweep -o /tmp/lth --title "LTH sweep"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("-o DIR is required: the folder to write the site into")
			}
			output := args[0]
			rs, err := loadBoardResults(cmd.ErrOrStderr(), output, nil)
			if err != nil {
				return err
			}
			pages, err := report.Write(dir, rs, report.Options{Output: output, SpecDefaults: experiments.KeyDefaults(), Title: title})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d pages, %d results)\n", filepath.Join(dir, "index.html"), len(pages), len(rs))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&dir, "dir", "o", "", "the folder to write the site into, created when missing (required)")
	f.StringVar(&title, "title", "", `the index page's title (default "prunebench results")`)
	return cmd
}
