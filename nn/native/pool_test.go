package native

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func TestMaxPoolForward(t *testing.T) {
	// One 4×4 plane with a tie in the top-right window (first max wins) and a
	// 5th column dropped by floor mode.
	l := newMaxPool2d(nn.MaxPool2d{Kernel: 2, Stride: 2}, []int{1, 4, 5}, 1, true)
	x := []float32{
		1, 2, 7, 7, 100,
		3, 4, 0, 1, 100,
		-1, -2, 5, 6, 100,
		-3, -4, 8, 6, 100,
	}
	almostEqual(t, "y", l.forward(x, 1, true), []float32{4, 7, -1, 8}, 0)
	dx := l.backward([]float32{1, 2, 3, 4}, 1)
	almostEqual(t, "dx", dx, []float32{
		0, 0, 2, 0, 0,
		0, 1, 0, 0, 0,
		3, 0, 0, 0, 0,
		0, 0, 4, 0, 0,
	}, 0)

	// Overlapping windows (3/2) add their gradients; two planes (c = 1, n = 2).
	l = newMaxPool2d(nn.MaxPool2d{Kernel: 3, Stride: 2}, []int{1, 3, 5}, 2, true)
	x = []float32{
		0, 0, 9, 0, 0,
		0, 0, 0, 0, 0,
		0, 0, 0, 0, 0,
		1, 2, 3, 4, 5,
		0, 0, 0, 0, 0,
		0, 0, 0, 0, 0,
	}
	almostEqual(t, "overlap y", l.forward(x, 2, true), []float32{9, 9, 3, 5}, 0)
	dx = l.backward([]float32{1, 2, 3, 4}, 2)
	want := make([]float32, 30)
	want[2], want[17], want[19] = 3, 3, 4
	almostEqual(t, "overlap dx", dx, want, 0)
}

func TestGlobalAvgPool(t *testing.T) {
	// C = 2, n = 2, 1×2 pixels; CNHW in, N×C out.
	l := newGlobalAvgPool([]int{2, 1, 2}, 2, true)
	x := []float32{1, 3, 5, 7, 10, 20, -2, 2}
	almostEqual(t, "y", l.forward(x, 2, true), []float32{2, 15, 6, 0}, 0)
	almostEqual(t, "dx", l.backward([]float32{2, 4, 6, 8}, 2), []float32{1, 1, 3, 3, 2, 2, 4, 4}, 0)
}
