package experiments

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/internal/unitlock"
	"github.com/prunebench/prunebench/nn/train"
)

// A WorkUnit is one replicate of one sweep point: what a sweep hands out to
// its workers, to the tasks of an array job, and what a lock, a done marker
// and a failure record belong to. Its folder is
// <output>/<hash>/replicate_<r>.
type WorkUnit struct {
	Spec      Spec // the point, with its own seed (replicate r uses Seed + r)
	Hash      string
	Replicate int
}

// ID names the unit: "<run hash>/replicate_<r>".
func (u WorkUnit) ID() string { return fmt.Sprintf("%s/replicate_%d", u.Hash, u.Replicate) }

// Dir is the unit's folder.
func (u WorkUnit) Dir() string {
	return filepath.Join(u.Spec.Output, u.Hash, fmt.Sprintf("replicate_%d", u.Replicate))
}

// WorkUnits lists the units of the specs (the points of a sweep): one per
// point and replicate, in a stable order, by run hash and then replicate,
// the same on every machine whatever the order of the points. Points with
// the same run hash are one run.
func WorkUnits(specs []Spec) []WorkUnit {
	var units []WorkUnit
	seen := map[string]bool{}
	for _, s := range specs {
		h := Hash(s)
		if seen[h] {
			continue
		}
		seen[h] = true
		for r := range s.Replicates {
			units = append(units, WorkUnit{Spec: s, Hash: h, Replicate: r})
		}
	}
	slices.SortFunc(units, func(a, b WorkUnit) int {
		if c := strings.Compare(a.Hash, b.Hash); c != 0 {
			return c
		}
		return a.Replicate - b.Replicate
	})
	return units
}

// Shard is the part of a list of units that task `task` of `tasks` runs:
// the units whose position i in the list has i mod tasks = task (round
// robin, so that the replicates of one point spread over tasks and every
// task gets at most one unit more than any other).
func Shard[T any](units []T, task, tasks int) ([]T, error) {
	if tasks < 1 || task < 0 || task >= tasks {
		return nil, fmt.Errorf("task %d of %d: want 0 ≤ task < tasks", task, tasks)
	}
	var out []T
	for i := task; i < len(units); i += tasks {
		out = append(out, units[i])
	}
	return out, nil
}

// The files of a unit's folder that say where it stands.
const (
	lockFile   = "lock"
	doneFile   = "done.yaml"
	failedFile = "failed.yaml"
)

// Done is the marker a unit's folder gets when all its levels and branches
// finished.
type Done struct {
	Finished time.Time `yaml:"finished"`
	Host     string    `yaml:"host"`
	Job      string    `yaml:"job,omitempty"`
}

// Failure is the record of a unit whose last attempt failed, kept in its
// folder until the unit runs again.
type Failure struct {
	Error  string    `yaml:"error"`
	Failed time.Time `yaml:"failed"`
	Host   string    `yaml:"host"`
	Job    string    `yaml:"job,omitempty"`
	// Log is the Slurm task's log file, when the unit ran in an array job
	// submitted by prunebench (PRUNEBENCH_LOG).
	Log string `yaml:"log,omitempty"`
}

// writeDone marks a unit's folder as finished and drops an earlier failure.
func writeDone(dir string) error {
	me := unitlock.Self()
	err := atomicfile.Write(filepath.Join(dir, doneFile), func(f *os.File) error {
		return yaml.NewEncoder(f).Encode(Done{Finished: time.Now().UTC().Truncate(time.Second), Host: me.Host, Job: me.Job})
	})
	if err != nil {
		return err
	}
	return removeIfThere(filepath.Join(dir, failedFile))
}

// writeFailure records why a unit failed, for status and --list.
func writeFailure(dir string, cause error) error {
	me := unitlock.Self()
	f := Failure{Error: cause.Error(), Failed: time.Now().UTC().Truncate(time.Second), Host: me.Host, Job: me.Job, Log: os.Getenv("PRUNEBENCH_LOG")}
	return atomicfile.Write(filepath.Join(dir, failedFile), func(w *os.File) error { return yaml.NewEncoder(w).Encode(f) })
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// UnitState is where a unit stands.
type UnitState int

const (
	NotStarted UnitState = iota // no level began
	Partial                     // some levels or a checkpoint exist, nobody is at it
	Running                     // a live process holds its lock
	Failed                      // its last attempt failed (Failure)
	Finished                    // every level and branch finished (Done)
)

func (s UnitState) String() string {
	return [...]string{"not started", "partial", "running", "failed", "done"}[s]
}

// UnitStatus is what a unit's folder says of it.
type UnitStatus struct {
	Unit  WorkUnit
	State UnitState
	// Holder is the process at it (Running).
	Holder unitlock.Holder
	// Failure is its last failure (Failed).
	Failure Failure
	// Levels counts the levels and branches that finished (result.yaml).
	Levels int
	// Checkpoint is the unfinished level or branch with the newest
	// checkpoint ("level_2", "level_1/branch_random") and its iteration,
	// where there is one.
	Checkpoint     string
	CheckpointIter int
}

// String describes the status in a few words, e.g. "partial: 2 levels
// done, level_2 at iteration 1200".
func (st UnitStatus) String() string {
	switch st.State {
	case Finished:
		return fmt.Sprintf("done (%s)", levels(st.Levels))
	case Running:
		return "running: " + st.Holder.String()
	case Failed:
		return "failed: " + st.Failure.Error
	}
	var parts []string
	if st.Levels > 0 {
		parts = append(parts, levels(st.Levels)+" done")
	}
	if st.Checkpoint != "" {
		parts = append(parts, fmt.Sprintf("%s at iteration %d", st.Checkpoint, st.CheckpointIter))
	}
	if len(parts) == 0 {
		return st.State.String()
	}
	return st.State.String() + ": " + strings.Join(parts, ", ")
}

// ReadUnitStatus reads where a unit stands from its folder: done marker,
// lock (a live holder is Running; a stale lock says nothing), failure
// record, finished levels and the newest checkpoint. It reads only small
// files and checkpoint headers.
func ReadUnitStatus(u WorkUnit) UnitStatus {
	st := UnitStatus{Unit: u}
	dir := u.Dir()
	resultsGlob := append(globAll(dir, results.FileName), globAll(dir, filepath.Join("*", results.FileName))...)
	st.Levels = len(resultsGlob)
	if _, err := os.Stat(filepath.Join(dir, doneFile)); err == nil {
		st.State = Finished
		return st
	}
	if h, err := unitlock.Read(filepath.Join(dir, lockFile)); err == nil {
		if alive, _ := unitlock.Alive(h, lockOptions(nil)); alive {
			st.State, st.Holder = Running, h
		}
	}
	var newest time.Time
	for _, ck := range append(globAll(dir, CheckpointFile), globAll(dir, filepath.Join("*", CheckpointFile))...) {
		unit := filepath.Dir(ck)
		if _, err := os.Stat(filepath.Join(unit, results.FileName)); err == nil {
			continue // a finished level's final checkpoint
		}
		info, err := os.Stat(ck)
		if err != nil || !info.ModTime().After(newest) {
			continue
		}
		head, err := train.ReadCheckpointHead(ck)
		if err != nil {
			continue
		}
		newest = info.ModTime()
		rel, _ := filepath.Rel(dir, unit)
		st.Checkpoint, st.CheckpointIter = filepath.ToSlash(rel), head.Iter
	}
	if st.State == Running {
		return st
	}
	if data, err := os.ReadFile(filepath.Join(dir, failedFile)); err == nil && yaml.Unmarshal(data, &st.Failure) == nil {
		st.State = Failed
		return st
	}
	if st.Levels > 0 || st.Checkpoint != "" {
		st.State = Partial
	}
	return st
}

// globAll lists dir/level_*/pattern.
func globAll(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "level_*", pattern))
	return m
}

// levels counts levels (and branches) in words.
func levels(n int) string {
	if n == 1 {
		return "1 level"
	}
	return fmt.Sprintf("%d levels", n)
}
