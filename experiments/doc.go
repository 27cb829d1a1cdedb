// Package experiments turns experiment specs (YAML through viper) into runs:
// run identity by content hash, the runner that drives registered pipelines,
// sweeps, the SQLite results store, leaderboards and plots. Paper
// configurations live in experiments/papers.
package experiments
