package export

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/share"
)

// A shared (randomized parameter sharing) tensor has no θ: its virtual
// weights are W_i = λ · g_i · z[h_i] (nn.Shared). A file holds what rebuilds
// them exactly:
//
//	shared/<array>       F32 [m]   each shared array z
//	metadata "rps"                 JSON: the mapper's configuration and
//	                               seed, and per shared tensor its array,
//	                               array size, scale λ (float32), map and
//	                               the map's SHA-256 (checked on loading)
//
// A tensor whose map came from a share.Mapper (Options.Mapper) is rebuilt
// from the mapper's configuration and seed (share.NewMapper over the same
// tensors), which costs nothing on disk. A tensor that reads an
// nn.TableMap stores its tables, <name>.rps_index (I32) and <name>.rps_sign
// (I8, ±1), of the weight's shape: 5 bytes per virtual weight, more than
// the dense weight, so that form is for tests and small cases. Any other
// map cannot be written: it is code, and Encode says so, naming the tensor.
//
// The STABLE-RPS gradient scaler (nn.Shared.GradDivisor) is not written: it
// acts on training only, so a loaded net computes the same function, and
// has no scaler until one is set again.

// The suffixes of a table map's tensors and the prefix of an array's.
const (
	IndexSuffix  = ".rps_index"
	SignSuffix   = ".rps_sign"
	ArrayPrefix  = "shared/"
	mapTable     = "table"
	mapFromShare = "mapper"
)

// sharedMeta is the metadata entry KeyShared.
type sharedMeta struct {
	// Mapper is the configuration of the share.Mapper that the tensors
	// with map "mapper" read, in its layer order; nil when none does.
	Mapper  *mapperConfig  `json:"mapper,omitempty"`
	Tensors []sharedTensor `json:"tensors"`
}

type sharedTensor struct {
	Name      string  `json:"name"`
	Array     string  `json:"array"`
	ArraySize int     `json:"array_size"`
	Scale     float32 `json:"scale"`
	// Map is "mapper" (rebuilt from Mapper) or "table" (the tensors
	// <name>.rps_index and <name>.rps_sign).
	Map string `json:"map"`
	// Digest is the SHA-256 of the map (mapDigest), which the loader
	// checks the rebuilt map against: a mapping that changed since the
	// file was written is an error, not other virtual weights.
	Digest string `json:"digest"`
}

// mapperConfig is share.Config with the names of the spec's rps section.
type mapperConfig struct {
	Mapper       string  `json:"mapper"`
	Scope        string  `json:"scope"`
	Mode         string  `json:"mode"`
	Ratio        float64 `json:"ratio"`
	BlockK       int     `json:"block_k"`
	BlockN       int     `json:"block_n"`
	Block        int     `json:"block"`
	ModuleLimit  int     `json:"module_limit"`
	Seed         uint64  `json:"seed"`
	HashArith    string  `json:"hash_arith"`
	Scaler       string  `json:"scaler"`
	Init         string  `json:"init"`
	InitStd      float64 `json:"init_std"`
	MatchInitStd bool    `json:"match_init_std"`
}

func configOf(c share.Config) *mapperConfig {
	return &mapperConfig{
		Mapper: c.Mapper, Scope: c.Scope, Mode: c.Mode, Ratio: c.Ratio, BlockK: c.BlockK, BlockN: c.BlockN,
		Block: c.Block, ModuleLimit: c.ModuleLimit, Seed: c.Seed, HashArith: c.HashArith, Scaler: c.Scaler,
		Init: c.Init, InitStd: c.InitStd, MatchInitStd: c.MatchInitStd,
	}
}

func (m *mapperConfig) config() share.Config {
	return share.Config{
		Mapper: m.Mapper, Scope: m.Scope, Mode: m.Mode, Ratio: m.Ratio, BlockK: m.BlockK, BlockN: m.BlockN,
		Block: m.Block, ModuleLimit: m.ModuleLimit, Seed: m.Seed, HashArith: m.HashArith, Scaler: m.Scaler,
		Init: m.Init, InitStd: m.InitStd, MatchInitStd: m.MatchInitStd,
	}
}

// encodeShared adds the shared arrays, the tables of table maps and the
// metadata entry KeyShared to f. mp, when set, must be the mapper of every
// shared tensor that does not read a table.
func (s *snapshot) encodeShared(f *File, mp *share.Mapper) error {
	byName := map[string]*paramSnap{}
	var shared []*paramSnap
	for i := range s.params {
		if p := &s.params[i]; p.shared != nil {
			byName[p.info.Name] = p
			shared = append(shared, p)
		}
	}
	if len(shared) == 0 {
		return nil
	}
	meta := sharedMeta{}
	fromMapper := map[string]bool{}
	if mp != nil {
		if err := checkMapper(mp, byName); err != nil {
			return err
		}
		meta.Mapper = configOf(mp.Config())
		for l := range mp.NumLayers() {
			name := mp.Layer(l).Tensor.Param.Name
			fromMapper[name] = true
			sh := byName[name].shared
			meta.Tensors = append(meta.Tensors, sharedTensor{Name: name, Array: sh.Array, ArraySize: sh.ArraySize, Scale: sh.Scale, Map: mapFromShare,
				Digest: mapDigest(sh.Map, byName[name].info.Size())})
		}
	}
	for _, p := range shared {
		if fromMapper[p.info.Name] {
			continue
		}
		t, ok := p.shared.Map.(nn.TableMap)
		if !ok {
			return fmt.Errorf("export: %s is shared through a map of type %T, which cannot be written (a map is code, not data): give the share.Mapper that made it (Options.Mapper), or share it through an nn.TableMap", p.info.Name, p.shared.Map)
		}
		size := p.info.Size()
		if len(t.Index) != size || len(t.Sign) != size {
			return fmt.Errorf("export: %s: table map of %d indices and %d signs, want %d each", p.info.Name, len(t.Index), len(t.Sign), size)
		}
		signs := make([]int8, size)
		for i, g := range t.Sign {
			switch g {
			case 1:
				signs[i] = 1
			case -1:
				signs[i] = -1
			default:
				return fmt.Errorf("export: %s: table map sign %d is %v, want ±1", p.info.Name, i, g)
			}
		}
		f.Tensors = append(f.Tensors, Int32Tensor(p.info.Name+IndexSuffix, p.info.Shape, t.Index), Int8Tensor(p.info.Name+SignSuffix, p.info.Shape, signs))
		sh := p.shared
		meta.Tensors = append(meta.Tensors, sharedTensor{Name: p.info.Name, Array: sh.Array, ArraySize: sh.ArraySize, Scale: sh.Scale, Map: mapTable,
			Digest: mapDigest(sh.Map, size)})
	}
	arrays := make([]string, 0, len(s.arrays))
	for a := range s.arrays {
		arrays = append(arrays, a)
	}
	slices.Sort(arrays)
	for _, a := range arrays {
		f.Tensors = append(f.Tensors, Float32Tensor(ArrayPrefix+a, []int{len(s.arrays[a])}, s.arrays[a]))
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("export: shared tensors: %w", err)
	}
	f.Metadata[KeyShared] = string(b)
	return nil
}

// checkMapper checks that every tensor of mp is shared in the net, on the
// array mp names, with the same index and sign for every virtual weight.
func checkMapper(mp *share.Mapper, shared map[string]*paramSnap) error {
	arrays := mp.Arrays()
	const block = 4096
	idxA, idxB := make([]int32, block), make([]int32, block)
	sgnA, sgnB := make([]float32, block), make([]float32, block)
	for l := range mp.NumLayers() {
		info := mp.Layer(l)
		name := info.Tensor.Param.Name
		p, ok := shared[name]
		if !ok {
			return fmt.Errorf("export: the share.Mapper given (Options.Mapper) shares %s, which the net does not share", name)
		}
		sh := p.shared
		if a := arrays[info.Array]; a.Name != sh.Array || a.Size != sh.ArraySize {
			return fmt.Errorf("export: %s reads array %q of %d entries; the share.Mapper given maps it to %q of %d", name, sh.Array, sh.ArraySize, a.Name, a.Size)
		}
		size := p.info.Size()
		for start := 0; start < size; start += block {
			k := min(block, size-start)
			mp.Fill(l, start, idxA[:k], sgnA[:k])
			sh.Map.Fill(start, idxB[:k], sgnB[:k])
			for i := range k {
				if idxA[i] != idxB[i] || sgnA[i] != sgnB[i] {
					return fmt.Errorf("export: %s: the share.Mapper given maps virtual weight %d to (%d, %v), the net's map to (%d, %v): it is not the mapper the net was shared with", name, start+i, idxA[i], sgnA[i], idxB[i], sgnB[i])
				}
			}
		}
	}
	return nil
}

// sharedLoad is a shared tensor as a file describes it, ready to set.
type sharedLoad struct {
	name string
	p    nn.Shared
}

// readShared decodes the shared tensors of f for arch: their
// parametrizations (maps rebuilt) and the arrays z by name. used collects
// the names of the tensors read.
func readShared(f *File, arch *nn.Arch, used map[string]bool) ([]sharedLoad, map[string][]float32, error) {
	raw, ok := f.Metadata[KeyShared]
	if !ok {
		return nil, nil, nil
	}
	var meta sharedMeta
	if err := json.Unmarshal([]byte(raw), &meta); err != nil {
		return nil, nil, fmt.Errorf("metadata %q: %v", KeyShared, err)
	}
	params := map[string]nn.ParamInfo{}
	for _, p := range arch.Params() {
		params[p.Name] = p
	}
	arraySize := map[string]int{}
	var out []sharedLoad
	var fromMapper []string
	seen := map[string]bool{}
	for _, t := range meta.Tensors {
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("metadata %q: shared tensor %s is listed twice", KeyShared, t.Name)
		}
		seen[t.Name] = true
		p, ok := params[t.Name]
		if !ok {
			return nil, nil, fmt.Errorf("metadata %q: shared tensor %s: model %s has no such parameter", KeyShared, t.Name, arch.Name)
		}
		if p.Kind != nn.Weight {
			return nil, nil, fmt.Errorf("metadata %q: shared tensor %s is a %s, only weights are shared", KeyShared, t.Name, p.Kind)
		}
		if n, ok := arraySize[t.Array]; ok && n != t.ArraySize {
			return nil, nil, fmt.Errorf("metadata %q: array %q has %d entries for %s and %d for another tensor", KeyShared, t.Array, t.ArraySize, t.Name, n)
		}
		arraySize[t.Array] = t.ArraySize
		sh := nn.Shared{Array: t.Array, ArraySize: t.ArraySize, Scale: t.Scale}
		switch t.Map {
		case mapTable:
			it, ok := f.Tensor(t.Name + IndexSuffix)
			if !ok {
				return nil, nil, fmt.Errorf("tensor %s is missing (%s is shared through a table map)", t.Name+IndexSuffix, t.Name)
			}
			st, ok := f.Tensor(t.Name + SignSuffix)
			if !ok {
				return nil, nil, fmt.Errorf("tensor %s is missing (%s is shared through a table map)", t.Name+SignSuffix, t.Name)
			}
			if err := it.check(I32, p.Shape); err != nil {
				return nil, nil, err
			}
			if err := st.check(I8, p.Shape); err != nil {
				return nil, nil, err
			}
			idx, _ := it.Int32s()
			sg, _ := st.Int8s()
			tm := nn.TableMap{Index: idx, Sign: make([]float32, len(sg))}
			for i, g := range sg {
				tm.Sign[i] = float32(g)
			}
			sh.Map = tm
			used[it.Name], used[st.Name] = true, true
		case mapFromShare:
			fromMapper = append(fromMapper, t.Name)
		default:
			return nil, nil, fmt.Errorf("metadata %q: shared tensor %s has map %q, want %q or %q", KeyShared, t.Name, t.Map, mapFromShare, mapTable)
		}
		out = append(out, sharedLoad{name: t.Name, p: sh})
	}
	if len(fromMapper) > 0 {
		if meta.Mapper == nil {
			return nil, nil, fmt.Errorf("metadata %q: %s reads a mapper, and no mapper configuration is given", KeyShared, fromMapper[0])
		}
		var ts []share.Tensor
		all := share.Tensors(arch)
		for _, name := range fromMapper {
			i := slices.IndexFunc(all, func(t share.Tensor) bool { return t.Param.Name == name })
			if i < 0 {
				return nil, nil, fmt.Errorf("metadata %q: %s is not a Linear or Conv2d weight of model %s", KeyShared, name, arch.Name)
			}
			ts = append(ts, all[i])
		}
		mp, err := share.NewMapper(ts, meta.Mapper.config())
		if err != nil {
			return nil, nil, fmt.Errorf("metadata %q: rebuilding the mapper: %w", KeyShared, err)
		}
		arrays := mp.Arrays()
		for l := range mp.NumLayers() {
			info := mp.Layer(l)
			i := slices.IndexFunc(out, func(s sharedLoad) bool { return s.name == info.Tensor.Param.Name })
			a := arrays[info.Array]
			if out[i].p.Array != a.Name || out[i].p.ArraySize != a.Size {
				return nil, nil, fmt.Errorf("metadata %q: %s reads array %q of %d entries, the rebuilt mapper gives %q of %d", KeyShared, out[i].name, out[i].p.Array, out[i].p.ArraySize, a.Name, a.Size)
			}
			out[i].p.Map = mp.Map(l)
		}
	}
	arrays := map[string][]float32{}
	for a, n := range arraySize {
		t, ok := f.Tensor(ArrayPrefix + a)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %s is missing (the shared array that %s reads)", ArrayPrefix+a, readers(out, a))
		}
		if err := t.check(F32, []int{n}); err != nil {
			return nil, nil, err
		}
		arrays[a], _ = t.Float32s()
		used[t.Name] = true
	}
	for i, s := range out {
		p := params[s.name]
		if err := s.p.Validate(s.name, p.Size()); err != nil {
			return nil, nil, err
		}
		if d := mapDigest(s.p.Map, p.Size()); d != meta.Tensors[i].Digest {
			return nil, nil, fmt.Errorf("metadata %q: the map of %s rebuilt here has digest %s, the file's is %q: the mapping changed since the file was written (another prunebench version?) or the file was edited", KeyShared, s.name, d, meta.Tensors[i].Digest)
		}
	}
	return out, arrays, nil
}

// mapDigest is the SHA-256, in hex, of a map's index (int32) and sign
// (int8) of every virtual weight of a tensor of n entries, little endian,
// in order.
func mapDigest(m nn.SharedMap, n int) string {
	const block = 4096
	h := sha256.New()
	idx, sign := make([]int32, min(n, block)), make([]float32, min(n, block))
	buf := make([]byte, 0, 5*block)
	for start := 0; start < n; start += block {
		k := min(block, n-start)
		m.Fill(start, idx[:k], sign[:k])
		buf = buf[:0]
		for i := range k {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(idx[i]))
			buf = append(buf, byte(int8(sign[i])))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readers names the first tensor that reads array a.
func readers(ts []sharedLoad, a string) string {
	for _, t := range ts {
		if t.p.Array == a {
			return t.name
		}
	}
	return "no tensor"
}
