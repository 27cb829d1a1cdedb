package zoo

import (
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestResMLPCounts pins resmlp's counts on MNIST, computed by hand per part:
//
//	stem     784·64 + 2·64                                   =  50,304
//	stage 1  5 · (2·64² + 4·64)                              =  42,240
//	stage 2  64·128 + 128² + 64·128 + 3·2·128 + 4·(2·128² + 4·128) = 166,656
//	stage 3  128·256 + 256² + 128·256 + 3·2·256 + 4·(2·256² + 4·256) = 660,992
//	fc       256·10 + 10                                     =   2,570
//
// 922,762 parameters; the weights (and FLOPs, one MAC per weight) are the
// parameters less the 10 biases and the 2·(64 + 5·64·2 + 128·(2·5+1) +
// 256·(2·5+1)) = 9,856 batch-norm entries: 912,896.
func TestResMLPCounts(t *testing.T) {
	c := nn.Count(mustBuild(t, "resmlp", Options{}))
	if c.Params != 922_762 || c.Prunable != 912_896 || c.FLOPs != 912_896 {
		t.Errorf("resmlp: params %d, prunable %d, FLOPs %d; want 922,762, 912,896, 912,896", c.Params, c.Prunable, c.FLOPs)
	}
}

// TestResMLPStructure checks the block layout and the PyTorch-style names
// on a small instance: a stem, 3 stages of ResMLPBlocks blocks, a
// projection shortcut only at the start of stages 2 and 3 (also when two
// widths are equal), and every block followed by a ReLU.
func TestResMLPStructure(t *testing.T) {
	a := mustBuild(t, "resmlp", Options{Input: []int{2, 3}, Classes: 4, Widths: []int{5, 5, 7}})
	var blocks []string
	for i, l := range a.Layers {
		r, ok := l.(nn.Residual)
		if !ok {
			continue
		}
		blocks = append(blocks, r.Name)
		if _, ok := a.Layers[i+1].(nn.ReLU); !ok {
			t.Errorf("block %s is followed by %T, want ReLU", r.Name, a.Layers[i+1])
		}
		proj := strings.HasSuffix(r.Name, ".0") && r.Name != "layer1.0"
		if got := len(r.Shortcut) > 0; got != proj {
			t.Errorf("block %s: projection shortcut %v, want %v", r.Name, got, proj)
		}
	}
	if len(blocks) != 3*ResMLPBlocks || blocks[0] != "layer1.0" || blocks[14] != "layer3.4" {
		t.Errorf("blocks %v, want layer1.0 … layer3.4", blocks)
	}
	names := paramNames(a)
	want := []string{"fc1.weight", "bn1.weight", "bn1.bias", "layer1.0.fc1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
		"layer1.0.fc2.weight", "layer1.0.bn2.weight", "layer1.0.bn2.bias"}
	if !slices.Equal(names[:len(want)], want) {
		t.Errorf("first params %v, want %v", names[:len(want)], want)
	}
	for _, n := range []string{"layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight", "layer3.0.shortcut.0.weight", "fc.weight", "fc.bias"} {
		if !slices.Contains(names, n) {
			t.Errorf("no parameter %s in %v", n, names)
		}
	}
	if names[len(names)-1] != "fc.bias" {
		t.Errorf("last parameter %s, want fc.bias", names[len(names)-1])
	}
}

func TestResMLPBadOptions(t *testing.T) {
	cases := []struct {
		o    Options
		want string
	}{
		{Options{Widths: []int{8, 0, 4}}, "stage 2 has width 0"},
		{Options{Shortcut: "A"}, "shortcut"},
		{Options{BatchNorm: boolPtr(false)}, "batch_norm"},
	}
	for _, tc := range cases {
		if _, err := Build("resmlp", tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to mention %q", tc.o, err, tc.want)
		}
	}
}
