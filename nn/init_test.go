package nn

import (
	"math"
	"strings"
	"testing"
)

// fakeNet implements Net over plain slices, enough for Initialize. The
// embedded Net is nil: methods the tests do not need panic if called.
type fakeNet struct {
	Net
	arch   *Arch
	params []Param
}

type fakeParam struct {
	info ParamInfo
	vals []float32
}

func (p *fakeParam) Info() ParamInfo         { return p.info }
func (p *fakeParam) Values() []float32       { return p.vals }
func (p *fakeParam) SetValues(src []float32) { copy(p.vals, src) }
func (p *fakeParam) Grad() []float32         { return nil }

func newFakeNet(a *Arch) *fakeNet {
	n := &fakeNet{arch: a}
	for _, info := range a.Params() {
		n.params = append(n.params, &fakeParam{info: info, vals: make([]float32, info.Size())})
	}
	return n
}

func (n *fakeNet) Arch() *Arch     { return n.arch }
func (n *fakeNet) Params() []Param { return n.params }
func (n *fakeNet) Param(name string) Param {
	for _, p := range n.params {
		if p.Info().Name == name {
			return p
		}
	}
	return nil
}

func TestInitStatistics(t *testing.T) {
	// A 1000×500 linear weight: fan-in 500, fan-out 1000, 500,000 entries.
	// The relative standard error of a sample std is about 1/√(2N) = 0.1%,
	// so 1% is a loose tolerance; the mean must be within 5 standard
	// errors (5·σ/√N) of 0.
	info := ParamInfo{Name: "w.weight", Shape: []int{1000, 500}, Kind: Weight, FanIn: 500, FanOut: 1000}
	for _, tc := range []struct {
		scheme  string
		std     float64
		bound   float64 // 0 for normal distributions
		uniform bool
	}{
		{"kaiming_normal", math.Sqrt(2.0 / 500), 0, false},
		{"kaiming_uniform", math.Sqrt(6.0/500) / math.Sqrt(3), math.Sqrt(6.0 / 500), true},
		{"glorot_normal", math.Sqrt(2.0 / 1500), 0, false},
		{"glorot_uniform", math.Sqrt(6.0/1500) / math.Sqrt(3), math.Sqrt(6.0 / 1500), true},
		{"torch_default", 1 / math.Sqrt(3*500), 1 / math.Sqrt(500), true},
		{"lecun_normal", math.Sqrt(1.0 / 500), 0, false},
	} {
		dst := make([]float32, info.Size())
		if err := InitTensor(dst, info, tc.scheme, NewRand(1)); err != nil {
			t.Fatal(err)
		}
		var sum, sq, maxAbs float64
		within := 0
		for _, v := range dst {
			x := float64(v)
			sum += x
			sq += x * x
			maxAbs = math.Max(maxAbs, math.Abs(x))
			if math.Abs(x) <= tc.std {
				within++
			}
		}
		n := float64(len(dst))
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		if math.Abs(std/tc.std-1) > 0.01 {
			t.Errorf("%s: std %.6g, want %.6g ± 1%%", tc.scheme, std, tc.std)
		}
		if math.Abs(mean) > 5*tc.std/math.Sqrt(n) {
			t.Errorf("%s: mean %.3g, want |mean| < %.3g", tc.scheme, mean, 5*tc.std/math.Sqrt(n))
		}
		if got := InitStd(info, tc.scheme); math.Abs(got-tc.std) > 1e-12 {
			t.Errorf("InitStd(%s) = %v, want %v", tc.scheme, got, tc.std)
		}
		frac := float64(within) / n
		if tc.uniform {
			if maxAbs > tc.bound*(1+1e-6) || maxAbs < tc.bound*0.999 {
				t.Errorf("%s: max |w| = %.6g, want just below the bound %.6g", tc.scheme, maxAbs, tc.bound)
			}
			// P(|U(−b, b)| ≤ b/√3) = 1/√3.
			if math.Abs(frac-1/math.Sqrt(3)) > 0.005 {
				t.Errorf("%s: %.4f of entries within one std, want %.4f", tc.scheme, frac, 1/math.Sqrt(3))
			}
		} else if math.Abs(frac-0.682689) > 0.005 {
			// A normal, not a truncated one: 68.27% within one std.
			t.Errorf("%s: %.4f of entries within one std, want 0.6827", tc.scheme, frac)
		}
	}
}

func TestInitConvFans(t *testing.T) {
	// Conv fans include the kernel area: 64×32×3×3 has fan-in 288.
	a := &Arch{Name: "c", Input: []int{32, 8, 8}, Classes: 64, Layers: []Layer{
		Conv2d{Name: "conv", In: 32, Out: 64, Kernel: 3, Stride: 1, Pad: 1}, GlobalAvgPool{}}}
	info := a.Params()[0]
	dst := make([]float32, info.Size())
	if err := InitTensor(dst, info, "torch_default", NewRand(3)); err != nil {
		t.Fatal(err)
	}
	bound := 1 / math.Sqrt(288)
	for _, v := range dst {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("torch_default conv weight %v beyond 1/√288", v)
		}
	}
}

func TestInitErrors(t *testing.T) {
	net := newFakeNet(tinyArch())
	err := Initialize(net, "xavier", NewRand(1))
	if err == nil || !strings.Contains(err.Error(), "xavier") || !strings.Contains(err.Error(), "kaiming_normal") {
		t.Errorf("unknown scheme error = %v, want it to name the scheme and list InitNames", err)
	}
	info := tinyArch().Params()[0]
	if err := InitTensor(make([]float32, 3), info, "kaiming_normal", NewRand(1)); err == nil {
		t.Error("InitTensor accepted a buffer of the wrong length")
	}
	if err := InitTensor(make([]float32, info.Size()), info, "he", NewRand(1)); err == nil || !strings.Contains(err.Error(), "glorot_uniform") {
		t.Errorf("InitTensor unknown scheme error = %v", err)
	}
}

// TestInitSnipReference: TF's variance_scaling_initializer() at its
// defaults. On a 1000×500 weight (fan-in 500) the draws are cut at
// ±2σ with σ = √(1/500)/0.87962566, so that their std is √(1/500) (±1%);
// the largest |w| is just below 2σ; P(|z| < 1 given |z| < 2) =
// 0.682689/0.954500 = 0.71523 of them lie within ±σ; biases are zero.
func TestInitSnipReference(t *testing.T) {
	info := ParamInfo{Name: "w.weight", Shape: []int{1000, 500}, Kind: Weight, FanIn: 500, FanOut: 1000}
	dst := make([]float32, info.Size())
	if err := InitTensor(dst, info, "snip_reference", NewRand(1)); err != nil {
		t.Fatal(err)
	}
	want := math.Sqrt(1.0 / 500)
	sigma := want / 0.87962566103423978
	var sq, maxAbs float64
	within := 0
	for _, v := range dst {
		x := float64(v)
		sq += x * x
		maxAbs = math.Max(maxAbs, math.Abs(x))
		if math.Abs(x) < sigma {
			within++
		}
	}
	n := float64(len(dst))
	if std := math.Sqrt(sq / n); math.Abs(std/want-1) > 0.01 {
		t.Errorf("std %.6g, want %.6g ± 1%%", std, want)
	}
	if maxAbs >= 2*sigma*(1+1e-6) || maxAbs < 2*sigma*0.999 {
		t.Errorf("max |w| = %.6g, want just below 2σ = %.6g", maxAbs, 2*sigma)
	}
	if frac := float64(within) / n; math.Abs(frac-0.71523) > 0.005 {
		t.Errorf("%.4f of the entries within ±σ, want 0.7152", frac)
	}
	if got := InitStd(info, "snip_reference"); math.Abs(got-want) > 1e-12 {
		t.Errorf("InitStd = %v, want %v", got, want)
	}
	bias := []float32{1, 2, 3}
	if err := InitTensor(bias, ParamInfo{Name: "w.bias", Shape: []int{3}, Kind: Bias, FanIn: 500}, "snip_reference", NewRand(1)); err != nil || bias[0] != 0 || bias[1] != 0 || bias[2] != 0 {
		t.Errorf("bias %v (%v), want zeros", bias, err)
	}
}
