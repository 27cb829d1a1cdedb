package zoo

// CIFAR VGG networks.
//
// Source: open_lth's CIFAR VGG (code: facebookresearch/open_lth:
// models/cifar_vgg.py), which the lottery ticket paper's VGG-19 row follows
// (docs/methods/imp.md#paper-and-reference-hyperparameters: "2×64, pool,
// 2×128, pool, 4×256, pool, 4×512, pool, 4×512; avg-pool, FC 10"). Each plan
// entry is a ConvModule: a 3×3 convolution with padding 1 and a bias
// (open_lth keeps PyTorch's default bias=True although a batch norm follows),
// BatchNorm, ReLU; "M" is a 2×2 max-pool. The plans (open_lth
// get_model_from_name):
//
//	vgg11  64 M 128 M 256 256 M 512 512 M 512 512
//	vgg13  64 64 M 128 128 M 256 256 M 512 512 M 512 512
//	vgg16  64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512
//	vgg19  64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512
//
// After the last stage open_lth applies AvgPool2d(2) to its 2×2 map (on
// 32×32 inputs) and a single Linear 512 → classes named fc. This zoo uses
// GlobalAvgPool instead, which is the same operation on 32×32 inputs and
// extends to other input sizes. Layers are named conv1 … convK, bn1 … bnK
// (bnI follows convI) and fc. With BatchNorm off the modules are conv+ReLU
// (convolutions keep their biases).
//
// Counts on [3 32 32] with 10 classes (derived; pinned in zoo_test.go):
// VGG-19 has 20,024,000 weights (the paper's "20M") and 20,040,522
// parameters; VGG-16 14,715,584 weights, 14,728,266 parameters.

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

var vggPlans = map[int][]int{
	11: {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512},
	13: {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512},
	16: {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512},
	19: {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512},
}

func init() {
	for _, d := range []int{11, 13, 16, 19} {
		Register(fmt.Sprintf("vgg%d", d), Model{Build: vggBuilder(vggPlans[d]), Input: []int{3, 32, 32}, Init: "kaiming_normal"})
	}
}

// vggBuilder builds a VGG from a plan in which 0 stands for a max-pool.
func vggBuilder(plan []int) Builder {
	return func(o Options) (*nn.Arch, error) {
		if err := rejectOptions(o, true, true); err != nil {
			return nil, err
		}
		bn, err := batchNormOption(o, true, true, true)
		if err != nil {
			return nil, err
		}
		if err := requireImage(o.Input); err != nil {
			return nil, err
		}
		b := newSeqBuilder(o.Input)
		idx := 0
		for _, c := range plan {
			if c == 0 {
				b.add(nn.MaxPool2d{Kernel: 2, Stride: 2})
				continue
			}
			idx++
			c = scaleWidth(c, o.WidthMultiplier)
			b.add(nn.Conv2d{Name: fmt.Sprintf("conv%d", idx), In: b.channels(), Out: c, Kernel: 3, Stride: 1, Pad: 1, Bias: true})
			if bn {
				b.add(newBatchNorm(fmt.Sprintf("bn%d", idx), c))
			}
			b.add(nn.ReLU{})
		}
		b.add(nn.GlobalAvgPool{})
		b.add(nn.Linear{Name: "fc", In: b.channels(), Out: o.Classes, Bias: true})
		return b.arch()
	}
}
