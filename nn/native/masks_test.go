package native

import (
	"errors"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// TestMaskedForwardBuffer: P1 gives the layer its own W buffer holding
// θ ⊙ m; Dense and the other patterns make it read θ again.
func TestMaskedForwardBuffer(t *testing.T) {
	net := newTrainNet(t, nntest.MLP(), 2)
	e := net.byName["fc1.weight"]
	m := nntest.RandomMask(len(e.p.value), 0.5, nntest.NewRand(1))
	if err := net.SetParametrization("fc1.weight", nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
		t.Fatal(err)
	}
	if aliases(e.p.w, e.p.value) {
		t.Fatalf("MaskedForward: W aliases θ")
	}
	for i := range m {
		if e.p.w[i] != e.p.value[i]*m[i] {
			t.Fatalf("W[%d] = %v, want θ ⊙ m = %v", i, e.p.w[i], e.p.value[i]*m[i])
		}
	}
	if len(net.maskedForward) != 1 || net.maskedForward[0] != e {
		t.Errorf("the masked-forward list is %v", net.maskedForward)
	}
	for _, p := range []nn.Parametrization{nn.Dense{}, nn.Masked{Mask: m, Pattern: nn.ZeroBeforeForward}, nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}} {
		if err := net.SetParametrization("fc1.weight", nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
			t.Fatal(err)
		}
		if err := net.SetParametrization("fc1.weight", p); err != nil {
			t.Fatal(err)
		}
		if !aliases(e.p.w, e.p.value) {
			t.Errorf("after %s: W does not alias θ", p.Describe())
		}
		if len(net.maskedForward) != 0 {
			t.Errorf("after %s: still in the masked-forward list", p.Describe())
		}
	}
}

// TestZeroAfterStepSetValues: under P3, SetValues keeps the pruned entries
// zero (so rewinding to initial weights after masking is safe).
func TestZeroAfterStepSetValues(t *testing.T) {
	net := newTrainNet(t, nntest.MLP(), 2)
	p := net.Param("fc2.weight")
	m := nntest.RandomMask(p.Info().Size(), 0.5, nntest.NewRand(2))
	if err := net.SetParametrization("fc2.weight", nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(m))
	for i := range v {
		v[i] = float32(i + 1)
	}
	p.SetValues(v)
	for i, x := range p.Values() {
		if want := v[i] * m[i]; x != want {
			t.Fatalf("θ[%d] = %v after SetValues, want %v", i, x, want)
		}
	}
}

func TestSetParametrizationErrors(t *testing.T) {
	net := newTrainNet(t, nntest.ConvNet(), 2)
	size := net.Param("conv1.weight").Info().Size()
	m := nntest.RandomMask(size, 0.5, nntest.NewRand(3))
	// Pointers are accepted.
	if err := net.SetParametrization("conv1.weight", &nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
		t.Errorf("*nn.Masked: %v", err)
	}
	if err := net.SetParametrization("conv1.weight", &nn.Dense{}); err != nil {
		t.Errorf("*nn.Dense: %v", err)
	}
	var nilMask *nn.Masked
	cases := []struct {
		name    string
		p       nn.Parametrization
		mention []string
		notImpl bool
	}{
		{"bn1.weight", nn.Masked{Mask: []float32{1, 1, 1, 1}}, []string{"bn1.weight", "norm_scale"}, false},
		{"conv1.bias", nn.Masked{Mask: []float32{1, 1, 1, 1}}, []string{"conv1.bias", "bias"}, false},
		{"conv1.weight", nil, []string{"conv1.weight", "nil"}, false},
		{"conv1.weight", nilMask, []string{"conv1.weight", "nil"}, false},
		{"conv1.weight", nn.Scored{Scores: make([]float32, size), Keep: 0}, []string{"conv1.weight", "keep 0"}, false},
		{"conv1.weight", nn.Scored{Scores: make([]float32, size-1), Keep: 1}, []string{"conv1.weight", "entries"}, false},
		{"conv1.weight", &nn.Shared{Array: "z", ArraySize: 3}, []string{"conv1.weight", "shared", "no Map"}, false},
		{"conv1.weight", nn.Shared{Array: "z", ArraySize: 0, Map: nn.TableMap{}}, []string{"conv1.weight", "0 entries"}, false},
		{"conv1.weight", nn.Shared{ArraySize: 3, Map: nn.TableMap{}}, []string{"conv1.weight", "no array name"}, false},
		{"conv1.weight", nn.Shared{Array: "z", ArraySize: 3, Map: nn.TableMap{Index: make([]int32, size), Sign: make([]float32, size)}}, []string{"conv1.weight", "sign 0"}, false},
		{"conv1.bias", nn.Shared{Array: "z", ArraySize: 3, Map: nn.TableMap{Index: make([]int32, 4), Sign: make([]float32, 4)}}, []string{"conv1.bias", "bias"}, false},
		{"bn1.bias", nn.Scored{}, []string{"bn1.bias"}, false},
	}
	for _, c := range cases {
		err := net.SetParametrization(c.name, c.p)
		if err == nil {
			t.Errorf("%s with %v: no error", c.name, c.p)
			continue
		}
		for _, s := range c.mention {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s with %v: error %q does not mention %q", c.name, c.p, err, s)
			}
		}
		if errors.Is(err, nn.ErrNotImplemented) != c.notImpl {
			t.Errorf("%s with %v: errors.Is(err, ErrNotImplemented) = %v", c.name, c.p, !c.notImpl)
		}
	}
	for _, p := range net.Params() {
		if _, ok := net.Parametrization(p.Info().Name).(nn.Dense); !ok {
			t.Errorf("%s changed by refused calls: %v", p.Info().Name, net.Parametrization(p.Info().Name))
		}
	}
}
