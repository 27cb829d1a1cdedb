package native

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// TestGradientsEval adds finite-difference checks of the evaluation-mode
// backward passes that Net.Backward(…, false, …) reaches and TestGradients
// does not cover: batch norm on vectors with running statistics, and
// residual blocks (conv + batch norm body and shortcut, option-A padding)
// in evaluation mode. Random running statistics make the evaluation
// normalization differ from the identity.
func TestGradientsEval(t *testing.T) {
	cases := []gradCase{
		{name: "batchnorm1d/eval", spec: nn.BatchNorm{Name: "bn", C: 4}, in: []int{4}, n: 3},
		{name: "batchnorm2d/eval/stats", spec: nn.BatchNorm{Name: "bn", C: 3}, in: []int{3, 2, 2}, n: 2},
		{name: "residual/convbn/eval", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 3, Kernel: 3, Stride: 2, Pad: 1},
			nn.BatchNorm{Name: "b.bn1", C: 3},
		}, Shortcut: []nn.Layer{
			nn.Conv2d{Name: "b.shortcut.0", In: 2, Out: 3, Kernel: 1, Stride: 2},
			nn.BatchNorm{Name: "b.shortcut.1", C: 3},
		}}, in: []int{2, 4, 5}, n: 3},
		{name: "residual/padchannels/eval", spec: nn.Residual{Name: "b", Body: []nn.Layer{
			nn.Conv2d{Name: "b.conv1", In: 2, Out: 4, Kernel: 3, Stride: 2, Pad: 1},
			nn.BatchNorm{Name: "b.bn1", C: 4},
		}, Shortcut: []nn.Layer{nn.PadChannels{In: 2, Out: 4, Stride: 2}}}, in: []int{2, 5, 4}, n: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGradCaseStats(t, c) })
	}
}

// runGradCaseStats is runGradCase with the running statistics of every
// batch norm of the layer set to random values (mean N(0, 0.3²), variance
// in [0.5, 1.5)) before the gradients are taken, and a check that the
// evaluation forwards left them unchanged.
func runGradCaseStats(t *testing.T, c gradCase) {
	rng := rand.New(rand.NewPCG(1, 2))
	l, out := testBuild(t, c.spec, c.in, c.n, rng)
	r := rand.New(rand.NewPCG(3, 4))
	randParams(l, r)
	for _, b := range l.buffers() {
		for i := range b.data {
			if strings.HasSuffix(b.name, ".running_var") {
				b.data[i] = float32(0.5 + r.Float64())
			} else {
				b.data[i] = float32(0.3 * r.NormFloat64())
			}
		}
	}
	var stats [][]float32
	for _, b := range l.buffers() {
		stats = append(stats, slices.Clone(b.data))
	}
	if len(stats) == 0 {
		t.Fatal("no batch norm in the case: the test would not exercise running statistics")
	}
	x := make([]float32, c.n*shapeSize(c.in))
	fillNormal(x, r, 1)
	rr := make([]float32, c.n*shapeSize(out))
	fillNormal(rr, r, 1)

	objective(l, &c, x, rr)
	dx := append([]float32(nil), l.backward(rr, c.n)...)
	pgrads := make([][]float32, len(l.params()))
	for i, p := range l.params() {
		pgrads[i] = append([]float32(nil), p.grad...)
	}
	f := func() float64 { return objective(l, &c, x, rr) }
	checkGrads(t, "dx", dx, x, f)
	for i, p := range l.params() {
		checkGrads(t, p.info.Name, pgrads[i], p.w, f)
	}
	for i, b := range l.buffers() {
		if !slices.Equal(b.data, stats[i]) {
			t.Errorf("%s changed by evaluation forwards", b.name)
		}
	}
}

// TestBackwardZeroAllocs: Backward allocates nothing in either mode, and
// leaves the caller's dLogits as they were.
func TestBackwardZeroAllocs(t *testing.T) {
	for _, a := range []struct {
		arch  *nn.Arch
		batch int
	}{{lenet300100(), 8}, {smallConvNet(), 4}} {
		net := newTrainNet(t, a.arch, a.batch)
		maskAll(t, net, 0, true)
		b := nntest.RandomBatch(a.arch, a.batch, nntest.NewRand(3))
		dl := make([]float32, a.batch*a.arch.Classes)
		fillNormal(dl, rand.New(rand.NewPCG(4, 4)), 1)
		want := slices.Clone(dl)
		for _, train := range []bool{false, true} {
			var err error
			allocs := testing.AllocsPerRun(5, func() { err = net.Backward(b, train, dl) })
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Errorf("%s: Backward(train=%v) allocates %v times", a.arch.Name, train, allocs)
			}
			if !slices.Equal(dl, want) {
				t.Fatalf("%s: Backward(train=%v) wrote into dLogits", a.arch.Name, train)
			}
		}
	}
}
