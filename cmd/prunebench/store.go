package main

import (
	"errors"
	"fmt"
	"io"
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

// openStoreToRead opens OUTPUT/results.db for the commands that read it
// (board, plot, ls, show): read-only, so that it works on a read-only
// mount, for another user and on a full disk, and never migrates the file.
//
// Result files newer than the store (those an array job's tasks wrote) are
// collected first, which is the one time these commands write the store.
// Where the store cannot be written (another user's, a read-only mount),
// they are shown from their files instead: the store's rows and the files
// are read into a temporary store, removed on Close, and w says so.
func openStoreToRead(w io.Writer, output string) (*results.Store, error) {
	path := filepath.Join(output, storeFile)
	files, err := experiments.Uncollected(output, path)
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		err := collectInto(w, output, path, files)
		if err == nil {
			return results.OpenReadOnly(path)
		}
		fmt.Fprintf(w, "note: %s newer than %s, which cannot be written here (%v); showing them from their files; `prunebench collect %s` as the store's owner ingests them\n",
			plural(len(files), "result file"), path, err, output)
		return temporaryStore(output, path)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, missingStore{path}
	}
	return results.OpenReadOnly(path)
}

// collectInto collects result files under output into the store at path
// (creating it), and says what it did on w.
func collectInto(w io.Writer, output, path string, files []string) error {
	st, err := results.Open(path)
	if err != nil {
		return err
	}
	rep, err := experiments.CollectFiles(output, files, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "collected result files into %s: %s\n", path, rep)
	printCollectProblems(w, rep)
	return nil
}

// printCollectProblems lists the files Collect did not ingest.
func printCollectProblems(w io.Writer, rep experiments.CollectReport) {
	for _, c := range rep.Conflicts {
		fmt.Fprintf(w, "conflict: %s; the store keeps its row (move the file away, or delete the unit's folder and train it again)\n", c)
	}
	for _, b := range rep.Bad {
		fmt.Fprintf(w, "not ingested: %s\n", b)
	}
}

// temporaryStore is a store in a temporary folder holding the rows of the
// store at path (if there is one), with their curves, and the result files
// under output.
func temporaryStore(output, path string) (*results.Store, error) {
	dir, err := os.MkdirTemp("", "prunebench-board-")
	if err != nil {
		return nil, err
	}
	tmp, err := results.Open(filepath.Join(dir, storeFile))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	tmp.OnClose(func() { os.RemoveAll(dir) })
	if _, err := os.Stat(path); err == nil {
		ro, err := results.OpenReadOnly(path)
		if err != nil {
			tmp.Close()
			return nil, err
		}
		rows, err := ro.Results(nil)
		if err == nil {
			err = ro.FillCurves(rows) // so that plot --metric curve draws them
		}
		ro.Close()
		if err == nil {
			err = tmp.PutAll(rows)
		}
		if err != nil {
			tmp.Close()
			return nil, err
		}
	}
	if _, err := experiments.Collect(output, tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
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
