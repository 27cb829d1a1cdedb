package pipelines

import (
	"fmt"

	"github.com/prunebench/prunebench/share"
)

// The rps section is share.Config: randomized parameter sharing
// (docs/methods/rps.md). Its defaults are share.DefaultConfig, STABLE-RPS.
//
// How much is shared is not an rps key: the memory ratio ρ = m/n is the
// prune amount (prune.compression: 100 is ρ = 0.01; prune.density,
// prune.log10_compression, ... are the same number in other conventions;
// for RPS "density" is the memory ratio), the key every pruning pipeline
// reads, so that one board groups RPS, pruning and the narrow model at one
// density.

// shareConfig is the section at memory ratio rho, with the hash seed of the
// replicate's master seed. Tiles left at 0 stay 0 (auto; rpsTiles resolves
// them once m is known).
func (c rpsPipeline) shareConfig(rho float64, seed uint64) share.Config {
	cfg := c.RPS
	cfg.Ratio, cfg.Seed = rho, seedForHash(seed)
	return cfg
}

// validate checks the rps section on its own (share.Config.Validate with
// the tiles' automatic value allowed).
func (c rpsPipeline) validate(rho float64) error {
	for _, f := range []struct {
		name string
		v    int
	}{{"rps.block_k", c.RPS.BlockK}, {"rps.block_n", c.RPS.BlockN}, {"rps.block", c.RPS.Block}} {
		if f.v < 0 {
			return fmt.Errorf("%s = %d: want a tile size ≥ 1, or 0 for the default", f.name, f.v)
		}
	}
	cfg := c.shareConfig(rho, 0)
	// Auto tiles are resolved against the array later; validate the rest
	// with a placeholder.
	cfg.BlockK, cfg.BlockN, cfg.Block = max(cfg.BlockK, 1), max(cfg.BlockN, 1), max(cfg.Block, 1)
	return cfg.Validate()
}
