package share

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// Mapper is the index function h and the sign g of a shared model: it maps
// every virtual weight (layer ℓ, row-major index i in the weight's native
// layout) to an entry j of one shared array and a sign ±1, so that
// W_ℓ[i] = λ_ℓ · g · z[j]. It holds no O(n) state: HashedNet hashes every
// location on the fly, the fold keeps one shift per length-m partition a
// layer touches and ROAST one base per tile
// (docs/methods/rps.md#memory-accounting), so Index and Fill can run inside
// an engine's forward and backward kernels.
//
// A Mapper is immutable after NewMapper and safe for concurrent use.
type Mapper struct {
	cfg      Config
	layers   []layerMap
	arrays   []Array
	n        int64
	signSeed uint64
}

// Array is one shared array z: its name (the nn.Shared.Array of the tensors
// that read it) and its number of entries.
type Array struct {
	Name string
	Size int
}

// LayerInfo describes one shared tensor of a Mapper.
type LayerInfo struct {
	Tensor Tensor
	// Offset is off_ℓ, the global location of the tensor's first entry:
	// the total size of the shared tensors before it in canonical order.
	// Signs are keyed on the global location off_ℓ + i.
	Offset int64
	// Array is the index (into Mapper.Arrays) of the array the tensor
	// reads; ArraySize is that array's size.
	Array, ArraySize int
}

// layerMap is the per-tensor state of a Mapper. rows × cols is the native
// layout seen as a matrix: [out, in·kh·kw] for Linear and Conv2d, [rows,
// dim] for Embedding.
type layerMap struct {
	info    LayerInfo
	scheme  Scheme // the index function of Config.Mapper
	size    int
	rows    int
	cols    int
	hashOff int64 // hash input of entry i is hashOff + i
	m       int64
	h       Hasher

	// pareto: shifts[c − chunk0] = hash1(c) mod m for the partitions c the
	// layer touches.
	chunk0 int64
	shifts []int32

	// roast: bases[t] is the start of tile t in z. Linear and Conv2d:
	// t = (k / bk)·tilesC + o / bn for native entry (o, k); Embedding:
	// t = row·tilesC + col / bn, with bn = Block and bk unused.
	bk, bn, tilesC int
	bases          []int32
}

// signSalt separates the sign stream from the hash constants drawn from the
// same seed. Changing it changes every run's signs.
const signSalt = 0x7369676e5f727073 // "sign_rps"

// NewMapper builds the mapping of a shared model over ts, the tensors to
// share in canonical order (normally SharedTensors(Tensors(arch),
// cfg.ModuleLimit)). cfg gets WithDefaults first. Errors name the field or
// tensor: a bad config, no tensor to share, a tensor the mapper does not
// apply to, an array of fewer than one entry (ρ too small for n, or for a
// layer in local scope) or not above a ROAST tile.
func NewMapper(ts []Tensor, cfg Config) (*Mapper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("rps: no weight to share (rps.module_limit = %d excludes every Linear and Conv2d weight)", cfg.ModuleLimit)
	}
	mp := &Mapper{cfg: cfg, signSeed: nn.SplitMix64(cfg.Seed ^ signSalt)}
	for _, t := range ts {
		if err := t.check(cfg.Mapper); err != nil {
			return nil, err
		}
		mp.n += int64(t.Size())
	}
	rng := nn.NewRand(cfg.Seed)
	exact := cfg.HashArith == ArithExact
	ref := cfg.Mode == "reference"
	global := cfg.Scope == "global"
	var shared Hasher
	if global && !ref {
		shared = DrawHasher(rng, exact)
	}
	if global {
		m := ArraySize(cfg.Ratio, mp.n, cfg.Mode)
		if err := checkArray(m, cfg.Ratio, mp.n, "the global array"); err != nil {
			return nil, err
		}
		mp.arrays = []Array{{Name: "rps", Size: int(m)}}
	}
	var off int64
	for _, t := range ts {
		l := layerMap{scheme: mapperScheme(cfg.Mapper), size: t.Size(), rows: t.Param.Shape[0]}
		l.cols = l.size / l.rows
		l.info = LayerInfo{Tensor: t, Offset: off}
		switch {
		case global && !ref:
			l.h, l.hashOff = shared, off
		case global || ref:
			// Reference: FakeRoast seeds every layer's mapper with the
			// layer's own seed and hashes global locations.
			l.h, l.hashOff = DrawHasher(rng, exact), off
		default:
			// Clean local: an independent hash per array on the tensor's
			// own locations.
			l.h, l.hashOff = DrawHasher(rng, exact), 0
		}
		if global {
			l.info.Array = 0
		} else {
			m := ArraySize(cfg.Ratio, int64(l.size), cfg.Mode)
			if err := checkArray(m, cfg.Ratio, int64(l.size), "the array of "+t.Param.Name); err != nil {
				return nil, err
			}
			l.info.Array = len(mp.arrays)
			mp.arrays = append(mp.arrays, Array{Name: "rps:" + t.Param.Name, Size: int(m)})
		}
		l.m = int64(mp.arrays[l.info.Array].Size)
		l.info.ArraySize = int(l.m)
		if err := l.build(cfg); err != nil {
			return nil, err
		}
		mp.layers = append(mp.layers, l)
		off += int64(l.size)
	}
	return mp, nil
}

// Build is NewMapper over the weights of an architecture that
// cfg.ModuleLimit selects.
func Build(a *nn.Arch, cfg Config) (*Mapper, error) {
	return NewMapper(SharedTensors(Tensors(a), cfg.WithDefaults().ModuleLimit), cfg)
}

func checkArray(m int64, rho float64, n int64, what string) error {
	if m < 1 {
		return fmt.Errorf("rps.ratio ρ = %v: %s gets m = floor(ρ·%d) = %d entries, want m ≥ 1 (ρ ≥ 1/%d; a compression of at most %d×)", rho, what, n, m, n, n)
	}
	if m >= HashPrime {
		return fmt.Errorf("rps.ratio ρ = %v: %s gets m = %d entries, want m < P = %d (the hash's prime)", rho, what, m, HashPrime)
	}
	return nil
}

// build precomputes the small tables of the layer's mapper.
func (l *layerMap) build(cfg Config) error { return l.scheme.build(l, cfg) }

func arrayWhat(cfg Config) string {
	if cfg.Scope == "global" {
		return "the global array"
	}
	return "its array"
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Config returns the configuration with defaults filled in.
func (mp *Mapper) Config() Config { return mp.cfg }

// NumLayers is the number of shared tensors.
func (mp *Mapper) NumLayers() int { return len(mp.layers) }

// Layer describes shared tensor l (0-based, canonical order).
func (mp *Mapper) Layer(l int) LayerInfo { return mp.layers[l].info }

// Arrays lists the shared arrays: one in global scope, one per tensor in
// local scope.
func (mp *Mapper) Arrays() []Array { return append([]Array(nil), mp.arrays...) }

// N is n, the number of shared (virtual) weights.
func (mp *Mapper) N() int64 { return mp.n }

// M is the total number of shared-array entries: m in global scope,
// Σ_ℓ floor(ρ·N_ℓ) in local scope.
func (mp *Mapper) M() int64 {
	var m int64
	for _, a := range mp.arrays {
		m += int64(a.Size)
	}
	return m
}

// TableBytes is the memory of the mapper's precomputed tables (fold shifts
// and ROAST tile bases, 4 bytes each), the persistent overhead that
// docs/methods/rps.md#memory-accounting allows besides z.
func (mp *Mapper) TableBytes() int64 {
	var b int64
	for i := range mp.layers {
		b += 4 * int64(len(mp.layers[i].shifts)+len(mp.layers[i].bases))
	}
	return b
}

// Shared materializes the full index and sign tensors of layer l as an
// nn.Shared parametrization with scale λ whose Map is an nn.TableMap. It
// allocates 8·N_ℓ bytes: use it for tests and for engines that store
// indices; kernels should call Index or Fill instead.
func (mp *Mapper) Shared(l int, scale float32) nn.Shared {
	info := mp.layers[l].info
	t := nn.TableMap{
		Index: make([]int32, mp.layers[l].size),
		Sign:  make([]float32, mp.layers[l].size),
	}
	mp.Fill(l, 0, t.Index, t.Sign)
	return nn.Shared{
		Array:     mp.arrays[info.Array].Name,
		ArraySize: info.ArraySize,
		Map:       t,
		Scale:     scale,
	}
}
