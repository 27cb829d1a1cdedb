// Package experiments turns experiment specs (YAML through viper) into runs:
// the spec and its parsing (spec.go, parse.go, keys.go), run identity by
// content hash (identity.go), sweeps (sweep.go), the pipeline registry
// (pipeline.go) and the runner that drives a registered pipeline over
// replicates and units, resuming what was interrupted (runner.go), and
// Prepare, the one path from a spec to its data and a built net (train.go).
//
// A spec has common sections, which every pipeline reads, and the sections
// of its pipeline: a pipeline is a struct whose fields are the sections it
// reads, so its keys, defaults and help come from its type (Pipeline,
// RegisterPipeline). The pipelines themselves are in experiments/pipelines,
// results, boards and plots in experiments/results, and the paper
// configurations in experiments/papers.
package experiments
