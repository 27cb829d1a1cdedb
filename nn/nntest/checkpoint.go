package nntest

import (
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestCheckpoint checks that State → new Net → SetState → further training
// reproduces the uninterrupted run bit for bit (losses, θ, state), with
// masks of every pattern, batch norm buffers, dropout and optimizer state.
func TestCheckpoint(t *testing.T, b nn.Backend) {
	nesterov := nn.SGD(0.9, 1e-3)
	nesterov.Nesterov = true
	cases := []struct {
		arch  *nn.Arch
		opt   nn.Optimizer
		masks map[string]nn.MaskPattern
	}{
		{ConvNet(), nn.Adam(1e-4), map[string]nn.MaskPattern{
			"conv1.weight": nn.ZeroAfterStep, "block1.conv2.weight": nn.MaskedForward, "fc.weight": nn.ZeroBeforeForward}},
		{DropoutMLP(), nesterov, map[string]nn.MaskPattern{"fc1.weight": nn.ZeroAfterStep, "fc2.weight": nn.ZeroBeforeForward}},
		{MLP(), nn.SGD(0, 0), nil},
	}
	for _, c := range cases {
		t.Run(c.arch.Name+"/"+c.opt.Name, func(t *testing.T) {
			const n = 4
			cfgSeed := uint64(77)
			a := build(t, b, c.arch, n, 0, cfgSeed)
			SetRandom(a, NewRand(71))
			if err := a.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			mrng := NewRand(72)
			for _, info := range c.arch.Params() {
				if pat, ok := c.masks[info.Name]; ok {
					if err := a.SetParametrization(info.Name, nn.Masked{Mask: RandomMask(info.Size(), 0.6, mrng), Pattern: pat}); err != nil {
						t.Fatal(err)
					}
				}
			}
			brng := NewRand(73)
			batches := make([]nn.Batch, 7)
			for i := range batches {
				batches[i] = RandomBatch(c.arch, n, brng)
			}
			for _, bt := range batches[:3] {
				mustGradients(t, a, bt)
				a.Step(0.02)
			}
			st := mustState(t, a)
			saved := copyState(st)

			bnet := build(t, b, c.arch, n, 0, cfgSeed)
			if err := bnet.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			if err := bnet.SetState(st); err != nil {
				t.Fatal(err)
			}
			// Neither net may alias the State.
			for _, v := range st.Tensors {
				for i := range v {
					v[i] = float32(math.NaN())
				}
			}
			compareStates(t, "restored state", mustState(t, bnet), saved)
			for _, info := range c.arch.Params() {
				got := bnet.Parametrization(info.Name)
				pat, masked := c.masks[info.Name]
				switch p := got.(type) {
				case nn.Masked:
					if !masked || p.Pattern != pat {
						t.Errorf("%s restored as %s", info.Name, p.Describe())
					}
				case nn.Dense:
					if masked {
						t.Errorf("%s restored as dense, want masked (%s)", info.Name, pat)
					}
				default:
					t.Errorf("%s restored as %v", info.Name, got)
				}
			}
			for k, bt := range batches[3:] {
				la := mustGradients(t, a, bt)
				lb := mustGradients(t, bnet, bt)
				if math.Float64bits(la) != math.Float64bits(lb) {
					t.Errorf("step %d after restoring: loss %.17g, uninterrupted %.17g", k+4, lb, la)
				}
				a.Step(0.02)
				bnet.Step(0.02)
			}
			for _, p := range a.Params() {
				if !bitsEqual(p.Values(), bnet.Param(p.Info().Name).Values()) {
					t.Errorf("%s differs from the uninterrupted run after resuming", p.Info().Name)
				}
			}
			compareStates(t, "state after resuming", mustState(t, bnet), mustState(t, a))
			sa, ca, err := a.Evaluate(batches[0])
			if err != nil {
				t.Fatal(err)
			}
			sb, cb, err := bnet.Evaluate(batches[0])
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(sa) != math.Float64bits(sb) || ca != cb {
				t.Errorf("evaluation after resuming: %v, %d; uninterrupted %v, %d", sb, cb, sa, ca)
			}
		})
	}
}

func copyState(s *nn.State) *nn.State {
	c := nn.NewState()
	for k, v := range s.Tensors {
		c.Tensors[k] = append([]float32(nil), v...)
	}
	for k, v := range s.Counters {
		c.Counters[k] = v
	}
	return c
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func compareStates(t *testing.T, what string, got, want *nn.State) {
	t.Helper()
	names := func(m map[string][]float32) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return s
	}
	if g, w := names(got.Tensors), names(want.Tensors); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: tensors %v, want %v", what, g, w)
		return
	}
	for k, w := range want.Tensors {
		if !bitsEqual(got.Tensors[k], w) {
			t.Errorf("%s: tensor %s differs", what, k)
		}
	}
	if !reflect.DeepEqual(got.Counters, want.Counters) {
		t.Errorf("%s: counters %v, want %v", what, got.Counters, want.Counters)
	}
}
