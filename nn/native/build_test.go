package native

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// block is a CIFAR-ResNet basic block with the given shortcut.
func block(name string, in, out, stride int, shortcut []nn.Layer) nn.Residual {
	return nn.Residual{Name: name, Body: []nn.Layer{
		nn.Conv2d{Name: name + ".conv1", In: in, Out: out, Kernel: 3, Stride: stride, Pad: 1},
		nn.BatchNorm{Name: name + ".bn1", C: out},
		nn.ReLU{},
		nn.Conv2d{Name: name + ".conv2", In: out, Out: out, Kernel: 3, Stride: 1, Pad: 1},
		nn.BatchNorm{Name: name + ".bn2", C: out},
	}, Shortcut: shortcut}
}

// smallResNet has every image layer type: a conv stem with batch norm, a
// max pool, residual blocks with identity, conv+BN and PadChannels
// shortcuts, a global pool, dropout and a linear head.
func smallResNet() *nn.Arch {
	return &nn.Arch{Name: "tiny-resnet", Input: []int{3, 12, 10}, Classes: 10, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 3, Out: 4, Kernel: 3, Stride: 1, Pad: 1},
		nn.BatchNorm{Name: "bn1", C: 4},
		nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2},
		block("layer1.0", 4, 4, 1, nil),
		block("layer2.0", 4, 8, 2, []nn.Layer{
			nn.Conv2d{Name: "layer2.0.shortcut.0", In: 4, Out: 8, Kernel: 1, Stride: 2},
			nn.BatchNorm{Name: "layer2.0.shortcut.1", C: 8},
		}),
		block("layer3.0", 8, 16, 2, []nn.Layer{nn.PadChannels{In: 8, Out: 16, Stride: 2}}),
		nn.GlobalAvgPool{},
		nn.Dropout{P: 0.3},
		nn.Linear{Name: "fc", In: 16, Out: 10, Bias: true},
	}}
}

func smallMLP() *nn.Arch {
	return &nn.Arch{Name: "tiny-mlp", Input: []int{1, 4, 5}, Classes: 5, Layers: []nn.Layer{
		nn.Flatten{},
		nn.Linear{Name: "fc1", In: 20, Out: 16, Bias: true},
		nn.BatchNorm{Name: "bn1", C: 16},
		nn.ReLU{},
		nn.Dropout{P: 0.5},
		nn.Linear{Name: "fc2", In: 16, Out: 5, Bias: true},
	}}
}

// testNet is the minimal driver of built layers the tests need.
type testNet struct {
	arch   *nn.Arch
	layers []layer
	ws     *workspace
	src    *rand.PCG
	x      []float32 // CNHW input
	dl     []float32 // dL/dlogits
}

func newTestNet(t testing.TB, arch *nn.Arch, maxBatch int) *testNet {
	t.Helper()
	tn := &testNet{arch: arch, ws: &workspace{}, src: rand.NewPCG(1, 1)}
	var err error
	tn.layers, err = buildLayers(arch, maxBatch, tn.ws, rand.New(tn.src))
	if err != nil {
		t.Fatal(err)
	}
	tn.ws.data = make([]float32, tn.ws.size)
	tn.x = make([]float32, maxBatch*shapeSize(arch.Input))
	tn.dl = make([]float32, maxBatch*arch.Classes)
	r := rand.New(rand.NewPCG(2, 2))
	for _, l := range tn.layers {
		randParams(l, r)
	}
	return tn
}

// step runs forward, loss and backward on n NCHW examples and returns the
// loss.
func (tn *testNet) step(x []float32, y []int32, n int) float64 {
	in := tn.arch.Input
	h := tn.x[:n*shapeSize(in)]
	if len(in) == 3 {
		toCNHW(h, x, n, in[0], in[1]*in[2])
	} else {
		copy(h, x)
	}
	for _, l := range tn.layers {
		h = l.forward(h, n, true)
	}
	loss := softmaxCrossEntropy(tn.dl, h, y, n, tn.arch.Classes, 1)
	g := tn.dl[:n*tn.arch.Classes]
	for i := len(tn.layers) - 1; i >= 0; i-- {
		g = tn.layers[i].backward(g, n)
	}
	return loss
}

func TestBuildParamsOrder(t *testing.T) {
	for _, arch := range []*nn.Arch{smallResNet(), smallMLP()} {
		tn := newTestNet(t, arch, 2)
		var got []*param
		var bufs []buffer
		for _, l := range tn.layers {
			got = append(got, l.params()...)
			bufs = append(bufs, l.buffers()...)
		}
		want := arch.Params()
		if len(got) != len(want) {
			t.Fatalf("%s: %d params, want %d", arch.Name, len(got), len(want))
		}
		var bnNames []string
		for i, w := range want {
			g := got[i].info
			if g.Name != w.Name || g.Layer != w.Layer || g.Kind != w.Kind || g.FanIn != w.FanIn || g.FanOut != w.FanOut ||
				!slices.Equal(g.Shape, w.Shape) || len(got[i].value) != w.Size() || len(got[i].grad) != w.Size() {
				t.Errorf("%s: param %d is %+v, want %+v", arch.Name, i, g, w)
			}
			if w.Kind == nn.NormScale {
				bnNames = append(bnNames, w.Layer+".running_mean", w.Layer+".running_var")
			}
		}
		if len(bufs) != len(bnNames) {
			t.Fatalf("%s: %d buffers, want %d", arch.Name, len(bufs), len(bnNames))
		}
		for i, b := range bufs {
			if b.name != bnNames[i] {
				t.Errorf("%s: buffer %d is %s, want %s", arch.Name, i, b.name, bnNames[i])
			}
		}
	}
}

// TestBuildNoInputGradient checks that the net input gets no gradient, nor
// anything before the first parameter, and that everything after does.
func TestBuildNoInputGradient(t *testing.T) {
	const n = 2
	r := rand.New(rand.NewPCG(5, 5))
	for _, arch := range []*nn.Arch{smallResNet(), smallMLP()} {
		tn := newTestNet(t, arch, n)
		x := make([]float32, n*shapeSize(arch.Input))
		fillNormal(x, r, 1)
		tn.step(x, []int32{1, 3}, n)
		// Rerun backward by hand to see each layer's input gradient: a
		// layer returns one exactly when a layer before it has params.
		g := tn.dl[:n*arch.Classes]
		for i := len(tn.layers) - 1; i >= 0; i-- {
			g = tn.layers[i].backward(g, n)
			paramsBefore := false
			for _, l := range tn.layers[:i] {
				paramsBefore = paramsBefore || len(l.params()) > 0
			}
			if (g != nil) != paramsBefore {
				t.Errorf("%s: layer %d returned input gradient %v, want %v", arch.Name, i, g != nil, paramsBefore)
			}
		}
	}
}

type unknownLayer struct{ nn.ReLU }

func TestBuildErrors(t *testing.T) {
	arch := &nn.Arch{Name: "odd", Input: []int{4}, Classes: 4, Layers: []nn.Layer{unknownLayer{}}}
	_, err := buildLayers(arch, 2, &workspace{}, nil)
	if err == nil || !strings.Contains(err.Error(), "unknownLayer") {
		t.Errorf("unknown layer: error %v", err)
	}
	arch = &nn.Arch{Name: "bad", Input: []int{4}, Classes: 3, Layers: []nn.Layer{nn.Linear{Name: "fc", In: 5, Out: 3}}}
	if _, err := buildLayers(arch, 2, &workspace{}, nil); err == nil {
		t.Error("shape mismatch built")
	}
	if _, err := buildLayers(smallMLP(), 0, &workspace{}, nil); err == nil {
		t.Error("max batch 0 built")
	}
	arch = &nn.Arch{Name: "drop", Input: []int{4}, Classes: 4, Layers: []nn.Layer{nn.Dropout{P: 1.5}}}
	if _, err := buildLayers(arch, 2, &workspace{}, nil); err == nil {
		t.Error("dropout 1.5 built")
	}
}

// TestNoAllocs checks that a training step (forward, loss, backward) of a
// built network allocates nothing, also on batches smaller than the maximum.
func TestNoAllocs(t *testing.T) {
	const maxBatch = 4
	r := rand.New(rand.NewPCG(9, 9))
	for _, arch := range []*nn.Arch{smallResNet(), smallMLP()} {
		tn := newTestNet(t, arch, maxBatch)
		x := make([]float32, maxBatch*shapeSize(arch.Input))
		fillNormal(x, r, 1)
		y := []int32{0, 1, 2, 3}
		n := maxBatch
		allocs := testing.AllocsPerRun(10, func() {
			tn.src.Seed(1, uint64(n))
			tn.step(x, y, n)
			n = 3 + n%2 // alternate 4 and 3
			correctCount(tn.dl, y, n, arch.Classes)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per step, want 0", arch.Name, allocs)
		}
	}
}
