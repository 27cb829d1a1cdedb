package pipelines

import (
	"fmt"

	"github.com/prunebench/prunebench/share"
)

// RPSSpec is the `rps:` section of a spec: randomized parameter sharing
// (specs/rps.md; pipeline_rps.go) and the narrow-model baseline
// (pipeline narrow). Fields at their default are left out of the run
// identity; the defaults are what specs/rps.md recommends (STABLE-RPS:
// the fold mapper on one global array, clean mode, the v1 gradient scaler,
// z ~ U(−0.04, 0.04) as in the Synaptic-Flow harness).
//
// How much is shared is not an rps key: the memory ratio ρ = m/n is the
// prune amount (prune.compression: 100 is ρ = 0.01; prune.density,
// prune.log10_compression, ... are the same number in other conventions;
// specs/README.md §1.1 makes "density" the memory ratio for RPS), the key
// every pruning pipeline reads, so that one board groups RPS, pruning and
// the narrow model at one density.
type RPSSpec struct {
	Mapper string `mapstructure:"mapper" help:"rps: pareto (the STABLE-RPS fold; method stable-rps), roast (tiles mapped to contiguous slices) or hashednet (one hash per weight)"`
	Scope  string `mapstructure:"scope" help:"rps: global (one array z of floor(ρ·n) entries for all shared weights, the STABLE-RPS setting) or local (one array per weight)"`
	Mode   string `mapstructure:"mode" help:"rps: clean (one hash function, analytic init std for the scale) or reference (apd10/FakeRoast: a hash function per layer, scale from the drawn weight's sample std, the scaler's 1e-3 terms, shared layers' biases zeroed)"`
	Scaler string `mapstructure:"scaler" help:"rps: STABLE-RPS gradient scaler applied to ∂ℓ/∂z before the optimizer step: v1 (A²/c, the default), v2, v3, v4, v5 or none (specs/rps.md §6)"`
	// Init is how z starts.
	Init         string  `mapstructure:"init" help:"rps: uniform (z ~ U(−a, a), a = rps.init_std, scale λ = σ/a; specs/rps.md §5) or project (z_j = the mean of g·w/λ over the dense initialization's weights that map to slot j: at ρ = 1 with the pareto mapper the shared model starts at the dense model's θ0)"`
	InitStd      float64 `mapstructure:"init_std" help:"rps: a, the half-width of z's uniform init; the scale is λ = σ/a, so with the v1 scaler and SGD training does not depend on it"`
	MatchInitStd bool    `mapstructure:"match_init_std" help:"rps: multiply λ by √3 so that the virtual weights start with the dense layer's std (the reference starts them √3 smaller)"`
	BlockK       int     `mapstructure:"block_k" help:"rps roast: tile rows B_k (input side); 0: 32 (the Synaptic-Flow harness) when a 32×32 tile is smaller than the array, else the largest power of two whose square tile is"`
	BlockN       int     `mapstructure:"block_n" help:"rps roast: tile columns B_n (output side); 0: as block_k"`
	Block        int     `mapstructure:"block" help:"rps roast: chunk of an embedding row; 0: 32, or the largest power of two below the array size"`
	ModuleLimit  int     `mapstructure:"module_limit" help:"rps, narrow: share only the weights of Linear and Conv2d modules with at least this many parameters (weight and bias); ≤ 0: all of them (the reference's −1)"`
	HashArith    string  `mapstructure:"hash_arith" help:"rps: wrap64 (the reference's int64 wrap-around) or exact (128-bit products) universal hash arithmetic"`
}

// defaultRPSSpec is RPSSpec's defaults: STABLE-RPS as specs/rps.md
// recommends it.
func defaultRPSSpec() RPSSpec {
	return RPSSpec{
		Mapper: share.Pareto, Scope: "global", Mode: "clean", Scaler: share.ScalerV1,
		Init: "uniform", InitStd: share.DefaultInitStd, HashArith: share.ArithWrap64,
	}
}

// rpsInits are the accepted values of rps.init.
var rpsInits = []string{"uniform", "project"}

// shareConfig is the share.Config of the spec at memory ratio rho, with the
// hash seed of the spec's replicate seed. Tiles left at 0 stay 0 (auto;
// rpsTiles resolves them once m is known).
func (r RPSSpec) shareConfig(rho float64, seed uint64) share.Config {
	return share.Config{
		Mapper: r.Mapper, Scope: r.Scope, Mode: r.Mode, Ratio: rho,
		BlockK: r.BlockK, BlockN: r.BlockN, Block: r.Block, ModuleLimit: r.ModuleLimit,
		Seed: seedForHash(seed), HashArith: r.HashArith, Scaler: r.Scaler,
		InitStd: r.InitStd, MatchInitStd: r.MatchInitStd,
	}
}

// validate checks the rps fields on their own (share.Config.Validate with
// the tiles' auto value allowed).
func (r RPSSpec) validate(rho float64) error {
	for _, f := range []struct {
		name string
		v    int
	}{{"rps.block_k", r.BlockK}, {"rps.block_n", r.BlockN}, {"rps.block", r.Block}} {
		if f.v < 0 {
			return fmt.Errorf("%s = %d: want a tile size ≥ 1, or 0 for the default", f.name, f.v)
		}
	}
	if err := oneOfField("rps.init", r.Init, rpsInits); err != nil {
		return err
	}
	c := r.shareConfig(rho, 0)
	// Auto tiles are resolved against the array later; validate the rest
	// with a placeholder.
	c.BlockK, c.BlockN, c.Block = max(c.BlockK, 1), max(c.BlockN, 1), max(c.Block, 1)
	return c.Validate()
}

func oneOfField(field, v string, names []string) error {
	for _, n := range names {
		if v == n {
			return nil
		}
	}
	return fmt.Errorf("%s = %q: want one of %v", field, v, names)
}
