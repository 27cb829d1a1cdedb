package share

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// Index returns h and g for entry i (row-major, native layout) of shared
// tensor l: the virtual weight is W_l[i] = λ_l · sign · z[j], with z the
// array Layer(l).Array. It does not allocate. It panics when l or i is out
// of range (a programmer error in a kernel).
func (mp *Mapper) Index(l, i int) (j int32, sign float32) {
	lm := &mp.layers[l]
	if uint(i) >= uint(lm.size) {
		panic(fmt.Sprintf("share: index %d out of range for %s of %d entries", i, lm.info.Tensor.Param.Name, lm.size))
	}
	return lm.index(i), signOf(mp.signSeed, lm.info.Offset+int64(i))
}

// Sign returns g(L) ∈ {−1, +1} for entry i of shared tensor l.
func (mp *Mapper) Sign(l, i int) float32 {
	lm := &mp.layers[l]
	if uint(i) >= uint(lm.size) {
		panic(fmt.Sprintf("share: index %d out of range for %s of %d entries", i, lm.info.Tensor.Param.Name, lm.size))
	}
	return signOf(mp.signSeed, lm.info.Offset+int64(i))
}

// Fill writes h and g of the consecutive entries start, start+1, … of
// shared tensor l into idx and sign (either may be nil; when both are
// given they must have the same length). It does not allocate and costs
// less per entry than Index: the fold and ROAST walk their tables
// incrementally. A row of a weight (an output unit of a Linear layer, a
// filter of a Conv2d layer) is start = row·RowLen(l), length RowLen(l).
func (mp *Mapper) Fill(l, start int, idx []int32, sign []float32) {
	lm := &mp.layers[l]
	n := max(len(idx), len(sign))
	if idx != nil && sign != nil && len(idx) != len(sign) {
		panic(fmt.Sprintf("share: Fill with %d indices and %d signs", len(idx), len(sign)))
	}
	if start < 0 || start+n > lm.size {
		panic(fmt.Sprintf("share: entries [%d, %d) out of range for %s of %d entries", start, start+n, lm.info.Tensor.Param.Name, lm.size))
	}
	if idx != nil {
		lm.fill(start, idx)
	}
	if sign != nil {
		L := lm.info.Offset + int64(start)
		for k := range sign {
			sign[k] = signOf(mp.signSeed, L+int64(k))
		}
	}
}

// RowLen is the length of one row of shared tensor l in its native layout:
// in for Linear, in·kh·kw for Conv2d, dim for Embedding.
func (mp *Mapper) RowLen(l int) int { return mp.layers[l].cols }

// Row is Fill of row r of shared tensor l: len(idx) and len(sign) (when not
// nil) must be RowLen(l).
func (mp *Mapper) Row(l, r int, idx []int32, sign []float32) {
	lm := &mp.layers[l]
	if (idx != nil && len(idx) != lm.cols) || (sign != nil && len(sign) != lm.cols) {
		panic(fmt.Sprintf("share: Row of %s needs buffers of %d entries", lm.info.Tensor.Param.Name, lm.cols))
	}
	mp.Fill(l, r*lm.cols, idx, sign)
}

// signOf is the clean sign of docs/methods/rps.md#signs: the top bit of
// SplitMix64(seed ⊕ L), +1 when it is 0. SplitMix64 is a bijection, so
// distinct locations never share an input.
func signOf(seed uint64, L int64) float32 {
	return float32(1 - 2*int64(nn.SplitMix64(seed^uint64(L))>>63))
}

// index is h(i) for one entry.
func (l *layerMap) index(i int) int32 { return l.scheme.index(l, i) }

// fill writes h of entries start … start+len(dst)−1.
func (l *layerMap) fill(start int, dst []int32) { l.scheme.fill(l, start, dst) }
