package native

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func TestPadChannels(t *testing.T) {
	// One channel → three, stride 2 on 3×3: one zero channel before, one after.
	l := newPadChannels(nn.PadChannels{In: 1, Out: 3, Stride: 2}, []int{1, 3, 3}, 1, true)
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	almostEqual(t, "y", l.forward(x, 1, true), []float32{0, 0, 0, 0, 1, 3, 7, 9, 0, 0, 0, 0}, 0)
	dx := l.backward([]float32{9, 9, 9, 9, 1, 2, 3, 4, 9, 9, 9, 9}, 1)
	almostEqual(t, "dx", dx, []float32{1, 0, 2, 0, 0, 0, 3, 0, 4}, 0)

	// Two channels → five (odd: one before, two after), stride 1, n = 2 of
	// 1×1 pixels: CNHW channel-major.
	l = newPadChannels(nn.PadChannels{In: 2, Out: 5, Stride: 1}, []int{2, 1, 1}, 2, true)
	almostEqual(t, "odd y", l.forward([]float32{1, 2, 3, 4}, 2, true), []float32{0, 0, 1, 2, 3, 4, 0, 0, 0, 0}, 0)
	almostEqual(t, "odd dx", l.backward([]float32{9, 9, 1, 2, 3, 4, 9, 9, 9, 9}, 2), []float32{1, 2, 3, 4}, 0)
}

func TestResidualIdentity(t *testing.T) {
	b := &builder{maxBatch: 1, ws: &workspace{}}
	l, _, err := b.one(nn.Residual{Name: "b", Body: []nn.Layer{nn.ReLU{}}}, []int{4}, true)
	if err != nil {
		t.Fatal(err)
	}
	// y = relu(x) + x; dx = dy·[x > 0] + dy.
	almostEqual(t, "y", l.forward([]float32{-1, 2, -3, 4}, 1, true), []float32{-1, 4, -3, 8}, 0)
	almostEqual(t, "dx", l.backward([]float32{1, 1, 2, 2}, 1), []float32{1, 2, 2, 4}, 0)
}
