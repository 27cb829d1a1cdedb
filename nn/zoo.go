package nn

// The model zoo: a registry from model names to builder functions, in the
// style of OpenLTH's models/registry.py (code: facebookresearch/open_lth:
// models/registry.py), where a name selects a function that constructs an
// architecture rather than a prebuilt instance.
//
// Families and the files that build them:
//
//	mlp, lenet-300-100          zoo_mlp.go    (LTH paper §2; open_lth models/mnist_lenet.py)
//	lenet5, conv2, conv4, conv6 zoo_conv.go   (GraNet/sparselearning LeNet_5_Caffe; LTH paper Figure 2)
//	vgg11, vgg13, vgg16, vgg19  zoo_vgg.go    (open_lth models/cifar_vgg.py)
//	resnet20 … resnet110        zoo_resnet.go (He et al. 2016 §4.2; layer names of akamaster/pytorch_resnet_cifar10)
//	resmlp                      zoo_resmlp.go (the ResNets with Linear for conv; layer-lottery.md §2)
//
// Layer naming is uniform: weight layers are numbered in order of depth with
// a prefix for their type (fc1, fc2, … for an MLP; conv1, conv2, fc3, fc4 for
// LeNet-5; conv1 … convN then fc(N+1) … for Conv-N), batch norms take the
// number of the convolution they follow (bn3 follows conv3), the single
// output layer of VGG and ResNet is "fc", and ResNet blocks use PyTorch's
// dotted names (layer2.0.conv1, layer2.0.shortcut.0). Parameter names are the
// layer name plus ".weight" or ".bias".

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// ModelOptions parametrize a zoo architecture. The zero value builds each
// model in its paper shape on its canonical input.
type ModelOptions struct {
	// Input is the per-example input shape of the data set, e.g. [1 28 28]
	// or [3 32 32]. Empty means the family's canonical input: [1 28 28]
	// for mlp, lenet-300-100 and lenet5, [3 32 32] for the others. Every
	// model accepts any input its arithmetic works on (a ResNet on
	// [3 8 8], LeNet-5 on [3 32 32]); the first linear layer's width is
	// computed from the shapes.
	Input []int
	// Classes is the number of outputs; 0 means 10.
	Classes int
	// Widths are the hidden widths of mlp (default 300, 100). Other models
	// reject them.
	Widths []int
	// WidthMultiplier scales every hidden width and channel count (never
	// the input or the number of classes): a width c becomes
	// max(1, round(c·m)) with halves rounded away from zero (math.Round).
	// For ResNets the first stage width W = max(1, round(16·m)) is scaled
	// and the later stages keep exactly 2W and 4W, as open_lth's
	// cifar_resnet_N_W. 0 means 1; negative, NaN or infinite values are
	// errors.
	WidthMultiplier float64
	// Shortcut selects the ResNet downsampling shortcut: "A" (the default;
	// option A of He et al. for CIFAR: subsample and zero-pad channels,
	// PadChannels, no parameters) or "B" (a 1×1 convolution with stride 2
	// followed by batch norm, as open_lth's cifar_resnet). Other models
	// reject it.
	Shortcut string
	// BatchNorm switches batch normalization after every hidden weight
	// layer on or off where a family supports both: mlp and conv2/4/6
	// (default off), vgg (default on). nil means the family default.
	// lenet-300-100 and lenet5 only exist without it, the ResNets only
	// with it; asking otherwise is an error.
	BatchNorm *bool
}

// ModelBuilder builds an architecture from options. It may assume that
// Input and Classes have been defaulted and that WidthMultiplier is positive
// and finite; it need not call Validate.
type ModelBuilder func(o ModelOptions) (*Arch, error)

// ModelSpec is one entry of the zoo.
type ModelSpec struct {
	Build ModelBuilder
	// Input is the canonical input shape used when ModelOptions.Input is
	// empty.
	Input []int
	// Init is the family's default initializer, one of InitNames.
	Init string
}

var (
	zooMu sync.Mutex
	zoo   = map[string]ModelSpec{}
)

// RegisterModel adds a model to the zoo. It panics when the name is taken or
// the spec is incomplete (programmer errors).
func RegisterModel(name string, spec ModelSpec) {
	zooMu.Lock()
	defer zooMu.Unlock()
	if _, ok := zoo[name]; ok {
		panic("nn: model " + name + " registered twice")
	}
	if spec.Build == nil || len(spec.Input) == 0 || !validInit(spec.Init) {
		panic("nn: model " + name + ": incomplete spec")
	}
	zoo[name] = spec
}

// ModelNames lists the registered model names, sorted.
func ModelNames() []string {
	zooMu.Lock()
	defer zooMu.Unlock()
	names := make([]string, 0, len(zoo))
	for n := range zoo {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultInit returns the default initializer of a model's family, or ""
// for an unknown name:
//
//	mlp, lenet-300-100, conv2/4/6  glorot_normal   (LTH paper, Figure 2: "Gaussian Glorot")
//	lenet5                         torch_default   (GraNet/sparselearning keep PyTorch's defaults)
//	vgg*, resnet*                  kaiming_normal  (open_lth presets, model_init='kaiming_normal')
func DefaultInit(name string) string {
	zooMu.Lock()
	defer zooMu.Unlock()
	return zoo[name].Init
}

// BuildArch builds and validates the architecture registered under name.
// Errors name the model; an unknown name lists the accepted ones.
func BuildArch(name string, o ModelOptions) (*Arch, error) {
	zooMu.Lock()
	spec, ok := zoo[name]
	zooMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("model %q: want one of %v", name, ModelNames())
	}
	if len(o.Input) == 0 {
		o.Input = append([]int(nil), spec.Input...)
	} else {
		o.Input = append([]int(nil), o.Input...)
	}
	for _, d := range o.Input {
		if d < 1 {
			return nil, fmt.Errorf("model %s: input shape %v has a dimension below 1", name, o.Input)
		}
	}
	if o.Classes == 0 {
		o.Classes = 10
	}
	if o.Classes < 1 {
		return nil, fmt.Errorf("model %s: %d classes, want at least 1", name, o.Classes)
	}
	m := o.WidthMultiplier
	if math.IsNaN(m) || math.IsInf(m, 0) || m < 0 {
		return nil, fmt.Errorf("model %s: width multiplier %v, want a finite value > 0 (0 means 1)", name, m)
	}
	if m == 0 {
		o.WidthMultiplier = 1
	}
	a, err := spec.Build(o)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	a.Name = name
	a.Input = o.Input
	a.Classes = o.Classes
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// scaleWidth applies a width multiplier to a channel count or hidden width.
func scaleWidth(c int, m float64) int {
	return max(1, int(math.Round(float64(c)*m)))
}

// batchNormOption resolves ModelOptions.BatchNorm against a family default
// and the values the family supports.
func batchNormOption(o ModelOptions, def, canOn, canOff bool) (bool, error) {
	if o.BatchNorm == nil {
		return def, nil
	}
	if *o.BatchNorm && !canOn {
		return false, fmt.Errorf("batch_norm: this model has no variant with batch norm")
	}
	if !*o.BatchNorm && !canOff {
		return false, fmt.Errorf("batch_norm: this model has no variant without batch norm")
	}
	return *o.BatchNorm, nil
}

// rejectOptions returns an error for options a family does not use.
func rejectOptions(o ModelOptions, widths, shortcut bool) error {
	if widths && len(o.Widths) > 0 {
		return fmt.Errorf("widths %v: only mlp takes hidden widths", o.Widths)
	}
	if shortcut && o.Shortcut != "" {
		return fmt.Errorf("shortcut %q: only resnets take a shortcut type", o.Shortcut)
	}
	return nil
}

// newBatchNorm returns a BatchNorm with PyTorch's defaults (eps 1e-5,
// momentum 0.1).
func newBatchNorm(name string, c int) BatchNorm {
	return BatchNorm{Name: name, C: c, Eps: 1e-5, Momentum: 0.1}
}
