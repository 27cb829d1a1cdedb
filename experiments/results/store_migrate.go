package results

import "fmt"

// SchemaVersion is the schema version of the stores this build writes:
// Open migrates an older store to it, OpenReadOnly refuses one.
func SchemaVersion() int { return len(migrations) }

// Migrated is the number of schema migrations Open applied to the file:
// zero for a store that was already current.
func (s *Store) Migrated() int { return s.applied }

// NameExperiment sets the experiment and settings of the rows of one run
// that were stored before results recorded them (both empty), and returns
// how many rows it named. Rows that name their experiment are left alone.
func (s *Store) NameExperiment(specHash, experiment, settings string) (int, error) {
	op := fmt.Sprintf("name the experiment of run %s", specHash)
	if s.readOnly {
		return 0, fmt.Errorf("results store %s: %s: the store was opened read-only (results.OpenReadOnly); writing needs results.Open", s.path, op)
	}
	res, err := s.db.Exec(`UPDATE results SET experiment = ?, settings = ? WHERE spec_hash = ? AND experiment = '' AND settings = ''`,
		experiment, settings, specHash)
	if err != nil {
		return 0, s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap(op, err)
	}
	return int(n), nil
}
