package results

import (
	"database/sql"
	"math"
	"reflect"
	"strings"
)

// Unit names one unit of a run, the key of a results row and of its
// curve: run (spec hash), replicate, level and branch.
type Unit struct {
	SpecHash  string
	Replicate int
	Level     int
	Branch    string
}

// Unit is the unit r is the result of.
func (r *Result) Unit() Unit { return Unit{r.SpecHash, r.Replicate, r.Level, r.Branch} }

// putCurve replaces the stored curve of r's unit by r.Curve, inside the
// transaction that stores r's row. A result without a curve (a pipeline
// that records none, a file written before results kept curves) leaves
// the unit without one. A step given twice keeps its last point.
func putCurve(tx *sql.Tx, r Result) error {
	if _, err := tx.Exec(`DELETE FROM curves WHERE spec_hash = ? AND replicate = ? AND level = ? AND branch = ?`,
		r.SpecHash, r.Replicate, r.Level, r.Branch); err != nil {
		return err
	}
	if len(r.Curve) == 0 {
		return nil
	}
	stmt, err := tx.Prepare("INSERT OR REPLACE INTO curves (spec_hash, replicate, level, branch, " + curveColumnList() +
		") VALUES (?, ?, ?, ?" + strings.Repeat(", ?", len(curveColumns)) + ")")
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 4+len(curveColumns))
	args[0], args[1], args[2], args[3] = r.SpecHash, r.Replicate, r.Level, r.Branch
	for _, p := range r.Curve {
		v := reflect.ValueOf(p)
		for i, c := range curveColumns {
			f := v.Field(c.index)
			switch {
			case !c.real:
				args[4+i] = f.Int()
			case math.IsNaN(f.Float()):
				args[4+i] = nil
			default:
				args[4+i] = f.Float()
			}
		}
		if _, err := stmt.Exec(args...); err != nil {
			return err
		}
	}
	return nil
}

// Curves reads the stored curves of the units of rs, each in step order;
// a unit without a curve (stored before results kept curves, or by a
// pipeline that records none) is absent from the map. Results and Run do
// not read curves, so that a board of many results reads no curve; a plot
// of learning curves reads them here, for the results it draws.
func (s *Store) Curves(rs []Result) (map[Unit][]CurvePoint, error) {
	out := map[Unit][]CurvePoint{}
	if len(rs) == 0 {
		return out, nil
	}
	want := make(map[Unit]bool, len(rs))
	hashes := map[string]bool{}
	for i := range rs {
		want[rs[i].Unit()] = true
		hashes[rs[i].SpecHash] = true
	}
	// One query per run: its curves come by the primary key's prefix.
	q := "SELECT replicate, level, branch, " + curveColumnList() + " FROM curves WHERE spec_hash = ? ORDER BY replicate, level, branch, step"
	dest := make([]any, 3+len(curveColumns))
	var rep, level int64
	var branch string
	dest[0], dest[1], dest[2] = &rep, &level, &branch
	for i, c := range curveColumns {
		if c.real {
			dest[3+i] = new(sql.NullFloat64)
		} else {
			dest[3+i] = new(int64)
		}
	}
	for hash := range hashes {
		op := "read the curves of run " + hash
		rows, err := s.db.Query(q, hash)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, s.wrap(op, err)
			}
			u := Unit{hash, int(rep), int(level), branch}
			if !want[u] {
				continue
			}
			var p CurvePoint
			v := reflect.ValueOf(&p).Elem()
			for i, c := range curveColumns {
				f := v.Field(c.index)
				if !c.real {
					f.SetInt(*dest[3+i].(*int64))
				} else if x := dest[3+i].(*sql.NullFloat64); x.Valid {
					f.SetFloat(x.Float64)
				} else {
					f.SetFloat(math.NaN())
				}
			}
			out[u] = append(out[u], p)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap(op, err)
		}
	}
	return out, nil
}

// FillCurves sets the Curve of each result of rs from the store (Curves):
// nil for a unit without a stored curve.
func (s *Store) FillCurves(rs []Result) error {
	curves, err := s.Curves(rs)
	if err != nil {
		return err
	}
	for i := range rs {
		rs[i].Curve = curves[rs[i].Unit()]
	}
	return nil
}
