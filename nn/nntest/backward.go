package nntest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// BNDropoutMLP is a 12-16-4 perceptron with batch norm after the hidden
// linear layer and dropout after its ReLU: both layers whose training and
// evaluation modes differ, in one small net.
func BNDropoutMLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-bn-dropout-mlp", Input: []int{12}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 12, Out: 16, Bias: true},
		nn.BatchNorm{Name: "bn1", C: 16, Eps: 1e-5, Momentum: 0.1}, nn.ReLU{},
		nn.Dropout{P: 0.25},
		nn.Linear{Name: "fc2", In: 16, Out: 4, Bias: true},
	}}
}

// TestBackward checks Net.Backward, the backward pass from a given gradient
// of the logits:
//
//   - evaluation mode, on a net with batch norm (random running statistics)
//     and dropout and on the conv net: the gradients equal finite
//     differences of the evaluation-mode objective Σ dLogits ⊙ Logits, of
//     the engine and of the float64 reference; the state (running
//     statistics included) is unchanged and a second call gives the same
//     gradients;
//   - training mode with dLogits the cross-entropy gradient of the
//     training-mode logits: the gradients of Gradients, on the MLP (where
//     the modes agree and the logits come from Logits) and on the conv net
//     (batch statistics; the logits from the float64 reference), and the
//     same updated running statistics;
//   - training mode draws the dropout masks Gradients draws at the same
//     step;
//   - bad batches and a short dLogits are errors, not panics.
func TestBackward(t *testing.T, b nn.Backend) {
	t.Run("Eval/BNDropoutMLP", func(t *testing.T) { testBackwardEval(t, b, BNDropoutMLP(), 6, 21) })
	t.Run("Eval/ConvNet", func(t *testing.T) { testBackwardEval(t, b, ConvNet(), 3, 31) })
	t.Run("Train/MLP", func(t *testing.T) { testBackwardTrainMLP(t, b) })
	t.Run("Train/ConvNet", func(t *testing.T) { testBackwardTrainConv(t, b) })
	t.Run("Train/Dropout", func(t *testing.T) { testBackwardDropout(t, b) })
	t.Run("Errors", func(t *testing.T) { testBackwardErrors(t, b) })
}

// setRandomStats sets every batch norm running mean to N(0, 0.3²) and
// every running variance to [0.5, 1.5), so that evaluation mode is not the
// identity normalization. It fails the test if the net has no buffers.
func setRandomStats(t *testing.T, net nn.Net, rng *rand.Rand) {
	t.Helper()
	st := mustState(t, net)
	n := 0
	for _, name := range sortedKeys(st.Tensors) {
		if !strings.HasPrefix(name, "buffer/") {
			continue
		}
		n++
		v := st.Tensors[name]
		for i := range v {
			if strings.HasSuffix(name, ".running_var") {
				v[i] = float32(0.5 + rng.Float64())
			} else {
				v[i] = float32(0.3 * rng.NormFloat64())
			}
		}
	}
	if n == 0 {
		t.Fatal("the net has no running statistics: the test would not exercise evaluation-mode batch norm")
	}
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func mustBackward(t *testing.T, net nn.Net, b nn.Batch, train bool, dl []float32) map[string][]float32 {
	t.Helper()
	if err := net.Backward(b, train, dl); err != nil {
		t.Fatalf("Backward(train=%v): %v", train, err)
	}
	g := map[string][]float32{}
	for _, p := range net.Params() {
		g[p.Info().Name] = grad(p)
	}
	return g
}

// ceGrad is the gradient of the mean cross-entropy of softmax(z/T) with
// respect to the logits z (n×classes), (softmax(z/T) − onehot(y)) / (n·T),
// computed in float64.
func ceGrad(z []float64, y []int32, n, classes int, temp float64) []float32 {
	if temp == 0 {
		temp = 1
	}
	out := make([]float32, n*classes)
	for i := 0; i < n; i++ {
		row := z[i*classes : (i+1)*classes]
		m, se := shiftedExpSum(row, temp)
		for j, v := range row {
			p := math.Exp(v/temp-m) / se
			if int32(j) == y[i] {
				p--
			}
			out[i*classes+j] = float32(p / (float64(n) * temp))
		}
	}
	return out
}

func testBackwardEval(t *testing.T, b nn.Backend, arch *nn.Arch, n int, seed uint64) {
	net := build(t, b, arch, n, 0, 7)
	SetRandom(net, NewRand(seed))
	setRandomStats(t, net, NewRand(seed+1))
	batch := RandomBatch(arch, n, NewRand(seed+2))
	rng := NewRand(seed + 3)
	dl := make([]float32, n*arch.Classes)
	for i := range dl {
		dl[i] = float32(rng.NormFloat64())
	}
	dlCopy := append([]float32(nil), dl...)
	before := mustState(t, net)

	grads := mustBackward(t, net, batch, false, dl)
	if !bitsEqual(dl, dlCopy) {
		t.Fatal("Backward wrote into dLogits")
	}
	compareStates(t, "state after an evaluation-mode Backward", mustState(t, net), before)
	again := mustBackward(t, net, batch, false, dl)
	for name, g := range grads {
		if !bitsEqual(again[name], g) {
			t.Errorf("gradient of %s: a second evaluation-mode Backward differs", name)
		}
	}

	// The engine's own objective, by finite differences.
	logits := make([]float32, n*arch.Classes)
	obj := func() float64 {
		if err := net.Logits(logits, batch); err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range logits {
			s += float64(dl[i]) * float64(v)
		}
		return s
	}
	checkFD(t, net, grads, obj, NewRand(seed+4))

	// The float64 reference's objective, by finite differences.
	ref, err := newRef(net, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	refObj := func() float64 {
		var s float64
		for i, v := range ref.logits(batch.X, n, false) {
			s += float64(dl[i]) * v
		}
		return s
	}
	crng := NewRand(seed + 5)
	for _, p := range net.Params() {
		name := p.Info().Name
		v := ref.params[name]
		idx := coords(len(v), 12, crng)
		got := make([]float32, len(idx))
		want := make([]float64, len(idx))
		for k, i := range idx {
			old := v[i]
			h := 1e-6 * math.Max(1, math.Abs(old))
			v[i] = old + h
			lp := refObj()
			v[i] = old - h
			lm := refObj()
			v[i] = old
			got[k], want[k] = grads[name][i], (lp-lm)/(2*h)
		}
		checkClose(t, fmt.Sprintf("evaluation-mode gradient of %s at %v", name, idx), got, want, 2e-4*maxAbs(want)+1e-6, 2e-3)
	}
}

func testBackwardTrainMLP(t *testing.T, b nn.Backend) {
	arch := MLP()
	const n, temp = 6, 2.5
	net := build(t, b, arch, n, temp, 0)
	SetRandom(net, NewRand(41))
	batch := RandomBatch(arch, n, NewRand(42))
	logits := make([]float32, n*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	dl := ceGrad(to64(logits), batch.Y, n, arch.Classes, temp)
	mustGradients(t, net, batch)
	want := map[string][]float32{}
	for _, p := range net.Params() {
		want[p.Info().Name] = grad(p)
	}
	got := mustBackward(t, net, batch, true, dl)
	for name, w := range want {
		checkClose(t, "training-mode Backward gradient of "+name, got[name], to64(w), 1e-6*maxAbs(to64(w))+1e-9, 1e-5)
	}
}

func testBackwardTrainConv(t *testing.T, b nn.Backend) {
	arch := ConvNet()
	const n = 4
	net := build(t, b, arch, n, 0, 0)
	SetRandom(net, NewRand(51))
	setRandomStats(t, net, NewRand(52))
	batch := RandomBatch(arch, n, NewRand(53))
	st := mustState(t, net)
	ref, err := newRef(net, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	dl := ceGrad(ref.logits(batch.X, n, true), batch.Y, n, arch.Classes, 1)

	mustGradients(t, net, batch)
	want := map[string][]float32{}
	for _, p := range net.Params() {
		want[p.Info().Name] = grad(p)
	}
	afterGradients := mustState(t, net)
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
	got := mustBackward(t, net, batch, true, dl)
	// The absolute tolerance is on the scale of the whole network's
	// gradients: a tensor whose true gradient cancels to zero (a bias that
	// feeds batch norm) holds float32 rounding noise of that scale, which
	// two correct code paths need not round alike.
	var scale float64
	for _, w := range want {
		scale = max(scale, maxAbs(to64(w)))
	}
	for name, w := range want {
		checkClose(t, "training-mode Backward gradient of "+name, got[name], to64(w), 1e-5*scale+1e-7, 1e-3)
	}
	compareStates(t, "state after a training-mode Backward (running statistics updated as by Gradients)", mustState(t, net), afterGradients)
}

// testBackwardDropout checks on one example that a training-mode Backward
// drops the hidden units Gradients drops at the same step: the columns of
// fc2's weight gradient are zero exactly at the dropped units (the hidden
// biases keep every unit alive after the ReLU).
func testBackwardDropout(t *testing.T, b nn.Backend) {
	arch := DropoutMLP()
	net := build(t, b, arch, 1, 0, 3)
	SetRandom(net, NewRand(61))
	// Hidden units alive after the ReLU, so that dropout decides.
	bias := make([]float32, 16)
	for i := range bias {
		bias[i] = 3
	}
	net.Param("fc1.bias").SetValues(bias)
	batch := RandomBatch(arch, 1, NewRand(62))
	mustGradients(t, net, batch)
	zeroCols := func(g []float32) string {
		var s strings.Builder
		for j := 0; j < 16; j++ {
			zero := true
			for o := 0; o < arch.Classes; o++ {
				if g[o*16+j] != 0 {
					zero = false
				}
			}
			if zero {
				s.WriteByte('0')
			} else {
				s.WriteByte('1')
			}
		}
		return s.String()
	}
	want := zeroCols(net.Param("fc2.weight").Grad())
	dl := []float32{0.3, -0.7, 0.2, 0.9}
	train := zeroCols(mustBackward(t, net, batch, true, dl)["fc2.weight"])
	eval := zeroCols(mustBackward(t, net, batch, false, dl)["fc2.weight"])
	if train != want {
		t.Errorf("units alive in a training-mode Backward %s, in Gradients %s: different dropout masks", train, want)
	}
	if train == eval {
		t.Errorf("units alive %s in both modes: the test needs a dropped unit (change the seed)", train)
	}
}

func testBackwardErrors(t *testing.T, b nn.Backend) {
	arch := MLP()
	const maxBatch = 4
	net := build(t, b, arch, maxBatch, 0, 0)
	SetRandom(net, NewRand(71))
	good := RandomBatch(arch, maxBatch, NewRand(72))
	before := mustState(t, net)
	dl := make([]float32, (maxBatch+1)*arch.Classes)
	big := RandomBatch(arch, maxBatch+1, NewRand(73))
	empty := good
	empty.N = 0
	short := good
	short.X = good.X[:len(good.X)-1]
	for _, c := range []struct {
		what string
		b    nn.Batch
		dl   []float32
	}{
		{"a batch larger than MaxBatch", big, dl},
		{"an empty batch", empty, dl},
		{"X too short", short, dl},
		{"a short dLogits", good, dl[:maxBatch*arch.Classes-1]},
	} {
		for _, train := range []bool{false, true} {
			what := fmt.Sprintf("Backward(train=%v) with %s", train, c.what)
			if _, err := noPanic(t, what, func() (any, error) { return nil, net.Backward(c.b, train, c.dl) }); err == nil {
				t.Errorf("%s: no error", what)
			}
		}
	}
	// Labels are not read: none at all is fine.
	noLabels := good
	noLabels.Y = nil
	if err := net.Backward(noLabels, false, dl); err != nil {
		t.Errorf("Backward without labels: %v", err)
	}
	compareStates(t, "state after Backward calls in evaluation mode and refused ones", mustState(t, net), before)
}
