package native

import (
	"fmt"
	"slices"
	"sort"

	"github.com/prunebench/prunebench/nn"
)

// The shared parametrization W = Scale · Sign ⊙ z[Index] (nn/shared.go,
// docs/methods/rps.md#parametrization).
//
// A shared tensor owns no O(size) memory: its θ, effective weight and dense
// gradient are released (nil) when the parametrization is set, and the
// indices and signs are never stored. The Linear and Conv2d kernels work on
// blocks of output rows (output units, filters): for each block they ask
// the map for the rows' indices and signs, gather W's rows into a small
// scratch buffer shared by every layer of the net, and call the same GEMM
// as the dense path on it. The backward pass computes ∂ℓ/∂W one block at a
// time into the same scratch and scatter-adds Scale · Sign · ∂ℓ/∂W into
// ∂ℓ/∂z in row-major order, block after block, so the result is
// deterministic; dX is the sum over blocks of the blocks' products, also in
// a fixed order. Recomputing the indices costs a few nanoseconds per
// virtual weight and map call (three per training step for a Linear layer:
// forward, and fill plus gather in backward), which the benchmarks weigh
// against the GEMM.
//
// The arrays are entries of their own, outside the canonical parameter
// list: the optimizer steps them with the dense loops (optimizer.go), after
// dividing ∂ℓ/∂z by the array's GradDivisor in place, as the reference's
// RoastGradScaler does to .grad; Step skips the shared tensors.

// sharedArray is one trained array z.
type sharedArray struct {
	// e holds z (e.p.value), ∂ℓ/∂z (e.p.grad) and the optimizer state
	// (e.s1, e.s2); e.info names the array with shape [size].
	e       *entry
	div     []float32 // GradDivisor; nil: no scaling
	readers int       // shared tensors that read the array
}

// sharedWeight is the shared parametrization of one param, as the kernels
// read it.
type sharedWeight struct {
	arr   *sharedArray
	m     nn.SharedMap // the caller's Map, or a copy of the caller's TableMap
	table bool         // m is the engine's copy of a TableMap
	scale float32
	// rows × cols is the weight as a matrix ([out, in·kh·kw]); block is the
	// number of rows gathered at a time.
	rows, cols, block int
	scr               *sharedScratch
}

// sharedScratch is the block buffers of the shared kernels, one set per net
// (one training run is sequential): the indices and signs of a block and
// its gathered W, reused for ∂ℓ/∂W of the block in backward.
type sharedScratch struct {
	idx  []int32
	sign []float32
	w    []float32
}

// sharedBlockBudget is the number of virtual weights gathered at a time
// (64 KiB per buffer), within [sharedMinRows, sharedMaxRows] rows: enough
// rows for the GEMM to run at speed, few enough that the three buffers
// stay in L2 and small next to the dense model the method replaces.
const (
	sharedBlockBudget = 1 << 14
	sharedMinRows     = 8
	sharedMaxRows     = 64
)

// blockRows is the number of rows per block of a rows × cols weight.
func blockRows(rows, cols int) int {
	return min(rows, max(sharedMinRows, min(sharedMaxRows, sharedBlockBudget/cols)))
}

// fill writes the indices and signs of rows [r0, r0+nr) into the scratch.
func (s *sharedWeight) fill(r0, nr int) ([]int32, []float32) {
	k := nr * s.cols
	idx, sign := s.scr.idx[:k], s.scr.sign[:k]
	s.m.Fill(r0*s.cols, idx, sign)
	return idx, sign
}

// gatherTo writes W of the entries whose indices and signs are idx and sign
// into w.
func (s *sharedWeight) gatherTo(w []float32, idx []int32, sign []float32) {
	z, sc := s.arr.e.p.value, s.scale
	w = w[:len(idx)]
	sign = sign[:len(idx)]
	for i, j := range idx {
		w[i] = sc * sign[i] * z[j]
	}
}

// gather fills rows [r0, r0+nr) of W into the scratch and returns them
// (row-major, nr × cols).
func (s *sharedWeight) gather(r0, nr int) []float32 {
	idx, sign := s.fill(r0, nr)
	w := s.scr.w[:len(idx)]
	s.gatherTo(w, idx, sign)
	return w
}

// scatter adds Scale · sign ⊙ dw into ∂ℓ/∂z at idx, in order.
func (s *sharedWeight) scatter(dw []float32, idx []int32, sign []float32) {
	g, sc := s.arr.e.p.grad, s.scale
	dw = dw[:len(idx)]
	sign = sign[:len(idx)]
	for i, j := range idx {
		g[j] += sc * sign[i] * dw[i]
	}
}

// spec returns the parametrization as nn.Shared, for Weights and
// Parametrization (the tables are the engine's own: callers copy them).
func (s *sharedWeight) spec() nn.Shared {
	return nn.Shared{Array: s.arr.e.info.Name, ArraySize: len(s.arr.e.p.value), Map: s.m, Scale: s.scale, GradDivisor: s.arr.div}
}

// weights materializes W into a new slice.
func (s *sharedWeight) weights() []float32 {
	w := make([]float32, s.rows*s.cols)
	s.spec().Weights(w, s.arr.e.p.value)
	return w
}

// setShared installs the validated parametrization p on e: it finds or
// creates the array, checks that p agrees with the tensors that already
// read it, and releases e's θ, gradient, mask and optimizer state. On error
// nothing changes.
func (n *Net) setShared(e *entry, p nn.Shared) error {
	old := e.p.sh
	arr := n.arrays[p.Array]
	if arr != nil {
		others := arr.readers
		if old != nil && old.arr == arr {
			others--
		}
		switch {
		case others > 0:
			if err := p.CheckArray(len(arr.e.p.value), arr.div); err != nil {
				return fmt.Errorf("native: set parametrization of %s: %w", e.info.Name, err)
			}
		case len(arr.e.p.value) != p.ArraySize:
			// Only e read it: a new size is a new array.
			arr = nil
		default:
			// Only e read it: keep z (a new scale or map over the same
			// array) and take the new divisors.
			arr.div = slices.Clone(p.GradDivisor)
		}
	}
	if arr == nil {
		arr = n.newArray(p)
	}
	m, table := p.Map, false
	if t, ok := m.(nn.TableMap); ok {
		m, table = nn.TableMap{Index: slices.Clone(t.Index), Sign: slices.Clone(t.Sign)}, true
	}
	rows := e.info.Shape[0]
	cols := e.info.Size() / rows
	sh := &sharedWeight{arr: arr, m: m, table: table, scale: p.Scale, rows: rows, cols: cols, block: blockRows(rows, cols)}
	n.growScratch(sh.block * cols)
	sh.scr = n.scr

	arr.readers++
	if old != nil {
		n.release(old.arr)
	}
	e.p.sh = sh
	e.p.value, e.p.w, e.p.grad = nil, nil, nil
	e.p.sp, e.p.pending, e.p.scatter = nil, nil, false
	e.mask, e.alive, e.scores, e.keep = nil, nil, nil, 0
	e.s1, e.s2 = nil, nil
	n.relist()
	return nil
}

// newArray creates a zero array for p and registers it (readers 0).
func (n *Net) newArray(p nn.Shared) *sharedArray {
	info := nn.ParamInfo{Name: p.Array, Shape: []int{p.ArraySize}, Kind: nn.Weight}
	z := make([]float32, p.ArraySize)
	a := &sharedArray{e: &entry{p: &param{info: info, value: z, w: z, grad: make([]float32, p.ArraySize)}, info: info, index: -1}, div: slices.Clone(p.GradDivisor)}
	if n.opt != nil {
		k := len(n.opt.slotNames())
		if k >= 1 {
			a.e.s1 = make([]float32, p.ArraySize)
		}
		if k >= 2 {
			a.e.s2 = make([]float32, p.ArraySize)
		}
	}
	if n.arrays == nil {
		n.arrays = map[string]*sharedArray{}
	}
	if prev := n.arrays[p.Array]; prev != nil {
		n.dropArray(prev)
	}
	n.arrays[p.Array] = a
	n.arrayList = append(n.arrayList, a)
	sort.Slice(n.arrayList, func(i, j int) bool { return n.arrayList[i].e.info.Name < n.arrayList[j].e.info.Name })
	return a
}

// release drops one reader of a, and a itself when no tensor reads it.
func (n *Net) release(a *sharedArray) {
	if a.readers--; a.readers == 0 {
		n.dropArray(a)
	}
}

// dropArray unregisters a (if it is still the registered array of its
// name).
func (n *Net) dropArray(a *sharedArray) {
	if n.arrays[a.e.info.Name] == a {
		delete(n.arrays, a.e.info.Name)
	}
	n.arrayList = slices.DeleteFunc(n.arrayList, func(b *sharedArray) bool { return b == a })
}

// growScratch makes the block buffers hold at least k entries.
func (n *Net) growScratch(k int) {
	if n.scr == nil {
		n.scr = &sharedScratch{}
	}
	if len(n.scr.w) >= k {
		return
	}
	n.scr.idx = make([]int32, k)
	n.scr.sign = make([]float32, k)
	n.scr.w = make([]float32, k)
}

// unshare gives a shared e a θ equal to its current W (and a gradient and
// zero optimizer state), releasing its array, so that another
// parametrization can be set without changing the function.
func (n *Net) unshare(e *entry) {
	sh := e.p.sh
	if sh == nil {
		return
	}
	v := sh.weights()
	e.p.value, e.p.w, e.p.grad = v, v, make([]float32, len(v))
	if n.opt != nil {
		k := len(n.opt.slotNames())
		if k >= 1 {
			e.s1 = make([]float32, len(v))
		}
		if k >= 2 {
			e.s2 = make([]float32, len(v))
		}
	}
	e.p.sh = nil
	n.release(sh.arr)
}

// sharedParametrization is the nn.Shared that Parametrization reports: the
// caller's Map, or a TableMap over copies of the tables, and a copy of the
// divisors.
func sharedParametrization(sh *sharedWeight) nn.Shared {
	p := sh.spec()
	p.GradDivisor = slices.Clone(p.GradDivisor)
	if sh.table {
		t := sh.m.(nn.TableMap)
		p.Map = nn.TableMap{Index: slices.Clone(t.Index), Sign: slices.Clone(t.Sign)}
	}
	return p
}

// SharedArrays lists the arrays that shared parameters read, sorted by name
// (nn.SharedNet).
func (n *Net) SharedArrays() []string {
	names := make([]string, len(n.arrayList))
	for i, a := range n.arrayList {
		names[i] = a.e.info.Name
	}
	return names
}

// SharedArray returns array name as an nn.Param, or nil when no parameter
// reads it: Values and Grad are the live z and ∂ℓ/∂z (the gradient before
// the GradDivisor after Gradients or Backward, after it once Step ran),
// SetValues copies into z. The Param stays valid while a parameter reads
// the array.
func (n *Net) SharedArray(name string) nn.Param {
	a := n.arrays[name]
	if a == nil {
		return nil
	}
	return &arrayParam{a: a}
}

// arrayParam is the nn.Param of a shared array.
type arrayParam struct{ a *sharedArray }

func (p *arrayParam) Info() nn.ParamInfo { return p.a.e.info }
func (p *arrayParam) Values() []float32  { return p.a.e.p.value }
func (p *arrayParam) Grad() []float32    { return p.a.e.p.grad }

// SetValues copies src into z. It panics if src has the wrong length.
func (p *arrayParam) SetValues(src []float32) {
	z := p.a.e.p.value
	if len(src) != len(z) {
		panic(fmt.Sprintf("native: SetValues on shared array %s: %d values, want %d", p.a.e.info.Name, len(src), len(z)))
	}
	copy(z, src)
}

// stepArrays divides each array's gradient by its divisors and applies the
// prepared optimizer step to it.
func (n *Net) stepArrays() {
	for _, a := range n.arrayList {
		if a.div != nil {
			g := a.e.p.grad
			div := a.div[:len(g)]
			for j := range g {
				g[j] /= div[j]
			}
		}
		n.opt.update(a.e)
	}
}

// clearArrayGrads zeroes ∂ℓ/∂z before a backward pass accumulates into it.
func (n *Net) clearArrayGrads() {
	for _, a := range n.arrayList {
		clear(a.e.p.grad)
	}
}
