package nntest

import (
	"math"
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn"
)

// MLP is a 12-16-10-4 perceptron with biases and ReLU.
func MLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-mlp", Input: []int{12}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 12, Out: 16, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 16, Out: 10, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc3", In: 10, Out: 4, Bias: true},
	}}
}

// MaskMLP is the 2-layer perceptron (20-32-5) of the mask equivalence test,
// TestMaskPatterns (docs/methods/conventions.md#when-the-patterns-differ).
func MaskMLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-mask-mlp", Input: []int{20}, Classes: 5, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 20, Out: 32, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 32, Out: 5, Bias: true},
	}}
}

// ConvNet is a small conv net on 3×6×6 images: a convolution with bias,
// batch norm, ReLU and max pooling, a residual block with a strided body and
// an option-A (PadChannels) shortcut, a residual block with a 1×1
// convolution and an identity shortcut, then Flatten and a linear
// classifier.
func ConvNet() *nn.Arch {
	bn := func(name string, c int) nn.BatchNorm {
		return nn.BatchNorm{Name: name, C: c, Eps: 1e-5, Momentum: 0.1}
	}
	return &nn.Arch{Name: "nntest-conv", Input: []int{3, 6, 6}, Classes: 5, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 3, Out: 4, Kernel: 3, Stride: 1, Pad: 1, Bias: true},
		bn("bn1", 4), nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2}, // 4×3×3
		nn.Residual{Name: "block1",
			Body: []nn.Layer{
				nn.Conv2d{Name: "block1.conv1", In: 4, Out: 8, Kernel: 3, Stride: 2, Pad: 1}, // 8×2×2
				bn("block1.bn1", 8), nn.ReLU{},
				nn.Conv2d{Name: "block1.conv2", In: 8, Out: 8, Kernel: 3, Stride: 1, Pad: 1},
				bn("block1.bn2", 8),
			},
			Shortcut: []nn.Layer{nn.PadChannels{In: 4, Out: 8, Stride: 2}},
		},
		nn.ReLU{},
		nn.Residual{Name: "block2", Body: []nn.Layer{
			nn.Conv2d{Name: "block2.conv1", In: 8, Out: 8, Kernel: 1, Stride: 1, Bias: true},
			bn("block2.bn1", 8),
		}},
		nn.ReLU{},
		nn.Flatten{}, // 32
		nn.Linear{Name: "fc", In: 32, Out: 5, Bias: true},
	}}
}

// DropoutMLP is a 12-16-4 perceptron with dropout after the hidden layer.
func DropoutMLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-dropout-mlp", Input: []int{12}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 12, Out: 16, Bias: true}, nn.ReLU{},
		nn.Dropout{P: 0.25},
		nn.Linear{Name: "fc2", In: 16, Out: 4, Bias: true},
	}}
}

// DropoutConvNet is a small convolutional net with dropout on a 4-d
// activation (after the convolution's ReLU) and after the flatten: engines
// that lay activations out differently (NCHW, CNHW) must still drop the same
// units.
func DropoutConvNet() *nn.Arch {
	return &nn.Arch{Name: "nntest-dropout-conv", Input: []int{2, 5, 5}, Classes: 3, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 2, Out: 3, Kernel: 3, Stride: 1, Pad: 1, Bias: true},
		nn.ReLU{},
		nn.Dropout{P: 0.3},
		nn.Flatten{}, // 75
		nn.Dropout{P: 0.2},
		nn.Linear{Name: "fc", In: 75, Out: 3, Bias: true},
	}}
}

// NewRand returns the suite's deterministic source for a seed.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }

// SetRandom sets every parameter of net with SetValues, in canonical order,
// from rng: weights N(0, 2/fan_in), biases N(0, 0.1²), norm scales
// 1 + N(0, 0.2²), norm shifts N(0, 0.1²).
func SetRandom(net nn.Net, rng *rand.Rand) {
	for _, p := range net.Params() {
		info := p.Info()
		v := make([]float32, info.Size())
		for i := range v {
			z := rng.NormFloat64()
			switch info.Kind {
			case nn.Weight:
				v[i] = float32(z * math.Sqrt(2/float64(info.FanIn)))
			case nn.NormScale:
				v[i] = float32(1 + 0.2*z)
			default:
				v[i] = float32(0.1 * z)
			}
		}
		p.SetValues(v)
	}
}

// RandomBatch returns n examples of arch's input shape with N(0, 1) entries
// and uniform labels.
func RandomBatch(arch *nn.Arch, n int, rng *rand.Rand) nn.Batch {
	size := shapeSize(arch.Input)
	b := nn.Batch{X: make([]float32, n*size), Y: make([]int32, n), N: n}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = int32(rng.IntN(arch.Classes))
	}
	return b
}

// RandomMask returns a 0/1 mask of size entries that keeps each entry with
// probability density, and at least one.
func RandomMask(size int, density float64, rng *rand.Rand) []float32 {
	m := make([]float32, size)
	for i := range m {
		if rng.Float64() < density {
			m[i] = 1
		}
	}
	m[rng.IntN(size)] = 1
	return m
}
