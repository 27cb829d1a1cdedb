//go:build torch

package torch

import (
	"fmt"
	"slices"
	"sort"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"

	"github.com/prunebench/prunebench/nn"
)

// The shared parametrization W = Scale · Sign ⊙ z[Index] (nn/shared.go) in
// libtorch ops: the map is materialized once, when the parametrization is
// set, as an int64 index tensor and a float tensor Scale·Sign on the device;
// each forward gathers W with index_select and a product, and autograd's
// backward of index_select is the scatter-add (index_add) into ∂ℓ/∂z. This
// holds two O(n) tensors per shared weight (12 bytes per virtual weight):
// the on-the-fly maps that make sharing save memory are the native engine's
// (issue #7 asks for them there); on a GPU the gather is what is fast. θ, the
// dense gradient, masks and optimizer state of a shared tensor are freed.

// sharedWeight is a shared tensor's map on the device.
type sharedWeight struct {
	arr   *sharedArray
	spec  nn.Shared // as set (a TableMap copied; divisors are the array's)
	table bool      // the caller's Map is a TableMap
	idx   ct        // int64 [size]
	coef  ct        // float32 [size]: Scale·Sign
	w     ct        // W of the current forward (a scope temporary)
}

// sharedArray is a trained array z: an entry whose θ is z (Shape [m]), with
// its gradient and optimizer state, plus the gradient divisors.
type sharedArray struct {
	e       entry
	div     ct // nil without a scaler
	divHost []float32
	readers int
}

func (a *sharedArray) name() string { return a.e.info.Name }
func (a *sharedArray) size() int    { return a.e.info.Size() }

func (a *sharedArray) free() { free(a.e.theta, a.e.grad, a.e.s1, a.e.s2, a.div) }

// setShared installs the validated p on e (on the worker): it finds or
// creates the array, checks p against the tensors that already read it,
// uploads the map, and frees e's θ, gradient, mask and optimizer state. On
// error nothing changes.
func (n *Net) setShared(s *scope, e *entry, p nn.Shared) {
	size := e.info.Size()
	idx32, sign := make([]int32, size), make([]float32, size)
	p.Map.Fill(0, idx32, sign)
	idx := make([]int64, size)
	for i, j := range idx32 {
		idx[i] = int64(j)
		sign[i] *= p.Scale
	}
	old := e.sh
	arr := n.st.arrays[p.Array]
	if arr != nil {
		others := arr.readers
		if old != nil && old.arr == arr {
			others--
		}
		switch {
		case others > 0:
			if err := p.CheckArray(arr.size(), arr.divHost); err != nil {
				s.fail("set parametrization of "+e.info.Name, err)
				return
			}
		case arr.size() != p.ArraySize:
			arr = nil // only e read it: a new size is a new array
		default:
			// Only e read it: keep z, take the new divisors.
			var div ct
			if p.GradDivisor != nil {
				div = s.upload(p.GradDivisor, int64(p.ArraySize))
			}
			if s.err != nil {
				return
			}
			s.own(div)
			free(arr.div)
			arr.div, arr.divHost = div, slices.Clone(p.GradDivisor)
		}
	}
	if arr == nil {
		if arr = n.newArray(s, p); arr == nil {
			return
		}
	}
	sh := &sharedWeight{arr: arr, spec: p}
	if t, ok := p.Map.(nn.TableMap); ok {
		sh.table = true
		sh.spec.Map = nn.TableMap{Index: slices.Clone(t.Index), Sign: slices.Clone(t.Sign)}
	}
	sh.spec.GradDivisor = nil
	sh.idx = s.uploadRaw(unsafe.Pointer(&idx[0]), 8, kLong, size, []int64{int64(size)})
	sh.coef = s.upload(sign, e.shape...)
	if s.err != nil {
		n.dropUnread(arr)
		return
	}
	s.own(sh.idx, sh.coef)
	arr.readers++
	if old != nil {
		n.releaseShared(old)
	}
	free(e.theta, e.w, e.mask, e.grad, e.s1, e.s2)
	e.theta, e.w, e.mask, e.grad, e.s1, e.s2 = nil, nil, nil, nil, nil, nil
	e.maskHost, e.scores, e.keep, e.pattern = nil, nil, 0, 0
	e.sh = sh
}

// newArray creates and registers a zero array for p (readers 0), with zero
// optimizer state when an optimizer is installed; nil on error.
func (n *Net) newArray(s *scope, p nn.Shared) *sharedArray {
	m := int64(p.ArraySize)
	a := &sharedArray{e: entry{info: nn.ParamInfo{Name: p.Array, Shape: []int{p.ArraySize}, Kind: nn.Weight}, shape: []int64{m}}}
	a.e.theta = s.zeros(m)
	s.requireGrad(a.e.theta)
	if n.opt != nil {
		if len(n.opt.slots) >= 1 {
			a.e.s1 = s.zeros(m)
		}
		if len(n.opt.slots) >= 2 {
			a.e.s2 = s.zeros(m)
		}
	}
	if p.GradDivisor != nil {
		a.div, a.divHost = s.upload(p.GradDivisor, m), slices.Clone(p.GradDivisor)
	}
	if s.err != nil {
		return nil
	}
	s.own(a.e.theta, a.e.s1, a.e.s2, a.div)
	if prev := n.st.arrays[p.Array]; prev != nil {
		n.dropArray(prev)
	}
	if n.st.arrays == nil {
		n.st.arrays = map[string]*sharedArray{}
	}
	n.st.arrays[p.Array] = a
	n.st.arrayList = append(n.st.arrayList, a)
	sort.Slice(n.st.arrayList, func(i, j int) bool { return n.st.arrayList[i].name() < n.st.arrayList[j].name() })
	return a
}

// releaseShared drops sh's read of its array, and the array when no tensor
// reads it any more; it frees sh's map.
func (n *Net) releaseShared(sh *sharedWeight) {
	free(sh.idx, sh.coef)
	sh.arr.readers--
	n.dropUnread(sh.arr)
}

func (n *Net) dropUnread(a *sharedArray) {
	if a.readers == 0 {
		n.dropArray(a)
	}
}

func (n *Net) dropArray(a *sharedArray) {
	if n.st.arrays[a.name()] == a {
		delete(n.st.arrays, a.name())
	}
	n.st.arrayList = slices.DeleteFunc(n.st.arrayList, func(b *sharedArray) bool { return b == a })
	a.free()
}

// unshare gives a shared e a θ (a fresh leaf) equal to its current W and
// zero optimizer state, releasing its array, so that another
// parametrization can be set without changing the function.
func (n *Net) unshare(s *scope, e *entry) {
	sh := e.sh
	if sh == nil {
		return
	}
	w := n.sharedWeights(s, sh, e.info.Size())
	theta := s.upload(w, e.shape...)
	if s.err != nil {
		return
	}
	s.requireGrad(theta)
	var s1, s2 ct
	if n.opt != nil {
		if len(n.opt.slots) >= 1 {
			s1 = s.zeros(e.shape...)
		}
		if len(n.opt.slots) >= 2 {
			s2 = s.zeros(e.shape...)
		}
	}
	if s.err != nil {
		return
	}
	s.own(theta, s1, s2)
	e.theta, e.s1, e.s2, e.sh = theta, s1, s2, nil
	n.releaseShared(sh)
}

// sharedWeights materializes W of sh on the host.
func (n *Net) sharedWeights(s *scope, sh *sharedWeight, size int) []float32 {
	z := make([]float32, sh.arr.size())
	s.download(z, sh.arr.e.theta)
	w := make([]float32, size)
	sh.spec.Weights(w, z)
	return w
}

// gatherShared computes W of every shared tensor for this forward (with
// autograd, so that the backward scatters into ∂ℓ/∂z).
func (n *Net) gatherShared(s *scope) {
	for _, e := range n.st.entries {
		if sh := e.sh; sh != nil {
			g := s.op("index_select", func(o *ct) { lib.AtgIndexSelect(o, sh.arr.e.theta, 0, sh.idx) })
			sh.w = s.mul(s.reshape(g, e.shape...), sh.coef)
		}
	}
}

// divideArrayGrads divides each array's gradient by its divisors, in place
// so that Grad after Step is the divided one, as on the native engine; the
// arrays are then stepped with the other parameters (stepEntries).
func (n *Net) divideArrayGrads(s *scope) {
	for _, a := range n.st.arrayList {
		if a.e.grad != nil && a.div != nil {
			s.copyFrom(a.e.grad, s.div(a.e.grad, a.div))
		}
	}
}

// SharedArrays lists the arrays that shared parameters read, sorted by name
// (nn.SharedNet).
func (n *Net) SharedArrays() []string {
	names := make([]string, len(n.st.arrayList))
	for i, a := range n.st.arrayList {
		names[i] = a.name()
	}
	return names
}

// SharedArray returns array name as an nn.Param, or nil when no parameter
// reads it: Values and Grad copy z and ∂ℓ/∂z from the device, SetValues
// copies to it.
func (n *Net) SharedArray(name string) nn.Param {
	a := n.st.arrays[name]
	if a == nil {
		return nil
	}
	return arrayParam{n: n, a: a}
}

type arrayParam struct {
	n *Net
	a *sharedArray
}

func (p arrayParam) Info() nn.ParamInfo { return p.a.e.info }

func (p arrayParam) Values() []float32 {
	v := make([]float32, p.a.size())
	p.n.run(func(s *scope) { s.download(v, p.a.e.theta) })
	return v
}

func (p arrayParam) Grad() []float32 {
	g := make([]float32, p.a.size())
	p.n.run(func(s *scope) {
		if p.a.e.grad != nil {
			s.download(g, p.a.e.grad)
		}
	})
	return g
}

// SetValues copies src into z. It panics if src has the wrong length.
func (p arrayParam) SetValues(src []float32) {
	if len(src) != p.a.size() {
		panic(fmt.Sprintf("torch: SetValues on shared array %s: %d values, want %d", p.a.name(), len(src), p.a.size()))
	}
	p.n.run(func(s *scope) { s.set(p.a.e.theta, src, p.a.e.shape) })
}

// sharedParametrization is the nn.Shared that Parametrization reports.
func sharedParametrization(sh *sharedWeight) nn.Shared {
	p := sh.spec
	p.ArraySize = sh.arr.size()
	p.GradDivisor = slices.Clone(sh.arr.divHost)
	if sh.table {
		t := p.Map.(nn.TableMap)
		p.Map = nn.TableMap{Index: slices.Clone(t.Index), Sign: slices.Clone(t.Sign)}
	}
	return p
}
