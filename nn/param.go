package nn

// Kind says what a parameter is for. Only weights of linear and convolutional
// layers are prunable by default (docs/methods/conventions.md#prunable-set).
type Kind int

const (
	// Weight is the weight tensor of a Linear or Conv2d layer.
	Weight Kind = iota
	// Bias is the bias vector of a Linear or Conv2d layer.
	Bias
	// NormScale is the scale (γ) of a normalization layer.
	NormScale
	// NormShift is the shift (β) of a normalization layer.
	NormShift
)

func (k Kind) String() string {
	switch k {
	case Weight:
		return "weight"
	case Bias:
		return "bias"
	case NormScale:
		return "norm_scale"
	case NormShift:
		return "norm_shift"
	}
	return "unknown"
}

// ParamInfo describes one parameter tensor of an architecture. It depends on
// the Arch only, so every engine reports the same list in the same order.
type ParamInfo struct {
	// Name is the PyTorch-style dotted name, e.g. "fc1.weight" or
	// "layer2.0.conv1.weight".
	Name string
	// Layer is the name of the layer that owns the parameter, e.g. "fc1".
	Layer string
	// Shape is PyTorch's shape: [out, in] for Linear, [out, in, kh, kw] for
	// Conv2d, [c] for biases and norm parameters.
	Shape []int
	Kind  Kind
	// FanIn and FanOut are the fans used by initializers: in·kh·kw and
	// out·kh·kw for a convolution, in and out for a linear layer.
	FanIn, FanOut int
}

// Size is the number of entries of the parameter.
func (p ParamInfo) Size() int { return shapeSize(p.Shape) }

// Prunable reports whether the parameter is in the default prunable set:
// weights of linear and convolutional layers.
func (p ParamInfo) Prunable() bool { return p.Kind == Weight }

// Param is one parameter tensor of a built Net.
//
// Values and gradients are reachable as []float32 on the host: on the native
// engine Values and Grad return the live slices (writes through them change
// the network); on other engines they return copies, and SetValues is the way
// to write. Code that must work on every engine writes with SetValues.
//
// A tensor under a Shared parametrization has no θ: its Values is a fresh
// copy of the effective weight W, its Grad is nil and its SetValues panics;
// the trained values are the shared array's (nn/shared.go).
type Param interface {
	Info() ParamInfo
	// Values returns θ, the trained values (not the effective weight W).
	Values() []float32
	// SetValues copies src (of length Info().Size()) into θ.
	SetValues(src []float32)
	// Grad returns the dense gradient of the last Gradients call with
	// respect to the effective weight W, pruned positions included.
	Grad() []float32
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
