package zoo

// CIFAR ResNets.
//
// Source: He, Zhang, Ren and Sun, "Deep Residual Learning for Image
// Recognition" (CVPR 2016), §4.2: a 3×3 convolution with 16 filters, then
// three stages of n basic blocks with 16, 32 and 64 filters (depth 6n + 2),
// the first block of stages 2 and 3 subsampling with stride 2, global average
// pooling and a fully connected layer; shortcuts are identities, with option
// A (zero-padded channels, no parameters) where the shape changes. The block
// (docs/methods/layer.md#blocks-and-stages) is
// conv 3×3 → BN → ReLU → conv 3×3 → BN, plus the shortcut, an addition and
// a ReLU; convolutions have no bias. Layer names follow the common PyTorch
// implementation (akamaster/pytorch_resnet_cifar10: resnet.py) with the
// output layer called fc as in open_lth:
//
//	conv1, bn1                                  stem
//	layerS.B.conv1, layerS.B.bn1,
//	layerS.B.conv2, layerS.B.bn2                block B (from 0) of stage S (from 1)
//	layerS.0.shortcut.0, layerS.0.shortcut.1    option B projection: 1×1 conv stride 2, BN
//	fc                                          Linear 4W → classes, with bias
//
// Each block is a Residual named layerS.B followed by a ReLU. Option B is
// open_lth's shortcut (code: facebookresearch/open_lth: models/cifar_resnet.py,
// Block); option A uses PadChannels. Counts on [3 32 32] with 10 classes
// (derived; pinned in zoo_test.go): ResNet-20 269,722 parameters with option
// A (268,336 prunable weights) and 272,474 with option B (270,896 weights:
// the lottery ticket paper's "271K"); ResNet-32 464,154; ResNet-56 853,018.

import (
	"fmt"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

func init() {
	for _, depth := range []int{20, 32, 44, 56, 110} {
		Register(fmt.Sprintf("resnet%d", depth), Model{Build: resnetBuilder((depth - 2) / 6), Input: []int{3, 32, 32}, Init: "kaiming_normal"})
	}
}

// ShortcutNames lists the accepted Options.Shortcut values ("" is A).
var ShortcutNames = []string{"A", "B"}

func resnetBuilder(n int) Builder {
	return func(o Options) (*nn.Arch, error) {
		if err := rejectOptions(o, true, false); err != nil {
			return nil, err
		}
		if _, err := batchNormOption(o, true, true, false); err != nil {
			return nil, err
		}
		shortcut := o.Shortcut
		switch shortcut {
		case "":
			shortcut = "A"
		case "A", "B":
		default:
			return nil, fmt.Errorf("shortcut %q: want one of %s", o.Shortcut, strings.Join(ShortcutNames, ", "))
		}
		if err := requireImage(o.Input); err != nil {
			return nil, err
		}
		w := scaleWidth(16, o.WidthMultiplier)
		b := newSeqBuilder(o.Input)
		b.add(nn.Conv2d{Name: "conv1", In: o.Input[0], Out: w, Kernel: 3, Stride: 1, Pad: 1}, newBatchNorm("bn1", w), nn.ReLU{})
		in := w
		for s, out := range []int{w, 2 * w, 4 * w} {
			for blk := range n {
				stride := 1
				if s > 0 && blk == 0 {
					stride = 2
				}
				name := fmt.Sprintf("layer%d.%d", s+1, blk)
				r := nn.Residual{Name: name, Body: []nn.Layer{
					nn.Conv2d{Name: name + ".conv1", In: in, Out: out, Kernel: 3, Stride: stride, Pad: 1},
					newBatchNorm(name+".bn1", out),
					nn.ReLU{},
					nn.Conv2d{Name: name + ".conv2", In: out, Out: out, Kernel: 3, Stride: 1, Pad: 1},
					newBatchNorm(name+".bn2", out),
				}}
				if stride != 1 || in != out {
					if shortcut == "A" {
						r.Shortcut = []nn.Layer{nn.PadChannels{In: in, Out: out, Stride: stride}}
					} else {
						r.Shortcut = []nn.Layer{
							nn.Conv2d{Name: name + ".shortcut.0", In: in, Out: out, Kernel: 1, Stride: stride, Pad: 0},
							newBatchNorm(name+".shortcut.1", out),
						}
					}
				}
				b.add(r, nn.ReLU{})
				in = out
			}
		}
		b.add(nn.GlobalAvgPool{})
		b.add(nn.Linear{Name: "fc", In: in, Out: o.Classes, Bias: true})
		return b.arch()
	}
}
