package share

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/internal/registry"
)

// Scheme is the index function h of one mapper (docs/methods/rps.md#mappers):
// how the small tables of a shared tensor are precomputed and how its entries
// map to entries of the array. Its methods work on a Mapper's per-tensor
// state, so the schemes are this package's own (HashedNet, ROAST, Pareto);
// they register by name with RegisterMapper like every extension point.
type Scheme interface {
	// build precomputes the tensor's tables; errors name the tensor.
	build(l *layerMap, cfg Config) error
	// index is h(i) for one entry.
	index(l *layerMap, i int) int32
	// fill writes h of entries start … start+len(dst)−1.
	fill(l *layerMap, start int, dst []int32)
	// method is the method name results record for a model shared with
	// this mapper ("stable-rps" for pareto, the papers' name).
	method() string
}

// mappers are the index functions by name (Config.Mapper).
var mappers = registry.New[Scheme]("RPS mapper")

// RegisterMapper makes a mapper available under name (Config.Mapper). It
// panics when the name is empty or taken.
func RegisterMapper(name string, s Scheme) { mappers.Register(name, s) }

// MapperNames lists the registered mappers (the accepted Config.Mapper
// values), sorted.
func MapperNames() []string { return mappers.Names() }

// MapperMethod is the method name results record for a registered mapper
// ("stable-rps" for pareto), or the name itself for an unknown one.
func MapperMethod(name string) string {
	if s, ok := mappers.Lookup(name); ok {
		return s.method()
	}
	return name
}

// mapperScheme returns the scheme of a mapper name that Config.Validate
// accepted.
func mapperScheme(name string) Scheme {
	s, err := mappers.Get(name)
	if err != nil {
		panic("share: " + err.Error())
	}
	return s
}

func init() {
	RegisterMapper(HashedNet, hashedNet{})
	RegisterMapper(ROAST, roast{})
	RegisterMapper(Pareto, pareto{})
}

// hashedNet is h(L) = hash1(L) mod m, per element.
type hashedNet struct{}

func (hashedNet) method() string { return "hashednet" }

func (hashedNet) build(l *layerMap, cfg Config) error {
	return checkHashRange("rps "+l.info.Tensor.Param.Name, l.m)
}

func (hashedNet) index(l *layerMap, i int) int32 {
	return int32(l.h.Hash1(l.hashOff+int64(i), l.m))
}

func (hashedNet) fill(l *layerMap, start int, dst []int32) {
	L := l.hashOff + int64(start)
	for k := range dst {
		dst[k] = int32(l.h.Hash1(L+int64(k), l.m))
	}
}

// pareto is the STABLE-RPS fold: a random cyclic shift per length-m
// partition of the locations.
type pareto struct{}

func (pareto) method() string { return "stable-rps" }

func (pareto) build(l *layerMap, cfg Config) error {
	if err := checkHashRange("rps "+l.info.Tensor.Param.Name, l.m); err != nil {
		return err
	}
	l.chunk0 = l.hashOff / l.m
	last := (l.hashOff + int64(l.size) - 1) / l.m
	l.shifts = make([]int32, last-l.chunk0+1)
	for c := range l.shifts {
		l.shifts[c] = int32(l.h.Hash1(l.chunk0+int64(c), l.m))
	}
	return nil
}

func (pareto) index(l *layerMap, i int) int32 {
	L := l.hashOff + int64(i)
	c := L / l.m
	j := int64(l.shifts[c-l.chunk0]) + L - c*l.m
	if j >= l.m {
		j -= l.m
	}
	return int32(j)
}

func (pareto) fill(l *layerMap, start int, dst []int32) {
	L := l.hashOff + int64(start)
	c := L / l.m
	o := L - c*l.m
	s := int64(l.shifts[c-l.chunk0])
	for k := range dst {
		j := s + o
		if j >= l.m {
			j -= l.m
		}
		dst[k] = int32(j)
		if o++; o == l.m {
			o, c = 0, c+1
			if k+1 < len(dst) {
				s = int64(l.shifts[c-l.chunk0])
			}
		}
	}
}

// roast maps tiles of B_k × B_n (chunks of Block entries of an Embedding
// row) to contiguous slices of the array.
type roast struct{}

func (roast) method() string { return "roast" }

func (roast) build(l *layerMap, cfg Config) error {
	name := l.info.Tensor.Param.Name
	if l.info.Tensor.Kind == KindEmbedding {
		l.bn = cfg.Block
		if l.m <= int64(l.bn) {
			return fmt.Errorf("rps.block = %d: %s maps chunks of %d entries into %s of %d entries; want the array larger than a chunk (rps.block ≤ %d)", l.bn, name, l.bn, arrayWhat(cfg), l.m, l.m-1)
		}
		l.tilesC = ceilDiv(l.cols, l.bn)
		r := l.m - int64(l.bn)
		l.bases = make([]int32, l.rows*l.tilesC)
		for row := range l.rows {
			for tc := range l.tilesC {
				// base = hash2(row + off, floor(c/block) + off + rows) mod (m − block)
				x := int64(row) + l.hashOff
				y := int64(tc) + l.hashOff + int64(l.rows)
				l.bases[row*l.tilesC+tc] = int32(l.h.Hash2(x, y, r))
			}
		}
		return nil
	}
	l.bk, l.bn = cfg.BlockK, cfg.BlockN
	tile := int64(l.bk) * int64(l.bn)
	if l.m <= tile {
		b := int(math.Sqrt(float64(l.m - 1)))
		for int64(b)*int64(b) >= l.m {
			b--
		}
		return fmt.Errorf("rps.block_k × rps.block_n = %d × %d: %s maps tiles of %d entries into %s of %d entries; want the array larger than a tile (e.g. %d × %d or smaller)", l.bk, l.bn, name, tile, arrayWhat(cfg), l.m, b, b)
	}
	// Transposed view: rows r ∈ [0, cols) (the input side), columns
	// c ∈ [0, rows) (the output side).
	tilesR := ceilDiv(l.cols, l.bk)
	l.tilesC = ceilDiv(l.rows, l.bn)
	r := l.m - tile
	l.bases = make([]int32, tilesR*l.tilesC)
	for tr := range tilesR {
		for tc := range l.tilesC {
			// row_chunk = floor(r/B_k) + off, col_chunk = floor(c/B_n) + off + in
			x := int64(tr) + l.hashOff
			y := int64(tc) + l.hashOff + int64(l.cols)
			l.bases[tr*l.tilesC+tc] = int32(l.h.Hash2(x, y, r))
		}
	}
	return nil
}

func (roast) index(l *layerMap, i int) int32 {
	row, col := i/l.cols, i%l.cols
	if l.info.Tensor.Kind == KindEmbedding {
		return l.bases[row*l.tilesC+col/l.bn] + int32(col%l.bn)
	}
	// Native (o, k) is (c, r) of the transposed view.
	return l.bases[(col/l.bk)*l.tilesC+row/l.bn] + int32((col%l.bk)*l.bn+row%l.bn)
}

func (roast) fill(l *layerMap, start int, dst []int32) {
	row, col := start/l.cols, start%l.cols
	emb := l.info.Tensor.Kind == KindEmbedding
	for k := 0; k < len(dst); {
		n := min(l.cols-col, len(dst)-k)
		if emb {
			tiles := l.bases[row*l.tilesC:]
			for e := range n {
				c := col + e
				dst[k+e] = tiles[c/l.bn] + int32(c%l.bn)
			}
		} else {
			tc, inTile := row/l.bn, int32(row%l.bn)
			for e := range n {
				c := col + e
				dst[k+e] = l.bases[(c/l.bk)*l.tilesC+tc] + int32(c%l.bk)*int32(l.bn) + inTile
			}
		}
		k += n
		row, col = row+1, 0
	}
}
