package nntest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestBackend runs the whole suite on b.
func TestBackend(t *testing.T, b nn.Backend) {
	t.Run("Params", func(t *testing.T) { TestParams(t, b) })
	t.Run("Gradients", func(t *testing.T) { TestGradients(t, b) })
	t.Run("Backward", func(t *testing.T) { TestBackward(t, b) })
	t.Run("Optimizers", func(t *testing.T) { TestOptimizers(t, b) })
	t.Run("Masks", func(t *testing.T) { TestMasks(t, b) })
	t.Run("MaskPatterns", func(t *testing.T) { TestMaskPatterns(t, b) })
	t.Run("MaskDensities", func(t *testing.T) { TestMaskDensities(t, b) })
	t.Run("Checkpoint", func(t *testing.T) { TestCheckpoint(t, b) })
	t.Run("Parametrizations", func(t *testing.T) { TestParametrizations(t, b) })
	t.Run("Errors", func(t *testing.T) { TestErrors(t, b) })
}

func build(t *testing.T, b nn.Backend, arch *nn.Arch, maxBatch int, temperature float64, dropoutSeed uint64) nn.Net {
	t.Helper()
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, Temperature: temperature, DropoutSeed: dropoutSeed})
	if err != nil {
		t.Fatalf("build %s: %v", arch.Name, err)
	}
	return net
}

func values(p nn.Param) []float32 { return append([]float32(nil), p.Values()...) }
func grad(p nn.Param) []float32   { return append([]float32(nil), p.Grad()...) }

func mustState(t *testing.T, net nn.Net) *nn.State {
	t.Helper()
	s, err := net.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return s
}

func mustGradients(t *testing.T, net nn.Net, b nn.Batch) float64 {
	t.Helper()
	loss, err := net.Gradients(b)
	if err != nil {
		t.Fatalf("Gradients: %v", err)
	}
	return loss
}

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// checkClose reports the entries of got that differ from want by more than
// atol + rtol·|want| (at most five per call) and returns whether all were
// close.
func checkClose(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
		return false
	}
	bad := 0
	for i := range want {
		g := float64(got[i])
		if d := math.Abs(g - want[i]); !(d <= atol+rtol*math.Abs(want[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g (diff %.3g, tolerance %.3g)", what, i, g, want[i], d, atol+rtol*math.Abs(want[i]))
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d entries differ in all", what, bad)
	}
	return bad == 0
}

// coords returns the indices checked in a tensor of size entries: all of a
// small tensor, else the first, the last and k more drawn from rng.
func coords(size, k int, rng *rand.Rand) []int {
	if size <= k+2 {
		c := make([]int, size)
		for i := range c {
			c[i] = i
		}
		return c
	}
	c := []int{0, size - 1}
	for range k {
		c = append(c, rng.IntN(size))
	}
	return c
}
