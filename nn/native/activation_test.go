package native

import (
	"math/rand/v2"
	"testing"
)

func TestReLU(t *testing.T) {
	l := newReLU(4, 2, true)
	almostEqual(t, "y", l.forward([]float32{-1, 0, 2, 3, 9}, 1, true), []float32{0, 0, 2, 3}, 0)
	almostEqual(t, "dx", l.backward([]float32{5, 6, 7, 8}, 1), []float32{0, 0, 7, 8}, 0)
}

func TestDropout(t *testing.T) {
	src := rand.NewPCG(1, 2)
	const n, size = 50, 40
	l := newDropout(0.25, size, n, rand.New(src), true)
	x := make([]float32, n*size)
	for i := range x {
		x[i] = float32(i%7) + 1
	}
	y := l.forward(x, n, true)
	zeros := 0
	for i, v := range y {
		switch v {
		case 0:
			zeros++
		case x[i] * l.scale:
		default:
			t.Fatalf("y[%d] = %v, want 0 or %v", i, v, x[i]*l.scale)
		}
	}
	if frac := float64(zeros) / float64(len(y)); frac < 0.2 || frac > 0.3 {
		t.Errorf("dropped fraction %v, want about 0.25", frac)
	}
	// Backward uses the mask of the forward.
	dy := make([]float32, n*size)
	for i := range dy {
		dy[i] = 3
	}
	dx := l.backward(dy, n)
	for i := range dx {
		if (dx[i] == 0) != (y[i] == 0) || (dx[i] != 0 && dx[i] != 4) {
			t.Fatalf("dx[%d] = %v with y = %v", i, dx[i], y[i])
		}
	}
	// The same seed gives the same mask.
	first := append([]float32(nil), y...)
	src.Seed(1, 2)
	almostEqual(t, "reseeded", l.forward(x, n, true), first, 0)
	// Evaluation is the identity, forward and backward.
	almostEqual(t, "eval y", l.forward(x[:size], 1, false), x[:size], 0)
	almostEqual(t, "eval dx", l.backward(dy[:size], 1), dy[:size], 0)

	// p = 0 is the identity in training too.
	l0 := newDropout(0, 3, 1, rand.New(src), true)
	almostEqual(t, "p=0", l0.forward([]float32{1, 2, 3}, 1, true), []float32{1, 2, 3}, 0)
}
