package nntest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestErrors checks that what a user can get wrong is an error, not a
// panic, and leaves the net unchanged.
func TestErrors(t *testing.T, b nn.Backend) {
	arch := MLP()
	const maxBatch = 4
	t.Run("Build", func(t *testing.T) {
		bad := []struct {
			what string
			cfg  nn.Config
		}{
			{"no architecture", nn.Config{MaxBatch: 4}},
			{"MaxBatch 0", nn.Config{Arch: MLP(), MaxBatch: 0}},
			{"negative temperature", nn.Config{Arch: MLP(), MaxBatch: 4, Temperature: -1}},
			{"invalid architecture", nn.Config{Arch: &nn.Arch{Name: "bad", Input: []int{12}, Classes: 4, Layers: []nn.Layer{nn.Linear{Name: "fc", In: 11, Out: 4}}}, MaxBatch: 4}},
		}
		for _, c := range bad {
			if _, err := noPanic(t, c.what, func() (any, error) { return b.Build(c.cfg) }); err == nil {
				t.Errorf("Build with %s: no error", c.what)
			}
		}
	})

	net := build(t, b, arch, maxBatch, 0, 0)
	SetRandom(net, NewRand(91))
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	good := RandomBatch(arch, maxBatch, NewRand(92))
	before := mustState(t, net)

	t.Run("Batch", func(t *testing.T) {
		big := RandomBatch(arch, maxBatch+1, NewRand(93))
		short := good
		short.X = good.X[:len(good.X)-1]
		fewLabels := good
		fewLabels.Y = good.Y[:maxBatch-1]
		badLabel := RandomBatch(arch, maxBatch, NewRand(94))
		badLabel.Y[1] = int32(arch.Classes)
		negLabel := RandomBatch(arch, maxBatch, NewRand(94))
		negLabel.Y[2] = -1
		empty := good
		empty.N = 0
		for _, c := range []struct {
			what  string
			b     nn.Batch
			label bool // only Gradients and Evaluate read labels
		}{
			{"a batch larger than MaxBatch", big, false},
			{"an empty batch", empty, false},
			{"X too short", short, false},
			{"Y too short", fewLabels, true},
			{"a label ≥ Classes", badLabel, true},
			{"a negative label", negLabel, true},
		} {
			if _, err := noPanic(t, "Gradients with "+c.what, func() (any, error) { return net.Gradients(c.b) }); err == nil {
				t.Errorf("Gradients with %s: no error", c.what)
			}
			if _, err := noPanic(t, "Evaluate with "+c.what, func() (any, error) { _, _, err := net.Evaluate(c.b); return nil, err }); err == nil {
				t.Errorf("Evaluate with %s: no error", c.what)
			}
			if !c.label {
				dst := make([]float32, (maxBatch+1)*arch.Classes)
				if _, err := noPanic(t, "Logits with "+c.what, func() (any, error) { return nil, net.Logits(dst, c.b) }); err == nil {
					t.Errorf("Logits with %s: no error", c.what)
				}
			}
		}
		dst := make([]float32, maxBatch*arch.Classes-1)
		if _, err := noPanic(t, "Logits into a short dst", func() (any, error) { return nil, net.Logits(dst, good) }); err == nil {
			t.Errorf("Logits into a short dst: no error")
		}
	})

	t.Run("Parametrization", func(t *testing.T) {
		size := net.Param("fc1.weight").Info().Size()
		half := make([]float32, size)
		for i := range half {
			half[i] = 1
		}
		half[3] = 0.5
		cases := []struct {
			what, param, mention string
			p                    nn.Parametrization
		}{
			{"a mask of the wrong length", "fc1.weight", "fc1.weight", nn.Masked{Mask: make([]float32, size-1)}},
			{"a mask entry of 0.5", "fc1.weight", "fc1.weight", nn.Masked{Mask: half}},
			{"an unknown pattern", "fc1.weight", "fc1.weight", nn.Masked{Mask: RandomMask(size, 0.5, NewRand(95)), Pattern: nn.MaskPattern(99)}},
			{"a mask on a bias", "fc1.bias", "fc1.bias", nn.Masked{Mask: []float32{1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},
			{"an unknown parameter", "fc9.weight", "fc9.weight", nn.Masked{Mask: make([]float32, size)}},
			{"dense on an unknown parameter", "fc9.weight", "fc9.weight", nn.Dense{}},
		}
		for _, c := range cases {
			_, err := noPanic(t, "SetParametrization with "+c.what, func() (any, error) { return nil, net.SetParametrization(c.param, c.p) })
			switch {
			case err == nil:
				t.Errorf("SetParametrization with %s: no error", c.what)
			case !strings.Contains(err.Error(), c.mention):
				t.Errorf("SetParametrization with %s: error %q does not name %s", c.what, err, c.mention)
			}
		}
		if p := net.Parametrization("fc9.weight"); p != nil {
			t.Errorf("Parametrization of an unknown parameter = %v, want nil", p)
		}
		for _, info := range arch.Params() {
			if _, ok := net.Parametrization(info.Name).(nn.Dense); !ok {
				t.Errorf("%s is %v after refused parametrizations, want dense", info.Name, net.Parametrization(info.Name))
			}
		}
		if err := net.SetOptimizer(nn.Optimizer{Name: "rmsprop"}); err == nil {
			t.Errorf("SetOptimizer(rmsprop): no error")
		}
	})

	t.Run("SetState", func(t *testing.T) {
		mutate := []struct {
			what, mention string
			f             func(s *nn.State)
		}{
			{"a missing parameter", "param/fc2.weight", func(s *nn.State) { delete(s.Tensors, "param/fc2.weight") }},
			{"a mis-sized parameter", "param/fc1.bias", func(s *nn.State) { s.Tensors["param/fc1.bias"] = s.Tensors["param/fc1.bias"][:3] }},
			{"a missing momentum", "opt/momentum/fc3.weight", func(s *nn.State) { delete(s.Tensors, "opt/momentum/fc3.weight") }},
			{"an unknown tensor", "param/fc9.weight", func(s *nn.State) { s.Tensors["param/fc9.weight"] = []float32{1} }},
			{"a mask without pattern", "fc1.weight", func(s *nn.State) {
				s.Tensors["mask/fc1.weight"] = RandomMask(len(s.Tensors["param/fc1.weight"]), 0.5, NewRand(96))
			}},
			{"a mis-sized mask", "fc1.weight", func(s *nn.State) {
				s.Tensors["mask/fc1.weight"] = []float32{1, 0}
				s.Counters["mask_pattern/fc1.weight"] = int64(nn.ZeroAfterStep)
			}},
		}
		for _, c := range mutate {
			s := copyState(before)
			// Poison every tensor so that a partial restore would show.
			for _, v := range s.Tensors {
				for i := range v {
					v[i] = 12345
				}
			}
			c.f(s)
			_, err := noPanic(t, "SetState with "+c.what, func() (any, error) { return nil, net.SetState(s) })
			switch {
			case err == nil:
				t.Errorf("SetState with %s: no error", c.what)
			case !strings.Contains(err.Error(), c.mention):
				t.Errorf("SetState with %s: error %q does not name %s", c.what, err, c.mention)
			}
		}
		if _, err := noPanic(t, "SetState(nil)", func() (any, error) { return nil, net.SetState(nil) }); err == nil {
			t.Errorf("SetState(nil): no error")
		}
		compareStates(t, "state after refused SetState calls", mustState(t, net), before)
	})
}

// noPanic runs f and turns a panic into a test error.
func noPanic(t *testing.T, what string, f func() (any, error)) (v any, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}
