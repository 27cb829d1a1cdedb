package experiments

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/prunebench/prunebench/experiments/results"
)

// NameExperiments fills in the experiment and settings of the results that
// a store holds from before results recorded them, from the spec.yaml each
// run folder under output keeps: without them a board can group such a
// run's results only by run, and cannot show or select its spec keys. It
// returns how many results it named and, for each run it could not name,
// why (no spec.yaml, a spec this build refuses, or a spec.yaml of another
// run). Results that name their experiment are not touched, so running it
// twice changes nothing the second time.
func NameExperiments(output string, st *results.Store) (named int, skipped []string, err error) {
	rs, err := st.Results(map[string]string{"experiment": ""})
	if err != nil {
		return 0, nil, err
	}
	var runs []string
	for _, r := range rs {
		if r.Settings == "" && !slices.Contains(runs, r.SpecHash) {
			runs = append(runs, r.SpecHash)
		}
	}
	for _, hash := range runs {
		path := filepath.Join(output, hash, "spec.yaml")
		s, err := LoadSpec(path, nil)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("run %s: %v", hash, err))
			continue
		}
		if got := Hash(s); got != hash {
			skipped = append(skipped, fmt.Sprintf("run %s: %s is the spec of run %s (copied from another folder?)", hash, path, got))
			continue
		}
		name, settings := Experiment(s)
		n, err := st.NameExperiment(hash, name, settings)
		if err != nil {
			return named, skipped, err
		}
		named += n
	}
	return named, skipped, nil
}
