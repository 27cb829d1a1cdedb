package experiments

import (
	"math"
	"strings"
	"testing"
)

func f(v float64) *float64 { return &v }
func n(v int) *int         { return &v }

func TestAmountConventions(t *testing.T) {
	cases := []struct {
		name  string
		a     AmountSpec
		d     float64 // want density
		exact bool    // compare with == (rational path)
	}{
		{"density", AmountSpec{Density: f(0.2)}, 0.2, true},
		{"dense", AmountSpec{Density: f(1)}, 1, true},
		// 1 − 0.9 in float64 is 0.09999999999999998; the rational path gives 0.1.
		{"sparsity", AmountSpec{Sparsity: f(0.9)}, 0.1, true},
		{"sparsity 0.98 (SNIP table)", AmountSpec{Sparsity: f(0.98)}, 0.02, true},
		{"compression", AmountSpec{Compression: f(50)}, 0.02, true},
		{"log10 compression", AmountSpec{Log10Compression: f(2)}, 0.01, false},
		{"synflow kept fraction", AmountSpec{SynflowSparsity: f(0.1)}, 0.1, true},
		{"pm percent", AmountSpec{PmPercent: f(3.6)}, 0.036, true},
		{"bip k", AmountSpec{BipK: f(0.05)}, 0.05, true},
		{"prune rate", AmountSpec{PruneRate: f(0.95)}, 0.05, true},
		{"rethinking percent", AmountSpec{Percent: f(0.7)}, 0.3, true},
		{"renda percent kept", AmountSpec{RendaPercent: f(8.59)}, 0.0859, true},
		{"nni total sparsity", AmountSpec{NNITotalSparsity: f(0.8)}, 0.2, true},
		// LTH LeNet: 20% per round; 0.8^3 = 0.512.
		{"imp", AmountSpec{IMPRate: f(0.2), IMPRounds: n(3)}, 0.512, true},
		{"imp zero rounds", AmountSpec{IMPRate: f(0.2), IMPRounds: n(0)}, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			am, ok, err := c.a.Resolve()
			if err != nil || !ok {
				t.Fatalf("Resolve: ok %v, err %v", ok, err)
			}
			if c.exact && am.Density != c.d || !c.exact && math.Abs(am.Density-c.d) > 1e-15 {
				t.Errorf("density %v, want %v", am.Density, c.d)
			}
			if math.Abs(am.Sparsity-(1-c.d)) > 1e-15 || math.Abs(am.Compression*c.d-1) > 1e-12 {
				t.Errorf("sparsity %v, compression %v for density %v", am.Sparsity, am.Compression, c.d)
			}
		})
	}
	if _, ok, err := (AmountSpec{}).Resolve(); ok || err != nil {
		t.Errorf("nothing set: ok %v, err %v; want not ok and no error", ok, err)
	}
}

func TestAmountRejects(t *testing.T) {
	cases := []struct {
		name string
		a    AmountSpec
		want string
	}{
		// GraNet's ImageNet README passes --init-density 0.0 for "dense": a
		// typo; density 0 is an error, never "dense"
		// (docs/methods/conventions.md#density).
		{"density 0", AmountSpec{Density: f(0)}, "prune.density"},
		{"density above 1", AmountSpec{Density: f(1.2)}, "(0, 1]"},
		{"sparsity 1", AmountSpec{Sparsity: f(1)}, "[0, 1)"},
		{"negative sparsity", AmountSpec{Sparsity: f(-0.1)}, "prune.sparsity"},
		{"compression below 1", AmountSpec{Compression: f(0.5)}, "≥ 1"},
		{"negative log10", AmountSpec{Log10Compression: f(-1)}, "≥ 0"},
		{"pm above 100", AmountSpec{PmPercent: f(120)}, "prune.pm_percent"},
		{"two conventions", AmountSpec{Density: f(0.1), Sparsity: f(0.9)}, "one convention"},
		{"imp without rounds", AmountSpec{IMPRate: f(0.2)}, "go together"},
		{"imp rate 1", AmountSpec{IMPRate: f(1), IMPRounds: n(2)}, "prune.imp_rate"},
		{"nan", AmountSpec{Density: f(math.NaN())}, "finite"},
	}
	for _, c := range cases {
		if _, _, err := c.a.Resolve(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
