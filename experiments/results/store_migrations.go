package results

import "strconv"

// The results store's schema is versioned by SQLite's PRAGMA user_version: a
// database at version v has had migrations[:v] applied, each in its own
// transaction together with the version bump. Open applies the missing
// ones and refuses a database whose version is newer than len(migrations).
//
// Append only: a released migration is never edited or removed, because
// databases out there were built by it. A change to Result (a new field) is
// a new migration that adds its column (ALTER TABLE results ADD COLUMN ...);
// TestStoreSchemaMatchesResult fails until the table and Result agree. A
// field tagged store:"-" has a table of its own instead (Curve: curves).

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
	{
		version: 3,
		name:    "metrics and learning curves",
		stmts: []string{
			// Result.Metrics: the named scalars a pipeline derives from
			// the learning curve, as one JSON object with sorted keys
			// (null for NaN, "+Inf" and "-Inf" for the infinities); ''
			// for none, as every row stored before has. A column rather
			// than a table of its own: boards read the metrics of every
			// row they show, with the row.
			`ALTER TABLE results ADD COLUMN metrics TEXT NOT NULL DEFAULT ''`,
			// Result.Curve: one row per evaluation of a unit, keyed by
			// the unit and the step. A table of its own, so that a board,
			// which reads many rows and no curve, does not read them.
			// REALs: accuracies as fractions, NULL for NaN (a split not
			// evaluated). Put replaces a unit's rows with its result's;
			// rows stored before have no curve.
			`CREATE TABLE curves (
	spec_hash  TEXT    NOT NULL,
	replicate  INTEGER NOT NULL,
	level      INTEGER NOT NULL,
	branch     TEXT    NOT NULL,
	step       INTEGER NOT NULL,
	train_loss REAL,
	train_acc  REAL,
	val_loss   REAL,
	val_acc    REAL,
	test_loss  REAL,
	test_acc   REAL,
	density    REAL,
	PRIMARY KEY (spec_hash, replicate, level, branch, step)
) WITHOUT ROWID`,
		},
	},
}
