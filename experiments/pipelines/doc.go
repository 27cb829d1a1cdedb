// Package pipelines holds prunebench's pipelines, one file (or a few, by
// prefix) per method family, each registered with experiments by name from
// an init function. A command makes them available with a blank import, as
// it does the engines:
//
//	import _ "github.com/prunebench/prunebench/experiments/pipelines"
//
// Each pipeline is a struct whose fields are the spec sections it reads
// (see experiments.Pipeline): the keys, their defaults and their help
// texts come from these types, so a key a pipeline does not read is
// refused, and never renames its runs. The prune section is shared: each
// pipeline's prune section embeds the parts it reads (prune_section.go).
//
// The families: train (experiments itself: dense training), imp (iterative
// and one-shot magnitude pruning, with rewinding), pai (pruning at
// initialization), gmp, granet and dst (gradual.go), bip, jackpot, layer,
// rps and narrow; and the control branches that run off a pruned level
// (branches.go). docs/methods has one page per family.
package pipelines
