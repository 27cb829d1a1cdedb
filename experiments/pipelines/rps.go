package pipelines

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/share"
)

func init() {
	experiments.RegisterPipeline("rps", rpsPipeline{RPS: share.DefaultConfig()})
	experiments.RegisterPipeline("narrow", narrowPipeline{})
}

// rpsPipeline trains a model whose Linear and Conv2d weights are views into
// one shared array (randomized parameter sharing, docs/methods/rps.md):
// HashedNet, ROAST and STABLE-RPS, picked by rps.mapper. One level, level 0.
//
// The memory ratio ρ = m/n is the prune amount (prune.compression,
// prune.density, ...; rps_spec.go says why), so that at one board density
// STABLE-RPS, the pruning criteria (pipelines pai and imp over the same
// weights, at density d = ρ) and the narrow model have the same number of
// trainable parameters: m = floor(ρ·n) shared entries against
// round(d·n) kept weights, biases dense in all three (they differ by the
// rounding, at most one weight).
//
// Steps: build and initialize the dense net (Prepare: biases and
// unshared parameters keep the architecture's initialization), select the
// shared weights (rps.module_limit), build the share.Mapper (hash seed
// from the `hash` namespace), compute the scales λ_ℓ = σ_ℓ/a (clean: the
// initializer's analytic std; reference: the drawn weight's sample std),
// the scaler's divisors from the mapping, set the parametrization on the
// net (share.Mapper.Apply), draw z (rps.init: uniform from a sub-stream of
// the `init` namespace, z_j = a·(2u_j − 1), so that runs that differ in a
// start from the same virtual weights; or project, from the dense
// initialization), and train with the frozen loop. Bad input (ρ that
// leaves m < 1, a ROAST tile not smaller than the array, a weight the
// mapper does not apply to) is an error before training that names the
// field.
//
// Counts in the result (Measure, then overridden): density is the achieved
// memory ratio M/n (M = Σ array sizes, m in global scope; floor(ρ·n)/n, as a
// pruning row records round(d·n)/n: equal whenever ρ·n has no fraction ≥ ½),
// sparsity 1 − M/n and compression n/M (c_shared,
// docs/methods/rps.md#memory-accounting); params_total is the dense model's
// trainable count P_dense (as for every pipeline); params_nonzero is the
// non-zero entries of z plus the non-zero unshared parameters; bytes is
// 4·(m + P_unshared), the float32 storage of what is trained and saved,
// where a pruned model's row stores its dense θ (4·P_dense). FLOPs are those
// of the materialized weights: sharing saves memory, not compute. The unit
// folder's rps.yaml holds the full memory account (n, m, P_unshared,
// c_shared, c_model, the mapper's tables, the scaler's divisors; optimizer
// state is not counted) and the resolved mapper settings (tiles, scales).
//
// Method names: stable-rps (pareto), roast, hashednet, with " (reference)"
// in reference mode, " (local)" in local scope and " (scaler X)" for a
// scaler other than v1, so that one board keeps those variants apart.
type rpsPipeline struct {
	// Prune is the memory ratio ρ: the prune section's amount only.
	Prune struct {
		experiments.AmountSpec `mapstructure:",squash"`
	} `mapstructure:"prune"`
	RPS share.Config `mapstructure:"rps"`
}

func (c rpsPipeline) Validate(s experiments.Spec) error {
	am, ok, err := c.Prune.Resolve()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("pipeline rps needs the memory ratio ρ = m/n as a prune amount: set prune.compression (n/m ≥ 1), prune.density (ρ), or another convention of prune")
	}
	return c.validate(am.Density)
}

// rpsMethod is the result's method name.
func rpsMethod(r share.Config) string {
	name := share.MapperMethod(r.Mapper)
	if r.Mode == "reference" {
		name += " (reference)"
	}
	if r.Scope == "local" {
		name += " (local)"
	}
	if r.Scaler != share.ScalerV1 {
		name += " (scaler " + r.Scaler + ")"
	}
	return name
}

func (c rpsPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, sh, err := c.prepare(r)
		if err != nil {
			return results.Result{}, err
		}
		if err := writeRPSInfo(filepath.Join(dir, rpsInfoFile), sh); err != nil {
			return results.Result{}, err
		}
		h, err := p.Train(ctx, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return measureShared(p, h, sh), nil
	})
	return err
}

// rpsInfoFile is the memory account and mapper settings of an rps unit.
const rpsInfoFile = "rps.yaml"

// sharedModel is what rpsPipeline.prepare built besides the net.
type sharedModel struct {
	Mapper   *share.Mapper
	Config   share.Config // with defaults and the resolved tiles
	Scales   []float64
	Divisors [][]float32
	Memory   share.Memory
	Rho      float64 // the amount's ratio ρ
	Density  float64 // the achieved M/n
	Method   string
}

// prepare prepares the spec's net and makes its shared weights views
// into z, initialized as rps.init says. Every check that needs the model
// runs here, before any training.
func (c rpsPipeline) prepare(r *experiments.Replicate) (*experiments.Prepared, *sharedModel, error) {
	s := r.Spec
	am, ok, err := c.Prune.Resolve()
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errors.New("pipeline rps needs a prune amount (the memory ratio)")
	}
	p, err := r.Prepare(s)
	if err != nil {
		return nil, nil, err
	}
	sm := &sharedModel{Rho: am.Density, Method: rpsMethod(c.RPS)}
	cfg := c.shareConfig(am.Density, s.Seed)
	amountKey := "prune." + am.Convention
	ts := share.SharedTensors(share.Tensors(p.Arch), cfg.ModuleLimit)
	if len(ts) == 0 {
		return nil, nil, fmt.Errorf("rps.module_limit = %d: no Linear or Conv2d weight of model %s is that large; nothing to share", cfg.ModuleLimit, s.Model.Name)
	}
	var n int64
	minSize := int64(math.MaxInt64)
	for _, t := range ts {
		n += int64(t.Size())
		minSize = min(minSize, int64(t.Size()))
	}
	// The smallest array decides the automatic tiles and the m ≥ 1 check
	// (local scope: per weight).
	if cfg.Scope == "local" {
		n = minSize
	}
	m := share.ArraySize(am.Density, n, cfg.Mode)
	if m < 1 {
		return nil, nil, fmt.Errorf("%s = %v gives ρ = %v: the %s gets m = floor(ρ·%d) = %d entries; want m ≥ 1 (a compression of at most %d×)",
			amountKey, amountValue(c.Prune.AmountSpec, am), am.Density, map[bool]string{true: "smallest local array", false: "shared array"}[cfg.Scope == "local"], n, m, n)
	}
	cfg = rpsTiles(cfg, m)
	if sm.Mapper, err = share.NewMapper(ts, cfg); err != nil {
		return nil, nil, fmt.Errorf("%w (%s = %v, ρ = %v)", err, amountKey, amountValue(c.Prune.AmountSpec, am), am.Density)
	}
	sm.Config = sm.Mapper.Config()
	if sm.Memory, err = sm.Mapper.Memory(p.Arch); err != nil {
		return nil, nil, err
	}
	// The recorded density is the achieved ratio M/n (the pruning
	// pipelines record kept/N the same way), so that at one amount the
	// board puts RPS and pruning, whose counts agree, in one group.
	sm.Density = float64(sm.Memory.Array) / float64(sm.Memory.Shared)
	// Scales: clean from the initializer, reference from the drawn weights.
	if cfg.Mode == "reference" {
		sm.Scales = make([]float64, sm.Mapper.NumLayers())
		for l := range sm.Scales {
			name := sm.Mapper.Layer(l).Tensor.Param.Name
			if sm.Scales[l], err = share.ScaleFromWeights(name, p.Net.Param(name).Values(), cfg.InitStd, cfg.MatchInitStd); err != nil {
				return nil, nil, err
			}
		}
	} else if sm.Scales, err = sm.Mapper.ScalesFromInit(p.Init); err != nil {
		return nil, nil, fmt.Errorf("model.init: %w", err)
	}
	if sm.Divisors, err = sm.Mapper.GradDivisors(sm.Scales); err != nil {
		return nil, nil, err
	}
	var z map[string][]float32
	if c.RPS.Init == "project" {
		z = projectInit(p.Net, sm.Mapper, sm.Scales)
	}
	if cfg.Mode == "reference" {
		// FakeRoast re-creates a shared layer's bias as zeros.
		for l := range sm.Mapper.NumLayers() {
			if b := p.Net.Param(sm.Mapper.Layer(l).Tensor.Param.Layer + ".bias"); b != nil {
				b.SetValues(make([]float32, b.Info().Size()))
			}
		}
	}
	if err := sm.Mapper.Apply(p.Net, sm.Scales, sm.Divisors); err != nil {
		return nil, nil, fmt.Errorf("backend %s: %w", s.Backend, err)
	}
	sn, ok := p.Net.(nn.SharedNet)
	if !ok {
		return nil, nil, fmt.Errorf("backend %s does not implement the shared parametrization (nn.SharedNet)", s.Backend)
	}
	if z == nil {
		z = uniformInit(sm.Mapper, cfg.InitStd, s.Seed)
	}
	for _, arr := range sm.Mapper.Arrays() {
		a := sn.SharedArray(arr.Name)
		if a == nil {
			return nil, nil, fmt.Errorf("backend %s: shared array %q missing after sharing", s.Backend, arr.Name)
		}
		a.SetValues(z[arr.Name])
	}
	return p, sm, nil
}

// amountValue is the value the spec gave in its amount convention.
func amountValue(a experiments.AmountSpec, am experiments.Amount) any {
	v := reflect.ValueOf(a)
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("mapstructure") == am.Convention {
			if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
				return f.Elem().Interface()
			}
		}
	}
	return am.Compression
}

// rpsTiles resolves the ROAST tiles left at 0: 32 × 32 (the Synaptic-Flow
// harness) when the tile is smaller than the array of m entries, else the
// largest power of two b with b² < m (docs/methods/rps.md#roast); the
// embedding chunk likewise with b < m.
func rpsTiles(c share.Config, m int64) share.Config {
	if c.Mapper != share.ROAST {
		return c
	}
	sq := int64(share.DefaultBlock)
	for sq > 1 && sq*sq >= m {
		sq /= 2
	}
	lin := int64(share.DefaultBlock)
	for lin > 1 && lin >= m {
		lin /= 2
	}
	if c.BlockK == 0 {
		c.BlockK = int(sq)
	}
	if c.BlockN == 0 {
		c.BlockN = int(sq)
	}
	if c.Block == 0 {
		c.Block = int(lin)
	}
	return c
}

// rpsInitSalt separates z's uniform stream from the dense initialization
// drawn from the same `init` namespace seed.
const rpsInitSalt = 0x7270735f7a5f696e // "rps_z_in"

// seedForHash is the seed of the hash stream (constants and signs).
func seedForHash(master uint64) uint64 { return nn.SeedFor(master, nn.NSHash) }

// uniformInit draws every array as z_j = a·(2u_j − 1), u_j uniform on
// [0, 1) from a stream derived from the `init` namespace, arrays in the
// mapper's order. The u stream does not depend on a.
func uniformInit(mp *share.Mapper, a float64, master uint64) map[string][]float32 {
	rng := nn.NewRand(nn.SplitMix64(nn.SeedFor(master, nn.NSInit) ^ rpsInitSalt))
	out := map[string][]float32{}
	for _, arr := range mp.Arrays() {
		z := make([]float32, arr.Size)
		for j := range z {
			z[j] = float32(a * (2*rng.Float64() - 1))
		}
		out[arr.Name] = z
	}
	return out
}

// projectInit sets each slot to the mean of g·w/λ over the dense
// initialization's weights w that map to it (0 for an empty slot), so that
// a bijective map (the fold at ρ = 1) starts at the dense θ0.
func projectInit(net nn.Net, mp *share.Mapper, scales []float64) map[string][]float32 {
	arrs := mp.Arrays()
	sum := make([][]float64, len(arrs))
	cnt := make([][]float64, len(arrs))
	for a, arr := range arrs {
		sum[a], cnt[a] = make([]float64, arr.Size), make([]float64, arr.Size)
	}
	for l := range mp.NumLayers() {
		info := mp.Layer(l)
		w := net.Param(info.Tensor.Param.Name).Values()
		for i, v := range w {
			j, g := mp.Index(l, i)
			sum[info.Array][j] += float64(g) * float64(v) / scales[l]
			cnt[info.Array][j]++
		}
	}
	out := map[string][]float32{}
	for a, arr := range arrs {
		z := make([]float32, arr.Size)
		for j := range z {
			if cnt[a][j] > 0 {
				z[j] = float32(sum[a][j] / cnt[a][j])
			}
		}
		out[arr.Name] = z
	}
	return out
}

// measureShared is Measure with the shared model's counts: M/n as the
// density, the non-zero entries of z plus the non-zero unshared
// parameters, and 4·(m + P_unshared) bytes.
func measureShared(p *experiments.Prepared, h *train.History, sm *sharedModel) results.Result {
	res := experiments.Measure(p, h, sm.Method, sm.Density)
	shared := map[string]bool{}
	for l := range sm.Mapper.NumLayers() {
		shared[sm.Mapper.Layer(l).Tensor.Param.Name] = true
	}
	var nz int64
	for _, q := range p.Net.Params() {
		if shared[q.Info().Name] {
			continue
		}
		nz += countNonzero(q.Values())
	}
	if sn, ok := p.Net.(nn.SharedNet); ok {
		for _, arr := range sm.Mapper.Arrays() {
			nz += countNonzero(sn.SharedArray(arr.Name).Values())
		}
	}
	res.ParamsNonzero = nz
	res.Bytes = sm.Memory.ParamBytes
	return res
}

func countNonzero(v []float32) int64 {
	var n int64
	for _, x := range v {
		if x != 0 {
			n++
		}
	}
	return n
}

// rpsInfo is rps.yaml: the memory account
// (docs/methods/rps.md#memory-accounting) and the resolved settings of an
// rps unit.
type rpsInfo struct {
	Method      string    `yaml:"method"`
	Mapper      string    `yaml:"mapper"`
	Scope       string    `yaml:"scope"`
	Mode        string    `yaml:"mode"`
	Scaler      string    `yaml:"scaler"`
	Rho         float64   `yaml:"rho"`
	Density     float64   `yaml:"density"`
	InitStd     float64   `yaml:"init_std"`
	BlockK      int       `yaml:"block_k,omitempty"`
	BlockN      int       `yaml:"block_n,omitempty"`
	Shared      int64     `yaml:"shared_weights_n"`
	Array       int64     `yaml:"array_entries_m"`
	Unshared    int64     `yaml:"unshared_params"`
	Dense       int64     `yaml:"dense_params"`
	Params      int64     `yaml:"params"`
	CShared     float64   `yaml:"compression_shared"`
	CModel      float64   `yaml:"compression_model"`
	ParamBytes  int64     `yaml:"param_bytes"`
	TableBytes  int64     `yaml:"table_bytes"`
	DivBytes    int64     `yaml:"scaler_bytes"`
	DenseBytes  int64     `yaml:"dense_bytes"`
	Persistent  int64     `yaml:"persistent_bytes_without_optimizer"`
	SharedNames []string  `yaml:"shared_tensors"`
	Scales      []float64 `yaml:"scales"`
}

func writeRPSInfo(path string, sm *sharedModel) error {
	mem := sm.Memory
	info := rpsInfo{
		Method: sm.Method, Mapper: sm.Config.Mapper, Scope: sm.Config.Scope, Mode: sm.Config.Mode,
		Scaler: sm.Config.Scaler, Rho: sm.Rho, Density: sm.Density, InitStd: sm.Config.InitStd,
		Shared: mem.Shared, Array: mem.Array, Unshared: mem.Unshared, Dense: mem.Dense, Params: mem.Params,
		CShared: mem.CShared, CModel: mem.CModel, ParamBytes: mem.ParamBytes, TableBytes: mem.TableBytes,
		DenseBytes: mem.DenseBytes, Scales: sm.Scales,
	}
	if sm.Config.Mapper == share.ROAST {
		info.BlockK, info.BlockN = sm.Config.BlockK, sm.Config.BlockN
	}
	for _, d := range sm.Divisors {
		info.DivBytes += 4 * int64(len(d))
	}
	info.Persistent = info.ParamBytes + info.TableBytes + info.DivBytes
	for l := range sm.Mapper.NumLayers() {
		info.SharedNames = append(info.SharedNames, sm.Mapper.Layer(l).Tensor.Param.Name)
	}
	return atomicfile.Write(path, func(f *os.File) error { return yaml.NewEncoder(f).Encode(info) })
}

// narrowPipeline is the equal-parameter narrow baseline
// (docs/methods/rps.md#narrow): the dense model with its hidden widths scaled
// by the multiplier (share.NarrowWidth, bisection on integer widths) whose
// parameter count is closest to m + P_unshared of the shared model at the
// same memory ratio ρ (the prune amount; rps.module_limit selects the weights
// that count as shared, as in pipeline rps). It trains densely with the
// frozen loop. The result's method is "narrow", its density m/n of the shared
// model it matches (so that it sits on the board next to RPS and pruning
// there), its params_total, params_nonzero and bytes those of the narrow
// model actually trained; narrow.yaml in the unit folder holds the target,
// the multiplier and the achieved count. A target below the smallest model
// (every hidden width 1) trains that model and says so there: its count is
// then above the target. model.width_multiplier is replaced by the solved
// multiplier.
type narrowPipeline struct {
	// Prune is the memory ratio ρ of the shared model it matches.
	Prune struct {
		experiments.AmountSpec `mapstructure:",squash"`
	} `mapstructure:"prune"`
	// RPS says which weights a shared model would share.
	RPS struct {
		ModuleLimit int `mapstructure:"module_limit" help:"rps, narrow: share only the weights of Linear and Conv2d modules with at least this many parameters (weight and bias); ≤ 0: all of them (the reference's −1)"`
	} `mapstructure:"rps"`
}

func (c narrowPipeline) Validate(s experiments.Spec) error {
	if _, ok, err := c.Prune.Resolve(); err != nil {
		return err
	} else if !ok {
		return errors.New("pipeline narrow needs the memory ratio ρ of the shared model it matches as a prune amount: set prune.compression (n/m ≥ 1), prune.density (ρ), ...")
	}
	if s.Model.WidthMultiplier != 1 {
		return fmt.Errorf("model.width_multiplier = %v: pipeline narrow solves the multiplier itself; leave it at 1", s.Model.WidthMultiplier)
	}
	if s.Model.Inline() {
		// The width search rebuilds a zoo model at other width multipliers;
		// an inline model's widths are written in its layers.
		return errors.New("model.layers: pipeline narrow scales a zoo model's widths (model.name); an inline model cannot be narrowed, write the narrower layers in the spec instead")
	}
	return nil
}

// narrowInfo is narrow.yaml.
type narrowInfo struct {
	Rho             float64 `yaml:"rho"`
	Density         float64 `yaml:"density"`
	Target          int64   `yaml:"target_params"`
	WidthMultiplier float64 `yaml:"width_multiplier"`
	Achieved        int64   `yaml:"achieved_params"`
	Note            string  `yaml:"note,omitempty"`
}

// target returns the parameter count m + P_unshared of the shared
// model of s's architecture at memory ratio rho (global scope, clean
// rounding), m and n, and the model options at width multiplier 1.
func (c narrowPipeline) target(s experiments.Spec, rho float64) (target, m, n int64, o zoo.Options, err error) {
	sp, err := s.Dataset.Load(s.Seed)
	if err != nil {
		return 0, 0, 0, o, err
	}
	o = zoo.Options{Input: sp.Train.Shape, Classes: sp.Train.Classes, Widths: s.Model.Widths, WidthMultiplier: 1, Shortcut: s.Model.Shortcut}
	arch, err := zoo.Build(s.Model.Name, o)
	if err != nil {
		return 0, 0, 0, o, fmt.Errorf("model: %w", err)
	}
	for _, t := range share.SharedTensors(share.Tensors(arch), c.RPS.ModuleLimit) {
		n += int64(t.Size())
	}
	if n == 0 {
		return 0, 0, 0, o, fmt.Errorf("rps.module_limit = %d: no weight of model %s would be shared", c.RPS.ModuleLimit, s.Model.Name)
	}
	m = share.ArraySize(rho, n, "clean")
	if m < 1 {
		return 0, 0, 0, o, fmt.Errorf("prune amount ρ = %v: a shared model would get m = floor(ρ·%d) = 0 entries; want a compression of at most %d×", rho, n, n)
	}
	return m + nn.Count(arch).Params - n, m, n, o, nil
}

func (c narrowPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	s := r.Spec
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		am, _, err := c.Prune.Resolve()
		if err != nil {
			return results.Result{}, err
		}
		target, m, n, o, err := c.target(s, am.Density)
		if err != nil {
			return results.Result{}, err
		}
		w, got, err := share.NarrowWidth(s.Model.Name, o, target)
		if err != nil {
			return results.Result{}, err
		}
		info := narrowInfo{Rho: am.Density, Target: target, WidthMultiplier: w, Achieved: got}
		if got > target {
			o.WidthMultiplier = 1e-9
			if smallest := nn.Count(mustArch(s.Model.Name, o)).Params; got == smallest {
				info.Note = fmt.Sprintf("the target is below the smallest model (every hidden width 1, %d parameters); that model was trained", smallest)
			}
		}
		if err := atomicfile.Write(filepath.Join(dir, "narrow.yaml"), func(f *os.File) error { return yaml.NewEncoder(f).Encode(info) }); err != nil {
			return results.Result{}, err
		}
		ns := s
		ns.Model.WidthMultiplier = w
		p, h, err := r.Train(ctx, ns, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return experiments.Measure(p, h, "narrow", float64(m)/float64(n)), nil
	})
	return err
}

func mustArch(name string, o zoo.Options) *nn.Arch {
	a, err := zoo.Build(name, o)
	if err != nil {
		panic(err)
	}
	return a
}
