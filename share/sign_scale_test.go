package share

import (
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// Signs are the top bit of SplitMix64(seed ⊕ L). Known answers of
// SplitMix64: the finalizer of 0 is 0xe220a8397b1dcdaf (top bit 1 → −1),
// that of the golden gamma 0x6e789e6aa1b965f4 (top bit 0 → +1); these are
// the first two outputs of the reference splitmix64 generator seeded 0.
func TestSignKnownAnswers(t *testing.T) {
	if got := signOf(0, 0); got != -1 {
		t.Errorf("sign(seed 0, L 0) = %v, want −1", got)
	}
	if got := signOf(5, 5); got != -1 {
		t.Errorf("sign(seed 5, L 5) = %v, want −1 (seed ⊕ L = 0)", got)
	}
	if got := signOf(0x9e3779b97f4a7c15, 0); got != 1 {
		t.Errorf("sign(seed γ, L 0) = %v, want +1", got)
	}
}

// Signs are ±1, balanced, not tied to h, and independent of the mapper:
// the same seed gives the same signs under every mapper and ratio.
func TestSignsBalancedAndMapperIndependent(t *testing.T) {
	ts := []Tensor{lin("fc1", 300, 784), lin("fc2", 100, 300)}
	ref := mustMapper(t, ts, Config{Mapper: HashedNet, Ratio: 0.01, Seed: 3})
	var plus, agree float64
	n := 0
	for l := range ref.NumLayers() {
		s := tables(ref.Shared(l, 1))
		for i, g := range s.Sign {
			if g != 1 && g != -1 {
				t.Fatalf("sign %v", g)
			}
			if g == 1 {
				plus++
			}
			if (g == 1) == (s.Index[i]%2 == 0) {
				agree++
			}
			n++
		}
	}
	// Binomial(n, ½): 5 standard deviations.
	tol := 5 * math.Sqrt(float64(n)) / 2
	if math.Abs(plus-float64(n)/2) > tol || math.Abs(agree-float64(n)/2) > tol {
		t.Errorf("%v of %d signs +1, %v agree with the parity of h; want %d ± %.0f", plus, n, agree, n/2, tol)
	}
	for _, cfg := range []Config{{Mapper: Pareto, Ratio: 0.5, Seed: 3}, {Mapper: ROAST, Ratio: 0.2, BlockK: 8, BlockN: 8, Seed: 3, Scope: "local"}} {
		mp := mustMapper(t, ts, cfg)
		for l := range mp.NumLayers() {
			for _, i := range []int{0, 1, 777, mp.Layer(l).Tensor.Size() - 1} {
				if a, b := mp.Sign(l, i), ref.Sign(l, i); a != b {
					t.Fatalf("%s: sign(%d, %d) = %v, hashednet gives %v", cfg.Mapper, l, i, a, b)
				}
			}
		}
	}
}

// λ = σ/a by hand: LeNet's fc1 (784 → 300) under glorot_normal has
// σ = √(2/1084); torch_default has σ = bound/√3 = 1/√(3·784).
func TestScaleFromInit(t *testing.T) {
	p := lin("fc1", 300, 784).Param
	for _, c := range []struct {
		scheme string
		a      float64
		match  bool
		want   float64
	}{
		{"glorot_normal", 0.04, false, math.Sqrt(2.0/1084) / 0.04},
		{"glorot_normal", 0.04, true, math.Sqrt(2.0/1084) / 0.04 * math.Sqrt(3)},
		{"torch_default", 0.05, false, 1 / math.Sqrt(3*784) / 0.05},
		{"kaiming_uniform", 1, false, math.Sqrt(2.0 / 784)},
	} {
		got, err := ScaleFromInit(p, c.scheme, c.a, c.match)
		if err != nil || math.Abs(got-c.want) > 1e-12*c.want {
			t.Errorf("%s a=%v match=%v: λ = %v (%v), want %v", c.scheme, c.a, c.match, got, err, c.want)
		}
	}
	// The initial virtual weights have std λ·a/√3 = σ/√3, whatever a is.
	for _, a := range []float64{1e-3, 1} {
		l, _ := ScaleFromInit(p, "glorot_normal", a, false)
		if got, want := l*a/math.Sqrt(3), math.Sqrt(2.0/1084)/math.Sqrt(3); math.Abs(got-want) > 1e-15 {
			t.Errorf("a = %v: initial std %v, want %v", a, got, want)
		}
	}
	bias := nn.ParamInfo{Name: "fc1.bias", Shape: []int{300}, Kind: nn.Bias, FanIn: 784}
	if _, err := ScaleFromInit(bias, "glorot_normal", 0.04, false); err == nil {
		t.Error("a bias got a scale")
	}
	if _, err := ScaleFromInit(p, "he", 0.04, false); err == nil {
		t.Error("unknown initializer accepted")
	}
	if _, err := ScaleFromInit(p, "glorot_normal", 0, false); err == nil {
		t.Error("a = 0 accepted")
	}
}

// The reference scale uses torch.std: the unbiased sample std. For
// [1, 2, 3, 4]: mean 2.5, squares 2.25 + 0.25 + 0.25 + 2.25 = 5, std √(5/3).
func TestScaleFromWeights(t *testing.T) {
	got, err := ScaleFromWeights("fc1.weight", []float32{1, 2, 3, 4}, 0.5, false)
	if want := math.Sqrt(5.0/3) / 0.5; err != nil || math.Abs(got-want) > 1e-12 {
		t.Errorf("λ = %v (%v), want %v", got, err, want)
	}
	if _, err := ScaleFromWeights("fc1.weight", []float32{0, 0, 0}, 0.5, false); err == nil {
		t.Error("an all-zero weight got a scale")
	}
	if _, err := ScaleFromWeights("fc1.weight", []float32{1}, 0.5, false); err == nil {
		t.Error("one value got a sample std")
	}
}

func TestMapperScalesFromInit(t *testing.T) {
	mp := mustMapper(t, []Tensor{lin("fc1", 300, 784), conv("conv", 8, 3, 3)}, Config{Ratio: 0.1, InitStd: 0.02, MatchInitStd: true})
	got, err := mp.ScalesFromInit("kaiming_normal")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{math.Sqrt(2.0/784) / 0.02 * math.Sqrt(3), math.Sqrt(2.0/27) / 0.02 * math.Sqrt(3)}
	for l := range want {
		if math.Abs(got[l]-want[l]) > 1e-12*want[l] {
			t.Errorf("layer %d: λ = %v, want %v", l, got[l], want[l])
		}
	}
}
