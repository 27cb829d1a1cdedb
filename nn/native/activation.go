package native

import (
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn/native/internal/vec"
)

// relu is max(x, 0), elementwise on any layout. Its gradient at 0 is 0, as in
// PyTorch.
type relu struct {
	size   int // entries per example
	needDx bool
	y, dx  []float32
}

// newReLU builds a ReLU on examples of size entries.
func newReLU(size, maxBatch int, needDx bool) *relu {
	l := &relu{size: size, needDx: needDx, y: make([]float32, maxBatch*size)}
	if needDx {
		l.dx = make([]float32, maxBatch*size)
	}
	return l
}

func (l *relu) forward(x []float32, n int, train bool) []float32 {
	m := n * l.size
	y := l.y[:m]
	// Branch-free (vec.ReLU): on real activations the sign is a coin flip,
	// and a mispredicted branch per entry made ReLU cost a fifth of a ResNet
	// step. The sign bit, spread over the word, masks negatives (and −0) to
	// +0; AVX2 does 8 entries at a time.
	vec.ReLU(y, x[:m])
	return y
}

func (l *relu) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	m := n * l.size
	dx := l.dx[:m]
	// Branch-free as in forward: y ≥ +0 always, and y > 0 exactly when its
	// bits are non-zero, so (0 − bits) has the sign bit set exactly then.
	vec.ReLUGrad(dx, dy[:m], l.y[:m])
	return dx
}

func (l *relu) params() []*param  { return nil }
func (l *relu) buffers() []buffer { return nil }

// dropout is inverted dropout: in training each entry is kept with
// probability 1−p and scaled by 1/(1−p), else zeroed; in evaluation it is the
// identity. The mask of a training forward is drawn from rng, one Float32 per
// entry in storage order (entry dropped when the draw is < p), and kept for
// backward.
type dropout struct {
	p      float32
	scale  float32
	size   int
	needDx bool
	rng    *rand.Rand

	mask  []float32 // 0 or scale per entry of the last training forward
	train bool      // mode of the last forward
	y, dx []float32
}

// newDropout builds a dropout layer with drop probability p on examples of
// size entries, drawing masks from rng.
func newDropout(p float64, size, maxBatch int, rng *rand.Rand, needDx bool) *dropout {
	l := &dropout{p: float32(p), size: size, needDx: needDx, rng: rng}
	if p < 1 {
		l.scale = float32(1 / (1 - p))
	}
	if p > 0 {
		l.mask = make([]float32, maxBatch*size)
		l.y = make([]float32, maxBatch*size)
		if needDx {
			l.dx = make([]float32, maxBatch*size)
		}
	}
	return l
}

func (l *dropout) forward(x []float32, n int, train bool) []float32 {
	m := n * l.size
	l.train = train && l.p > 0
	if !l.train {
		return x[:m]
	}
	mask := l.mask[:m]
	for i := range mask {
		if l.rng.Float32() < l.p {
			mask[i] = 0
		} else {
			mask[i] = l.scale
		}
	}
	l.applyMask(x[:m])
	return l.y[:m]
}

// applyMask writes x ⊙ mask into y, using the mask of the last training
// forward.
func (l *dropout) applyMask(x []float32) {
	y := l.y[:len(x)]
	mask := l.mask[:len(x)]
	for i, v := range x {
		y[i] = v * mask[i]
	}
}

func (l *dropout) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	m := n * l.size
	if !l.train {
		return dy[:m]
	}
	dx := l.dx[:m]
	mask := l.mask[:m]
	for i, g := range dy[:m] {
		dx[i] = g * mask[i]
	}
	return dx
}

func (l *dropout) params() []*param  { return nil }
func (l *dropout) buffers() []buffer { return nil }
