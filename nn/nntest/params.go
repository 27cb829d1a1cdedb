package nntest

import (
	"reflect"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestParams checks that Params lists Arch.Params in canonical order, that
// Param finds each by name, that a new net is all zero and dense.
func TestParams(t *testing.T, b nn.Backend) {
	for _, arch := range []*nn.Arch{MLP(), ConvNet(), DropoutMLP(), MaskMLP()} {
		t.Run(arch.Name, func(t *testing.T) {
			net := build(t, b, arch, 3, 0, 0)
			want := arch.Params()
			ps := net.Params()
			if len(ps) != len(want) {
				t.Fatalf("%d params, want %d", len(ps), len(want))
			}
			for i, p := range ps {
				info := p.Info()
				if !reflect.DeepEqual(info, want[i]) {
					t.Errorf("param %d: %+v, want %+v", i, info, want[i])
					continue
				}
				if q := net.Param(info.Name); q == nil || !reflect.DeepEqual(q.Info(), info) {
					t.Errorf("Param(%q) does not return the parameter", info.Name)
				}
				if v := p.Values(); len(v) != info.Size() {
					t.Errorf("%s: %d values, want %d", info.Name, len(v), info.Size())
				} else {
					for j, x := range v {
						if x != 0 {
							t.Errorf("%s[%d] = %v after Build, want 0", info.Name, j, x)
							break
						}
					}
				}
				if g := p.Grad(); len(g) != info.Size() {
					t.Errorf("%s: gradient of %d entries, want %d", info.Name, len(g), info.Size())
				}
				if pz, ok := net.Parametrization(info.Name).(nn.Dense); !ok {
					t.Errorf("%s: parametrization %v after Build, want dense", info.Name, pz)
				}
			}
			if net.Param("no.such.weight") != nil {
				t.Errorf("Param of an unknown name is not nil")
			}
			if net.Arch() != arch {
				t.Errorf("Arch() is not the architecture the net was built from")
			}
			// SetValues then Values round trip.
			SetRandom(net, NewRand(1))
			rng := NewRand(1)
			for _, p := range net.Params() {
				v := make([]float32, p.Info().Size())
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				p.SetValues(v)
				if got := values(p); !reflect.DeepEqual(got, v) {
					t.Errorf("%s: Values after SetValues differ", p.Info().Name)
				}
			}
		})
	}
}
