package results

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is the results store: an embedded SQLite database with one row per
// finished level or branch (Result), keyed by spec hash, replicate, level
// and branch. The runner keeps it at
// OUTPUT/results.db.
//
// Several processes (a sweep's jobs) may write the same file at once: the
// database is in WAL mode, writes are short IMMEDIATE transactions, and a
// writer that finds the file locked waits up to a busy timeout (30 s) before
// it fails with ErrStoreLocked. A Store is safe for concurrent use by
// several goroutines.
type Store struct {
	db   *sql.DB
	path string
	// applied is the number of migrations Open applied.
	applied int
	onClose []func()
	// readOnly: opened by OpenReadOnly.
	readOnly bool
}

// ErrStoreLocked is wrapped by the errors of a Store whose database stayed
// locked by another connection for longer than the busy timeout. Nothing was
// written; the operation can be retried.
var ErrStoreLocked = errors.New("database is locked")

// busyTimeout is how long a statement waits for another connection's lock
// before it fails with ErrStoreLocked. Tests shorten it.
var busyTimeout = 30 * time.Second

// storeTimeLayout is the text form of Result.Finished: UTC with nine
// fractional digits, fixed width so that text order is time order.
const storeTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// floatTolerance is the relative tolerance of a filter on a REAL column:
// density=0.2 matches a stored 0.19999999999999996 (1 − 0.8).
const floatTolerance = 1e-9

// Open opens the results database at path, creating it (and its
// directory) when it does not exist, puts it in WAL mode with a busy timeout,
// and migrates its schema to the current version. A file that is not a
// SQLite database, another program's database, or a database written by a
// newer prunebench (a schema version above the one this build knows) is
// refused and left untouched; every error names the file. A new file gets
// the umask's permissions (0644 under umask 022), and so do the -wal and
// -shm files SQLite creates next to it. Commands that only read the store
// use OpenReadOnly.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("results store: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("results store %s: cannot create its directory: %w", path, err)
		}
	}
	// SQLite would create the file 0644 whatever the umask: create it
	// here, empty, so that the umask applies (SQLite takes an empty file
	// for an empty database).
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o666); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	dsn, err := storeDSN(path)
	if err != nil {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	// SQLite answers some lock conflicts while a file is being created or
	// switched to WAL by another process with SQLITE_BUSY at once, without
	// waiting on the busy timeout; those are retried here.
	deadline := time.Now().Add(busyTimeout)
	for try := 0; ; try++ {
		err = s.init()
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, ErrStoreLocked) || time.Now().After(deadline) {
			db.Close()
			return nil, err
		}
		time.Sleep(time.Duration(1+min(try, 20)) * time.Millisecond)
	}
}

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// checkHeader refuses a path that exists and is not an empty file or a
// SQLite database. SQLite itself takes a file shorter than a page for an
// empty database, and would write over it.
func checkHeader(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("results store %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("results store %s: not a regular file (want a SQLite database file)", path)
	case fi.Size() == 0:
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("results store %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteHeader {
		return fmt.Errorf("results store %s: not a SQLite database (corrupt, or another kind of file); it was not modified: move it away or choose another output folder", path)
	}
	return nil
}

// storeDSN is the driver's name for path: a file: URI (storeURI) with the
// busy timeout, and IMMEDIATE transactions so that a writer takes the write
// lock when it begins and waits for it there, instead of failing on a lock
// upgrade.
func storeDSN(path string) (string, error) {
	uri, err := storeURI(path)
	if err != nil {
		return "", err
	}
	ms := max(busyTimeout.Milliseconds(), 1)
	return fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_txlock=immediate", uri, ms), nil
}

// storeURI is path's absolute file: URI without a query, with '?', '#' and
// '%' escaped so that they are not taken for URI syntax.
func storeURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	abs = filepath.ToSlash(abs)
	if !strings.HasPrefix(abs, "/") {
		abs = "/" + abs // a volume name, C:/...
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs), nil
}

// init checks what the file is, switches it to WAL and migrates it. Nothing
// is written before the checks pass.
func (s *Store) init() error {
	version, err := s.schemaVersion()
	if err != nil {
		return err
	}
	current := len(migrations)
	if err := s.enableWAL(); err != nil {
		return err
	}
	if version == current {
		return nil // nothing to write: opening a current store takes no write lock
	}
	n, err := s.migrate(current)
	s.applied = n
	return err
}

// schemaVersion reads the file's schema version and refuses a file that is
// not a prunebench results store or was written by a newer prunebench. It
// writes nothing.
func (s *Store) schemaVersion() (int, error) {
	// One statement, so that the three facts come from one snapshot even
	// while another process is creating the schema.
	var version, appID, objects int
	err := s.db.QueryRow(`SELECT
		(SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&version, &appID, &objects)
	if err != nil {
		return 0, s.wrap("open", err)
	}
	switch {
	case appID != 0 && appID != storeApplicationID:
		return 0, fmt.Errorf("results store %s: a SQLite database of another program (application_id %#x), not a prunebench results store; it was not modified", s.path, appID)
	case version == 0 && objects > 0:
		return 0, fmt.Errorf("results store %s: a SQLite database with tables of its own (%d schema objects) and no prunebench schema version, not a prunebench results store; it was not modified", s.path, objects)
	case version > len(migrations):
		return 0, s.tooNew(version)
	}
	return version, nil
}

func (s *Store) tooNew(version int) error {
	return fmt.Errorf("results store %s: schema version %d is newer than this prunebench knows (version %d); it was not modified: use a newer prunebench, or another output folder", s.path, version, len(migrations))
}

// enableWAL puts the database in WAL mode (persistent in the file), so that
// readers never block writers and writers of several processes queue on the
// busy timeout.
func (s *Store) enableWAL() error {
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.wrap("read journal mode", err)
	}
	if strings.EqualFold(mode, "wal") {
		return nil
	}
	if err := s.db.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return s.wrap("enable WAL", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("results store %s: cannot enable WAL (journal mode stays %q); is the file on a file system without shared-memory support?", s.path, mode)
	}
	return nil
}

// migrate applies migrations up to version target in one IMMEDIATE
// transaction and returns how many it applied. The version is read again
// inside the transaction: another process may have migrated the file since
// init looked.
func (s *Store) migrate(target int) (int, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return 0, s.wrap("migrate", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return 0, s.wrap("migrate", err)
	}
	if version > len(migrations) {
		return 0, s.tooNew(version)
	}
	n := 0
	for _, m := range migrations[version:target] {
		if m.version != version+1 {
			panic(fmt.Sprintf("results: migration %q has version %d, want %d", m.name, m.version, version+1))
		}
		for _, stmt := range m.stmts {
			if _, err := tx.Exec(stmt); err != nil {
				return 0, s.wrap(fmt.Sprintf("migration %d (%s)", m.version, m.name), err)
			}
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			return 0, s.wrap(fmt.Sprintf("migration %d (%s)", m.version, m.name), err)
		}
		version++
		n++
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap("migrate", err)
	}
	return n, nil
}

// Close closes the database, then runs what OnClose registered.
func (s *Store) Close() error {
	err := s.db.Close()
	for _, f := range s.onClose {
		f()
	}
	s.onClose = nil
	if err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// OnClose registers f to run when the store is closed (a temporary
// store's folder to remove).
func (s *Store) OnClose(f func()) { s.onClose = append(s.onClose, f) }

// Path is the database file's path as given to Open or OpenReadOnly.
func (s *Store) Path() string { return s.path }

// wrap names the file and the operation, and explains the SQLite errors a
// user can meet.
func (s *Store) wrap(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			detail := ""
			if se.Code() != sqlite3.SQLITE_BUSY {
				detail = fmt.Sprintf(" (%v)", err) // an extended code says more
			}
			return fmt.Errorf("results store %s: %s: %w: another connection held it for more than the busy timeout (%v); nothing was written, retry when it is done%s",
				s.path, op, ErrStoreLocked, busyTimeout, detail)
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("results store %s: not a SQLite database (corrupt, or another kind of file); it was not modified: move it away or choose another output folder (%v)", s.path, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("results store %s: %s: the database is corrupt; restore it from a backup or move it away (%v)", s.path, op, err)
		}
	}
	return fmt.Errorf("results store %s: %s: %w", s.path, op, err)
}

// Put stores r, replacing the row of the same (SpecHash, Replicate, Level,
// Branch) if there is one, in one transaction. Its curve replaces the
// unit's curve in the same transaction (putCurve), so that a row and its
// curve are never out of step.
func (s *Store) Put(r Result) error { return s.PutAll([]Result{r}) }

// PutAll stores rs as Put does, all in one transaction: all or none are
// stored, and ingesting many results (Collect) costs one commit.
func (s *Store) PutAll(rs []Result) error {
	if s.readOnly {
		return fmt.Errorf("results store %s: put: the store was opened read-only (results.OpenReadOnly); writing needs results.Open", s.path)
	}
	if len(rs) == 0 {
		return nil
	}
	op := fmt.Sprintf("put %d results", len(rs))
	if len(rs) == 1 {
		r := rs[0]
		op = fmt.Sprintf("put run %s replicate %d level %d", r.SpecHash, r.Replicate, r.Level)
		if r.Branch != "" {
			op += fmt.Sprintf(" branch %q", r.Branch)
		}
	}
	q := "INSERT OR REPLACE INTO results (" + sqlColumnList() + ") VALUES (?" + strings.Repeat(", ?", len(columns)-1) + ")"
	tx, err := s.db.Begin()
	if err != nil {
		return s.wrap(op, err)
	}
	defer tx.Rollback()
	for _, r := range rs {
		if r.SpecHash == "" {
			return fmt.Errorf("results store %s: put: result without a spec hash", s.path)
		}
		args := make([]any, len(columns))
		v := reflect.ValueOf(r)
		for i, c := range columns {
			args[i] = c.value(v.Field(c.index))
		}
		if _, err := tx.Exec(q, args...); err != nil {
			return s.wrap(op, err)
		}
		if err := putCurve(tx, r); err != nil {
			return s.wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// Results returns the rows that match every filter, ordered by spec hash,
// replicate, level and branch. Filter keys are column names (Columns) and
// values are compared by the column's type:
//   - text columns by exact equality ("branch=" selects the levels
//     themselves);
//   - integer columns (replicate, seed, level, counts, iterations) as
//     integers, so "seed=007" is seed 7; wall takes a Go duration ("1.5s")
//     or nanoseconds;
//   - REAL columns (density, accuracies, ...) within a relative tolerance of
//     1e-9, so density=0.2 matches the 0.19999999999999996 that 1 − 0.8
//     gives; "nan" matches NaN and "inf" matches +Inf exactly;
//   - finished takes an RFC 3339 time and matches that instant.
//
// An unknown column is an error that lists the accepted ones.
func (s *Store) Results(filter map[string]string) ([]Result, error) {
	keys := make([]string, 0, len(filter))
	for k := range filter {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conds []string
	var args []any
	for _, k := range keys {
		c, ok := columnByName(k)
		if !ok {
			return nil, unknownColumn("results", k)
		}
		cond, a, err := c.condition(filter[k])
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		args = append(args, a...)
	}
	q := "SELECT " + sqlColumnList() + " FROM results"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY spec_hash, replicate, level, branch"
	return s.query("query", q, args...)
}

// query runs a SELECT of sqlColumnList and scans the rows. Curves are not
// read: FillCurves reads them for the results that need them.
func (s *Store) query(op, q string, args ...any) ([]Result, error) {
	rows, err := s.db.Query(q, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	var out []Result
	dest := make([]any, len(columns))
	for i, c := range columns {
		switch c.kind {
		case colText, colMetrics:
			dest[i] = new(string)
		case colInt, colUint, colDuration:
			dest[i] = new(int64)
		case colReal:
			dest[i] = new(sql.NullFloat64)
		case colTime:
			dest[i] = new(sql.NullString)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, s.wrap(op, err)
		}
		var r Result
		v := reflect.ValueOf(&r).Elem()
		for i, c := range columns {
			f := v.Field(c.index)
			switch c.kind {
			case colText:
				f.SetString(*dest[i].(*string))
			case colInt, colDuration:
				f.SetInt(*dest[i].(*int64))
			case colUint:
				f.SetUint(uint64(*dest[i].(*int64)))
			case colReal:
				x := dest[i].(*sql.NullFloat64)
				if x.Valid {
					f.SetFloat(x.Float64)
				} else {
					f.SetFloat(math.NaN())
				}
			case colTime:
				x := dest[i].(*sql.NullString)
				if x.Valid {
					t, err := time.Parse(time.RFC3339Nano, x.String)
					if err != nil {
						return nil, fmt.Errorf("results store %s: %s: column finished = %q: %w", s.path, op, x.String, err)
					}
					f.Set(reflect.ValueOf(t.UTC()))
				}
			case colMetrics:
				m, err := decodeMetrics(*dest[i].(*string))
				if err != nil {
					return nil, fmt.Errorf("results store %s: %s: run %s: %w", s.path, op, r.SpecHash, err)
				}
				f.Set(reflect.ValueOf(m))
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// Run returns the rows of one run, named by its spec hash or a prefix of it
// that names one run only. No match, and a prefix that matches several runs,
// are errors; the latter lists the candidates.
func (s *Store) Run(hashPrefix string) ([]Result, error) {
	if hashPrefix == "" {
		return nil, fmt.Errorf("results store %s: empty run name", s.path)
	}
	const show = 10
	rows, err := s.db.Query(`SELECT DISTINCT spec_hash FROM results
		WHERE substr(spec_hash, 1, ?) = ? ORDER BY spec_hash LIMIT ?`,
		len(hashPrefix), hashPrefix, show+1)
	if err != nil {
		return nil, s.wrap("find run", err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, s.wrap("find run", err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("find run", err)
	}
	var hash string
	switch {
	case len(hashes) == 0:
		return nil, fmt.Errorf("results store %s: no run %q", s.path, hashPrefix)
	case len(hashes) == 1 || hashes[0] == hashPrefix:
		hash = hashes[0]
	default:
		list := strings.Join(hashes[:min(len(hashes), show)], ", ")
		if len(hashes) > show {
			list += ", ..."
		}
		return nil, fmt.Errorf("results store %s: run %q is ambiguous: %s start with it; give more of the hash", s.path, hashPrefix, list)
	}
	return s.query("read run "+hash, "SELECT "+sqlColumnList()+" FROM results WHERE spec_hash = ? ORDER BY spec_hash, replicate, level, branch", hash)
}
