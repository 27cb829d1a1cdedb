package nntest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestGradients checks logits, losses and gradients against the float64
// reference and against finite differences of the engine's own loss.
func TestGradients(t *testing.T, b nn.Backend) {
	for _, temp := range []float64{1, 2.5} {
		t.Run(fmt.Sprintf("MLP/T=%v", temp), func(t *testing.T) { testMLPGradients(t, b, temp) })
	}
	t.Run("ConvNet", func(t *testing.T) { testConvGradients(t, b) })
}

func testMLPGradients(t *testing.T, b nn.Backend, temp float64) {
	arch := MLP()
	const maxBatch = 8
	net := build(t, b, arch, maxBatch, temp, 0)
	SetRandom(net, NewRand(1))
	// A batch of 6 in buffers of 8: only the first N examples count.
	batch := RandomBatch(arch, maxBatch, NewRand(2))
	batch.N = 6
	ref, err := newRef(net, nil, temp)
	if err != nil {
		t.Fatal(err)
	}
	refLogits := ref.logits(batch.X, batch.N, false)
	logits := make([]float32, batch.N*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits", logits, refLogits, 1e-5*(1+maxAbs(refLogits)), 1e-5)

	refLoss, refGrads := ref.mlpGrads(batch.X, batch.Y, batch.N)
	loss := mustGradients(t, net, batch)
	if math.Abs(loss-refLoss) > 1e-5*(1+refLoss) {
		t.Errorf("training loss %.9g, reference %.9g", loss, refLoss)
	}
	grads := map[string][]float32{}
	for _, p := range net.Params() {
		name := p.Info().Name
		grads[name] = grad(p)
		want := refGrads[name]
		checkClose(t, "gradient of "+name, grads[name], want, 1e-4*maxAbs(want)+1e-7, 1e-3)
	}

	lossSum, correct, err := net.Evaluate(batch)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lossSum/float64(batch.N)-refLoss) > 1e-5*(1+refLoss) {
		t.Errorf("evaluation loss %.9g / %d, reference mean %.9g", lossSum, batch.N, refLoss)
	}
	if want := refCorrect(refLogits, batch.Y, batch.N, arch.Classes); correct != want {
		t.Errorf("evaluation: %d correct, reference %d", correct, want)
	}

	// Finite differences of the engine's evaluation loss.
	eval := func() float64 {
		s, _, err := net.Evaluate(batch)
		if err != nil {
			t.Fatal(err)
		}
		return s / float64(batch.N)
	}
	checkFD(t, net, grads, eval, NewRand(3))
}

// checkFD compares grads with central differences of loss on a few
// coordinates per tensor, perturbing θ through SetValues.
func checkFD(t *testing.T, net nn.Net, grads map[string][]float32, loss func() float64, rng *rand.Rand) {
	t.Helper()
	const eps = 1e-3
	for _, p := range net.Params() {
		name := p.Info().Name
		v := values(p)
		for _, i := range coords(len(v), 3, rng) {
			old := v[i]
			v[i] = old + eps
			hi := float64(v[i])
			p.SetValues(v)
			lp := loss()
			v[i] = old - eps
			lo := float64(v[i])
			p.SetValues(v)
			lm := loss()
			v[i] = old
			p.SetValues(v)
			fd := (lp - lm) / (hi - lo)
			g := float64(grads[name][i])
			if math.Abs(fd-g) > 1e-3+3e-2*math.Abs(fd) {
				t.Errorf("gradient of %s[%d] = %.6g, finite difference of the loss %.6g", name, i, g, fd)
			}
		}
	}
}

func refCorrect(logits []float64, y []int32, n, classes int) int {
	c := 0
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if int32(best) == y[i] {
			c++
		}
	}
	return c
}

func testConvGradients(t *testing.T, b nn.Backend) {
	arch := ConvNet()
	const n = 4
	net := build(t, b, arch, n, 0, 0)
	SetRandom(net, NewRand(11))
	// Random running statistics, so that evaluation is not the identity
	// normalization.
	st := mustState(t, net)
	rng := NewRand(12)
	nbuf := 0
	for name, v := range st.Tensors {
		if !strings.HasPrefix(name, "buffer/") {
			continue
		}
		nbuf++
		for i := range v {
			if strings.HasSuffix(name, ".running_var") {
				v[i] = float32(0.5 + rng.Float64())
			} else {
				v[i] = float32(0.3 * rng.NormFloat64())
			}
		}
	}
	if nbuf != 2*4 {
		t.Errorf("state has %d buffers, want running_mean and running_var for each of the 4 batch norms", nbuf)
	}
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
	batch := RandomBatch(arch, n, NewRand(13))
	ref, err := newRef(net, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	refLogits := ref.logits(batch.X, n, false)
	logits := make([]float32, n*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "evaluation logits", logits, refLogits, 1e-5*(1+maxAbs(refLogits)), 1e-4)

	ref.newBufs = map[string][]float64{}
	refLoss := ref.loss(ref.logits(batch.X, n, true), batch.Y, n)
	newBufs := ref.newBufs
	ref.newBufs = nil
	loss := mustGradients(t, net, batch)
	if math.Abs(loss-refLoss) > 1e-5*(1+refLoss) {
		t.Errorf("training loss %.9g, reference %.9g", loss, refLoss)
	}
	st = mustState(t, net)
	for name, want := range newBufs {
		got, err := st.Tensor("buffer/"+name, len(want))
		if err != nil {
			t.Error(err)
			continue
		}
		checkClose(t, "running statistic "+name+" after one training forward", got, want, 1e-6, 1e-5)
	}

	grads := map[string][]float32{}
	crng := NewRand(14)
	for _, p := range net.Params() {
		name := p.Info().Name
		g := grad(p)
		grads[name] = g
		idx := coords(len(g), 24, crng)
		got := make([]float32, len(idx))
		want := make([]float64, len(idx))
		for k, i := range idx {
			got[k], want[k] = g[i], ref.fdGrad(name, i, batch.X, batch.Y, n)
		}
		checkClose(t, fmt.Sprintf("gradient of %s at %v", name, idx), got, want, 2e-4*maxAbs(want)+1e-6, 2e-3)
	}

	// Finite differences of the engine's training loss (batch norm makes
	// the evaluation loss a different function).
	train := func() float64 { return mustGradients(t, net, batch) }
	checkFD(t, net, grads, train, NewRand(15))
}
