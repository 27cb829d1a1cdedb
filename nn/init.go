package nn

// Initializers.
//
// The schemes reproduce PyTorch's torch.nn.init (code: pytorch/pytorch:
// torch/nn/init.py) and the layers' reset_parameters (torch/nn/modules/
// linear.py, conv.py, batchnorm.py) in distribution; the draws come from
// prunebench's own seeded generator, so values are identical on every
// engine but not to PyTorch's. With fan_in and fan_out as in ParamInfo
// (in·k·k and out·k·k for a convolution):
//
//	kaiming_normal   N(0, 2/fan_in)                kaiming_normal_(w), mode fan_in, ReLU gain √2 (open_lth's default)
//	kaiming_uniform  U(−√(6/fan_in), √(6/fan_in))  kaiming_uniform_(w), mode fan_in, ReLU gain
//	glorot_normal    N(0, 2/(fan_in+fan_out))      xavier_normal_(w), gain 1 (the LTH paper's "Gaussian Glorot")
//	glorot_uniform   U(±√(6/(fan_in+fan_out)))     xavier_uniform_(w), gain 1
//	torch_default    U(±1/√fan_in)                 Linear/Conv2d reset_parameters: kaiming_uniform_(w, a=√5)
//	lecun_normal     N(0, 1/fan_in)                normal_(w, std=1/√fan_in): Grokking Tickets' weight_scale 1 (gouki510/Grokking-Tickets: model.py)
//	snip_reference   N(0, σ²) cut at ±2σ, σ = √(1/fan_in)/0.8796…  SNIP's code (namhoonlee/snip-public): TF's variance_scaling_initializer()
//
// snip_reference is TensorFlow 1.x's tf.variance_scaling_initializer() at
// its defaults, which SNIP's reference code uses for every weight
// (snip/network.py get_initializer "vs"): scale 1, mode fan_in, a normal
// truncated at two standard deviations (a draw outside is drawn again),
// with σ divided by 0.87962566103423978, the standard deviation of a
// standard normal truncated to (−2, 2), so that the weights' standard
// deviation is √(1/fan_in). That division is the TensorFlow of late 2018
// (1.11 and 1.12; the reference asks for TensorFlow < 1.13); earlier
// releases drew with σ = √(1/fan_in) before truncation, a standard
// deviation 12% smaller. Its biases are zero, as the reference's trained
// biases are (--initializer_b_ap zeros).
//
// Biases: torch_default draws U(±1/√fan_in) as reset_parameters does; every
// other scheme sets biases to zero (open_lth instead leaves PyTorch's default
// bias in place; a reference mode that needs that can call InitTensor with
// torch_default for biases). Normalization scales are 1 and shifts 0 under
// every scheme (BatchNorm reset_parameters; open_lth's presets use
// batchnorm_init='uniform', U(0, 1) scales, which is not reproduced here).
//
// Draws happen in canonical parameter order and row-major order within a
// tensor, one draw per entry (normal draws use rand.Rand.NormFloat64, uniform
// draws Float64), and nothing is drawn for zero biases or norm parameters, so
// a seed determines every engine's weights bit for bit.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// InitNames lists the accepted initializer names.
var InitNames = []string{"kaiming_normal", "kaiming_uniform", "glorot_normal", "glorot_uniform", "torch_default", "snip_reference", "lecun_normal"}

func validInit(scheme string) bool {
	for _, n := range InitNames {
		if n == scheme {
			return true
		}
	}
	return false
}

// Initialize sets every parameter of net with InitTensor, in canonical
// order, writing through Param.SetValues.
func Initialize(net Net, scheme string, rng *rand.Rand) error {
	if !validInit(scheme) {
		return fmt.Errorf("initializer %q: want one of %s", scheme, strings.Join(InitNames, ", "))
	}
	for _, p := range net.Params() {
		info := p.Info()
		buf := make([]float32, info.Size())
		if err := InitTensor(buf, info, scheme, rng); err != nil {
			return err
		}
		p.SetValues(buf)
	}
	return nil
}

// InitTensor fills dst (of length info.Size()) with the initial values of
// one parameter under scheme, drawing from rng. Controls that reinitialize
// a subset of tensors (random reinit, Scratch-E/B) use it directly.
func InitTensor(dst []float32, info ParamInfo, scheme string, rng *rand.Rand) error {
	if !validInit(scheme) {
		return fmt.Errorf("initializer %q: want one of %s", scheme, strings.Join(InitNames, ", "))
	}
	if len(dst) != info.Size() {
		return fmt.Errorf("initializing %s: buffer of %d values, want %d", info.Name, len(dst), info.Size())
	}
	switch info.Kind {
	case NormScale:
		fill(dst, 1)
		return nil
	case NormShift:
		fill(dst, 0)
		return nil
	case Bias:
		if scheme != "torch_default" {
			fill(dst, 0)
			return nil
		}
		if info.FanIn < 1 {
			return fmt.Errorf("initializing %s: fan-in %d", info.Name, info.FanIn)
		}
		uniform(dst, 1/math.Sqrt(float64(info.FanIn)), rng)
		return nil
	case Weight:
	default:
		return fmt.Errorf("initializing %s: unknown parameter kind %v", info.Name, info.Kind)
	}
	if info.FanIn < 1 || info.FanOut < 1 {
		return fmt.Errorf("initializing %s: fan-in %d, fan-out %d, want ≥ 1", info.Name, info.FanIn, info.FanOut)
	}
	fanIn, fanSum := float64(info.FanIn), float64(info.FanIn+info.FanOut)
	switch scheme {
	case "kaiming_normal":
		normal(dst, math.Sqrt(2/fanIn), rng)
	case "kaiming_uniform":
		uniform(dst, math.Sqrt(6/fanIn), rng)
	case "glorot_normal":
		normal(dst, math.Sqrt(2/fanSum), rng)
	case "glorot_uniform":
		uniform(dst, math.Sqrt(6/fanSum), rng)
	case "torch_default":
		uniform(dst, 1/math.Sqrt(fanIn), rng)
	case "lecun_normal":
		normal(dst, math.Sqrt(1/fanIn), rng)
	case "snip_reference":
		truncNormal(dst, math.Sqrt(1/fanIn)/truncStd2, rng)
	}
	return nil
}

// truncStd2 is the standard deviation of a standard normal truncated to
// (−2, 2): scipy.stats.truncnorm.std(-2, 2).
const truncStd2 = 0.87962566103423978

// truncNormal draws N(0, std²) truncated to (−2·std, 2·std), drawing again
// any value outside, as TensorFlow's truncated_normal does.
func truncNormal(dst []float32, std float64, rng *rand.Rand) {
	for i := range dst {
		z := rng.NormFloat64()
		for math.Abs(z) >= 2 {
			z = rng.NormFloat64()
		}
		dst[i] = float32(std * z)
	}
}

// InitStd returns the standard deviation of a weight's distribution under a
// scheme (bound/√3 for the uniform ones), or 0 for an unknown scheme or a
// parameter that is not a weight.
func InitStd(info ParamInfo, scheme string) float64 {
	if info.Kind != Weight || info.FanIn < 1 {
		return 0
	}
	fanIn, fanSum := float64(info.FanIn), float64(info.FanIn+info.FanOut)
	switch scheme {
	case "kaiming_normal", "kaiming_uniform":
		return math.Sqrt(2 / fanIn)
	case "glorot_normal", "glorot_uniform":
		return math.Sqrt(2 / fanSum)
	case "torch_default":
		return 1 / math.Sqrt(3*fanIn)
	case "snip_reference", "lecun_normal":
		return math.Sqrt(1 / fanIn)
	}
	return 0
}

func fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}

func normal(dst []float32, std float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32(std * rng.NormFloat64())
	}
}

// uniform draws U(−bound, bound) as bound·(2u − 1) with u = rng.Float64().
func uniform(dst []float32, bound float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32(bound * (2*rng.Float64() - 1))
	}
}
