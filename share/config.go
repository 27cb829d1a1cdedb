package share

import (
	"fmt"
	"math"
	"strings"
)

// Mapper names (Config.Mapper; docs/methods/rps.md#mappers has a section
// on each).
const (
	HashedNet = "hashednet" // h(L) = hash1(L) mod m, per element
	ROAST     = "roast"     // tiles of B_k × B_n mapped to contiguous slices
	Pareto    = "pareto"    // STABLE-RPS fold, RANDOMFOLD: a random cyclic shift per length-m partition
)

// Scaler modes (Config.Scaler; docs/methods/rps.md#gradient-scaler).
const (
	ScalerV1   = "v1" // s_j = A_j² / c_j (the default)
	ScalerV2   = "v2" // s_j = A_j
	ScalerV3   = "v3" // s_j = A_j / c_j
	ScalerV4   = "v4" // s_j = √B_j
	ScalerV5   = "v5" // s_j = B_j
	ScalerNone = "none"
)

// ScopeNames, ModeNames, ScalerNames and ArithNames list the accepted values
// of the Config fields, in the order error messages show them; MapperNames
// lists the registered mappers.
var (
	ScopeNames  = []string{"global", "local"}
	ModeNames   = []string{"clean", "reference"}
	ScalerNames = []string{ScalerV1, ScalerV2, ScalerV3, ScalerV4, ScalerV5, ScalerNone}
	ArithNames  = []string{ArithWrap64, ArithExact}
)

// Defaults filled in by Config.WithDefaults. Tiles of 32 × 32 and
// init_std 0.04 are the Synaptic-Flow harness's
// (docs/methods/rps.md#configuration), the harness the paper's experiments
// ran in; FakeRoast's own defaults differ (16 × 16 tiles in sample_usage,
// init_std 0.05). Record the values used.
const (
	DefaultBlock   = 32
	DefaultInitStd = 0.04
)

// Config is a randomized-parameter-sharing setup, and the `rps:` section of
// a spec: the mapstructure tags are its keys, the help tags what
// `prunebench config --defaults` prints. Ratio and Seed are not keys (the
// pipeline sets them from the prune amount and the replicate's seed), nor
// does a spec write a tile of 0 to mean anything but "automatic", which the
// pipeline resolves against the array size. Every field that changes the
// result is explicit (docs/methods/conventions.md#clean-and-reference-modes).
type Config struct {
	// Mapper is a registered mapper: "hashednet", "roast" or "pareto"
	// (STABLE-RPS).
	Mapper string `mapstructure:"mapper" help:"rps: the mapper, one of {mappers} (pareto is the STABLE-RPS fold, method stable-rps; roast maps tiles to contiguous slices; hashednet hashes each weight)"`
	// Scope is "global" (one array z of m = floor(ρ·n) entries for every
	// shared tensor: the STABLE-RPS setting) or "local" (one array of
	// floor(ρ·N_ℓ) entries per shared tensor).
	Scope string `mapstructure:"scope" help:"rps: global (one array z of floor(ρ·n) entries for all shared weights, the STABLE-RPS setting) or local (one array per weight)"`
	// Mode is "clean" or "reference". Reference differs from clean in
	// three places, each emulating apd10/FakeRoast:
	//   - hashing: one hash function per shared tensor (FakeRoast overwrites
	//     the mapper's seed with each layer's seed) applied to global
	//     locations, also in local scope; clean uses one hash function for
	//     the whole global array, and in local scope one per array applied
	//     to the tensor's own locations (so the fold stays balanced and is
	//     a bijection at ρ = 1 in both scopes);
	//   - the gradient scaler's 1e-3 / 1e-6 terms
	//     (docs/methods/rps.md#reference-quirks);
	//   - the per-layer scale comes from the sample std of the actually
	//     initialized dense weight (ScaleFromWeights) instead of the
	//     initializer's analytic std (ScaleFromInit); the caller chooses.
	// Signs are counter-based in both modes (the reference's stored
	// per-layer sign tensors cannot be reproduced bit for bit and have the
	// same distribution).
	Mode string `mapstructure:"mode" help:"rps: clean (one hash function, analytic init std for the scale) or reference (apd10/FakeRoast: a hash function per layer, scale from the drawn weight's sample std, the scaler's 1e-3 terms, shared layers' biases zeroed)"`
	// Ratio is the memory ratio ρ = m / n ∈ (0, 1] (RatioFromCompression
	// converts a compression).
	Ratio float64 `mapstructure:"-"`
	// BlockK × BlockN is the ROAST tile of Linear and Conv2d weights (in
	// their transposed view); Block the ROAST chunk of Embedding rows.
	// Used by the roast mapper only; each must be ≥ 1 there.
	BlockK int `mapstructure:"block_k" help:"rps roast: tile rows B_k (input side); 0: 32 (the Synaptic-Flow harness) when a 32×32 tile is smaller than the array, else the largest power of two whose square tile is"`
	BlockN int `mapstructure:"block_n" help:"rps roast: tile columns B_n (output side); 0: as block_k"`
	Block  int `mapstructure:"block" help:"rps roast: chunk of an embedding row; 0: 32, or the largest power of two below the array size"`
	// ModuleLimit is the smallest number of trainable parameters (weight
	// and bias) a Linear, Conv2d or Embedding module must have for its
	// weight to be shared; ≤ 0 shares every such weight (reference default
	// −1).
	ModuleLimit int `mapstructure:"module_limit" help:"rps, narrow: share only the weights of Linear and Conv2d modules with at least this many parameters (weight and bias); ≤ 0: all of them (the reference's −1)"`
	// Seed is the seed of the hash stream (nn.SeedFor(master, nn.NSHash)):
	// it determines the hash constants and the signs.
	Seed uint64 `mapstructure:"-"`
	// HashArith is "wrap64" (the reference's int64 wrap-around, default)
	// or "exact".
	HashArith string `mapstructure:"hash_arith" help:"rps: wrap64 (the reference's int64 wrap-around) or exact (128-bit products) universal hash arithmetic"`
	// Scaler is the STABLE-RPS gradient scaler mode: v1 … v5 or none.
	Scaler string `mapstructure:"scaler" help:"rps: STABLE-RPS gradient scaler applied to ∂ℓ/∂z before the optimizer step: v1 (A²/c, the default), v2, v3, v4, v5 or none"`
	// Init is how z starts: "uniform" (z ~ U(−a, a), a = InitStd) or
	// "project" (from the dense initialization; the caller computes it).
	Init string `mapstructure:"init" help:"rps: uniform (z ~ U(−a, a), a = rps.init_std, scale λ = σ/a) or project (z_j = the mean of g·w/λ over the dense initialization's weights that map to slot j: at ρ = 1 with the pareto mapper the shared model starts at the dense model's θ0)"`
	// InitStd is a: z is drawn U(−a, a) and λ_ℓ = σ_ℓ / a.
	InitStd float64 `mapstructure:"init_std" help:"rps: a, the half-width of z's uniform init; the scale is λ = σ/a, so with the v1 scaler and SGD training does not depend on it"`
	// MatchInitStd multiplies λ by √3 so that the virtual weights start
	// with the dense layer's std instead of √3 less.
	MatchInitStd bool `mapstructure:"match_init_std" help:"rps: multiply λ by √3 so that the virtual weights start with the dense layer's std (the reference starts them √3 smaller)"`
}

// InitNames lists the accepted values of Config.Init.
var InitNames = []string{"uniform", "project"}

// DefaultConfig is STABLE-RPS as docs/methods/rps.md#configuration
// recommends it: the fold mapper on one global array, clean mode, the v1
// gradient scaler, z ~ U(−0.04, 0.04) as in the Synaptic-Flow harness,
// automatic tiles (0), and no ratio or seed (the caller's).
func DefaultConfig() Config {
	return Config{
		Mapper: Pareto, Scope: "global", Mode: "clean", Scaler: ScalerV1,
		Init: "uniform", InitStd: DefaultInitStd, HashArith: ArithWrap64,
	}
}

// WithDefaults returns c with empty fields set: mapper pareto, scope
// global, mode clean, wrap64 arithmetic, scaler v1, 32 × 32 tiles, chunk
// 32, init_std 0.04. Ratio has no default.
func (c Config) WithDefaults() Config {
	if c.Mapper == "" {
		c.Mapper = Pareto
	}
	if c.Scope == "" {
		c.Scope = "global"
	}
	if c.Mode == "" {
		c.Mode = "clean"
	}
	if c.HashArith == "" {
		c.HashArith = ArithWrap64
	}
	if c.Scaler == "" {
		c.Scaler = ScalerV1
	}
	if c.BlockK == 0 {
		c.BlockK = DefaultBlock
	}
	if c.BlockN == 0 {
		c.BlockN = DefaultBlock
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.InitStd == 0 {
		c.InitStd = DefaultInitStd
	}
	if c.Init == "" {
		c.Init = "uniform"
	}
	return c
}

// Validate checks every field on its own. Checks that need the model (m ≥ 1,
// tiles smaller than the arrays) are NewMapper's.
func (c Config) Validate() error {
	if _, err := mappers.Get(c.Mapper); err != nil {
		return fmt.Errorf("rps.mapper: %w", err)
	}
	if err := oneOf("rps.scope", c.Scope, ScopeNames); err != nil {
		return err
	}
	if err := oneOf("rps.mode", c.Mode, ModeNames); err != nil {
		return err
	}
	if err := oneOf("rps.hash_arith", c.HashArith, ArithNames); err != nil {
		return err
	}
	if err := oneOf("rps.scaler", c.Scaler, ScalerNames); err != nil {
		return err
	}
	if err := oneOf("rps.init", c.Init, InitNames); err != nil {
		return err
	}
	if err := CheckRatio(c.Ratio); err != nil {
		return err
	}
	if c.Mapper == ROAST {
		for _, f := range []struct {
			name string
			v    int
		}{{"rps.block_k", c.BlockK}, {"rps.block_n", c.BlockN}, {"rps.block", c.Block}} {
			if f.v < 1 {
				return fmt.Errorf("%s = %d: want a tile size ≥ 1", f.name, f.v)
			}
		}
	}
	if !(c.InitStd > 0) || math.IsInf(c.InitStd, 0) {
		return fmt.Errorf("rps.init_std = %v: want a finite value > 0", c.InitStd)
	}
	if c.Mode == "reference" && c.Scope == "local" && c.Scaler != ScalerNone {
		return fmt.Errorf("rps.scaler = %q with rps.mode = reference and rps.scope = local: the reference gradient scaler exists for the global array only (FakeRoast's ModelRoasterGradScaler asserts roast_global); want rps.scaler = none or rps.scope = global", c.Scaler)
	}
	return nil
}

// CheckRatio returns an error unless ρ ∈ (0, 1].
func CheckRatio(rho float64) error {
	if !(rho > 0 && rho <= 1) {
		return fmt.Errorf("rps.ratio ρ = %v: want a memory ratio m/n in (0, 1] (a compression of 1× or more)", rho)
	}
	return nil
}

// RatioFromCompression converts a compression c = n/m ≥ 1 into ρ = 1/c.
func RatioFromCompression(c float64) (float64, error) {
	if !(c >= 1) || math.IsInf(c, 0) {
		return 0, fmt.Errorf("rps compression %v×: want a finite value ≥ 1 (the shared array cannot be larger than the model)", c)
	}
	return 1 / c, nil
}

// RatioFromLog10Compression converts the Synaptic-Flow harness's
// --compression c (ρ = 10^−c; prune.log10_compression in
// docs/methods/conventions.md#prune-amount-keys).
func RatioFromLog10Compression(c float64) (float64, error) {
	if !(c >= 0) || math.IsInf(c, 0) {
		return 0, fmt.Errorf("rps log10 compression %v: want a finite value ≥ 0 (ρ = 10^−c ≤ 1)", c)
	}
	return math.Pow(10, -c), nil
}

// ArraySize is m = floor(ρ·n) (docs/methods/rps.md#memory-ratio). In clean
// mode a float64 product within a relative 1e-9 below an integer is snapped
// up to it, so that float error cannot lose an entry: 0.29·100 is
// 28.999999999999996 in float64 and gives 29. In reference mode it is the
// code's plain truncation, int(sparsity · roastable_params) (code:
// FakeRoastUtil_v2.py ModelRoaster), which gives 28.
func ArraySize(rho float64, n int64, mode string) int64 {
	x := rho * float64(n)
	f := math.Floor(x)
	if mode != "reference" && x-f > 1-1e-9*max(1, x) {
		f++
	}
	return int64(f)
}

func oneOf(field, v string, names []string) error {
	for _, n := range names {
		if v == n {
			return nil
		}
	}
	return fmt.Errorf("%s = %q: want one of %s", field, v, strings.Join(names, ", "))
}
