package share

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// LayerKind is the type of layer a shared weight belongs to; it decides how
// ROAST tiles the weight (docs/methods/rps.md#roast).
type LayerKind int

const (
	// KindLinear is a Linear weight [out, in]; ROAST works on its
	// transpose (in, out).
	KindLinear LayerKind = iota + 1
	// KindConv2d is a Conv2d weight [out, in, kh, kw]; ROAST views it as
	// (out, in·kh·kw) and then as a Linear weight.
	KindConv2d
	// KindEmbedding is an Embedding weight [rows, dim]; ROAST maps chunks
	// of Block columns of each row. nn has no Embedding layer yet; the
	// kind exists so that the mapper is complete.
	KindEmbedding
)

func (k LayerKind) String() string {
	switch k {
	case KindLinear:
		return "linear"
	case KindConv2d:
		return "conv2d"
	case KindEmbedding:
		return "embedding"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// Tensor is one shared weight: its parameter, its layer type and the
// trainable size of its module (for Config.ModuleLimit).
type Tensor struct {
	Param nn.ParamInfo
	Kind  LayerKind
	// ModuleParams is the number of trainable parameters of the module
	// that owns the weight (weight and bias).
	ModuleParams int
}

// Size is N_ℓ, the number of virtual weights of the tensor.
func (t Tensor) Size() int { return t.Param.Size() }

// check returns an error when the tensor is not a weight the mappers apply
// to: a Linear, Conv2d or Embedding weight of the shape its kind needs.
func (t Tensor) check(mapper string) error {
	p := t.Param
	if p.Kind != nn.Weight {
		return fmt.Errorf("rps.mapper %s does not apply to %s: it is a %v, want the weight of a Linear, Conv2d or Embedding layer", mapper, p.Name, p.Kind)
	}
	want := 0
	switch t.Kind {
	case KindLinear, KindEmbedding:
		want = 2
	case KindConv2d:
		want = 4
	default:
		return fmt.Errorf("rps.mapper %s does not apply to %s: layer kind %v, want linear, conv2d or embedding", mapper, p.Name, t.Kind)
	}
	if len(p.Shape) != want {
		return fmt.Errorf("rps: %s is a %v weight of shape %v, want %d dimensions", p.Name, t.Kind, p.Shape, want)
	}
	for _, d := range p.Shape {
		if d < 1 {
			return fmt.Errorf("rps: %s has shape %v, want every dimension ≥ 1", p.Name, p.Shape)
		}
	}
	return nil
}

// Tensors lists every Linear and Conv2d weight of an architecture in
// canonical order (docs/methods/conventions.md#canonical-order), the
// candidates for sharing, with the size of their modules. Biases and
// normalization parameters are never shared
// (docs/methods/rps.md#parametrization).
func Tensors(a *nn.Arch) []Tensor {
	ps := a.Params()
	bias := map[string]int{}
	for _, p := range ps {
		if p.Kind == nn.Bias {
			bias[p.Layer] = p.Size()
		}
	}
	var ts []Tensor
	for _, p := range ps {
		if p.Kind != nn.Weight {
			continue
		}
		t := Tensor{Param: p, Kind: KindLinear, ModuleParams: p.Size() + bias[p.Layer]}
		if len(p.Shape) == 4 {
			t.Kind = KindConv2d
		}
		ts = append(ts, t)
	}
	return ts
}

// SharedTensors selects the tensors to share: those of ts whose module has
// at least moduleLimit trainable parameters (all of them for moduleLimit ≤
// 0; code: FakeRoastUtil_v2.py Roastable.roastable, get_module_params ≥
// module_limit_size). The order of ts is kept.
func SharedTensors(ts []Tensor, moduleLimit int) []Tensor {
	var out []Tensor
	for _, t := range ts {
		if moduleLimit <= 0 || t.ModuleParams >= moduleLimit {
			out = append(out, t)
		}
	}
	return out
}
