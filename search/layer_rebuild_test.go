package search

import (
	"math"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/zoo"
)

// newNet builds arch on the native engine, initializes it from seed and
// gives every batch norm random scales, shifts and running statistics, so
// that evaluation-mode outputs depend on all of them.
func layerNet(t *testing.T, arch *nn.Arch, maxBatch int, temperature float64, seed uint64) nn.Net {
	t.Helper()
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, Temperature: temperature})
	if err != nil {
		t.Fatal(err)
	}
	rng := nn.NewRand(seed)
	if err := nn.Initialize(net, "kaiming_normal", rng); err != nil {
		t.Fatal(err)
	}
	st, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range st.Tensors {
		lo, hi := 0.0, 0.0
		switch {
		case strings.HasPrefix(k, "buffer/") && strings.HasSuffix(k, "running_var"):
			lo, hi = 0.5, 1.5
		case strings.HasPrefix(k, "buffer/") && strings.HasSuffix(k, "running_mean"):
			lo, hi = -0.2, 0.2
		case layerIsNorm(arch, k, ".weight"):
			lo, hi = 0.5, 1.5
		case layerIsNorm(arch, k, ".bias"):
			lo, hi = -0.2, 0.2
		default:
			continue
		}
		for i := range v {
			v[i] = float32(lo + (hi-lo)*rng.Float64())
		}
	}
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
	return net
}

func layerIsNorm(a *nn.Arch, key, suffix string) bool {
	for _, p := range a.Params() {
		if "param/"+p.Name == key && (p.Kind == nn.NormScale || p.Kind == nn.NormShift) && strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

func layerBatch(a *nn.Arch, n int, seed uint64) nn.Batch {
	rng := nn.NewRand(seed)
	size := 1
	for _, d := range a.Input {
		size *= d
	}
	b := nn.Batch{X: make([]float32, n*size), Y: make([]int32, n), N: n}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = int32(rng.IntN(a.Classes))
	}
	return b
}

func layerLogits(t *testing.T, net nn.Net, b nn.Batch) []float32 {
	t.Helper()
	z := make([]float32, b.N*net.Arch().Classes)
	if err := net.Logits(z, b); err != nil {
		t.Fatal(err)
	}
	return z
}

// TestRebuildEquivalence is the equivalence test of
// docs/methods/layer.md#rebuild-and-weight-transfer: in evaluation mode the
// rebuilt network's logits equal the original network's with the removed
// blocks' residual branches zeroed (their second batch norm's scale, shift
// and statistics set to 0), and every kept tensor (θ and running statistics)
// is copied unchanged.
func TestRebuildEquivalence(t *testing.T) {
	cases := []struct {
		model  string
		o      zoo.Options
		remove []string
	}{
		{"resmlp", zoo.Options{Input: []int{1, 4, 4}, Classes: 3, Widths: []int{6, 8, 5}}, []string{"layer1.1", "layer1.3", "layer2.4", "layer3.2"}},
		{"resnet20", zoo.Options{Input: []int{3, 8, 8}, Classes: 4, WidthMultiplier: 0.25}, []string{"layer1.1", "layer2.2", "layer3.1"}},
		{"resnet20", zoo.Options{Input: []int{3, 8, 8}, Classes: 4, WidthMultiplier: 0.25, Shortcut: "B"}, []string{"layer1.2", "layer3.2"}},
	}
	for _, tc := range cases {
		arch := layerArch(t, tc.model, tc.o)
		bs := layerBlocks(t, arch)
		var remove []int
		for _, b := range bs.Blocks {
			for _, n := range tc.remove {
				if b.Name == n {
					remove = append(remove, b.Index)
				}
			}
		}
		net := layerNet(t, arch, 10, 1, 3)
		batch := layerBatch(arch, 10, 4)
		full := layerLogits(t, net, batch)
		st, err := net.State()
		if err != nil {
			t.Fatal(err)
		}
		r, err := bs.Rebuild(remove)
		if err != nil {
			t.Fatal(err)
		}
		small := layerNet(t, r.Arch, 10, 1, 99)
		if err := r.Transfer(small, st); err != nil {
			t.Fatal(err)
		}
		got := layerLogits(t, small, batch)
		// Weight identity of every kept tensor.
		smallSt, _ := small.State()
		for k, v := range smallSt.Tensors {
			kind, name, _ := strings.Cut(k, "/")
			if kind != "param" && kind != "buffer" {
				continue
			}
			orig := st.Tensors[kind+"/"+r.OldName(name)]
			for i := range v {
				if v[i] != orig[i] {
					t.Fatalf("%s: %s differs from the original's %s", tc.model, k, r.OldName(name))
				}
			}
		}
		for _, i := range remove {
			if _, err := zeroNorm(st, bs.Blocks[i].Norm2, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := net.SetState(st); err != nil {
			t.Fatal(err)
		}
		off := layerLogits(t, net, batch)
		var diff, changed float64
		for i := range off {
			diff = math.Max(diff, math.Abs(float64(off[i]-got[i])))
			changed = math.Max(changed, math.Abs(float64(off[i]-full[i])))
		}
		if diff > 1e-5 {
			t.Errorf("%s: rebuilt logits differ from the zeroed-branch original by %g", tc.model, diff)
		}
		if changed < 1e-3 { // the test can fail: removing blocks changed something
			t.Errorf("%s: zeroing the branches changed the logits by only %g", tc.model, changed)
		}
		if n := nn.Count(r.Arch).Params; n >= nn.Count(arch).Params {
			t.Errorf("%s: rebuilt model has %d params, not fewer", tc.model, n)
		}
	}
}
