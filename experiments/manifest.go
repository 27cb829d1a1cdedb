package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/internal/atomicfile"
)

// A SweepManifest lists the points of a sweep that ran (or was submitted)
// into an output folder: what `prunebench status` counts, including the
// units that have not started and so have no folder yet. It lives in
// <output>/sweeps/<sweep hash>.yaml.
type SweepManifest struct {
	// Name is the spec file the sweep came from.
	Name string `yaml:"name"`
	// Hash names the sweep: SweepHash of its points.
	Hash    string          `yaml:"hash"`
	Written time.Time       `yaml:"written"`
	Points  []ManifestPoint `yaml:"points"`
}

// ManifestPoint is one point of a sweep.
type ManifestPoint struct {
	Run string `yaml:"run"`
	// Settings are the keys that set the point apart from the others
	// (SweptSettings).
	Settings   string `yaml:"settings"`
	Replicates int    `yaml:"replicates"`
}

// Units are the point's units in the output folder.
func (p ManifestPoint) Units(output string) []WorkUnit {
	units := make([]WorkUnit, p.Replicates)
	for r := range units {
		units[r] = WorkUnit{Spec: Spec{Output: output}, Hash: p.Run, Replicate: r}
	}
	return units
}

// SweepHash names a sweep by its units: the first 12 hex digits of the
// SHA-256 of their IDs in order. The same points give the same name
// whatever their order or the file they come from.
func SweepHash(specs []Spec) string {
	var b strings.Builder
	for _, u := range WorkUnits(specs) {
		b.WriteString(u.ID())
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:12]
}

const manifestDir = "sweeps"

// WriteSweepManifest writes the manifest of the specs (one sweep, one
// output folder) and returns it.
func WriteSweepManifest(name string, specs []Spec) (SweepManifest, error) {
	if len(specs) == 0 {
		return SweepManifest{}, errors.New("sweep manifest: no points")
	}
	m := SweepManifest{Name: name, Hash: SweepHash(specs), Written: time.Now().UTC().Truncate(time.Second)}
	settings := SweptSettings(specs)
	seen := map[string]bool{}
	for i, s := range specs {
		h := Hash(s)
		if seen[h] {
			continue
		}
		seen[h] = true
		m.Points = append(m.Points, ManifestPoint{Run: h, Settings: settings[i], Replicates: s.Replicates})
	}
	dir := filepath.Join(specs[0].Output, manifestDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, err
	}
	err := atomicfile.Write(filepath.Join(dir, m.Hash+".yaml"), func(f *os.File) error { return yaml.NewEncoder(f).Encode(m) })
	return m, err
}

// ReadSweepManifests reads the manifests of an output folder, oldest
// first. A missing folder has none.
func ReadSweepManifests(output string) ([]SweepManifest, error) {
	files, err := filepath.Glob(filepath.Join(output, manifestDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var ms []SweepManifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var m SweepManifest
		if err := yaml.Unmarshal(data, &m); err != nil || m.Hash == "" {
			return nil, fmt.Errorf("%s: not a sweep manifest of prunebench", f)
		}
		ms = append(ms, m)
	}
	slices.SortStableFunc(ms, func(a, b SweepManifest) int { return a.Written.Compare(b.Written) })
	return ms, nil
}

// WriteRunSpec writes a run's resolved spec to <output>/<hash>/spec.yaml,
// as RunSpec does before it trains: a unit list submitted to an array job
// names runs, and its tasks read their specs from there.
func WriteRunSpec(s Spec) error {
	root := filepath.Join(s.Output, Hash(s))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(root, "spec.yaml"), func(f *os.File) error { return WriteSpecYAML(f, s) })
}

// LoadRunSpec reads the resolved spec of run hash under output and checks
// that it is that run's. Its output is the folder it was found in (the
// spec.yaml may name the folder as another machine or working directory
// saw it; output is not part of the run's identity).
func LoadRunSpec(output, hash string) (Spec, error) {
	path := filepath.Join(output, hash, "spec.yaml")
	s, err := LoadSpec(path, nil)
	if err != nil {
		return Spec{}, err
	}
	s.Output = output
	if got := Hash(s); got != hash {
		return Spec{}, fmt.Errorf("%s is the spec of run %s, not of run %s (copied or edited?)", path, got, hash)
	}
	return s, nil
}
