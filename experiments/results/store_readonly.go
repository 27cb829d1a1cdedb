package results

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// OpenReadOnly opens the results database at path for reading, for the
// commands that only read it (board, ls, show, plot): it never writes,
// creates or migrates anything, so it works on a read-only mount, on
// another user's store and on a full disk. A missing file is an error that
// names it and satisfies errors.Is(err, fs.ErrNotExist). A file that is not
// a results store, or whose schema is newer than this prunebench's, is
// refused as Open refuses it; an older schema is refused with the command
// that migrates it (reading older schemas is not supported). Put on the
// returned Store is an error; ReadOnly reports true.
//
// A results store is in WAL mode, whose readers need the -wal and -shm
// files next to the database. While a writer has the store open they exist,
// and each connection reads through them (mode=ro), seeing every row
// committed so far, the writer's newest included. When they do not exist,
// opening them would create them (in a folder we may not own, owned by the
// wrong user), so the connection reads the database file alone as
// immutable; it does the same when it cannot open them (a folder or -shm
// file it may not write). The trade-off of an immutable reader: it does not
// see the rows of a writer that is running or starts while it reads, except
// those already copied into the database file (a writer copies its rows in
// when it closes the store, and every 1000 pages), and should that copy
// happen in the middle of a query, the query may fail as corrupt; run the
// command again. A store no writer has open, the usual case for board, ls,
// show and plot, is read whole and exactly.
func OpenReadOnly(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("results store: empty path")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("results store %s: %w (nothing was stored there; reading never creates it)", path, fs.ErrNotExist)
	} else if err != nil {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	uri, err := storeURI(path)
	if err != nil {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	base, err := sqlite.NewConnector(uri)
	if err != nil {
		return nil, fmt.Errorf("results store %s: %w", path, err)
	}
	s := &Store{db: sql.OpenDB(&readOnlyConnector{path: path, uri: uri, drv: base.Driver()}), path: path, readOnly: true}
	// A connection chooses how to read when it opens: one left idle is
	// closed soon, so that a long-lived reader chooses again (an immutable
	// connection kept for long would never see newer rows).
	s.db.SetConnMaxIdleTime(time.Second)
	if err := s.checkReadable(); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// ReadOnly says whether the store was opened with OpenReadOnly: Put then
// fails.
func (s *Store) ReadOnly() bool { return s.readOnly }

// checkReadable checks what the file is, as init does, and that its schema
// is the current one; it writes nothing.
func (s *Store) checkReadable() error {
	version, err := s.schemaVersion()
	if err != nil {
		return err
	}
	if current := len(migrations); version < current {
		return fmt.Errorf("results store %s: schema version %d is older than this prunebench's (version %d), and reading does not migrate it: run `prunebench migrate --output %s` first (it changes the file; a store you may not write must be migrated by its owner)",
			s.path, version, current, filepath.Dir(s.path))
	}
	return nil
}

// readOnlyConnector opens the read-only connections of a Store: each one
// chooses, when it opens, between reading through the WAL files (mode=ro)
// and reading the database file alone (immutable=1); see OpenReadOnly.
type readOnlyConnector struct {
	path string // the database file
	uri  string // its file: URI, without a query
	drv  driver.Driver
}

func (c *readOnlyConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if !isWAL(c.path) || walFilesExist(c.path) {
		conn, err := c.open(ctx, "mode=ro")
		if err == nil || !cannotOpenShared(err) {
			return conn, err
		}
	}
	return c.open(ctx, "mode=ro&immutable=1")
}

func (c *readOnlyConnector) Driver() driver.Driver { return c.drv }

// open opens a connection with the given URI parameters and the busy
// timeout, and reads from it: SQLite opens the WAL files at the first read,
// so that is where a failure to open them shows.
func (c *readOnlyConnector) open(ctx context.Context, params string) (driver.Conn, error) {
	dsn := fmt.Sprintf("%s?%s&_pragma=busy_timeout(%d)", c.uri, params, max(busyTimeout.Milliseconds(), 1))
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := probe(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// probe reads the schema table's first page.
func probe(ctx context.Context, conn driver.Conn) error {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return nil
	}
	rows, err := q.QueryContext(ctx, "SELECT count(*) FROM sqlite_schema", nil)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, 1)
	err = rows.Next(dest)
	if cerr := rows.Close(); err == nil || err == io.EOF {
		err = cerr
	}
	return err
}

// isWAL says whether the database file's header marks it as in WAL mode
// (read and write versions 2); false when it cannot be read, so that
// SQLite reports the problem.
func isWAL(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	return h[18] == 2 && h[19] == 2
}

// walFilesExist says whether the -wal and -shm files of path both exist.
func walFilesExist(path string) bool {
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Lstat(path + suffix); err != nil {
			return false
		}
	}
	return true
}

// cannotOpenShared says whether err is SQLite failing to open or map the
// WAL files, which an immutable connection does not need.
func cannotOpenShared(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}
