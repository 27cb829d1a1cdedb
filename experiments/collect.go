package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// Where results go: the rule of the two modes.
//
// A sweep on one machine (`prunebench run`, `prunebench sweep` without
// --task) writes each unit's result.yaml and then its row of
// <output>/results.db, as it always did. The tasks of an array job
// (`sweep --task`) write result.yaml only: they run on the nodes of a
// cluster whose shared file system (NFS, Lustre) does not support SQLite's
// WAL, whose index is shared memory. Collect then ingests the files into
// the store on the machine that reads the board, and board, ls, show and
// plot collect by themselves when they find result files newer than the
// store.

// resultGlobs are the patterns of the result files under an output folder:
// levels and the branches off them.
var resultGlobs = []string{
	filepath.Join("*", "replicate_*", "level_*", results.FileName),
	filepath.Join("*", "replicate_*", "level_*", "branch_*", results.FileName),
}

// ResultFiles lists the result files under an output folder.
func ResultFiles(output string) ([]string, error) {
	var files []string
	for _, g := range resultGlobs {
		m, err := filepath.Glob(filepath.Join(output, g))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return files, nil
}

// StoreTime is when the store at path last changed: the newer of the
// database file and its WAL, where the rows of a writer go first. Zero
// when there is no store.
func StoreTime(path string) time.Time {
	var t time.Time
	for _, p := range []string{path, path + "-wal"} {
		if info, err := os.Stat(p); err == nil && info.ModTime().After(t) {
			t = info.ModTime()
		}
	}
	return t
}

// Uncollected lists the result files under output that are newer than the
// store at storePath: those an array job wrote since the last Collect (a
// local sweep writes the store after each file).
func Uncollected(output, storePath string) ([]string, error) {
	files, err := ResultFiles(output)
	if err != nil {
		return nil, err
	}
	since := StoreTime(storePath)
	var out []string
	for _, f := range files {
		if info, err := os.Stat(f); err == nil && info.ModTime().After(since) {
			out = append(out, f)
		}
	}
	return out, nil
}

// CollectReport counts what Collect found.
type CollectReport struct {
	// New results were added to the store; Unchanged ones it held already.
	New, Unchanged int
	// Conflicts are files that disagree with the store's row for their
	// unit: "path: differences". The store keeps its row.
	Conflicts []string
	// Bad are files that cannot be believed (cut short, edited, in the
	// wrong folder): "path: why". They are not ingested.
	Bad []string
}

// String is the report in one line.
func (r CollectReport) String() string {
	s := fmt.Sprintf("%d new, %d unchanged, %d conflicting", r.New, r.Unchanged, len(r.Conflicts))
	if len(r.Bad) > 0 {
		s += fmt.Sprintf(", %d unreadable", len(r.Bad))
	}
	return s
}

// ReadResults reads and checks result files: each must be whole and sit in
// its own unit's folder (run hash, replicate, level, branch), and name the
// experiment of its run's spec.yaml where that can be read. It returns the
// results with the files they come from (paths[i] holds rs[i]), and the
// files that fail as "path: why".
func ReadResults(output string, files []string) (rs []results.Result, paths, bad []string) {
	experiments := map[string][2]string{} // run hash → experiment, settings
	for _, f := range files {
		r, err := readResultAt(output, f, experiments)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		rs, paths = append(rs, r), append(paths, f)
	}
	return rs, paths, bad
}

func readResultAt(output, path string, experiments map[string][2]string) (results.Result, error) {
	r, err := results.ReadFile(path)
	if err != nil {
		return results.Result{}, err
	}
	rel, err := filepath.Rel(output, filepath.Dir(path))
	if err != nil {
		return results.Result{}, fmt.Errorf("%s: %w", path, err)
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	var rep, level int
	branch := ""
	ok := len(parts) >= 3 && len(parts) <= 4
	if ok {
		_, e1 := fmt.Sscanf(parts[1], "replicate_%d", &rep)
		_, e2 := fmt.Sscanf(parts[2], "level_%d", &level)
		ok = e1 == nil && e2 == nil
	}
	if ok && len(parts) == 4 {
		branch, ok = strings.CutPrefix(parts[3], "branch_")
	}
	if !ok {
		return results.Result{}, fmt.Errorf("%s: not in a unit folder (<run>/replicate_<r>/level_<l>[/branch_<b>])", path)
	}
	if r.SpecHash != parts[0] || r.Replicate != rep || r.Level != level || r.Branch != branch {
		return results.Result{}, fmt.Errorf("%s: belongs to run %s replicate %d level %d%s, not to the folder it sits in (copied?)",
			path, r.SpecHash, r.Replicate, r.Level, branchSuffix(r.Branch))
	}
	e, known := experiments[r.SpecHash]
	if !known {
		if s, err := LoadSpec(filepath.Join(output, r.SpecHash, "spec.yaml"), nil); err == nil && Hash(s) == r.SpecHash {
			name, settings := Experiment(s)
			e = [2]string{name, settings}
		}
		experiments[r.SpecHash] = e
	}
	switch {
	case e[0] == "":
	case r.Experiment == "" && r.Settings == "": // written before results named their experiment
		r.Experiment, r.Settings = e[0], e[1]
	case r.Experiment != e[0]:
		return results.Result{}, fmt.Errorf("%s: names experiment %s, but its run's spec.yaml is experiment %s (edited?)", path, r.Experiment, e[0])
	}
	return r, nil
}

// Collect ingests the result files under output into the store: a file
// whose unit the store lacks is added, one that agrees with the store's row
// changes nothing, and one that disagrees is a conflict, reported with its
// differences while the store keeps its row (move the file away, or delete
// the row's run folder and train it again). All new results are stored in
// one transaction. Collecting twice adds nothing the second time.
func Collect(output string, st *results.Store) (CollectReport, error) {
	files, err := ResultFiles(output)
	if err != nil {
		return CollectReport{}, err
	}
	return CollectFiles(output, files, st)
}

// CollectFiles is Collect of some of the result files under output: those
// that Uncollected found newer than the store, which is what board reads
// when it collects by itself (reading every file of a large sweep takes
// seconds; see docs/cluster.md).
func CollectFiles(output string, files []string, st *results.Store) (CollectReport, error) {
	var rep CollectReport
	rs, paths, bad := ReadResults(output, files)
	rep.Bad = bad
	stored, err := st.Results(nil)
	if err != nil {
		return rep, err
	}
	type key struct {
		hash   string
		rep    int
		level  int
		branch string
	}
	have := make(map[key]results.Result, len(stored))
	for _, r := range stored {
		have[key{r.SpecHash, r.Replicate, r.Level, r.Branch}] = r
	}
	var add []results.Result
	for i, r := range rs {
		s, ok := have[key{r.SpecHash, r.Replicate, r.Level, r.Branch}]
		switch {
		case !ok:
			add = append(add, r)
		case s.Experiment == "" && r.Experiment != "" && results.Diff(r, s, "experiment", "settings") == "":
			add = append(add, r) // a row of an older store: name its experiment
		case results.Diff(r, s) == "":
			rep.Unchanged++
		default:
			rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("%s: %s (file against store)", paths[i], results.Diff(r, s)))
		}
	}
	if err := st.PutAll(add); err != nil {
		return rep, err
	}
	rep.New = len(add)
	return rep, nil
}
