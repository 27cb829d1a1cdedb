package nn_test

// Tests of counting and initialization on architectures of the model zoo.
// They are an external test package because nn/zoo imports nn.

import (
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

func mustBuild(t *testing.T, name string, o zoo.Options) *nn.Arch {
	t.Helper()
	a, err := zoo.Build(name, o)
	if err != nil {
		t.Fatalf("zoo.Build(%q): %v", name, err)
	}
	return a
}

func TestCountNonzeroResidual(t *testing.T) {
	a := mustBuild(t, "resnet20", zoo.Options{Shortcut: "B"})
	dense := nn.Count(a)
	if nz := nn.CountNonzero(a, func(string) []float32 { return nil }); !nn.EqualCounts(nz, dense) {
		t.Errorf("CountNonzero with no values differs from Count")
	}
	// Zeroing the stage-2 projection (16→32, 1×1, stride 2, output 16×16)
	// removes 512 parameters and 512·256 MACs; zeroing the first BN's shift
	// removes 16 parameters and no FLOPs.
	zero := map[string][]float32{
		"layer2.0.shortcut.0.weight": make([]float32, 512),
		"bn1.bias":                   make([]float32, 16),
	}
	nz := nn.CountNonzero(a, func(n string) []float32 { return zero[n] })
	if nz.Params != dense.Params-512-16 || nz.Prunable != dense.Prunable-512 || nz.FLOPs != dense.FLOPs-512*256 || nz.Bytes != 4*nz.Params {
		t.Errorf("nonzero %+v vs dense params %d, prunable %d, FLOPs %d", nz, dense.Params, dense.Prunable, dense.FLOPs)
	}
	i := slices.IndexFunc(nz.Layers, func(l nn.LayerCount) bool { return l.Layer == "layer2.0.shortcut.0" })
	if i < 0 || nz.Layers[i] != (nn.LayerCount{Layer: "layer2.0.shortcut.0"}) {
		t.Errorf("shortcut layer count %v", nz.Layers)
	}
	// Layers appear in canonical order: the same order as Arch.Params.
	var layers []string
	for _, p := range a.Params() {
		if len(layers) == 0 || layers[len(layers)-1] != p.Layer {
			layers = append(layers, p.Layer)
		}
	}
	var got []string
	for _, l := range dense.Layers {
		got = append(got, l.Layer)
	}
	if !slices.Equal(got, layers) {
		t.Errorf("layer order %v, want %v", got, layers)
	}
}

func TestInitializeRules(t *testing.T) {
	a := mustBuild(t, "resnet20", zoo.Options{Input: []int{3, 8, 8}, Shortcut: "B"})
	for _, scheme := range nn.InitNames {
		net := nn.NewFakeNet(a)
		if err := nn.Initialize(net, scheme, nn.NewRand(7)); err != nil {
			t.Fatal(err)
		}
		for _, p := range net.Params() {
			info, v := p.Info(), p.Values()
			switch info.Kind {
			case nn.NormScale:
				if slices.ContainsFunc(v, func(x float32) bool { return x != 1 }) {
					t.Errorf("%s: %s not all 1", scheme, info.Name)
				}
			case nn.NormShift:
				if slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
					t.Errorf("%s: %s not all 0", scheme, info.Name)
				}
			case nn.Bias:
				nz := slices.ContainsFunc(v, func(x float32) bool { return x != 0 })
				if scheme == "torch_default" {
					bound := 1 / math.Sqrt(float64(info.FanIn))
					if !nz || slices.ContainsFunc(v, func(x float32) bool { return math.Abs(float64(x)) > bound }) {
						t.Errorf("%s: %s = %v, want U(±%v)", scheme, info.Name, v, bound)
					}
				} else if nz {
					t.Errorf("%s: %s not zero", scheme, info.Name)
				}
			case nn.Weight:
				if !slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
					t.Errorf("%s: %s all zero", scheme, info.Name)
				}
			}
		}
	}
}

func TestInitializeDeterministicOrder(t *testing.T) {
	a := mustBuild(t, "lenet5", zoo.Options{})
	for _, scheme := range nn.InitNames {
		n1, n2, n3 := nn.NewFakeNet(a), nn.NewFakeNet(a), nn.NewFakeNet(a)
		for _, c := range []struct {
			n    *nn.FakeNet
			seed uint64
		}{{n1, 42}, {n2, 42}, {n3, 43}} {
			if err := nn.Initialize(c.n, scheme, nn.NewRand(c.seed)); err != nil {
				t.Fatal(err)
			}
		}
		same, differ := true, false
		for i := range n1.Params() {
			same = same && slices.Equal(n1.Params()[i].Values(), n2.Params()[i].Values())
			differ = differ || !slices.Equal(n1.Params()[i].Values(), n3.Params()[i].Values())
		}
		if !same {
			t.Errorf("%s: the same seed gave different weights", scheme)
		}
		if !differ {
			t.Errorf("%s: different seeds gave the same weights", scheme)
		}
		// The draws are InitTensor over the canonical order from one stream.
		rng := nn.NewRand(42)
		for _, p := range n1.Params() {
			want := make([]float32, p.Info().Size())
			if err := nn.InitTensor(want, p.Info(), scheme, rng); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Values(), want) {
				t.Errorf("%s: %s is not the next draw of the stream", scheme, p.Info().Name)
			}
		}
	}
	// Zero biases draw nothing: fc4's weights under kaiming_normal follow
	// fc3's directly in the stream.
	net := nn.NewFakeNet(a)
	if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(5)); err != nil {
		t.Fatal(err)
	}
	rng := nn.NewRand(5)
	for _, name := range []string{"conv1.weight", "conv2.weight", "fc3.weight", "fc4.weight"} {
		info := net.Param(name).Info()
		want := make([]float32, info.Size())
		nn.Normal(want, math.Sqrt(2/float64(info.FanIn)), rng)
		if !slices.Equal(net.Param(name).Values(), want) {
			t.Errorf("kaiming_normal %s differs from consecutive draws", name)
		}
	}
}
