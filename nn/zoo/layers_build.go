package zoo

// Building an inline architecture (layers.go) on a data set's shape.
//
// Names follow the zoo's convention (zoo.go), so that an inline LeNet-5
// has LeNet-5's parameter names: weight layers and residual blocks are
// numbered together in order of depth from 1 with a prefix for their type
// (conv1, conv2, fc3, block4, fc5); a batchnorm takes the number of the
// weight layer it follows (bn1 follows conv1; bn0 before any); inside a
// block the body is numbered afresh under the block's name (block4.conv1,
// block4.bn1, block4.conv2) and the shortcut's layers are named by their
// index in it, as the CIFAR ResNets' projection (block4.shortcut.0,
// block4.shortcut.1). Names depend only on the list, so masks, checkpoints
// and exports of one spec always line up.
//
// Shapes: a residual block's body output must equal its shortcut's output,
// which for an empty (identity) shortcut is the block's input; a block that
// changes the shape needs a shortcut that changes it the same way (e.g. a
// 1×1 conv2d with the body's stride and out).

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// InlineName is the Arch.Name of an inline architecture, and the model a
// run of one reports in results.
const InlineName = "inline"

// InlineInit is the initializer of inline architectures when the spec sets
// none: PyTorch's defaults, what an nn.Sequential written by hand gets.
const InlineInit = "torch_default"

// BuildLayers builds and validates the architecture a layer list describes
// on per-example inputs of shape input with classes outputs. path names the
// list in errors ("model.layers"); an error names the layer (path[i]) and
// the shapes that do not fit.
func BuildLayers(path string, layers []LayerSpec, input []int, classes int) (*nn.Arch, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("%s: empty; list at least one layer", path)
	}
	ls, out, err := buildSeq(path, "", false, layers, input, "the input")
	if err != nil {
		return nil, err
	}
	if !slices.Equal(out, []int{classes}) {
		hint := ""
		if len(out) != 1 {
			hint = " (end with flatten and linear)"
		}
		return nil, fmt.Errorf("%s: the last layer gives %v, want [%d] for the data set's %d classes%s", path, out, classes, classes, hint)
	}
	a := &nn.Arch{Name: InlineName, Input: slices.Clone(input), Classes: classes, Layers: ls}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// buildSeq builds one sequence of layers on input shape in. prefix starts
// every name; byIndex names parameter layers prefix+index (a shortcut)
// rather than by type and depth. from says what gives the first layer its
// input, for errors.
func buildSeq(path, prefix string, byIndex bool, specs []LayerSpec, in []int, from string) ([]nn.Layer, []int, error) {
	var out []nn.Layer
	shape := in
	depth := 0
	bns := map[int]bool{}
	for i, l := range specs {
		p := fmt.Sprintf("%s[%d]", path, i)
		name := func(kind string, n int) string {
			if byIndex {
				return fmt.Sprintf("%s%d", prefix, i)
			}
			return fmt.Sprintf("%s%s%d", prefix, kind, n)
		}
		var layer nn.Layer
		switch l.Type {
		case "conv2d":
			if len(shape) != 3 {
				return nil, nil, fmt.Errorf("%s: conv2d expects an image [C H W], %s gives %v", p, from, shape)
			}
			if l.In > 0 && l.In != shape[0] {
				return nil, nil, fmt.Errorf("%s: conv2d expects %d input channels, %s gives %d", p, l.In, from, shape[0])
			}
			if shape[1]+2*l.Pad < l.Kernel || shape[2]+2*l.Pad < l.Kernel {
				return nil, nil, fmt.Errorf("%s: conv2d kernel %d is larger than the %d×%d input (with padding %d) that %s gives", p, l.Kernel, shape[1], shape[2], l.Pad, from)
			}
			depth++
			layer = nn.Conv2d{Name: name("conv", depth), In: shape[0], Out: l.Out, Kernel: l.Kernel, Stride: max(l.Stride, 1), Pad: l.Pad, Bias: !l.NoBias}
		case "linear":
			if len(shape) != 1 {
				return nil, nil, fmt.Errorf("%s: linear expects a vector, %s gives %v (add a flatten before it)", p, from, shape)
			}
			if l.In > 0 && l.In != shape[0] {
				return nil, nil, fmt.Errorf("%s: linear expects %d inputs, %s gives %d", p, l.In, from, shape[0])
			}
			depth++
			layer = nn.Linear{Name: name("fc", depth), In: shape[0], Out: l.Out, Bias: !l.NoBias}
		case "batchnorm":
			if len(shape) != 1 && len(shape) != 3 {
				return nil, nil, fmt.Errorf("%s: batchnorm expects a vector or an image [C H W], %s gives %v", p, from, shape)
			}
			if bns[depth] && !byIndex {
				return nil, nil, fmt.Errorf("%s: a second batchnorm after the same layer would also be named %q; put a conv2d or linear between them", p, name("bn", depth))
			}
			bns[depth] = true
			layer = newBatchNorm(name("bn", depth), shape[0])
		case "relu":
			layer = nn.ReLU{}
		case "dropout":
			layer = nn.Dropout{P: l.P}
		case "flatten":
			layer = nn.Flatten{}
		case "maxpool":
			if len(shape) != 3 {
				return nil, nil, fmt.Errorf("%s: maxpool expects an image [C H W], %s gives %v", p, from, shape)
			}
			if shape[1] < l.Kernel || shape[2] < l.Kernel {
				return nil, nil, fmt.Errorf("%s: maxpool kernel %d is larger than the %d×%d input that %s gives", p, l.Kernel, shape[1], shape[2], from)
			}
			layer = nn.MaxPool2d{Kernel: l.Kernel, Stride: cmp.Or(l.Stride, l.Kernel)}
		case "avgpool":
			if len(shape) != 3 {
				return nil, nil, fmt.Errorf("%s: avgpool expects an image [C H W], %s gives %v", p, from, shape)
			}
			layer = nn.GlobalAvgPool{}
		case "residual":
			depth++
			bname := name("block", depth)
			body, bout, err := buildSeq(p+".body", bname+".", false, l.Body, shape, "the block's input")
			if err != nil {
				return nil, nil, err
			}
			short, sout, err := buildSeq(p+".shortcut", bname+".shortcut.", true, l.Shortcut, shape, "the block's input")
			if err != nil {
				return nil, nil, err
			}
			if !slices.Equal(bout, sout) {
				what := "the shortcut gives"
				if len(l.Shortcut) == 0 {
					what = "the identity shortcut gives the input"
				}
				return nil, nil, fmt.Errorf("%s: the body gives %v, %s %v; they must match (a block that changes the shape needs a shortcut that changes it the same way)", p, bout, what, sout)
			}
			layer = nn.Residual{Name: bname, Body: body, Shortcut: short}
		default:
			return nil, nil, fmt.Errorf("%s: unknown type %q; want one of %s", p, l.Type, strings.Join(LayerTypes, ", "))
		}
		s, err := layer.OutShape(shape)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, layer)
		shape = s
		from = "the previous layer"
	}
	return out, shape, nil
}
