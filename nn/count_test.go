package nn

import (
	"slices"
	"testing"
)

// tinyArch: [1 4 4] → conv c 1→2 3×3 (no padding, bias) → [2 2 2] → ReLU →
// Flatten → linear f 8→3 (bias).
func tinyArch() *Arch {
	return &Arch{Name: "tiny", Input: []int{1, 4, 4}, Classes: 3, Layers: []Layer{
		Conv2d{Name: "c", In: 1, Out: 2, Kernel: 3, Stride: 1, Bias: true},
		ReLU{},
		Flatten{},
		Linear{Name: "f", In: 8, Out: 3, Bias: true},
	}}
}

func TestCountTinyByHand(t *testing.T) {
	a := tinyArch()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	// Dense: conv 18 weights + 2 biases, 18·2·2 = 72 MACs; linear 24 + 3,
	// 24 MACs.
	c := Count(a)
	want := Counts{Layers: []LayerCount{{"c", 20, 18, 72}, {"f", 27, 24, 24}}, Params: 47, Prunable: 42, Bytes: 188, FLOPs: 96}
	if !equalCounts(c, want) {
		t.Errorf("Count = %+v, want %+v", c, want)
	}

	// Non-zero: conv weights with 5 non-zero entries (one of them -0 is
	// zero), conv bias [0 1], linear with 10 non-zero weights, bias zero.
	cw := make([]float32, 18)
	for _, i := range []int{0, 3, 7, 8, 17} {
		cw[i] = float32(i) + 0.5
	}
	cw[1] = float32(negZero())
	fw := make([]float32, 24)
	for i := range 10 {
		fw[2*i] = -1
	}
	vals := map[string][]float32{
		"c.weight": cw, "c.bias": {0, 1},
		"f.weight": fw, "f.bias": {0, 0, 0},
	}
	c = CountNonzero(a, func(n string) []float32 { return vals[n] })
	// conv: 5 weights, 1 bias, 5·4 = 20 MACs; linear: 10 weights, 10 MACs.
	want = Counts{Layers: []LayerCount{{"c", 6, 5, 20}, {"f", 10, 10, 10}}, Params: 16, Prunable: 15, Bytes: 64, FLOPs: 30}
	if !equalCounts(c, want) {
		t.Errorf("CountNonzero = %+v, want %+v", c, want)
	}

	// A nil slice counts as dense.
	delete(vals, "f.weight")
	c = CountNonzero(a, func(n string) []float32 { return vals[n] })
	if c.Prunable != 5+24 || c.FLOPs != 20+24 {
		t.Errorf("with f.weight missing: prunable %d, FLOPs %d; want 29, 44", c.Prunable, c.FLOPs)
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

func TestCountNonzeroWrongLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a values slice of the wrong length")
		}
	}()
	CountNonzero(tinyArch(), func(n string) []float32 { return []float32{1} })
}

func equalCounts(a, b Counts) bool {
	return slices.Equal(a.Layers, b.Layers) && a.Params == b.Params && a.Prunable == b.Prunable && a.Bytes == b.Bytes && a.FLOPs == b.FLOPs
}
