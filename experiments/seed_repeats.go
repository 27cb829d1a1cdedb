package experiments

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments/results"
)

// A SeedRepeat is a work unit that will train a seed its experiment already
// has in the store under another run. A replicate's content is its
// experiment and its seed (Seed + r), but its run folder is named by the
// whole spec, replicate count included, so raising replicates on a finished
// run names a new run that trains seed 0 again. Boards count each seed of
// an experiment once (results.Dedupe), so nothing is wrong in a table; the
// repeat only costs the time to train it, which is why RunSweep and RunSpec
// say so before they start, with the way to add seeds instead.
type SeedRepeat struct {
	Unit WorkUnit
	Seed uint64
	// Run and Replicate name the finished replicate of the same
	// experiment and seed (the first by run hash).
	Run       string
	Replicate int
}

// SeedRepeats lists the units that have no result of their own in store
// and whose experiment and seed have results under another run hash, in
// the order of units. It reads the store once per experiment.
func SeedRepeats(store *results.Store, units []WorkUnit) ([]SeedRepeat, error) {
	byExperiment := map[string][]results.Result{}
	var out []SeedRepeat
	for _, u := range units {
		exp, _ := Experiment(u.Spec)
		rs, ok := byExperiment[exp]
		if !ok {
			var err error
			if rs, err = store.Results(map[string]string{"experiment": exp}); err != nil {
				return nil, err
			}
			byExperiment[exp] = rs
		}
		seed := u.Spec.Seed + uint64(u.Replicate)
		own := slices.ContainsFunc(rs, func(r results.Result) bool {
			return r.SpecHash == u.Hash && r.Replicate == u.Replicate
		})
		if own {
			continue // started or finished here: resumed or skipped, not repeated
		}
		// rs is ordered by run hash, so the first match is the first run.
		k := slices.IndexFunc(rs, func(r results.Result) bool { return r.Seed == seed && r.SpecHash != u.Hash })
		if k >= 0 {
			out = append(out, SeedRepeat{Unit: u, Seed: seed, Run: rs[k].SpecHash, Replicate: rs[k].Replicate})
		}
	}
	return out, nil
}

// seedRepeatNote is the message for SeedRepeats' list: which units repeat
// which finished replicates (the first three), and how to add seeds.
func seedRepeatNote(reps []SeedRepeat) string {
	var b strings.Builder
	unit := "unit trains a seed"
	if len(reps) > 1 {
		unit = "units train seeds"
	}
	fmt.Fprintf(&b, "%d %s that this output folder already has from another run of the same experiment (", len(reps), unit)
	for i, r := range reps {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(reps)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: seed %d, finished as %s/replicate_%d", r.Unit.ID(), r.Seed, r.Run, r.Replicate)
	}
	b.WriteString("). They train again, and boards count each seed once. To add seeds to a finished run " +
		"instead, keep its replicates and set --set seed=S to its first new seed: that run trains seeds S to " +
		"S + replicates - 1")
	return b.String()
}

// noteSeedRepeats sends seedRepeatNote to notify when units repeat seeds;
// a store that cannot be read only loses the note.
func noteSeedRepeats(store *results.Store, units []WorkUnit, notify func(string)) {
	if store == nil || notify == nil {
		return
	}
	reps, err := SeedRepeats(store, units)
	if err != nil || len(reps) == 0 {
		return
	}
	notify(seedRepeatNote(reps))
}
