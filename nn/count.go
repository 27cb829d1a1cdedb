package nn

// Parameter, byte and FLOP counting.
//
// The FLOP convention is prunebench's (docs/methods/scratch.md#flop-count,
// shared with the results store): multiply-accumulates of the forward pass of
// one example through convolutional and linear layers, counting only non-zero
// weights:
//
//	conv   = nnz(W) · H_out · W_out
//	linear = nnz(W)
//
// Biases, normalization, activations, pooling, the option-A shortcut and the
// residual addition are excluded. Dense counts use nnz(W) = size(W). The
// count is of multiply-accumulates, not 2× multiply-adds; the convention of
// the rethinking reference code (×2, biases, batch norm, ReLU and pooling
// added, linear layers dense; docs/methods/scratch.md#flop-count) is not
// this one.

import "fmt"

// LayerCount is the count of one layer with parameters (Linear, Conv2d or
// BatchNorm), in canonical order.
type LayerCount struct {
	Layer string
	// Params is the number of parameters of the layer (weight, bias, norm
	// scale and shift); Prunable the number of its prunable entries (the
	// weight of a Linear or Conv2d). In CountNonzero both count non-zero
	// entries only.
	Params, Prunable int
	// FLOPs are the layer's multiply-accumulates per example.
	FLOPs int64
}

// Counts are the totals of an architecture. Bytes is the float32 storage of
// the counted parameters, 4·Params.
type Counts struct {
	Layers                  []LayerCount
	Params, Prunable, Bytes int64
	FLOPs                   int64
}

// Count returns the dense counts of an architecture: every parameter, every
// weight and the FLOPs of dense weights on the architecture's input shape.
// It panics on an architecture that does not validate.
func Count(a *Arch) Counts { return CountNonzero(a, nil) }

// CountNonzero counts only entries that are exactly non-zero: Params and
// Bytes over every parameter (params_nonzero of
// docs/methods/conventions.md#what-every-result-records), Prunable over the
// prunable weights, and FLOPs with each layer's nnz(W). values returns a
// parameter's values by its name (e.g. "conv1.weight"), normally the
// effective weights W = θ ⊙ m; a nil values function or a nil slice counts
// that tensor as dense. A slice of the wrong length panics.
func CountNonzero(a *Arch, values func(name string) []float32) Counts {
	c := Counts{}
	if _, err := countLayers(a.Layers, a.Input, values, &c); err != nil {
		panic(fmt.Sprintf("nn: counting model %s: %v", a.Name, err))
	}
	c.Bytes = 4 * c.Params
	return c
}

func countLayers(layers []Layer, in []int, values func(string) []float32, c *Counts) ([]int, error) {
	s := in
	for _, l := range layers {
		out, err := l.OutShape(s)
		if err != nil {
			return nil, err
		}
		switch l := l.(type) {
		case Linear:
			w := nonzero(values, l.Name+".weight", l.In*l.Out)
			lc := LayerCount{Layer: l.Name, Params: w, Prunable: w, FLOPs: int64(w)}
			if l.Bias {
				lc.Params += nonzero(values, l.Name+".bias", l.Out)
			}
			c.add(lc)
		case Conv2d:
			w := nonzero(values, l.Name+".weight", l.Out*l.In*l.Kernel*l.Kernel)
			lc := LayerCount{Layer: l.Name, Params: w, Prunable: w, FLOPs: int64(w) * int64(out[1]) * int64(out[2])}
			if l.Bias {
				lc.Params += nonzero(values, l.Name+".bias", l.Out)
			}
			c.add(lc)
		case BatchNorm:
			c.add(LayerCount{Layer: l.Name, Params: nonzero(values, l.Name+".weight", l.C) + nonzero(values, l.Name+".bias", l.C)})
		case Residual:
			if _, err := countLayers(l.Body, s, values, c); err != nil {
				return nil, err
			}
			if _, err := countLayers(l.Shortcut, s, values, c); err != nil {
				return nil, err
			}
		}
		s = out
	}
	return s, nil
}

func (c *Counts) add(lc LayerCount) {
	c.Layers = append(c.Layers, lc)
	c.Params += int64(lc.Params)
	c.Prunable += int64(lc.Prunable)
	c.FLOPs += lc.FLOPs
}

func nonzero(values func(string) []float32, name string, size int) int {
	if values == nil {
		return size
	}
	v := values(name)
	if v == nil {
		return size
	}
	if len(v) != size {
		panic(fmt.Sprintf("nn: counting: parameter %s has %d values, want %d", name, len(v), size))
	}
	n := 0
	for _, x := range v {
		if x != 0 {
			n++
		}
	}
	return n
}
