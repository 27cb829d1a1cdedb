package results

import "time"

// Result is one finished level or branch of a run: one row of the results
// store, and the result.yaml of the unit's folder. Accuracies and losses are on the test
// set at the early-stopping iteration (minimum validation loss) and at the end
// of training; the test set never selects anything.
type Result struct {
	// SpecHash is the run name (Hash of the spec); Pipeline, Dataset, Model
	// and Backend are copied from the spec for queries.
	SpecHash string `yaml:"spec_hash"`
	Pipeline string `yaml:"pipeline"`
	// Method names the pruning method of the level or branch for
	// leaderboards ("dense" for dense training, "imp", "snip", ...).
	Method  string `yaml:"method"`
	Dataset string `yaml:"dataset"`
	Model   string `yaml:"model"`
	Backend string `yaml:"backend"`
	// Replicate is the replicate index r and Seed its master seed.
	Replicate int    `yaml:"replicate"`
	Seed      uint64 `yaml:"seed"`
	// Level is the pipeline level (0 is dense); Branch names a control
	// branch off the level ("" for the level itself).
	Level  int    `yaml:"level"`
	Branch string `yaml:"branch"`

	// Density over the prunable set; Sparsity = 1 − Density and
	// Compression = 1/Density are stored too, as reported.
	Density       float64 `yaml:"density"`
	Sparsity      float64 `yaml:"sparsity"`
	Compression   float64 `yaml:"compression"`
	ParamsTotal   int64   `yaml:"params_total"`
	ParamsNonzero int64   `yaml:"params_nonzero"`
	FLOPsDense    int64   `yaml:"flops_dense"`
	FLOPsNonzero  int64   `yaml:"flops_nonzero"`
	// Bytes is the memory of the trained parameters as stored (float32).
	Bytes int64 `yaml:"bytes"`

	BestIter      int           `yaml:"best_iter"` // early-stopping iteration
	BestTestAcc   float64       `yaml:"best_test_acc"`
	BestTestLoss  float64       `yaml:"best_test_loss"`
	BestValAcc    float64       `yaml:"best_val_acc"`
	BestValLoss   float64       `yaml:"best_val_loss"`
	FinalTestAcc  float64       `yaml:"final_test_acc"`
	FinalTestLoss float64       `yaml:"final_test_loss"`
	Iterations    int           `yaml:"iterations"`
	Wall          time.Duration `yaml:"wall"`
	Version       string        `yaml:"version"` // prunebench version
	Finished      time.Time     `yaml:"finished"`

	// Experiment names the run without its seed and replicate count: the
	// hash of its canonical form less those two keys. Results of one
	// experiment at one level and branch that differ in seed are its
	// replicates; two results with the same experiment and seed are one
	// result.
	Experiment string `yaml:"experiment"`
	// Settings is that canonical form as JSON, keys sorted: the settings
	// that set the experiment apart from the defaults, which boards group
	// by and show.
	Settings string `yaml:"settings"`

	// Metrics are named scalars a pipeline derives from the unit's
	// learning curve (the grokking pipeline's t_mem, t_grok, delay and
	// grokked, 1 or 0): NaN means not reached. The store keeps them as
	// one JSON object in the metrics column, and boards show them as
	// columns (BoardOptions.Metrics); they are not filters or grouping
	// keys.
	Metrics map[string]float64 `yaml:"metrics,omitempty"`
	// Curve is the unit's learning curve: one point per evaluation during
	// training, in step order. The store keeps it in its own table
	// (store:"-": not a column of the results table), read only by what
	// draws it (Store.FillCurves), so that boards load no curve.
	Curve []CurvePoint `yaml:"curve,omitempty" store:"-"`
}
