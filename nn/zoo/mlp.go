package zoo

// Fully connected networks.
//
// Sources: LeNet-300-100 as in the lottery ticket paper (Frankle and Carbin,
// "The Lottery Ticket Hypothesis", ICLR 2019, §2 and Figure 2: FC 300, 100,
// 10 with ReLU, 266K weights) and open_lth's models/mnist_lenet.py (Flatten,
// then Linear+ReLU per hidden width, then a linear output layer; every
// Linear has a bias).
//
// Shapes: Flatten; fc1 … fcK Linear with bias, each followed by ReLU (and by
// BatchNorm before the ReLU when asked for: bnI follows fcI); fc(K+1) the
// output layer. LeNet-300-100 on [1 28 28] has 784·300 + 300·100 + 100·10 =
// 266,200 weights and 410 biases (docs/methods/imp.md#remaining-weights).

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

func init() {
	Register("mlp", Model{Build: buildMLP, Input: []int{1, 28, 28}, Init: "glorot_normal"})
	Register("lenet-300-100", Model{Build: buildLeNet300100, Input: []int{1, 28, 28}, Init: "glorot_normal"})
}

func buildMLP(o Options) (*nn.Arch, error) {
	if err := rejectOptions(o, false, true); err != nil {
		return nil, err
	}
	bn, err := batchNormOption(o, false, true, true)
	if err != nil {
		return nil, err
	}
	widths := o.Widths
	if len(widths) == 0 {
		widths = []int{300, 100}
	}
	for i, w := range widths {
		if w < 1 {
			return nil, fmt.Errorf("widths %v: hidden width %d is %d, want ≥ 1", widths, i+1, w)
		}
	}
	return mlpArch(o, widths, bn), nil
}

func buildLeNet300100(o Options) (*nn.Arch, error) {
	if err := rejectOptions(o, true, true); err != nil {
		return nil, err
	}
	if _, err := batchNormOption(o, false, false, true); err != nil {
		return nil, err
	}
	// The name promises 784-300-100-10; other inputs are an "mlp".
	if shapeSize(o.Input) != 784 {
		return nil, fmt.Errorf("input shape %v has %d features, want 784 (MNIST 1×28×28); use model mlp for other inputs", o.Input, shapeSize(o.Input))
	}
	return mlpArch(o, []int{300, 100}, false), nil
}

func mlpArch(o Options, widths []int, bn bool) *nn.Arch {
	layers := []nn.Layer{nn.Flatten{}}
	in := shapeSize(o.Input)
	for i, w := range widths {
		w = scaleWidth(w, o.WidthMultiplier)
		layers = append(layers, nn.Linear{Name: fmt.Sprintf("fc%d", i+1), In: in, Out: w, Bias: true})
		if bn {
			layers = append(layers, newBatchNorm(fmt.Sprintf("bn%d", i+1), w))
		}
		layers = append(layers, nn.ReLU{})
		in = w
	}
	layers = append(layers, nn.Linear{Name: fmt.Sprintf("fc%d", len(widths)+1), In: in, Out: o.Classes, Bias: true})
	return &nn.Arch{Layers: layers}
}
