package share

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func lin(name string, out, in int) Tensor {
	return Tensor{Kind: KindLinear, ModuleParams: out*in + out, Param: nn.ParamInfo{
		Name: name + ".weight", Layer: name, Shape: []int{out, in}, Kind: nn.Weight, FanIn: in, FanOut: out}}
}

func conv(name string, out, in, k int) Tensor {
	return Tensor{Kind: KindConv2d, ModuleParams: out*in*k*k + out, Param: nn.ParamInfo{
		Name: name + ".weight", Layer: name, Shape: []int{out, in, k, k}, Kind: nn.Weight, FanIn: in * k * k, FanOut: out * k * k}}
}

func emb(name string, rows, dim int) Tensor {
	return Tensor{Kind: KindEmbedding, ModuleParams: rows * dim, Param: nn.ParamInfo{
		Name: name + ".weight", Layer: name, Shape: []int{rows, dim}, Kind: nn.Weight, FanIn: dim, FanOut: rows}}
}

// withHashers replaces the hash constants of every layer (one Hasher for
// all, or one per layer) and rebuilds the tables, so that tests can use
// constants small enough to compute by hand.
func withHashers(t *testing.T, mp *Mapper, hs ...Hasher) *Mapper {
	t.Helper()
	for l := range mp.layers {
		mp.layers[l].h = hs[min(l, len(hs)-1)]
		if err := mp.layers[l].build(mp.cfg); err != nil {
			t.Fatal(err)
		}
	}
	return mp
}

func mustMapper(t testing.TB, ts []Tensor, cfg Config) *Mapper {
	t.Helper()
	mp, err := NewMapper(ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

func indices(mp *Mapper, l int) []int32 {
	return tables(mp.Shared(l, 1)).Index
}

// tables returns the tables of a parametrization from Mapper.Shared.
func tables(s nn.Shared) nn.TableMap { return s.Map.(nn.TableMap) }

var small = Hasher{A: [4]int64{3, 5, 7, 9}}

// HashedNet on two tiny layers, global array of m = 5 (ρ = 0.5, n = 10):
// h(L) = ((3L + 5L² + 7) mod P) mod 5 for L = 0 … 9 is
// 7, 15, 33, 61, 99, 147, 205, 273, 351, 439 mod 5.
func TestHashedNetByHand(t *testing.T) {
	mp := withHashers(t, mustMapper(t, []Tensor{lin("fc1", 2, 3), lin("fc2", 2, 2)}, Config{Mapper: HashedNet, Ratio: 0.5}), small)
	if mp.M() != 5 || mp.N() != 10 {
		t.Fatalf("n = %d, m = %d, want 10, 5", mp.N(), mp.M())
	}
	if got, want := indices(mp, 0), []int32{2, 0, 3, 1, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("fc1 indices %v, want %v", got, want)
	}
	if got, want := indices(mp, 1), []int32{0, 3, 1, 4}; !slices.Equal(got, want) {
		t.Errorf("fc2 indices %v (offset 6), want %v", got, want)
	}
	if off := mp.Layer(1).Offset; off != 6 {
		t.Errorf("fc2 offset %d, want 6", off)
	}
}

// The fold on two layers of 3 and 7 weights, m = 4 (ρ = 0.4): shifts
// hash1(c) mod 4 = 7, 15, 33 mod 4 = 3, 3, 1 for partitions c = 0, 1, 2, so
// L = 0…3 → 3,0,1,2; L = 4…7 → 3,0,1,2; L = 8, 9 → 1, 2.
func TestFoldByHand(t *testing.T) {
	mp := withHashers(t, mustMapper(t, []Tensor{lin("fc1", 1, 3), lin("fc2", 1, 7)}, Config{Mapper: Pareto, Ratio: 0.4}), small)
	if got, want := indices(mp, 0), []int32{3, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("fc1 indices %v, want %v", got, want)
	}
	if got, want := indices(mp, 1), []int32{2, 3, 0, 1, 2, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("fc2 indices %v, want %v", got, want)
	}
	// fc2 spans partitions 0, 1 and 2: three shifts, no more.
	if got := len(mp.layers[1].shifts); got != 3 {
		t.Errorf("fc2 keeps %d shifts, want 3", got)
	}
}

// Every full partition of the fold is a cyclic shift of z: h(L) − (L mod m)
// is the same for every L of a partition, and the partition covers every slot
// once. Loads are floor(n/m) or floor(n/m) + 1, and m = n is a bijection
// (docs/methods/rps.md#stable-rps-fold), in global and (clean) local scope.
func TestFoldProperties(t *testing.T) {
	ts := []Tensor{conv("conv1", 6, 3, 3), lin("fc1", 37, 54), lin("fc2", 10, 37)}
	for _, scope := range []string{"global", "local"} {
		for _, rho := range []float64{1, 0.5, 0.3, 0.07, 0.01} {
			mp := mustMapper(t, ts, Config{Mapper: Pareto, Ratio: rho, Scope: scope, Seed: 11})
			for a := range mp.Arrays() {
				m := int64(mp.Arrays()[a].Size)
				// Virtual vector of the array in canonical order.
				var all []int32
				for l := range mp.NumLayers() {
					if mp.Layer(l).Array == a {
						all = append(all, indices(mp, l)...)
					}
				}
				n := int64(len(all))
				count := make([]int64, m)
				for L, j := range all {
					count[j]++
					c, o := int64(L)/m, int64(L)%m
					shift := (int64(j) - o + m) % m
					if first := int64(all[c*m]); (first+m)%m != shift {
						t.Fatalf("%s ρ=%v: L=%d has shift %d, its partition starts with %d", scope, rho, L, shift, first)
					}
				}
				lo := n / m
				for j, c := range count {
					if c != lo && c != lo+1 {
						t.Fatalf("%s ρ=%v: slot %d has %d weights, want %d or %d", scope, rho, j, c, lo, lo+1)
					}
				}
				if rho == 1 && m != n {
					t.Fatalf("ρ = 1 gives m = %d for n = %d", m, n)
				}
			}
		}
	}
}

// Reference mode hashes each layer with its own constants: a partition
// that spans two layers gets two shifts, so m = n is no longer a bijection
// (docs/methods/rps.md#departures). Two layers of 2, m = n = 4, one
// partition:
// fc1 shift a_2 mod 4 = 7 mod 4 = 3 → L = 0, 1 ↦ 3, 0;
// fc2 shift 9 mod 4 = 1 → L = 2, 3 ↦ 3, 0. Every weight collides.
func TestFoldReferencePerLayerHash(t *testing.T) {
	ts := []Tensor{lin("fc1", 1, 2), lin("fc2", 1, 2)}
	mp := mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 1, Mode: "reference"})
	withHashers(t, mp, small, Hasher{A: [4]int64{3, 5, 9, 9}})
	got := append(indices(mp, 0), indices(mp, 1)...)
	if want := []int32{3, 0, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("reference fold at m = n: %v, want %v", got, want)
	}
	// Clean mode with the same first hasher for both layers is a bijection.
	clean := withHashers(t, mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 1}), small)
	got = append(indices(clean, 0), indices(clean, 1)...)
	if want := []int32{3, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("clean fold at m = n: %v, want %v", got, want)
	}
}

// ROAST on a Linear [out 3, in 4], tiles 2 × 2, m = 10 (ρ = 10/12): the
// transposed view has rows r = in index, columns c = out index;
// base(tr, tc) = hash2(tr, tc + 4) mod (10 − 4) = (3·tr + 5·(tc+4) + 7) mod 6:
// (0,0) 27→3, (0,1) 32→2, (1,0) 30→0, (1,1) 35→5;
// h = base + (r mod 2)·2 + (c mod 2). Native W[o, k] has r = k, c = o.
func TestROASTLinearByHand(t *testing.T) {
	mp := withHashers(t, mustMapper(t, []Tensor{lin("fc", 3, 4)}, Config{Mapper: ROAST, Ratio: 10.0 / 12, BlockK: 2, BlockN: 2}), small)
	if mp.M() != 10 {
		t.Fatalf("m = %d, want 10", mp.M())
	}
	want := []int32{
		3, 5, 0, 2, // o = 0: tiles (0,0), (1,0); c mod 2 = 0
		4, 6, 1, 3, // o = 1: same tiles, c mod 2 = 1
		2, 4, 5, 7, // o = 2: tiles (0,1), (1,1)
	}
	if got := indices(mp, 0); !slices.Equal(got, want) {
		t.Errorf("indices %v, want %v", got, want)
	}
}

// A Conv2d [out, in, kh, kw] is mapped as the Linear [out, in·kh·kw].
func TestROASTConvIsLinearView(t *testing.T) {
	cfg := Config{Mapper: ROAST, Ratio: 0.3, BlockK: 3, BlockN: 2, Seed: 4}
	c := mustMapper(t, []Tensor{conv("conv", 5, 2, 3)}, cfg)
	l := mustMapper(t, []Tensor{lin("conv", 5, 18)}, cfg)
	if got, want := indices(c, 0), indices(l, 0); !slices.Equal(got, want) {
		t.Errorf("conv indices %v\nlinear view %v", got, want)
	}
}

// ROAST on an Embedding [rows 2, dim 3], chunks of 2, m = 5 (ρ = 5/6),
// constants (5, 5, 7): base(row, ch) = (5·row + 5·(ch + 2) + 7) mod 3:
// (0,0) 17→2, (0,1) 22→1, (1,0) 22→1, (1,1) 27→0; h = base + col mod 2.
func TestROASTEmbeddingByHand(t *testing.T) {
	mp := withHashers(t, mustMapper(t, []Tensor{emb("emb", 2, 3)}, Config{Mapper: ROAST, Ratio: 5.0 / 6, Block: 2}), Hasher{A: [4]int64{5, 5, 7, 9}})
	if got, want := indices(mp, 0), []int32{2, 3, 1, 1, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("indices %v, want %v", got, want)
	}
}

// Every ROAST tile maps to one contiguous slice of z: within a tile,
// h = base + (r mod B_k)·B_n + (c mod B_n) with one base, and all indices
// lie in [0, m) (docs/methods/rps.md#roast). Tiles larger than the layer (a
// 10-output classifier with 8-wide tiles) are partial and still valid.
func TestROASTTilesContiguous(t *testing.T) {
	ts := []Tensor{conv("conv1", 6, 3, 3), lin("fc1", 37, 54), lin("fc2", 10, 37)}
	for _, scope := range []string{"global", "local"} {
		for _, bk := range [][2]int{{2, 2}, {3, 5}, {8, 8}, {1, 1}} {
			cfg := Config{Mapper: ROAST, Ratio: 0.5, BlockK: bk[0], BlockN: bk[1], Scope: scope, Seed: 5}
			mp := mustMapper(t, ts, cfg)
			for l := range mp.NumLayers() {
				idx := indices(mp, l)
				rows, cols := mp.Layer(l).Tensor.Param.Shape[0], mp.RowLen(l)
				base := map[[2]int]int32{}
				for o := range rows {
					for k := range cols {
						j := idx[o*cols+k]
						if j < 0 || int(j) >= mp.Layer(l).ArraySize {
							t.Fatalf("index %d out of [0, %d)", j, mp.Layer(l).ArraySize)
						}
						tile := [2]int{k / bk[0], o / bk[1]}
						b := j - int32((k%bk[0])*bk[1]+o%bk[1])
						if prev, ok := base[tile]; ok && prev != b {
							t.Fatalf("%s %v layer %d tile %v: bases %d and %d", scope, bk, l, tile, prev, b)
						}
						base[tile] = b
						if b < 0 || int(b)+bk[0]*bk[1] > mp.Layer(l).ArraySize {
							t.Fatalf("tile %v base %d: slice leaves the array of %d", tile, b, mp.Layer(l).ArraySize)
						}
					}
				}
			}
		}
	}
}

// HashedNet loads are close to n/m: Pearson's χ² over the slots stays within
// 5 standard deviations of its mean m − 1 (docs/methods/rps.md#tests).
func TestHashedNetLoadChiSquare(t *testing.T) {
	ts := []Tensor{lin("fc1", 300, 784), lin("fc2", 100, 300), lin("fc3", 10, 100)}
	for _, arith := range ArithNames {
		for _, rho := range []float64{0.01, 0.1} {
			mp := mustMapper(t, ts, Config{Mapper: HashedNet, Ratio: rho, Seed: 6, HashArith: arith})
			m := mp.M()
			count := make([]float64, m)
			for l := range mp.NumLayers() {
				for _, j := range indices(mp, l) {
					count[j]++
				}
			}
			e := float64(mp.N()) / float64(m)
			var chi float64
			for _, c := range count {
				chi += (c - e) * (c - e) / e
			}
			df := float64(m - 1)
			if math.Abs(chi-df) > 5*math.Sqrt(2*df) {
				t.Errorf("%s ρ=%v: χ² = %.1f, want %.0f ± %.1f", arith, rho, chi, df, 5*math.Sqrt(2*df))
			}
		}
	}
}

// Fill, Row, Index and Sign agree on every entry, for every mapper, from
// every start and length (the engine may use any of them).
func TestFillMatchesIndex(t *testing.T) {
	ts := []Tensor{conv("conv1", 4, 3, 3), lin("fc1", 7, 36), lin("fc2", 3, 7), emb("emb", 5, 9)}
	for _, mapper := range MapperNames() {
		for _, scope := range ScopeNames {
			for _, mode := range ModeNames {
				cfg := Config{Mapper: mapper, Ratio: 0.6, Scope: scope, Mode: mode, BlockK: 2, BlockN: 3, Block: 4, Seed: 8, Scaler: ScalerNone}
				mp := mustMapper(t, ts, cfg)
				name := fmt.Sprintf("%s/%s/%s", mapper, scope, mode)
				for l := range mp.NumLayers() {
					size := mp.Layer(l).Tensor.Size()
					want := make([]int32, size)
					wantS := make([]float32, size)
					for i := range size {
						want[i], wantS[i] = mp.Index(l, i)
						if s := mp.Sign(l, i); s != wantS[i] {
							t.Fatalf("%s: Sign(%d, %d) = %v, Index gives %v", name, l, i, s, wantS[i])
						}
					}
					for start := 0; start < size; start += 5 {
						for _, n := range []int{1, 4, 13, size - start} {
							n = min(n, size-start)
							idx, sg := make([]int32, n), make([]float32, n)
							mp.Fill(l, start, idx, sg)
							if !slices.Equal(idx, want[start:start+n]) || !slices.Equal(sg, wantS[start:start+n]) {
								t.Fatalf("%s layer %d: Fill(%d, %d) = %v %v, want %v %v", name, l, start, n, idx, sg, want[start:start+n], wantS[start:start+n])
							}
						}
					}
					rl := mp.RowLen(l)
					idx, sg := make([]int32, rl), make([]float32, rl)
					for r := range size / rl {
						mp.Row(l, r, idx, sg)
						if !slices.Equal(idx, want[r*rl:(r+1)*rl]) {
							t.Fatalf("%s layer %d: Row(%d) = %v, want %v", name, l, r, idx, want[r*rl:(r+1)*rl])
						}
					}
				}
			}
		}
	}
}

// nn.Shared materialization names the arrays, sizes and scale as the
// engine needs them.
func TestSharedMaterialization(t *testing.T) {
	ts := []Tensor{lin("fc1", 4, 5), lin("fc2", 2, 4)}
	g := mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 0.5, Seed: 1})
	s := g.Shared(1, 0.25)
	if s.Array != "rps" || s.ArraySize != 14 || s.Scale != 0.25 || len(tables(s).Index) != 8 || len(tables(s).Sign) != 8 {
		t.Errorf("global Shared = %q/%d scale %v, %d indices, %d signs; want rps/14, 0.25, 8, 8", s.Array, s.ArraySize, s.Scale, len(tables(s).Index), len(tables(s).Sign))
	}
	l := mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 0.5, Scope: "local", Seed: 1})
	s = l.Shared(1, 1)
	if s.Array != "rps:fc2.weight" || s.ArraySize != 4 {
		t.Errorf("local Shared = %q/%d, want rps:fc2.weight/4", s.Array, s.ArraySize)
	}
	if got := l.Arrays(); len(got) != 2 || got[0].Size != 10 || got[1].Size != 4 {
		t.Errorf("local arrays %v, want sizes 10 and 4", got)
	}
	if l.M() != 14 {
		t.Errorf("local m = %d, want 14", l.M())
	}
}

// The same config gives bit-identical maps; another seed another map.
func TestMapperDeterministic(t *testing.T) {
	ts := []Tensor{lin("fc1", 30, 40), lin("fc2", 10, 30)}
	for _, mapper := range MapperNames() {
		cfg := Config{Mapper: mapper, Ratio: 0.1, BlockK: 4, BlockN: 4, Seed: 12}
		a, b := mustMapper(t, ts, cfg), mustMapper(t, ts, cfg)
		cfg.Seed = 13
		c := mustMapper(t, ts, cfg)
		sa, sb, sc := tables(a.Shared(0, 1)), tables(b.Shared(0, 1)), tables(c.Shared(0, 1))
		if !slices.Equal(sa.Index, sb.Index) || !slices.Equal(sa.Sign, sb.Sign) {
			t.Errorf("%s: same seed, different maps", mapper)
		}
		if slices.Equal(sa.Index, sc.Index) || slices.Equal(sa.Sign, sc.Sign) {
			t.Errorf("%s: seeds 12 and 13 give the same map", mapper)
		}
	}
}

// Index panics outside the layer (a kernel bug), and Index, Fill and Row do
// not allocate.
func TestIndexBoundsAndAllocs(t *testing.T) {
	mp := mustMapper(t, []Tensor{lin("fc", 3, 4)}, Config{Mapper: HashedNet, Ratio: 0.5})
	for _, i := range []int{-1, 12} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Index(0, %d) did not panic", i)
				}
			}()
			mp.Index(0, i)
		}()
	}
	for _, mapper := range MapperNames() {
		mp := mustMapper(t, []Tensor{lin("fc", 30, 40)}, Config{Mapper: mapper, Ratio: 0.5, BlockK: 4, BlockN: 4})
		idx, sg := make([]int32, 40), make([]float32, 40)
		if n := testing.AllocsPerRun(100, func() {
			mp.Index(0, 17)
			mp.Row(0, 3, idx, sg)
			mp.Fill(0, 5, idx[:9], nil)
		}); n != 0 {
			t.Errorf("%s: %v allocations per call", mapper, n)
		}
	}
}
