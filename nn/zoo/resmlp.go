package zoo

// Residual MLP: the fully connected proxy of the CIFAR ResNets for layer
// pruning on MNIST (docs/methods/layer.md#the-resmlp-model).
//
// It is the ResNet of resnet.go with every 3×3 convolution replaced by
// a Linear layer and the images flattened: a stem, then stages of
// equal-width residual blocks
//
//	Linear → BN → ReLU → Linear → BN, identity shortcut, add, ReLU
//
// where the first block of every stage after the first is a projection block:
// its first Linear changes the width and its shortcut is a Linear (no bias)
// followed by BN, open_lth's option-B shortcut without the stride. Stages
// start with a projection block even when two consecutive widths are equal,
// so that the stage structure (which blocks may be removed,
// docs/methods/layer.md#removability) never depends on the widths. Linear
// layers followed by batch norm have no bias, as the ResNets' convolutions.
// Names follow the ResNets with fc for conv:
//
//	fc1, bn1                                    stem: Flatten, Linear in → W1, BN, ReLU
//	layerS.B.fc1, layerS.B.bn1,
//	layerS.B.fc2, layerS.B.bn2                  block B (from 0) of stage S (from 1)
//	layerS.0.shortcut.0, layerS.0.shortcut.1    projection shortcut of stages S ≥ 2: Linear, BN
//	fc                                          Linear W_last → classes, with bias
//
// Options.Widths are the stage widths (default 64, 128, 256: the
// ResNets' 16/32/64 doubling, four times wider); the width multiplier
// scales them. Each stage has ResMLPBlocks blocks. On [1 28 28] with 10
// classes the default has 922,762 parameters and 912,896 weights, which are
// also its FLOPs (derived; pinned in resmlp_test.go).

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// ResMLPBlocks is the number of residual blocks per stage of resmlp (the
// 3 × 5 blocks of docs/methods/layer.md#the-resmlp-model, the block count
// of ResNet-32).
const ResMLPBlocks = 5

func init() {
	Register("resmlp", Model{Build: buildResMLP, Input: []int{1, 28, 28}, Init: "kaiming_normal"})
}

func buildResMLP(o Options) (*nn.Arch, error) {
	if o.Shortcut != "" {
		return nil, fmt.Errorf("shortcut %q: resmlp's stages always start with a Linear projection; only resnets take a shortcut type", o.Shortcut)
	}
	if _, err := batchNormOption(o, true, true, false); err != nil {
		return nil, err
	}
	widths := o.Widths
	if len(widths) == 0 {
		widths = []int{64, 128, 256}
	}
	for i, w := range widths {
		if w < 1 {
			return nil, fmt.Errorf("widths %v: stage %d has width %d, want ≥ 1", widths, i+1, w)
		}
	}
	in := shapeSize(o.Input)
	w1 := scaleWidth(widths[0], o.WidthMultiplier)
	b := newSeqBuilder(o.Input)
	b.add(nn.Flatten{}, nn.Linear{Name: "fc1", In: in, Out: w1}, newBatchNorm("bn1", w1), nn.ReLU{})
	in = w1
	for s, w := range widths {
		out := scaleWidth(w, o.WidthMultiplier)
		for blk := range ResMLPBlocks {
			name := fmt.Sprintf("layer%d.%d", s+1, blk)
			r := nn.Residual{Name: name, Body: []nn.Layer{
				nn.Linear{Name: name + ".fc1", In: in, Out: out},
				newBatchNorm(name+".bn1", out),
				nn.ReLU{},
				nn.Linear{Name: name + ".fc2", In: out, Out: out},
				newBatchNorm(name+".bn2", out),
			}}
			if s > 0 && blk == 0 {
				r.Shortcut = []nn.Layer{
					nn.Linear{Name: name + ".shortcut.0", In: in, Out: out},
					newBatchNorm(name+".shortcut.1", out),
				}
			}
			b.add(r, nn.ReLU{})
			in = out
		}
	}
	b.add(nn.Linear{Name: "fc", In: in, Out: o.Classes, Bias: true})
	return b.arch()
}
