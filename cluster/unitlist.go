package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/internal/atomicfile"
)

// A UnitList is the work a submission froze: the units that were
// unfinished when it was submitted, in the order the tasks share them
// (task i runs the units at positions i, i+N, …). The tasks read it rather
// than the spec, so that units finishing meanwhile, or an edit of the spec
// after the submission, never shift the shares.
type UnitList struct {
	// Output is the output folder, absolute.
	Output string `yaml:"output"`
	// Sweep names the sweep (experiments.SweepHash) and Spec is its file.
	Sweep     string    `yaml:"sweep"`
	Spec      string    `yaml:"spec"`
	Submitted time.Time `yaml:"submitted"`
	// Tasks is the number of tasks that share the units.
	Tasks int      `yaml:"tasks"`
	Units []string `yaml:"units"`
}

// Dir is where a sweep's cluster files live: <output>/slurm.
func Dir(output string) string { return filepath.Join(output, "slurm") }

// LogDir is where the tasks' logs go: <output>/slurm/logs.
func LogDir(output string) string { return filepath.Join(Dir(output), "logs") }

// WriteUnitList writes l to <output>/slurm/<sweep>-<digest>.units, the
// digest being that of its units and task count (so a resubmission of other
// units never overwrites a list that queued tasks still read), and returns
// the path.
func WriteUnitList(l UnitList) (string, error) {
	if len(l.Units) == 0 {
		return "", errors.New("unit list: no units")
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\n%s", l.Tasks, strings.Join(l.Units, "\n"))))
	path := filepath.Join(Dir(l.Output), fmt.Sprintf("%s-%s.units", l.Sweep, hex.EncodeToString(sum[:])[:8]))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	err := atomicfile.Write(path, func(f *os.File) error { return yaml.NewEncoder(f).Encode(l) })
	return path, err
}

// ReadUnitList reads a unit list.
func ReadUnitList(path string) (UnitList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return UnitList{}, fmt.Errorf("--units: %w", err)
	}
	var l UnitList
	if err := yaml.Unmarshal(data, &l); err != nil || l.Output == "" || len(l.Units) == 0 || l.Tasks < 1 {
		return UnitList{}, fmt.Errorf("--units %s: not a unit list written by prunebench slurm", path)
	}
	return l, nil
}

// Share is the units of task t: positions t.Index, t.Index + t.Count, …
// (experiments.Shard).
func (l UnitList) Share(t Task) ([]string, error) {
	return experiments.Shard(l.Units, t.Index, t.Count)
}
