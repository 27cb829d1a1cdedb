package share

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// The adapter from a Mapper to the engines' shared parametrization (nn.Shared
// with an nn.SharedMap, nn/shared.go). The engine calls the map from its
// forward and backward kernels, block by block, so the model holds z, the
// mapper's small tables and a few block buffers instead of O(n) index and
// sign tensors (docs/methods/rps.md#memory-accounting); Mapper.Shared, which
// materializes the tables, remains for tests and engines that store them.

// tensorMap is the nn.SharedMap of one shared tensor of a Mapper.
type tensorMap struct {
	mp *Mapper
	l  int
}

// Fill is Mapper.Fill of the tensor: it does not allocate.
func (t tensorMap) Fill(start int, idx []int32, sign []float32) { t.mp.Fill(t.l, start, idx, sign) }

// Map returns the nn.SharedMap of shared tensor l (0-based, canonical
// order): the same indices and signs as Index and Fill, computed on the
// fly. It panics when l is out of range.
func (mp *Mapper) Map(l int) nn.SharedMap {
	if l < 0 || l >= len(mp.layers) {
		panic(fmt.Sprintf("share: Map(%d) of a mapper with %d shared tensors", l, len(mp.layers)))
	}
	return tensorMap{mp: mp, l: l}
}

// Parametrization returns the on-the-fly nn.Shared of shared tensor l with
// scale λ (float32, as engines compute) and the gradient divisors of its
// array taken from divisors, the result of GradDivisors (nil, or nil
// entries, for no scaler). It holds no O(N_ℓ) memory.
func (mp *Mapper) Parametrization(l int, scale float64, divisors [][]float32) nn.Shared {
	info := mp.Layer(l)
	var div []float32
	if divisors != nil {
		div = divisors[info.Array]
	}
	return nn.Shared{
		Array:       mp.arrays[info.Array].Name,
		ArraySize:   info.ArraySize,
		Map:         mp.Map(l),
		Scale:       float32(scale),
		GradDivisor: div,
	}
}

// Apply sets the shared parametrization of every shared tensor of mp on
// net (built from the architecture mp was built for), tensor l with scale
// scales[l] and its array's divisors (GradDivisors; nil for none). The
// arrays start zero: initialize z through nn.SharedNet.SharedArray. Set
// the parametrizations before SetOptimizer or SetState, and after
// initializing the unshared parameters (a shared tensor has no θ to
// initialize). It stops at the first tensor the engine refuses and names
// it.
func (mp *Mapper) Apply(net nn.Net, scales []float64, divisors [][]float32) error {
	if len(scales) != len(mp.layers) {
		return fmt.Errorf("rps: %d scales for %d shared tensors", len(scales), len(mp.layers))
	}
	if divisors != nil && len(divisors) != len(mp.arrays) {
		return fmt.Errorf("rps: gradient divisors for %d arrays, the mapper has %d", len(divisors), len(mp.arrays))
	}
	for l := range mp.layers {
		name := mp.layers[l].info.Tensor.Param.Name
		if err := net.SetParametrization(name, mp.Parametrization(l, scales[l], divisors)); err != nil {
			return fmt.Errorf("rps: sharing %s: %w", name, err)
		}
	}
	return nil
}
