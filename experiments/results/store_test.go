package results

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// result is a row with every field set to something other than its zero
// value.
func result(hash string, rep, level int, branch string) Result {
	return Result{
		SpecHash: hash, Pipeline: "imp", Method: "magnitude", Dataset: "mnist",
		Model: "lenet-300-100", Backend: "native",
		Replicate: rep, Seed: uint64(100 + rep), Level: level, Branch: branch,
		Density: 0.8, Sparsity: 0.2, Compression: 1.25,
		ParamsTotal: 266610, ParamsNonzero: 213288, FLOPsDense: 532000, FLOPsNonzero: 426000,
		Bytes:    1066440,
		BestIter: 1500, BestTestAcc: 0.981, BestTestLoss: 0.061, BestValAcc: 0.979, BestValLoss: 0.066,
		FinalTestAcc: 0.978, FinalTestLoss: 0.07, Iterations: 2000,
		Wall: 83*time.Second + 123456789, Version: "v0.1.0",
		Finished: time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC),
		Metrics:  map[string]float64{"t_mem": 400, "t_grok": 1800, "grokked": 1},
		Curve:    testCurve(3, 0.8),
	}
}

// testCurve is a learning curve of n points, every 100 steps, the
// training accuracy not measured (NaN) and the density d.
func testCurve(n int, d float64) []CurvePoint {
	c := make([]CurvePoint, n)
	for i := range c {
		x := float64(i + 1)
		c[i] = CurvePoint{Step: 100 * (i + 1), TrainLoss: 1 / x, TrainAcc: math.NaN(), ValLoss: 1.1 / x, ValAcc: 1 - 0.3/x,
			TestLoss: 1.2 / x, TestAcc: 1 - 0.31/x, Density: d}
	}
	return c
}

// sameFloat is equality with NaN equal to NaN.
func sameFloat(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }

// sameResult compares field by field, with NaN equal to NaN and times by
// instant.
func sameResult(a, b Result) (string, bool) {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		x, y := va.Field(i), vb.Field(i)
		name := va.Type().Field(i).Name
		switch xv := x.Interface().(type) {
		case float64:
			yv := y.Float()
			if !(xv == yv || math.IsNaN(xv) && math.IsNaN(yv)) {
				return fmt.Sprintf("%s: %v != %v", name, xv, yv), false
			}
		case time.Time:
			if yv := y.Interface().(time.Time); !xv.Equal(yv) {
				return fmt.Sprintf("%s: %v != %v", name, xv, yv), false
			}
		case map[string]float64:
			yv := y.Interface().(map[string]float64)
			same := len(xv) == len(yv)
			for k, v := range xv {
				w, ok := yv[k]
				same = same && ok && sameFloat(v, w)
			}
			if !same {
				return fmt.Sprintf("%s: %v != %v", name, xv, yv), false
			}
		case []CurvePoint:
			yv := y.Interface().([]CurvePoint)
			if len(xv) != len(yv) {
				return fmt.Sprintf("%s: %d points != %d", name, len(xv), len(yv)), false
			}
			for j := range xv {
				p, q := reflect.ValueOf(xv[j]), reflect.ValueOf(yv[j])
				for f := range p.NumField() {
					if a, b := p.Field(f), q.Field(f); a.CanFloat() && !sameFloat(a.Float(), b.Float()) || a.CanInt() && a.Int() != b.Int() {
						return fmt.Sprintf("%s[%d]: %+v != %+v", name, j, xv[j], yv[j]), false
					}
				}
			}
		default:
			if !reflect.DeepEqual(x.Interface(), y.Interface()) {
				return fmt.Sprintf("%s: %#v != %#v", name, x.Interface(), y.Interface()), false
			}
		}
	}
	return "", true
}

func openTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runs", "results.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mustPut(t *testing.T, s *Store, rs ...Result) {
	t.Helper()
	for _, r := range rs {
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
}

// rawDB opens path with the bare driver, for what the Store API does not do.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragmaInt(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("PRAGMA " + name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", wants)
	}
	t.Logf("error: %v", err)
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// TestStoreSchemaMatchesResult fails when a field is added to Result without
// a column (and a migration that adds it).
func TestStoreSchemaMatchesResult(t *testing.T) {
	typ := reflect.TypeOf(Result{})
	var apart []string // fields with a table of their own
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		has := slices.ContainsFunc(columns, func(c column) bool { return c.index == i })
		switch {
		case f.Tag.Get("store") == "-" && has:
			t.Errorf("Result.%s is tagged store:\"-\" and has a column", f.Name)
		case f.Tag.Get("store") == "-":
			apart = append(apart, f.Name)
		case !has:
			t.Errorf("Result.%s has no column", f.Name)
		}
	}
	if !slices.Equal(apart, []string{"Curve"}) {
		t.Errorf("fields kept apart from the results table: %v, want [Curve] (a new one needs its own table, its migration and its Put)", apart)
	}
	if len(columns)+len(apart) != typ.NumField() {
		t.Errorf("Result has %d fields, columns %d and %d kept apart", typ.NumField(), len(columns), len(apart))
	}
	// The metrics are a column of the table, not a key.
	if slices.Contains(Columns(), "metrics") || !strings.Contains(sqlColumnList(), "metrics") {
		t.Errorf("metrics: a key column (%v), or not stored (%s)", Columns(), sqlColumnList())
	}
	s, _ := openTestStore(t)
	tableColumns := func(table string) []string {
		rows, err := s.db.Query("SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			got = append(got, n)
		}
		slices.Sort(got)
		return got
	}
	want := strings.Split(sqlColumnList(), ", ")
	slices.Sort(want)
	if got := tableColumns("results"); !slices.Equal(got, want) {
		t.Errorf("table columns %v\nwant %v", got, want)
	}
	want = append([]string{"spec_hash", "replicate", "level", "branch"}, strings.Split(curveColumnList(), ", ")...)
	slices.Sort(want)
	if got := tableColumns("curves"); !slices.Equal(got, want) {
		t.Errorf("curves table columns %v\nwant %v", got, want)
	}
	if n := reflect.TypeOf(CurvePoint{}).NumField(); n != len(curveColumns) {
		t.Errorf("CurvePoint has %d fields, the curves table %d columns of them", n, len(curveColumns))
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s, _ := openTestStore(t)
	nan := math.NaN()
	cases := map[string]func(*Result){
		"every field": func(*Result) {},
		"NaN accuracies and losses": func(r *Result) {
			r.BestTestAcc, r.BestTestLoss, r.BestValAcc, r.BestValLoss = nan, nan, nan, nan
			r.FinalTestAcc, r.FinalTestLoss, r.Density = nan, nan, nan
		},
		"infinities": func(r *Result) {
			r.Density, r.Compression, r.FinalTestLoss = 0, math.Inf(1), math.Inf(-1)
		},
		"extreme integers": func(r *Result) {
			r.ParamsTotal, r.ParamsNonzero = math.MaxInt64, math.MinInt64
			r.FLOPsDense, r.FLOPsNonzero, r.Bytes = math.MaxInt64-1, 1<<53+1, -1
			r.Seed = math.MaxUint64
			r.Wall = math.MaxInt64
		},
		"unicode and quotes": func(r *Result) {
			r.Branch = "随机重初始化 🎲 ‘reinit’; DROP TABLE results; --"
			r.Method = `snip "x" 'y'`
			r.Pipeline = "λ-imp"
		},
		"tiny and exact floats": func(r *Result) {
			r.Density, r.Sparsity = 5e-324, 1-5e-324
			r.BestTestAcc = 0.1 + 0.2
		},
		"zero time and empty strings": func(r *Result) {
			r.Finished, r.Version, r.Backend = time.Time{}, "", ""
		},
		"time in another zone": func(r *Result) {
			r.Finished = time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("X", -7*3600))
		},
		"metrics not reached and infinite": func(r *Result) {
			r.Metrics = map[string]float64{"t_grok": nan, "grokked": 0, "delay": math.Inf(1), "low": math.Inf(-1), `odd "name"`: 0.1 + 0.2}
		},
		"no metrics and no curve": func(r *Result) {
			r.Metrics, r.Curve = nil, nil
		},
		"curve with NaN and changing density": func(r *Result) {
			r.Curve = testCurve(5, 1)
			r.Curve[0].ValAcc, r.Curve[0].TestLoss = nan, nan
			r.Curve[2].TrainAcc = 0.5
			r.Curve[3].Density, r.Curve[4].Density = 0.5, 5e-324
		},
	}
	i := 0
	for name, mod := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			want := result(fmt.Sprintf("rt%010d", i), 0, 0, "")
			mod(&want)
			mustPut(t, s, want)
			got, err := s.Run(want.SpecHash)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d rows, want 1", len(got))
			}
			if got[0].Curve != nil {
				t.Errorf("Run read the curve (%d points): rows come without curves", len(got[0].Curve))
			}
			if err := s.FillCurves(got); err != nil {
				t.Fatal(err)
			}
			if diff, ok := sameResult(want, got[0]); !ok {
				t.Error(diff)
			}
		})
	}
	// NaN is stored as NULL.
	var nulls int
	if err := s.db.QueryRow("SELECT count(*) FROM results WHERE final_test_acc IS NULL").Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("rows with NULL final_test_acc: %d (%v), want 1", nulls, err)
	}
}

func TestStorePutReplaces(t *testing.T) {
	s, _ := openTestStore(t)
	a := result("aaaa00000000", 0, 1, "")
	ctrl := result("aaaa00000000", 0, 1, "random-reinit")
	mustPut(t, s, a, ctrl)
	// The new result's curve replaces the old one whole: a shorter curve
	// leaves none of the old points behind.
	a.FinalTestAcc, a.Finished = 0.5, a.Finished.Add(time.Hour)
	a.Curve, a.Metrics = testCurve(2, 0.5), map[string]float64{"t_mem": 300}
	mustPut(t, s, a)
	got, err := s.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FillCurves(got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows, want 2 (the level, replaced, and its branch)", len(got))
	}
	if diff, ok := sameResult(a, got[0]); !ok {
		t.Errorf("level not replaced: %s", diff)
	}
	if diff, ok := sameResult(ctrl, got[1]); !ok {
		t.Errorf("branch changed: %s", diff)
	}
	// A result without a curve leaves its unit without one.
	ctrl.Curve = nil
	mustPut(t, s, ctrl)
	if curves, err := s.Curves(got); err != nil || len(curves) != 1 || len(curves[a.Unit()]) != 2 {
		t.Errorf("after replacing the branch by a result without a curve: %v, %v; want the level's 2 points only", curves, err)
	}
	if err := s.Put(Result{}); err == nil {
		t.Error("Put without spec hash: no error")
	}
}

func TestStoreResultsFilter(t *testing.T) {
	s, _ := openTestStore(t)
	var all []Result
	for i, d := range []float64{1, 0.8, 0.8 * 0.8, 1 - 0.8} { // 1 − 0.8 = 0.19999999999999996
		for rep := 0; rep < 2; rep++ {
			r := result("bbbb00000000", rep, i, "")
			r.Density, r.Sparsity, r.Compression = d, 1-d, 1/d
			if i == 3 {
				r.Method, r.FinalTestAcc = "random", math.NaN()
			}
			all = append(all, r)
		}
	}
	other := result("cccc00000000", 0, 0, "")
	other.Dataset, other.Seed = "cifar10", math.MaxUint64
	all = append(all, other, result("bbbb00000000", 0, 1, "reinit"))
	mustPut(t, s, all...)

	key := func(r Result) string {
		return fmt.Sprintf("%s/%d/%d/%s", r.SpecHash[:4], r.Replicate, r.Level, r.Branch)
	}
	cases := []struct {
		filter map[string]string
		want   []string
	}{
		{nil, []string{"bbbb/0/0/", "bbbb/0/1/", "bbbb/0/1/reinit", "bbbb/0/2/", "bbbb/0/3/", "bbbb/1/0/", "bbbb/1/1/", "bbbb/1/2/", "bbbb/1/3/", "cccc/0/0/"}},
		{map[string]string{"density": "0.2"}, []string{"bbbb/0/3/", "bbbb/1/3/"}},
		{map[string]string{"density": "0.64", "replicate": "1"}, []string{"bbbb/1/2/"}},
		{map[string]string{"density": "0.64000001"}, nil},
		{map[string]string{"sparsity": "0.8"}, []string{"bbbb/0/3/", "bbbb/1/3/"}},
		{map[string]string{"compression": "5", "method": "random"}, []string{"bbbb/0/3/", "bbbb/1/3/"}},
		{map[string]string{"final_test_acc": "NaN"}, []string{"bbbb/0/3/", "bbbb/1/3/"}},
		{map[string]string{"dataset": "cifar10"}, []string{"cccc/0/0/"}},
		{map[string]string{"seed": strconv.FormatUint(math.MaxUint64, 10)}, []string{"cccc/0/0/"}},
		{map[string]string{"seed": "0101", "dataset": "mnist"}, []string{"bbbb/1/0/", "bbbb/1/1/", "bbbb/1/2/", "bbbb/1/3/"}},
		{map[string]string{"level": "1", "branch": ""}, []string{"bbbb/0/1/", "bbbb/1/1/"}},
		{map[string]string{"branch": "reinit"}, []string{"bbbb/0/1/reinit"}},
		{map[string]string{"wall": "1m23.123456789s", "level": "0"}, []string{"bbbb/0/0/", "bbbb/1/0/", "cccc/0/0/"}},
		{map[string]string{"finished": "2025-03-04T06:06:07.890123456+01:00", "dataset": "cifar10"}, []string{"cccc/0/0/"}},
		{map[string]string{"dataset": "MNIST"}, nil},
	}
	for _, c := range cases {
		got, err := s.Results(c.filter)
		if err != nil {
			t.Errorf("%v: %v", c.filter, err)
			continue
		}
		var keys []string
		for _, r := range got {
			keys = append(keys, key(r))
		}
		if !slices.Equal(keys, c.want) {
			t.Errorf("%v: got %v, want %v", c.filter, keys, c.want)
		}
	}

	bad := []struct {
		filter map[string]string
		want   []string
	}{
		{map[string]string{"densty": "0.2"}, []string{`"densty"`, `did you mean "density"`, "spec_hash, pipeline", "finished"}},
		{map[string]string{"acc": "1"}, []string{`unknown column "acc"`, "final_test_acc"}},
		{map[string]string{"density": "dense"}, []string{"density", "want a number"}},
		{map[string]string{"level": "0.5"}, []string{"level", "want an integer"}},
		{map[string]string{"seed": "-1"}, []string{"seed", "unsigned"}},
		{map[string]string{"wall": "soon"}, []string{"wall", "duration"}},
		{map[string]string{"finished": "yesterday"}, []string{"finished", "RFC 3339"}},
	}
	for _, c := range bad {
		_, err := s.Results(c.filter)
		wantErr(t, err, c.want...)
	}
}

func TestStoreRun(t *testing.T) {
	s, path := openTestStore(t)
	for _, h := range []string{"abc123000000", "abc456000000", "def000000000", "0f1", "0f1234"} {
		mustPut(t, s, result(h, 0, 0, ""), result(h, 1, 0, ""), result(h, 0, 1, ""))
	}
	cases := []struct {
		prefix string
		want   string // the hash, or "error: ..." substrings separated by |
	}{
		{"def", "def000000000"},
		{"abc4", "abc456000000"},
		{"abc123000000", "abc123000000"},
		{"0f1", "0f1"}, // a whole hash that is also a prefix of another
		{"0f12", "0f1234"},
		{"abc", "error: ambiguous|abc123000000|abc456000000|" + path},
		{"0f", "error: ambiguous|0f1, 0f1234"},
		{"9", `error: no run "9"|` + path},
		{"ABC1", `error: no run "ABC1"`},
		{"", "error: empty run name"},
	}
	for _, c := range cases {
		rows, err := s.Run(c.prefix)
		if want, ok := strings.CutPrefix(c.want, "error: "); ok {
			if err == nil {
				t.Errorf("Run(%q): no error, want %q", c.prefix, want)
				continue
			}
			wantErr(t, err, strings.Split(want, "|")...)
			continue
		}
		if err != nil {
			t.Errorf("Run(%q): %v", c.prefix, err)
			continue
		}
		if len(rows) != 3 {
			t.Errorf("Run(%q): %d rows, want 3", c.prefix, len(rows))
			continue
		}
		for _, r := range rows {
			if r.SpecHash != c.want {
				t.Errorf("Run(%q): row of %s, want %s", c.prefix, r.SpecHash, c.want)
			}
		}
		if rows[0].Replicate != 0 || rows[0].Level != 0 || rows[1].Level != 1 || rows[2].Replicate != 1 {
			t.Errorf("Run(%q): rows not ordered by replicate, level: %+v", c.prefix, rows)
		}
	}
}

func schemaSQL(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, text string
		rows.Scan(&typ, &name, &text)
		fmt.Fprintf(&b, "%s %s %s\n", typ, name, text)
	}
	return b.String()
}

func TestStoreMigrations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.db")

	// A fresh file gets every migration, WAL and the application id.
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != len(migrations) {
		t.Errorf("fresh store: applied %d migrations, want %d", s.applied, len(migrations))
	}
	if v := pragmaInt(t, s.db, "user_version"); v != len(migrations) {
		t.Errorf("user_version %d, want %d", v, len(migrations))
	}
	if id := pragmaInt(t, s.db, "application_id"); id != storeApplicationID {
		t.Errorf("application_id %#x, want %#x", id, storeApplicationID)
	}
	var mode string
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
	mustPut(t, s, result("dddd00000000", 0, 0, ""))
	before := schemaSQL(t, s.db)
	s.Close()

	// Opening again changes nothing.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != 0 {
		t.Errorf("reopen applied %d migrations, want 0", s.applied)
	}
	if after := schemaSQL(t, s.db); after != before {
		t.Errorf("reopen changed the schema:\n%s\nwant\n%s", after, before)
	}
	s.Close()

	// A database built by migration 1 only, with a row in it, is brought
	// up to date (here with a test migration 2) and keeps its row.
	old := filepath.Join(dir, "v1.db")
	v1 := &Store{db: rawDB(t, old), path: old}
	if n, err := v1.migrate(1); err != nil || n != 1 {
		t.Fatalf("building a v1 database: %d migrations, %v", n, err)
	}
	if _, err := v1.db.Exec(`INSERT INTO results (spec_hash, pipeline, method, dataset, model, backend, replicate, seed, level, branch,
		params_total, params_nonzero, flops_dense, flops_nonzero, bytes, best_iter, iterations, wall, version)
		VALUES ('eeee00000000', 'imp', 'dense', 'mnist', 'mlp', 'native', 0, 1, 0, '', 10, 10, 20, 20, 40, 5, 9, 1000, 'old')`); err != nil {
		t.Fatal(err)
	}
	v1.db.Close()
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = append(slices.Clip(saved), migration{version: len(saved) + 1, name: "test index", stmts: []string{
		"CREATE INDEX results_test ON results (version)",
	}})
	s, err = Open(old)
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != len(saved) {
		t.Errorf("v1 database: applied %d migrations, want %d", s.applied, len(saved))
	}
	if v := pragmaInt(t, s.db, "user_version"); v != len(saved)+1 {
		t.Errorf("user_version %d after migration, want %d", v, len(saved)+1)
	}
	rows, err := s.Run("eeee")
	if err != nil || len(rows) != 1 || rows[0].Version != "old" || !math.IsNaN(rows[0].FinalTestAcc) || !rows[0].Finished.IsZero() {
		t.Errorf("the v1 row after migration: %+v, %v", rows, err)
	}
	s.Close()

	// A migration that fails rolls back: the version and the rows stay.
	migrations = append(migrations, migration{version: len(saved) + 2, name: "broken", stmts: []string{
		"CREATE TABLE extra (x)", "CREATE INDEX nope ON missing (x)",
	}})
	_, err = Open(old)
	wantErr(t, err, old, "migration "+strconv.Itoa(len(saved)+2)+" (broken)", "missing")
	db := rawDB(t, old)
	if v := pragmaInt(t, db, "user_version"); v != len(saved)+1 {
		t.Errorf("user_version %d after a failed migration, want %d", v, len(saved)+1)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'").Scan(&n); err != nil || n != 0 {
		t.Errorf("failed migration left table extra (%d, %v)", n, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM results").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows after a failed migration: %d, %v; want 1", n, err)
	}
}

// TestStoreMigrationFromVersion2: a store of schema version 2 (before
// metrics and curves), with a row in it, migrates to a current one: its row
// reads back without metrics or curve, and new results store both.
func TestStoreMigrationFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	v2 := &Store{db: rawDB(t, path), path: path}
	if n, err := v2.migrate(2); err != nil || n != 2 {
		t.Fatalf("building a v2 database: %d migrations, %v", n, err)
	}
	if _, err := v2.db.Exec(`INSERT INTO results (spec_hash, pipeline, method, dataset, model, backend, replicate, seed, level, branch,
		density, params_total, params_nonzero, flops_dense, flops_nonzero, bytes, best_iter, best_test_acc, iterations, wall, version, experiment, settings)
		VALUES ('eeee00000000', 'imp', 'dense', 'mnist', 'mlp', 'native', 0, 1, 0, '', 1, 10, 10, 20, 20, 40, 5, 0.9, 9, 1000, 'old', 'e1', '{}')`); err != nil {
		t.Fatal(err)
	}
	v2.db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Migrated() != len(migrations)-2 {
		t.Errorf("applied %d migrations to a v2 store, want %d", s.Migrated(), len(migrations)-2)
	}
	old, err := s.Run("eeee")
	if err != nil || len(old) != 1 {
		t.Fatalf("the v2 row after migration: %v, %v", old, err)
	}
	if old[0].Metrics != nil || old[0].BestTestAcc != 0.9 || old[0].Experiment != "e1" {
		t.Errorf("the v2 row after migration: %+v", old[0])
	}
	if curves, err := s.Curves(old); err != nil || len(curves) != 0 {
		t.Errorf("the v2 row's curve: %v, %v; want none", curves, err)
	}
	r := result("ffff00000000", 0, 0, "")
	mustPut(t, s, r)
	got, err := s.Run("ffff")
	if err == nil {
		err = s.FillCurves(got)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff, ok := sameResult(r, got[0]); !ok {
		t.Errorf("a result stored after migration: %s", diff)
	}
	// The read-only opening reads the migrated store's curves too.
	s.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rows, err := ro.Results(nil)
	if err == nil {
		err = ro.FillCurves(rows)
	}
	if err != nil || len(rows) != 2 || rows[0].Curve != nil || len(rows[1].Curve) != len(r.Curve) || rows[1].Metrics["t_grok"] != 1800 {
		t.Errorf("read-only: %d rows (%v), curves of %d and %d points, want 0 and %d, and the metrics", len(rows), err, len(rows[0].Curve), len(rows[1].Curve), len(r.Curve))
	}
}

// refused opens path, expects an error containing wants, and checks that the
// file's bytes did not change.
func refused(t *testing.T, path string, wants ...string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
	}
	wantErr(t, err, append([]string{path}, wants...)...)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s was modified", path)
	}
}

func TestStoreRefusesNewerSchema(t *testing.T) {
	s, path := openTestStore(t)
	mustPut(t, s, result("ffff00000000", 0, 0, ""))
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	refused(t, path, "schema version 999", fmt.Sprintf("version %d", len(migrations)), "newer")
}

func TestStoreRefusesCorruptFile(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, 4096, 65536} {
		junk := make([]byte, size)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		path := filepath.Join(dir, fmt.Sprintf("junk%d.db", size))
		if err := os.WriteFile(path, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		refused(t, path, "not a SQLite database")
	}
	// The SQLite header followed by junk.
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	path := filepath.Join(dir, "header.db")
	os.WriteFile(path, append([]byte(sqliteHeader), junk...), 0o644)
	refused(t, path, "not a SQLite database")

	// A text file, such as a spec saved under the wrong name.
	path = filepath.Join(dir, "spec.db")
	os.WriteFile(path, []byte("dataset: {name: mnist}\nmodel: {name: lenet-300-100}\n"), 0o644)
	refused(t, path, "not a SQLite database")
}

// TestStoreCorruptPages damages the pages of a store's rows: opening
// works (the header and schema are intact) and reading fails with an error
// that names the file.
func TestStoreCorruptPages(t *testing.T) {
	s, path := openTestStore(t)
	for l := range 200 {
		mustPut(t, s, result("cafe00000000", 0, l, strings.Repeat("x", 100)))
	}
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 8*4096 {
		t.Fatalf("database of %d bytes, want several pages", len(data))
	}
	for i := 4096 * 2; i < len(data); i++ {
		data[i] = byte(i * 7)
	}
	os.WriteFile(path, data, 0o644)
	s, err = Open(path)
	if err != nil {
		wantErr(t, err, path, "corrupt")
		return
	}
	defer s.Close()
	_, err = s.Results(nil)
	wantErr(t, err, path, "corrupt")
}

func TestStoreRefusesForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	db := rawDB(t, other)
	if _, err := db.Exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	refused(t, other, "not a prunebench results store")

	app := filepath.Join(dir, "app.db")
	db = rawDB(t, app)
	if _, err := db.Exec("PRAGMA application_id = 42; PRAGMA user_version = 1; CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	refused(t, app, "another program", "0x2a")
}

func TestStorePaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	_, err := Open(filepath.Join(file, "runs", "results.db"))
	wantErr(t, err, filepath.Join(file, "runs", "results.db"), "cannot create its directory")

	_, err = Open(dir)
	wantErr(t, err, dir, "not a regular file")

	_, err = Open("")
	wantErr(t, err, "empty path")

	// URI syntax in a path is escaped.
	odd := filepath.Join(dir, "a?b#c%20d", "results.db")
	s, err := Open(odd)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, result("1111", 0, 0, ""))
	s.Close()
	if fi, err := os.Stat(odd); err != nil || fi.Size() == 0 {
		t.Errorf("database not at %s: %v", odd, err)
	}

	// A relative path is relative to the working directory.
	t.Chdir(dir)
	s, err = Open(filepath.Join("rel", "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "rel", "results.db")); err != nil {
		t.Error(err)
	}
}

// checkStore checks that path holds exactly want rows, with the given hashes,
// and passes SQLite's integrity check.
func checkStore(t *testing.T, path string, want int) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != want {
		t.Errorf("%d rows, want %d", len(rows), want)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		k := fmt.Sprintf("%s/%d", r.SpecHash, r.Level)
		if seen[k] {
			t.Errorf("row %s twice", k)
		}
		seen[k] = true
	}
	var ok string
	if err := s.db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %q, %v", ok, err)
	}
}

// checkOverlap checks that writers of path wrote at the same time: the
// interval of a run's Finished times overlaps another run's.
func checkOverlap(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ first, last time.Time }
	spans := map[string]*span{}
	for _, r := range rows {
		sp := spans[r.SpecHash]
		if sp == nil {
			sp = &span{r.Finished, r.Finished}
			spans[r.SpecHash] = sp
		}
		if r.Finished.Before(sp.first) {
			sp.first = r.Finished
		}
		if r.Finished.After(sp.last) {
			sp.last = r.Finished
		}
	}
	n := 0
	for h, a := range spans {
		for g, b := range spans {
			if g != h && a.first.Before(b.last) && b.first.Before(a.last) {
				n++
				break
			}
		}
	}
	t.Logf("%d of %d writers wrote while another did", n, len(spans))
	if n == 0 {
		t.Errorf("the writers wrote one after the other: the test did not exercise concurrent writes")
	}
}

// writeRows opens its own Store on path and, from time start on, puts n rows
// of run hash, one per level, a millisecond apart (as runs finish levels now
// and then), reading the run back between writes.
func writeRows(path, hash string, n int, start time.Time) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	defer s.Close()
	time.Sleep(time.Until(start))
	for l := 0; l < n; l++ {
		r := result(hash, 0, l, "")
		r.Finished = time.Now()
		if err := s.Put(r); err != nil {
			return err
		}
		if l%5 == 4 {
			if rows, err := s.Run(hash); err != nil {
				return err
			} else if len(rows) != l+1 {
				return fmt.Errorf("%s: read %d rows after writing %d", hash, len(rows), l+1)
			}
		}
		time.Sleep(time.Millisecond)
	}
	return s.Close()
}

func TestStoreParallelWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.db") // created by the writers, concurrently
	const writers, rows = 16, 25
	var wg sync.WaitGroup
	errs := make([]error, writers)
	ready := make(chan struct{})
	start := time.Now().Add(200 * time.Millisecond)
	for w := range writers {
		wg.Go(func() {
			<-ready
			errs[w] = writeRows(path, fmt.Sprintf("g%011d", w), rows, start)
		})
	}
	close(ready)
	wg.Wait()
	t.Logf("%d goroutines × %d rows in %v from their common start", writers, rows, time.Since(start))
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	checkStore(t, path, writers*rows)
	checkOverlap(t, path)
}

const childEnv = "PRUNEBENCH_STORE_CHILD" // path,hash,rows,start (unix ns)

// TestStoreChildWriter is a child process of TestStoreParallelProcesses.
func TestStoreChildWriter(t *testing.T) {
	arg := os.Getenv(childEnv)
	if arg == "" {
		t.Skip("runs as a child of TestStoreParallelProcesses")
	}
	parts := strings.Split(arg, ",")
	n, _ := strconv.Atoi(parts[2])
	start, _ := strconv.ParseInt(parts[3], 10, 64)
	if err := writeRows(parts[0], parts[1], n, time.Unix(0, start)); err != nil {
		t.Fatal(err)
	}
}

func TestStoreParallelProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "results.db") // created by the children, concurrently
	const procs, rows = 4, 25
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	start := time.Now().Add(500 * time.Millisecond)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreChildWriter$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,p%011d,%d,%d", childEnv, path, p, rows, start.UnixNano()))
		cmd.Stdout, cmd.Stderr = &outs[p], &outs[p]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", p, err, outs[p].String())
		} else if !strings.Contains(outs[p].String(), "--- PASS: TestStoreChildWriter") {
			t.Errorf("child %d did not run the writer:\n%s", p, outs[p].String())
		}
	}
	t.Logf("%d processes × %d rows in %v from their common start", procs, rows, time.Since(start))
	checkStore(t, path, procs*rows)
	checkOverlap(t, path)
}

func TestStoreLocked(t *testing.T) {
	saved := busyTimeout
	busyTimeout = 200 * time.Millisecond
	t.Cleanup(func() { busyTimeout = saved })

	s, path := openTestStore(t)
	first := result("9999aaaa0000", 0, 0, "")
	mustPut(t, s, first)

	// Another process's connection holds a write transaction open.
	other := rawDB(t, path+"?_txlock=immediate")
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE results SET version = 'other' WHERE spec_hash = '9999aaaa0000'`); err != nil {
		t.Fatal(err)
	}

	second := result("9999aaaa0000", 0, 1, "")
	t0 := time.Now()
	err = s.Put(second)
	waited := time.Since(t0)
	wantErr(t, err, path, "database is locked", "level 1", "nothing was written")
	if !errors.Is(err, ErrStoreLocked) {
		t.Errorf("error %v is not ErrStoreLocked", err)
	}
	if waited < busyTimeout/2 {
		t.Errorf("Put failed after %v, before the busy timeout %v", waited, busyTimeout)
	}

	// Readers are not blocked by the writer (WAL), and see what was stored.
	rows, err := s.Results(nil)
	if err != nil || len(rows) != 1 || rows[0].Version != first.Version {
		t.Errorf("read while locked: %+v, %v", rows, err)
	}
	// A second store opens a current database without taking the lock.
	s2, err := Open(path)
	if err != nil {
		t.Errorf("open while locked: %v", err)
	} else {
		s2.Close()
	}

	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, second) // the retry succeeds
	rows, err = s.Results(nil)
	if err != nil || len(rows) != 2 || rows[0].Version != "other" || rows[1].Level != 1 {
		t.Errorf("after the lock: %+v, %v", rows, err)
	}
}

// dirState is what a read-only open must not change: the names in a folder,
// and the bytes and modification time of the database.
type dirState struct {
	names []string
	data  []byte
	mtime time.Time
}

func snapshot(t *testing.T, path string) dirState {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var st dirState
	for _, e := range entries {
		st.names = append(st.names, e.Name())
	}
	if st.data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st.mtime = fi.ModTime()
	return st
}

func sameSnapshot(t *testing.T, when string, path string, want dirState) {
	t.Helper()
	got := snapshot(t, path)
	if !slices.Equal(got.names, want.names) {
		t.Errorf("%s: the folder holds %q, want %q (a read-only open created or removed files)", when, got.names, want.names)
	}
	if !bytes.Equal(got.data, want.data) {
		t.Errorf("%s: %s was modified", when, path)
	}
	if !got.mtime.Equal(want.mtime) {
		t.Errorf("%s: %s modification time %v, want %v", when, path, got.mtime, want.mtime)
	}
}

// readOnlyDir makes dir read-only for the rest of the test. Tests run as
// root in CI, where that does not stop writes: they check what changed
// instead of expecting permission errors.
func readOnlyDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
}

func TestStoreOpenReadOnly(t *testing.T) {
	s, path := openTestStore(t)
	var want []Result
	for i := range 5 {
		r := result(fmt.Sprintf("%04x00000000", 0xa000+i), i%2, i, "")
		if i == 3 {
			r.Branch, r.FinalTestAcc = "random", math.NaN()
		}
		want = append(want, r)
	}
	mustPut(t, s, want...)
	wantRows, err := s.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.ReadOnly() {
		t.Error("a store from Open says it is read-only")
	}
	s.Close()
	readOnlyDir(t, filepath.Dir(path))
	before := snapshot(t, path)
	if slices.ContainsFunc(before.names, func(n string) bool { return n != "results.db" }) {
		t.Fatalf("the writer left %q", before.names)
	}

	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if !r.ReadOnly() || r.Path() != path {
		t.Errorf("ReadOnly() = %v, Path() = %q", r.ReadOnly(), r.Path())
	}
	got, err := r.Results(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantRows) {
		t.Fatalf("read-only store: %d rows, want %d", len(got), len(wantRows))
	}
	for i := range got {
		if diff, ok := sameResult(got[i], wantRows[i]); !ok {
			t.Errorf("row %d: %s", i, diff)
		}
	}
	if rows, err := r.Run("a002"); err != nil || len(rows) != 1 || rows[0].Level != 2 {
		t.Errorf("Run on the read-only store: %v, %v", rows, err)
	}
	if err := r.FillCurves(got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if diff, ok := sameResult(got[i], want[i]); !ok {
			t.Errorf("row %d with its curve: %s", i, diff)
		}
	}
	if rows, err := r.Results(map[string]string{"branch": "random"}); err != nil || len(rows) != 1 {
		t.Errorf("filtered read: %v, %v", rows, err)
	}
	sameSnapshot(t, "while open", path, before)
	err = r.Put(result("bbbb00000000", 0, 0, ""))
	wantErr(t, err, path, "read-only")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "after Close", path, before)
}

// TestStoreReadOnlySeesLiveWriter: while a writer has the store open, a
// reader reads through its WAL and sees its newest rows; closing both loses
// nothing.
func TestStoreReadOnlySeesLiveWriter(t *testing.T) {
	w, path := openTestStore(t)
	mustPut(t, w, result("cccc00000001", 0, 0, ""))
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	count := func(want int) {
		t.Helper()
		rows, err := r.Results(nil)
		if err != nil || len(rows) != want {
			t.Errorf("reader sees %d rows (%v), want %d", len(rows), err, want)
		}
	}
	count(1)
	mustPut(t, w, result("cccc00000002", 0, 0, ""))
	count(2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	count(2)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checkStore(t, path, 2)
}

// TestStoreReadOnlyImmutableFallback: WAL files the reader cannot open
// (here a -shm that is a symbolic link, which SQLite refuses to follow)
// make it read the database file alone.
func TestStoreReadOnlyImmutableFallback(t *testing.T) {
	s, path := openTestStore(t)
	mustPut(t, s, result("dddd00000001", 0, 0, ""), result("dddd00000002", 0, 1, ""))
	s.Close()
	if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("elsewhere", path+"-shm"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, path)
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := r.Results(nil); err != nil || len(rows) != 2 {
		t.Errorf("immutable reader: %d rows, %v; want 2", len(rows), err)
	}
	r.Close()
	sameSnapshot(t, "after Close", path, before)
}

// TestStoreReadOnlyOldSchema: a store of an older schema is not migrated by
// a reader, which says which command does it.
func TestStoreReadOnlyOldSchema(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "results.db")
	v1 := &Store{db: rawDB(t, old), path: old}
	if n, err := v1.migrate(1); err != nil || n != 1 {
		t.Fatalf("building a v1 database: %d migrations, %v", n, err)
	}
	v1.db.Close()
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = append(slices.Clip(saved), migration{version: len(saved) + 1, name: "test index", stmts: []string{
		"CREATE INDEX results_test ON results (version)",
	}})
	before := snapshot(t, old)
	_, err := OpenReadOnly(old)
	wantErr(t, err, old, "schema version 1 is older", "prunebench migrate --output "+dir)
	sameSnapshot(t, "after the refusal", old, before)
	db := rawDB(t, old)
	if v := pragmaInt(t, db, "user_version"); v != 1 {
		t.Errorf("user_version %d after a read-only open, want 1", v)
	}
}

func TestStoreReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "runs", "results.db")
	_, err := OpenReadOnly(missing)
	wantErr(t, err, missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing store: error %v is not fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing store created its folder (%v)", err)
	}
	_, err = OpenReadOnly("")
	wantErr(t, err, "empty path")
	_, err = OpenReadOnly(dir)
	wantErr(t, err, dir, "not a regular file")

	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("dataset: {name: mnist}\n"), 0o644)
	_, err = OpenReadOnly(junk)
	wantErr(t, err, junk, "not a SQLite database")

	s, path := openTestStore(t)
	mustPut(t, s, result("ffff00000000", 0, 0, ""))
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenReadOnly(path)
	wantErr(t, err, path, "schema version 999", "newer")

	other := filepath.Join(dir, "other.db")
	db = rawDB(t, other)
	if _, err := db.Exec("CREATE TABLE notes (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenReadOnly(other)
	wantErr(t, err, other, "not a prunebench results store")
}
