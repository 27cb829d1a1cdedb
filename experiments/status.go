package experiments

import "path/filepath"

// PointStatus is where the units of one point (one run) stand.
type PointStatus struct {
	// Sweep is the manifest's sweep hash, "" for a run outside any sweep
	// (`prunebench run`).
	Sweep string
	Point ManifestPoint
	Units []UnitStatus
}

// Count is how many of the point's units are in state s.
func (p PointStatus) Count(s UnitState) int {
	n := 0
	for _, u := range p.Units {
		if u.State == s {
			n++
		}
	}
	return n
}

// Status reads where every unit under output stands: the points of every
// sweep manifest (in the order the sweeps were written), then the runs
// that no manifest names, from their spec.yaml. A point listed by two
// sweeps is shown once, with the first.
func Status(output string) ([]PointStatus, error) {
	ms, err := ReadSweepManifests(output)
	if err != nil {
		return nil, err
	}
	var out []PointStatus
	seen := map[string]bool{}
	add := func(sweep string, p ManifestPoint) {
		if seen[p.Run] {
			return
		}
		seen[p.Run] = true
		ps := PointStatus{Sweep: sweep, Point: p}
		for _, u := range p.Units(output) {
			ps.Units = append(ps.Units, ReadUnitStatus(u))
		}
		out = append(out, ps)
	}
	for _, m := range ms {
		for _, p := range m.Points {
			add(m.Hash, p)
		}
	}
	specs, _ := filepath.Glob(filepath.Join(output, "*", "spec.yaml"))
	for _, f := range specs {
		hash := filepath.Base(filepath.Dir(f))
		if seen[hash] {
			continue
		}
		s, err := LoadRunSpec(output, hash)
		if err != nil {
			// Shown, not fatal: one damaged folder must not hide the rest.
			add("", ManifestPoint{Run: hash, Settings: "unreadable: " + err.Error()})
			continue
		}
		add("", ManifestPoint{Run: hash, Settings: Settings(s), Replicates: s.Replicates})
	}
	return out, nil
}
