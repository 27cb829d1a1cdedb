package report

import (
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/prunebench/prunebench/experiments/results"
)

// run is one run (spec hash): what it is, its results, its resolved spec
// and the provenance of its finished units.
type run struct {
	Hash, Pipeline, Model, Dataset, Backend string
	// Page is the page's file name in runs/.
	Page    string
	Methods []string
	Results int
	Seeds   int
	// Group is the page of the run's model and dataset, relative to the
	// run's page.
	Group      string
	Spec       string
	HaveSpec   bool
	Provenance []provenance
}

// provenance is one unit's provenance.yaml, by its path in the run folder.
type provenance struct{ Unit, Text string }

func newRun(hash string, rs []results.Result, groupSlug string, o Options) run {
	r := run{Hash: hash, Pipeline: rs[0].Pipeline, Model: rs[0].Model, Dataset: rs[0].Dataset, Backend: rs[0].Backend,
		Methods: distinct(rs, func(r *results.Result) string { return r.Method }), Results: len(rs),
		Group: "../groups/" + groupSlug + ".html", Page: runPage(hash)}
	seeds := map[uint64]bool{}
	for _, x := range rs {
		seeds[x.Seed] = true
	}
	r.Seeds = len(seeds)
	if o.Output == "" {
		r.Spec = "(the report was written without the runs folder)"
		return r
	}
	root := filepath.Join(o.Output, hash)
	r.Spec, r.HaveSpec = readText(filepath.Join(root, "spec.yaml"))
	// Units are replicate_R/level_L[/branch_B]; a walk finds them all
	// without knowing the pipeline's levels.
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "provenance.yaml" {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		text, _ := readText(path)
		r.Provenance = append(r.Provenance, provenance{Unit: filepath.ToSlash(rel), Text: text})
		return nil
	})
	sort.Slice(r.Provenance, func(i, j int) bool { return r.Provenance[i].Unit < r.Provenance[j].Unit })
	return r
}
