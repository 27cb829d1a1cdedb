package native

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func TestCNHW(t *testing.T) {
	const n, c, hw = 2, 3, 4
	src := make([]float32, n*c*hw) // NCHW: value encodes (i, ch, k)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for k := 0; k < hw; k++ {
				src[(i*c+ch)*hw+k] = float32(100*i + 10*ch + k)
			}
		}
	}
	dst := make([]float32, len(src))
	toCNHW(dst, src, n, c, hw)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for k := 0; k < hw; k++ {
				if got, want := dst[(ch*n+i)*hw+k], float32(100*i+10*ch+k); got != want {
					t.Fatalf("CNHW (%d,%d,%d) = %v, want %v", ch, i, k, got, want)
				}
			}
		}
	}
	back := make([]float32, len(src))
	fromCNHW(back, dst, n, c, hw)
	almostEqual(t, "round trip", back, src, 0)
}

func TestFlatten(t *testing.T) {
	// [C=2, H=1, W=2] for n = 2 in CNHW: torch order per example is (c, h, w).
	l := newFlatten([]int{2, 1, 2}, 2, true)
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8} // c0: ex0 (1 2), ex1 (3 4); c1: ex0 (5 6), ex1 (7 8)
	almostEqual(t, "y", l.forward(x, 2, true), []float32{1, 2, 5, 6, 3, 4, 7, 8}, 0)
	almostEqual(t, "dx", l.backward([]float32{1, 2, 5, 6, 3, 4, 7, 8}, 2), x, 0)

	v := newFlatten([]int{3}, 2, true)
	almostEqual(t, "vector y", v.forward([]float32{1, 2, 3, 4, 5, 6}, 2, true), []float32{1, 2, 3, 4, 5, 6}, 0)
	if _, err := (nn.Flatten{}).OutShape([]int{2, 1, 2}); err != nil {
		t.Fatal(err)
	}
}
