package results

import "strconv"

// The results store's schema is versioned by SQLite's PRAGMA user_version: a
// database at version v has had migrations[:v] applied, each in its own
// transaction together with the version bump. Open applies the missing
// ones and refuses a database whose version is newer than len(migrations).
//
// Append only: a released migration is never edited or removed, because
// databases out there were built by it. A change to Result (a new field) is
// a new migration that adds its column (ALTER TABLE results ADD COLUMN ...)
// and an entry in resultColumns; TestStoreSchemaMatchesResult fails until
// both are there.

// storeApplicationID marks a SQLite file as a prunebench results store
// (PRAGMA application_id, "PRBN"), so that another program's database is
// refused instead of gaining a results table.
const storeApplicationID = 0x5052424e

// A migration takes the schema from version-1 to version.
type migration struct {
	version int
	name    string
	stmts   []string
}

var migrations = []migration{
	{
		version: 1,
		name:    "results table",
		stmts: []string{
			// One row per finished level or branch (type Result).
			// Columns are the snake_case of the Result fields. Units
			// and encodings:
			//   seed      the uint64 seed's bits as a signed INTEGER
			//             (seeds below 2^63 read as themselves)
			//   REALs     NULL stands for NaN, which SQLite cannot store
			//   wall      nanoseconds
			//   finished  UTC, RFC 3339 with nine fractional digits
			//             (fixed width, so text order is time order);
			//             NULL for the zero time
			//   branch    '' for the level itself
			`CREATE TABLE results (
	spec_hash       TEXT    NOT NULL,
	pipeline        TEXT    NOT NULL,
	method          TEXT    NOT NULL,
	dataset         TEXT    NOT NULL,
	model           TEXT    NOT NULL,
	backend         TEXT    NOT NULL,
	replicate       INTEGER NOT NULL,
	seed            INTEGER NOT NULL,
	level           INTEGER NOT NULL,
	branch          TEXT    NOT NULL,
	density         REAL,
	sparsity        REAL,
	compression     REAL,
	params_total    INTEGER NOT NULL,
	params_nonzero  INTEGER NOT NULL,
	flops_dense     INTEGER NOT NULL,
	flops_nonzero   INTEGER NOT NULL,
	bytes           INTEGER NOT NULL,
	best_iter       INTEGER NOT NULL,
	best_test_acc   REAL,
	best_test_loss  REAL,
	best_val_acc    REAL,
	best_val_loss   REAL,
	final_test_acc  REAL,
	final_test_loss REAL,
	iterations      INTEGER NOT NULL,
	wall            INTEGER NOT NULL,
	version         TEXT    NOT NULL,
	finished        TEXT,
	UNIQUE (spec_hash, replicate, level, branch)
)`,
			// Leaderboards: WHERE dataset/model, GROUP BY method and
			// density (the UNIQUE constraint already indexes spec_hash
			// for ls, show and Run).
			`CREATE INDEX results_board ON results (dataset, model, method, density)`,
			// Sweeps and plots by pipeline; ls by time.
			`CREATE INDEX results_pipeline ON results (pipeline, dataset, model)`,
			`CREATE INDEX results_finished ON results (finished)`,
			"PRAGMA application_id = " + strconv.Itoa(storeApplicationID),
		},
	},
	{
		version: 2,
		name:    "experiment and settings",
		stmts: []string{
			// The run's identity without its seed, and its settings as
			// JSON (Result.Experiment, Result.Settings). Rows written
			// before are '' until their run folder is read again.
			`ALTER TABLE results ADD COLUMN experiment TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE results ADD COLUMN settings TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX results_experiment ON results (experiment, level, branch)`,
		},
	},
}
