package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/registry"
)

// storeFile is the results store's file name in the output folder.
const storeFile = "results.db"

// missingStore is the error of an output folder without a store; it says
// how to make one, and is fs.ErrNotExist.
type missingStore struct{ path string }

func (e missingStore) Error() string {
	return fmt.Sprintf("no results yet in %s; run `prunebench run SPEC.yaml` first (or point --output at the folder that holds %s)", e.path, storeFile)
}
func (e missingStore) Unwrap() error { return fs.ErrNotExist }

// openStoreToRead opens OUTPUT/results.db for the commands that only read
// it (board, plot, ls, show): read-only, so that it works on a read-only
// mount, for another user and on a full disk, and never migrates the file
// or creates it.
func openStoreToRead(output string) (*results.Store, error) {
	path := filepath.Join(output, storeFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, missingStore{path}
	}
	return results.OpenReadOnly(path)
}

// where is a set of --where flags split by what they select on: a result
// column (filtered by the store) or a spec key (filtered by the settings
// each result records, defaults filled in).
type where struct {
	columns, settings map[string]string
	flags             []string
}

// parseWhere reads --where key=value flags. A key is a result column or a
// spec key; anything else is an error naming the flag, the closest name and
// the columns. Two flags that give one key different values contradict.
func parseWhere(flags []string) (where, error) {
	w := where{columns: map[string]string{}, settings: map[string]string{}, flags: flags}
	flagOf := map[string]string{}
	defaults := experiments.KeyDefaults()
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return where{}, fmt.Errorf("--where %q: want key=value, e.g. --where method=imp or --where training.lr=0.1", f)
		}
		if err := checkKey("--where", f, k, defaults); err != nil {
			return where{}, err
		}
		if prev, dup := flagOf[k]; dup && prev != f {
			return where{}, fmt.Errorf("--where %q: contradicts --where %q (all --where flags must hold)", f, prev)
		}
		flagOf[k] = f
		if slices.Contains(results.Columns(), k) {
			w.columns[k] = v
		} else {
			w.settings[k] = v
		}
	}
	return w, nil
}

// checkKey says which flag named a key that is neither a result column nor
// a spec key; given is the flag's value as typed.
func checkKey(flag, given, key string, specDefaults map[string]string) error {
	cols := results.Columns()
	if _, ok := specDefaults[key]; ok || slices.Contains(cols, key) {
		return nil
	}
	hint := ""
	if best := registry.Closest(key, append(slices.Collect(maps.Keys(specDefaults)), cols...)); best != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Errorf("%s %q: unknown key %q%s; give a result column (%s) or a spec key (prunebench config --defaults lists them)",
		flag, given, key, hint, strings.Join(cols, ", "))
}

// results reads the store's results that match every flag.
func (w where) results(st *results.Store) ([]results.Result, error) {
	rs, err := st.Results(w.columns)
	if err != nil {
		// Name the flag whose value the store refused, if one alone does.
		for _, f := range w.flags {
			k, v, _ := strings.Cut(f, "=")
			k = strings.TrimSpace(k)
			if _, ok := w.columns[k]; !ok {
				continue
			}
			if _, e := st.Results(map[string]string{k: v}); e != nil {
				return nil, fmt.Errorf("--where %q: %w", f, e)
			}
		}
		return nil, err
	}
	if len(w.settings) == 0 {
		return rs, nil
	}
	return results.WhereSettings(rs, w.settings, experiments.KeyDefaults())
}
