package zoo

// The model zoo: a registry from model names to builder functions, in the
// style of OpenLTH's models/registry.py (code: facebookresearch/open_lth:
// models/registry.py), where a name selects a function that constructs an
// architecture rather than a prebuilt instance.
//
// Families and the files that build them:
//
//	mlp, lenet-300-100          mlp.go    (LTH paper §2; open_lth models/mnist_lenet.py)
//	lenet5, conv2, conv4, conv6 conv.go   (GraNet/sparselearning LeNet_5_Caffe; LTH paper Figure 2)
//	vgg11, vgg13, vgg16, vgg19  vgg.go    (open_lth models/cifar_vgg.py)
//	resnet20 … resnet110        resnet.go (He et al. 2016 §4.2; layer names of akamaster/pytorch_resnet_cifar10)
//	resmlp                      resmlp.go (the ResNets with Linear for conv; docs/methods/layer.md#the-resmlp-model)
//	(inline: model.layers)      layers.go, layers_build.go (a spec's own layer list; not registered)
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
	"slices"

	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn"
)

// Options parametrize a zoo architecture. The zero value builds each
// model in its paper shape on its canonical input.
type Options struct {
	// Input is the per-example input shape of the data set, e.g. [1 28 28]
	// or [3 32 32]. Empty means the family's canonical input: [1 28 28]
	// for mlp, lenet-300-100 and lenet5, [3 32 32] for the others. Every
	// model accepts any input its arithmetic works on (a ResNet on
	// [3 8 8], LeNet-5 on [3 32 32]); the first linear layer's width is
	// computed from the shapes.
	Input []int
	// Classes is the number of outputs; 0 means 10.
	Classes int
	// Widths are the hidden widths of mlp (default 300, 100), the stage
	// widths of resmlp (default 64, 128, 256) and grokking-mlp's d_emb and
	// d_model (default 500, 48). Other models reject them.
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
	// nn.PadChannels, no parameters) or "B" (a 1×1 convolution with stride 2
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

// Builder builds an architecture from options. It may assume that
// Input and Classes have been defaulted and that WidthMultiplier is positive
// and finite; it need not call Arch.Validate.
type Builder func(o Options) (*nn.Arch, error)

// Model is one entry of the zoo.
type Model struct {
	Build Builder
	// Input is the canonical input shape used when Options.Input is
	// empty.
	Input []int
	// Init is the family's default initializer, one of nn.InitNames.
	Init string
}

// models is the zoo.
var models = registry.New[Model]("model")

// Register adds a model to the zoo under name; the model files register
// theirs from init functions. It panics when the name is empty or taken or
// the model is incomplete (programmer errors).
func Register(name string, m Model) {
	if m.Build == nil || len(m.Input) == 0 || !slices.Contains(nn.InitNames, m.Init) {
		panic("zoo: model " + name + ": incomplete Model")
	}
	models.Register(name, m)
}

// Names lists the registered model names, sorted.
func Names() []string { return models.Names() }

// DefaultInit returns the default initializer of a model's family, or ""
// for an unknown name:
//
//	mlp, lenet-300-100, conv2/4/6  glorot_normal   (LTH paper, Figure 2: "Gaussian Glorot")
//	lenet5                         torch_default   (GraNet/sparselearning keep PyTorch's defaults)
//	vgg*, resnet*                  kaiming_normal  (open_lth presets, model_init='kaiming_normal')
func DefaultInit(name string) string {
	m, _ := models.Lookup(name)
	return m.Init
}

// Build builds and validates the architecture registered under name.
// Errors name the model; an unknown name is a *registry.UnknownError that
// lists the registered ones and suggests the closest.
func Build(name string, o Options) (*nn.Arch, error) {
	spec, err := models.Get(name)
	if err != nil {
		return nil, err
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

// shapeSize is the number of entries of one example of shape s.
func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// scaleWidth applies a width multiplier to a channel count or hidden width.
func scaleWidth(c int, m float64) int {
	return max(1, int(math.Round(float64(c)*m)))
}

// batchNormOption resolves Options.BatchNorm against a family default
// and the values the family supports.
func batchNormOption(o Options, def, canOn, canOff bool) (bool, error) {
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
func rejectOptions(o Options, widths, shortcut bool) error {
	if widths && len(o.Widths) > 0 {
		return fmt.Errorf("widths %v: only mlp, resmlp and grokking-mlp take widths", o.Widths)
	}
	if shortcut && o.Shortcut != "" {
		return fmt.Errorf("shortcut %q: only resnets take a shortcut type", o.Shortcut)
	}
	return nil
}

// newBatchNorm returns a BatchNorm with PyTorch's defaults (eps 1e-5,
// momentum 0.1).
func newBatchNorm(name string, c int) nn.BatchNorm {
	return nn.BatchNorm{Name: name, C: c, Eps: 1e-5, Momentum: 0.1}
}
