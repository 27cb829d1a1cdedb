package share

import (
	"fmt"
	"math"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// Per-layer scale λ_ℓ (docs/methods/rps.md#scales-and-initialization). z is
// drawn U(−a, a) with a = Config.InitStd and λ_ℓ = σ_ℓ / a, so that the
// function at initialization does not depend on a: w = σ_ℓ · g · u with
// u = z/a uniform on (−1, 1). The virtual weights then start with std
// σ_ℓ/√3, √3 below the dense layer's; MatchInitStd multiplies λ by √3 to
// remove that gap.

// ScaleFromInit is the clean λ_ℓ = σ_ℓ / a (× √3 with match), σ_ℓ the
// analytic std of the weight's initializer (nn.InitStd: bound/√3 for the
// uniform schemes), so that no dense tensor is drawn.
func ScaleFromInit(p nn.ParamInfo, scheme string, a float64, match bool) (float64, error) {
	sigma := nn.InitStd(p, scheme)
	if !(sigma > 0) {
		return 0, fmt.Errorf("rps scale of %s: initializer %q gives no std for a %v of fan-in %d; want one of %s on a weight", p.Name, scheme, p.Kind, p.FanIn, strings.Join(nn.InitNames, ", "))
	}
	return scaleOf(sigma, a, match)
}

// ScaleFromWeights is the reference λ_ℓ = std(w) / a (× √3 with match),
// std the sample standard deviation of the layer's actually initialized
// dense weight, torch.std's unbiased estimator (code: FakeRoastUtil_v2.py,
// req_scale = torch.std(target_attr.weight)).
func ScaleFromWeights(name string, w []float32, a float64, match bool) (float64, error) {
	if len(w) < 2 {
		return 0, fmt.Errorf("rps scale of %s: %d values, want at least 2 for a sample std", name, len(w))
	}
	sigma := SampleStd(w)
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return 0, fmt.Errorf("rps scale of %s: sample std %v, want a finite value > 0 (is the weight initialized?)", name, sigma)
	}
	return scaleOf(sigma, a, match)
}

// SampleStd is the unbiased sample standard deviation (denominator n − 1),
// accumulated in float64 with the mean subtracted first.
func SampleStd(w []float32) float64 {
	if len(w) < 2 {
		return 0
	}
	var mean float64
	for _, v := range w {
		mean += float64(v)
	}
	mean /= float64(len(w))
	var ss float64
	for _, v := range w {
		d := float64(v) - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(w)-1))
}

func scaleOf(sigma, a float64, match bool) (float64, error) {
	if !(a > 0) || math.IsInf(a, 0) {
		return 0, fmt.Errorf("rps.init_std = %v: want a finite value > 0", a)
	}
	l := sigma / a
	if match {
		l *= math.Sqrt(3)
	}
	return l, nil
}

// ScalesFromInit returns ScaleFromInit for every shared tensor of mp, with
// the mapper's InitStd and MatchInitStd.
func (mp *Mapper) ScalesFromInit(scheme string) ([]float64, error) {
	out := make([]float64, len(mp.layers))
	for l := range mp.layers {
		s, err := ScaleFromInit(mp.layers[l].info.Tensor.Param, scheme, mp.cfg.InitStd, mp.cfg.MatchInitStd)
		if err != nil {
			return nil, err
		}
		out[l] = s
	}
	return out, nil
}
