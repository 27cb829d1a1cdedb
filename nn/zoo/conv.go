package zoo

// Small convolutional networks: LeNet-5-Caffe and the Conv-2/4/6 networks of
// the lottery ticket paper.
//
// lenet5 follows LeNet_5_Caffe of the sparselearning package that GraNet and
// ITOP vendor (code: Shiweiliuiiiiiii/GraNet: sparselearning/models.py,
// "based on mi-lad/snip train.py"): conv1 20 5×5 without padding, ReLU, max-pool 2/2,
// conv2 50 5×5, ReLU, max-pool 2/2, Flatten, fc3 500, ReLU, fc4; every layer
// has a bias. On [1 28 28] that is
// 20·25 + 50·20·25 + 800·500 + 500·10 = 430,500 weights and 580 biases.
// Caffe's own examples/mnist/lenet_train_test.prototxt has no ReLU after the
// two convolutions (its only ReLU follows ip1); the PyTorch ports used by
// SNIP, GraNet and ITOP add one after each convolution, and this zoo follows
// them.
// (ReLU and max-pooling commute, so the ReLU's place relative to the pool does
// not change the function.)
//
// conv2, conv4 and conv6 follow the lottery ticket paper (Frankle and Carbin,
// ICLR 2019, Figure 2 and Appendix;
// docs/methods/imp.md#conv-2-conv-4-conv-6): pairs of 3×3 convolutions with
// padding 1 and ReLU, a 2×2 max-pool after each pair, with 64, 128, 256
// channels for the first, second and third pair; then FC 256, ReLU, FC 256,
// ReLU, FC classes. Layers are conv1 … convN, fc(N+1), fc(N+2), fc(N+3), all
// with biases. On [3 32 32] the weight counts are Conv-2 4,300,992, Conv-4
// 2,425,024 and Conv-6 2,261,184 (the same page notes that the paper's
// Figure 2 lists 1.7M for Conv-6). With BatchNorm on, bnI follows convI
// (before its ReLU) and the convolutions keep their biases.

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

func init() {
	Register("lenet5", Model{Build: buildLeNet5, Input: []int{1, 28, 28}, Init: "torch_default"})
	for _, n := range []int{2, 4, 6} {
		Register(fmt.Sprintf("conv%d", n), Model{Build: convNBuilder(n), Input: []int{3, 32, 32}, Init: "glorot_normal"})
	}
}

// seqBuilder appends layers while tracking the per-example shape, so that
// the first linear layer can be sized from the input and shape errors are
// reported at the layer that causes them.
type seqBuilder struct {
	layers    []nn.Layer
	in, shape []int
	err       error
}

func newSeqBuilder(in []int) *seqBuilder { return &seqBuilder{in: in, shape: in} }

func (b *seqBuilder) add(ls ...nn.Layer) {
	for _, l := range ls {
		if b.err != nil {
			return
		}
		s, err := l.OutShape(b.shape)
		if err != nil {
			b.err = fmt.Errorf("input %v does not fit: %w", b.in, err)
			return
		}
		b.layers = append(b.layers, l)
		b.shape = s
	}
}

func (b *seqBuilder) channels() int {
	if len(b.shape) == 0 {
		return 0
	}
	return b.shape[0]
}

func (b *seqBuilder) arch() (*nn.Arch, error) {
	if b.err != nil {
		return nil, b.err
	}
	return &nn.Arch{Layers: b.layers}, nil
}

func requireImage(in []int) error {
	if len(in) != 3 {
		return fmt.Errorf("input shape %v: want an image [C H W]", in)
	}
	return nil
}

func buildLeNet5(o Options) (*nn.Arch, error) {
	if err := rejectOptions(o, true, true); err != nil {
		return nil, err
	}
	if _, err := batchNormOption(o, false, false, true); err != nil {
		return nil, err
	}
	if err := requireImage(o.Input); err != nil {
		return nil, err
	}
	m := o.WidthMultiplier
	c1, c2, f3 := scaleWidth(20, m), scaleWidth(50, m), scaleWidth(500, m)
	b := newSeqBuilder(o.Input)
	b.add(nn.Conv2d{Name: "conv1", In: o.Input[0], Out: c1, Kernel: 5, Stride: 1, Pad: 0, Bias: true}, nn.ReLU{}, nn.MaxPool2d{Kernel: 2, Stride: 2})
	b.add(nn.Conv2d{Name: "conv2", In: c1, Out: c2, Kernel: 5, Stride: 1, Pad: 0, Bias: true}, nn.ReLU{}, nn.MaxPool2d{Kernel: 2, Stride: 2})
	b.add(nn.Flatten{})
	if b.err == nil {
		b.add(nn.Linear{Name: "fc3", In: b.shape[0], Out: f3, Bias: true}, nn.ReLU{})
		b.add(nn.Linear{Name: "fc4", In: f3, Out: o.Classes, Bias: true})
	}
	return b.arch()
}

func convNBuilder(n int) Builder {
	return func(o Options) (*nn.Arch, error) {
		if err := rejectOptions(o, true, true); err != nil {
			return nil, err
		}
		bn, err := batchNormOption(o, false, true, true)
		if err != nil {
			return nil, err
		}
		if err := requireImage(o.Input); err != nil {
			return nil, err
		}
		m := o.WidthMultiplier
		b := newSeqBuilder(o.Input)
		idx := 0
		for _, c := range []int{64, 128, 256}[:n/2] {
			c = scaleWidth(c, m)
			for range 2 {
				idx++
				b.add(nn.Conv2d{Name: fmt.Sprintf("conv%d", idx), In: b.channels(), Out: c, Kernel: 3, Stride: 1, Pad: 1, Bias: true})
				if bn {
					b.add(newBatchNorm(fmt.Sprintf("bn%d", idx), c))
				}
				b.add(nn.ReLU{})
			}
			b.add(nn.MaxPool2d{Kernel: 2, Stride: 2})
		}
		b.add(nn.Flatten{})
		if b.err != nil {
			return nil, b.err
		}
		fc := scaleWidth(256, m)
		b.add(nn.Linear{Name: fmt.Sprintf("fc%d", n+1), In: b.shape[0], Out: fc, Bias: true}, nn.ReLU{})
		b.add(nn.Linear{Name: fmt.Sprintf("fc%d", n+2), In: fc, Out: fc, Bias: true}, nn.ReLU{})
		b.add(nn.Linear{Name: fmt.Sprintf("fc%d", n+3), In: fc, Out: o.Classes, Bias: true})
		return b.arch()
	}
}
