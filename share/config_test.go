package share

import (
	"math"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// Every bad field is an error that names the field and what it accepts.
func TestConfigValidate(t *testing.T) {
	ok := Config{Ratio: 0.1}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Mapper = "random" }, `rps.mapper: unknown RPS mapper "random"; want one of hashednet, pareto, roast`},
		{func(c *Config) { c.Scope = "layer" }, `rps.scope = "layer": want one of global, local`},
		{func(c *Config) { c.Mode = "paper" }, `rps.mode = "paper": want one of clean, reference`},
		{func(c *Config) { c.HashArith = "int128" }, `rps.hash_arith = "int128"`},
		{func(c *Config) { c.Scaler = "v6" }, `rps.scaler = "v6": want one of v1, v2, v3, v4, v5, none`},
		{func(c *Config) { c.Ratio = 0 }, "rps.ratio ρ = 0: want a memory ratio m/n in (0, 1]"},
		{func(c *Config) { c.Ratio = -0.1 }, "rps.ratio ρ = -0.1"},
		{func(c *Config) { c.Ratio = 1.5 }, "rps.ratio ρ = 1.5"},
		{func(c *Config) { c.Ratio = math.NaN() }, "rps.ratio ρ = NaN"},
		{func(c *Config) { c.Mapper = ROAST; c.BlockK = -1 }, "rps.block_k = -1: want a tile size ≥ 1"},
		{func(c *Config) { c.Mapper = ROAST; c.Block = -2 }, "rps.block = -2"},
		{func(c *Config) { c.InitStd = -1 }, "rps.init_std = -1"},
		{func(c *Config) { c.InitStd = math.Inf(1) }, "rps.init_std = +Inf"},
		{func(c *Config) { c.Mode = "reference"; c.Scope = "local" }, "asserts roast_global"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", cfg, err, c.want)
		}
	}
	// Block sizes matter to ROAST only; reference + local is fine without a
	// scaler.
	fine := ok
	fine.BlockK = -1
	fine.Mode, fine.Scope, fine.Scaler = "reference", "local", ScalerNone
	if err := fine.Validate(); err != nil {
		t.Errorf("%+v: %v", fine, err)
	}
}

func TestRatioConversions(t *testing.T) {
	if r, err := RatioFromCompression(100); err != nil || r != 0.01 {
		t.Errorf("100×: %v, %v", r, err)
	}
	for _, c := range []float64{0.5, 0, -1, math.NaN(), math.Inf(1)} {
		if _, err := RatioFromCompression(c); err == nil {
			t.Errorf("compression %v accepted", c)
		}
	}
	if r, err := RatioFromLog10Compression(2); err != nil || math.Abs(r-0.01) > 1e-17 {
		t.Errorf("log10 compression 2: %v, %v", r, err)
	}
	if _, err := RatioFromLog10Compression(-0.5); err == nil {
		t.Error("log10 compression −0.5 (ρ > 1) accepted")
	}
}

// m = floor(ρ·n): clean snaps float error, reference truncates as
// int(ρ·n) does.
func TestArraySize(t *testing.T) {
	for _, c := range []struct {
		rho  float64
		n    int64
		mode string
		want int64
	}{
		{0.29, 100, "clean", 29},     // 0.29·100 = 28.999999999999996 in float64
		{0.29, 100, "reference", 28}, // int(28.999999999999996)
		{0.01, 266200, "clean", 2662},
		{0.001, 266200, "clean", 266}, // docs/methods/rps.md#memory-accounting: at 1000× m = 266
		{0.5, 7, "clean", 3},
		{1, 7, "reference", 7},
		{0.1, 9, "clean", 0},
	} {
		if got := ArraySize(c.rho, c.n, c.mode); got != c.want {
			t.Errorf("ArraySize(%v, %d, %s) = %d, want %d", c.rho, c.n, c.mode, got, c.want)
		}
	}
}

// NewMapper rejects models the config cannot share, naming the field or
// tensor.
func TestNewMapperErrors(t *testing.T) {
	fc := []Tensor{lin("fc1", 3, 4), lin("fc2", 2, 3)} // n = 18
	bias := Tensor{Kind: KindLinear, Param: nn.ParamInfo{Name: "fc1.bias", Shape: []int{3}, Kind: nn.Bias}}
	norm := Tensor{Kind: LayerKind(9), Param: nn.ParamInfo{Name: "bn1.weight", Shape: []int{3}, Kind: nn.Weight}}
	for _, c := range []struct {
		name string
		ts   []Tensor
		cfg  Config
		want string
	}{
		{"no tensors", nil, Config{Ratio: 0.5, ModuleLimit: 100}, "no weight to share (rps.module_limit = 100"},
		{"m < 1", fc, Config{Ratio: 0.05}, "the global array gets m = floor(ρ·18) = 0 entries, want m ≥ 1"},
		{"local m < 1", fc, Config{Ratio: 0.1, Scope: "local"}, "the array of fc2.weight gets m = floor(ρ·6) = 0 entries"},
		{"bias", []Tensor{bias}, Config{Ratio: 0.5}, "rps.mapper pareto does not apply to fc1.bias: it is a bias"},
		{"norm", []Tensor{norm}, Config{Ratio: 0.5, Mapper: HashedNet}, "rps.mapper hashednet does not apply to bn1.weight"},
		{"bad shape", []Tensor{{Kind: KindConv2d, Param: lin("c", 2, 2).Param}}, Config{Ratio: 0.5}, "want 4 dimensions"},
		{"tile = m", fc, Config{Ratio: 0.5, Mapper: ROAST, BlockK: 3, BlockN: 3}, "rps.block_k × rps.block_n = 3 × 3: fc1.weight maps tiles of 9 entries into the global array of 9 entries"},
		{"local tile", fc, Config{Ratio: 1, Mapper: ROAST, Scope: "local", BlockK: 2, BlockN: 3}, "fc2.weight maps tiles of 6 entries into its array of 6"},
		{"chunk", []Tensor{emb("emb", 2, 3)}, Config{Ratio: 0.5, Mapper: ROAST, Block: 3}, "rps.block = 3: emb.weight maps chunks of 3 entries into the global array of 3"},
		{"ratio", fc, Config{Ratio: 2}, "rps.ratio ρ = 2"},
	} {
		_, err := NewMapper(c.ts, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// The smallest legal arrays: m = 1 (fold and HashedNet), m = tile + 1.
	if _, err := NewMapper(fc, Config{Ratio: 1.0 / 18}); err != nil {
		t.Errorf("m = 1: %v", err)
	}
	if _, err := NewMapper(fc, Config{Ratio: 10.0 / 18, Mapper: ROAST, BlockK: 3, BlockN: 3}); err != nil {
		t.Errorf("m = tile + 1: %v", err)
	}
}

// Each registered mapper names the method its results record.
func TestMapperMethod(t *testing.T) {
	for name, want := range map[string]string{HashedNet: "hashednet", ROAST: "roast", Pareto: "stable-rps", "lowrank": "lowrank"} {
		if got := MapperMethod(name); got != want {
			t.Errorf("MapperMethod(%q) = %q, want %q", name, got, want)
		}
	}
}
