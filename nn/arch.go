package nn

import (
	"errors"
	"fmt"
	"slices"
)

// Arch is a declarative, engine-independent description of a network: an
// input shape, a number of classes and a sequence of layers. Backends build
// Nets from it; counting, initialization and the canonical parameter order
// are computed from it alone.
type Arch struct {
	// Name is the zoo name the architecture was built from, e.g. "lenet5".
	Name string
	// Input is the shape of one example: [C, H, W] for images, [D] for
	// vectors.
	Input []int
	// Classes is the number of outputs of the last layer.
	Classes int
	Layers  []Layer
}

// Layer is one layer of an Arch. The concrete types are Linear, Conv2d,
// BatchNorm, ReLU, MaxPool2d, GlobalAvgPool, Flatten, Dropout, Residual and
// PadChannels.
type Layer interface {
	// OutShape returns the per-example output shape for an input shape, or
	// an error naming the layer when the input does not fit.
	OutShape(in []int) ([]int, error)
	isLayer()
}

// Linear is y = x Wᵀ + b on vectors; W has shape [Out, In].
type Linear struct {
	Name    string
	In, Out int
	Bias    bool
}

// Conv2d is a 2-D convolution with square kernels, equal stride and padding
// in both directions and no dilation or groups. W has shape
// [Out, In, Kernel, Kernel].
type Conv2d struct {
	Name                         string
	In, Out, Kernel, Stride, Pad int
	Bias                         bool
}

// BatchNorm normalizes each channel of an image (or each feature of a vector)
// with batch statistics in training and running statistics in evaluation, as
// PyTorch's BatchNorm1d/2d with affine parameters.
type BatchNorm struct {
	Name string
	C    int
	// Eps is added to the variance (PyTorch: 1e-5). Momentum is the weight of
	// the new batch in the running statistics (PyTorch: 0.1); the running
	// variance uses the unbiased batch variance, as PyTorch does.
	Eps, Momentum float64
}

// ReLU is max(x, 0).
type ReLU struct{}

// MaxPool2d takes the maximum over Kernel×Kernel windows moved by Stride, with
// no padding (PyTorch floor mode). Ties go to the first maximum in row-major
// window order.
type MaxPool2d struct{ Kernel, Stride int }

// GlobalAvgPool averages each channel over its spatial extent: [C,H,W] → [C].
type GlobalAvgPool struct{}

// Flatten turns [C,H,W] into [C·H·W] in row-major (c, h, w) order, as
// torch.flatten on NCHW does.
type Flatten struct{}

// Dropout zeroes each entry with probability P in training and scales the
// others by 1/(1−P) (inverted dropout); it is the identity in evaluation.
type Dropout struct{ P float64 }

// Residual is y = Body(x) + Shortcut(x), with Shortcut the identity when it
// is empty. The CIFAR-ResNet option A shortcut is PadChannels; option B is a
// 1×1 Conv2d with stride followed by BatchNorm.
type Residual struct {
	Name     string
	Body     []Layer
	Shortcut []Layer
}

// PadChannels is the option-A shortcut of He et al.'s CIFAR ResNets: it keeps
// every Stride-th row and column and pads zero channels up to Out,
// (Out−In)/2 before and the rest after, as the common CIFAR ResNet code does
// (akamaster/pytorch_resnet_cifar10: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0,
// planes//4, planes//4))). It has no parameters.
type PadChannels struct{ In, Out, Stride int }

func (Linear) isLayer()        {}
func (Conv2d) isLayer()        {}
func (BatchNorm) isLayer()     {}
func (ReLU) isLayer()          {}
func (MaxPool2d) isLayer()     {}
func (GlobalAvgPool) isLayer() {}
func (Flatten) isLayer()       {}
func (Dropout) isLayer()       {}
func (Residual) isLayer()      {}
func (PadChannels) isLayer()   {}

func (l Linear) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] != l.In {
		return nil, fmt.Errorf("linear %s: input shape %v, want [%d]", l.Name, in, l.In)
	}
	return []int{l.Out}, nil
}

func (l Conv2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.In {
		return nil, fmt.Errorf("conv %s: input shape %v, want [%d H W]", l.Name, in, l.In)
	}
	if l.Kernel < 1 || l.Stride < 1 || l.Pad < 0 {
		return nil, fmt.Errorf("conv %s: kernel %d, stride %d, padding %d: want kernel ≥ 1, stride ≥ 1, padding ≥ 0", l.Name, l.Kernel, l.Stride, l.Pad)
	}
	h := (in[1]+2*l.Pad-l.Kernel)/l.Stride + 1
	w := (in[2]+2*l.Pad-l.Kernel)/l.Stride + 1
	if in[1]+2*l.Pad < l.Kernel || in[2]+2*l.Pad < l.Kernel {
		return nil, fmt.Errorf("conv %s: input %v is smaller than the %d×%d kernel", l.Name, in, l.Kernel, l.Kernel)
	}
	return []int{l.Out, h, w}, nil
}

func (l BatchNorm) OutShape(in []int) ([]int, error) {
	if len(in) == 0 || in[0] != l.C || len(in) == 2 {
		return nil, fmt.Errorf("batchnorm %s: input shape %v, want [%d] or [%d H W]", l.Name, in, l.C, l.C)
	}
	return in, nil
}

func (ReLU) OutShape(in []int) ([]int, error)    { return in, nil }
func (Dropout) OutShape(in []int) ([]int, error) { return in, nil }

func (l MaxPool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || l.Kernel < 1 || l.Stride < 1 || in[1] < l.Kernel || in[2] < l.Kernel {
		return nil, fmt.Errorf("maxpool %d/%d: input shape %v, want [C H W] with H, W ≥ %d", l.Kernel, l.Stride, in, l.Kernel)
	}
	return []int{in[0], (in[1]-l.Kernel)/l.Stride + 1, (in[2]-l.Kernel)/l.Stride + 1}, nil
}

func (GlobalAvgPool) OutShape(in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("global average pool: input shape %v, want [C H W]", in)
	}
	return []int{in[0]}, nil
}

func (Flatten) OutShape(in []int) ([]int, error) { return []int{shapeSize(in)}, nil }

func (l PadChannels) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.In || l.Out < l.In || l.Stride < 1 {
		return nil, fmt.Errorf("pad-channels shortcut %d→%d: input shape %v", l.In, l.Out, in)
	}
	return []int{l.Out, (in[1]-1)/l.Stride + 1, (in[2]-1)/l.Stride + 1}, nil
}

func (l Residual) OutShape(in []int) ([]int, error) {
	body, err := seqOutShape(l.Body, in)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", l.Name, err)
	}
	short, err := seqOutShape(l.Shortcut, in)
	if err != nil {
		return nil, fmt.Errorf("block %s shortcut: %w", l.Name, err)
	}
	if !slices.Equal(body, short) {
		return nil, fmt.Errorf("block %s: body output %v and shortcut output %v differ", l.Name, body, short)
	}
	return body, nil
}

func seqOutShape(layers []Layer, in []int) ([]int, error) {
	s := in
	for _, l := range layers {
		var err error
		if s, err = l.OutShape(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Validate checks that every layer accepts its input and that the network
// ends in Classes outputs.
func (a *Arch) Validate() error {
	if a.Classes < 1 {
		return fmt.Errorf("model %s: %d classes, want at least 1", a.Name, a.Classes)
	}
	out, err := seqOutShape(a.Layers, a.Input)
	if err != nil {
		return fmt.Errorf("model %s: %w", a.Name, err)
	}
	if len(out) != 1 || out[0] != a.Classes {
		return fmt.Errorf("model %s: output shape %v, want [%d]", a.Name, out, a.Classes)
	}
	seen := map[string]bool{}
	for _, p := range a.Params() {
		if seen[p.Name] {
			return fmt.Errorf("model %s: two parameters named %q", a.Name, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// CheckInput returns an error naming the model and the data when an example
// shape does not fit the architecture.
func (a *Arch) CheckInput(dataset string, shape []int, classes int) error {
	if !slices.Equal(a.Input, shape) {
		return fmt.Errorf("model %s expects inputs of shape %v, dataset %s has %v", a.Name, a.Input, dataset, shape)
	}
	if classes != a.Classes {
		return fmt.Errorf("model %s has %d outputs, dataset %s has %d classes", a.Name, a.Classes, dataset, classes)
	}
	return nil
}

// Params lists the parameters of the architecture in canonical order
// (docs/methods/conventions.md#canonical-order): layers in declaration order,
// depth first through residual blocks (body before shortcut), weight before
// bias.
func (a *Arch) Params() []ParamInfo {
	var ps []ParamInfo
	walkParams(a.Layers, &ps)
	return ps
}

func walkParams(layers []Layer, ps *[]ParamInfo) {
	for _, l := range layers {
		switch l := l.(type) {
		case Linear:
			*ps = append(*ps, ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.Out, l.In}, Kind: Weight, FanIn: l.In, FanOut: l.Out})
			if l.Bias {
				*ps = append(*ps, ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.Out}, Kind: Bias, FanIn: l.In, FanOut: l.Out})
			}
		case Conv2d:
			kk := l.Kernel * l.Kernel
			*ps = append(*ps, ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.Out, l.In, l.Kernel, l.Kernel}, Kind: Weight, FanIn: l.In * kk, FanOut: l.Out * kk})
			if l.Bias {
				*ps = append(*ps, ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.Out}, Kind: Bias, FanIn: l.In * kk, FanOut: l.Out * kk})
			}
		case BatchNorm:
			*ps = append(*ps,
				ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.C}, Kind: NormScale, FanIn: l.C, FanOut: l.C},
				ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.C}, Kind: NormShift, FanIn: l.C, FanOut: l.C})
		case Residual:
			walkParams(l.Body, ps)
			walkParams(l.Shortcut, ps)
		}
	}
}

// ErrNotImplemented is wrapped by errors for features a backend does not
// implement yet.
var ErrNotImplemented = errors.New("not implemented")
