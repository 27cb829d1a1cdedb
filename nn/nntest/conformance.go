package nntest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// MLP is a 12-16-10-4 perceptron with biases and ReLU.
func MLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-mlp", Input: []int{12}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 12, Out: 16, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 16, Out: 10, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc3", In: 10, Out: 4, Bias: true},
	}}
}

// MaskMLP is the 2-layer perceptron (20-32-5) of the mask equivalence test
// of specs/README.md §4.3.
func MaskMLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-mask-mlp", Input: []int{20}, Classes: 5, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 20, Out: 32, Bias: true}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 32, Out: 5, Bias: true},
	}}
}

// ConvNet is a small conv net on 3×6×6 images: a convolution with bias,
// batch norm, ReLU and max pooling, a residual block with a strided body and
// an option-A (PadChannels) shortcut, a residual block with a 1×1
// convolution and an identity shortcut, then Flatten and a linear
// classifier.
func ConvNet() *nn.Arch {
	bn := func(name string, c int) nn.BatchNorm {
		return nn.BatchNorm{Name: name, C: c, Eps: 1e-5, Momentum: 0.1}
	}
	return &nn.Arch{Name: "nntest-conv", Input: []int{3, 6, 6}, Classes: 5, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 3, Out: 4, Kernel: 3, Stride: 1, Pad: 1, Bias: true},
		bn("bn1", 4), nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2}, // 4×3×3
		nn.Residual{Name: "block1",
			Body: []nn.Layer{
				nn.Conv2d{Name: "block1.conv1", In: 4, Out: 8, Kernel: 3, Stride: 2, Pad: 1}, // 8×2×2
				bn("block1.bn1", 8), nn.ReLU{},
				nn.Conv2d{Name: "block1.conv2", In: 8, Out: 8, Kernel: 3, Stride: 1, Pad: 1},
				bn("block1.bn2", 8),
			},
			Shortcut: []nn.Layer{nn.PadChannels{In: 4, Out: 8, Stride: 2}},
		},
		nn.ReLU{},
		nn.Residual{Name: "block2", Body: []nn.Layer{
			nn.Conv2d{Name: "block2.conv1", In: 8, Out: 8, Kernel: 1, Stride: 1, Bias: true},
			bn("block2.bn1", 8),
		}},
		nn.ReLU{},
		nn.Flatten{}, // 32
		nn.Linear{Name: "fc", In: 32, Out: 5, Bias: true},
	}}
}

// DropoutMLP is a 12-16-4 perceptron with dropout after the hidden layer.
func DropoutMLP() *nn.Arch {
	return &nn.Arch{Name: "nntest-dropout-mlp", Input: []int{12}, Classes: 4, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 12, Out: 16, Bias: true}, nn.ReLU{},
		nn.Dropout{P: 0.25},
		nn.Linear{Name: "fc2", In: 16, Out: 4, Bias: true},
	}}
}

// NewRand returns the suite's deterministic source for a seed.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }

// SetRandom sets every parameter of net with SetValues, in canonical order,
// from rng: weights N(0, 2/fan_in), biases N(0, 0.1²), norm scales
// 1 + N(0, 0.2²), norm shifts N(0, 0.1²).
func SetRandom(net nn.Net, rng *rand.Rand) {
	for _, p := range net.Params() {
		info := p.Info()
		v := make([]float32, info.Size())
		for i := range v {
			z := rng.NormFloat64()
			switch info.Kind {
			case nn.Weight:
				v[i] = float32(z * math.Sqrt(2/float64(info.FanIn)))
			case nn.NormScale:
				v[i] = float32(1 + 0.2*z)
			default:
				v[i] = float32(0.1 * z)
			}
		}
		p.SetValues(v)
	}
}

// RandomBatch returns n examples of arch's input shape with N(0, 1) entries
// and uniform labels.
func RandomBatch(arch *nn.Arch, n int, rng *rand.Rand) nn.Batch {
	size := shapeSize(arch.Input)
	b := nn.Batch{X: make([]float32, n*size), Y: make([]int32, n), N: n}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = int32(rng.IntN(arch.Classes))
	}
	return b
}

// RandomMask returns a 0/1 mask of size entries that keeps each entry with
// probability density, and at least one.
func RandomMask(size int, density float64, rng *rand.Rand) []float32 {
	m := make([]float32, size)
	for i := range m {
		if rng.Float64() < density {
			m[i] = 1
		}
	}
	m[rng.IntN(size)] = 1
	return m
}

// TestBackend runs the whole suite on b.
func TestBackend(t *testing.T, b nn.Backend) {
	t.Run("Params", func(t *testing.T) { TestParams(t, b) })
	t.Run("Gradients", func(t *testing.T) { TestGradients(t, b) })
	t.Run("Optimizers", func(t *testing.T) { TestOptimizers(t, b) })
	t.Run("Masks", func(t *testing.T) { TestMasks(t, b) })
	t.Run("MaskPatterns", func(t *testing.T) { TestMaskPatterns(t, b) })
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

// TestParams checks that Params lists Arch.Params in canonical order, that
// Param finds each by name, that a new net is all zero and dense.
func TestParams(t *testing.T, b nn.Backend) {
	for _, arch := range []*nn.Arch{MLP(), ConvNet(), DropoutMLP(), MaskMLP()} {
		t.Run(arch.Name, func(t *testing.T) {
			net := build(t, b, arch, 3, 0, 0)
			want := arch.Params()
			ps := net.Params()
			if len(ps) != len(want) {
				t.Fatalf("%d params, want %d", len(ps), len(want))
			}
			for i, p := range ps {
				info := p.Info()
				if !reflect.DeepEqual(info, want[i]) {
					t.Errorf("param %d: %+v, want %+v", i, info, want[i])
					continue
				}
				if q := net.Param(info.Name); q == nil || !reflect.DeepEqual(q.Info(), info) {
					t.Errorf("Param(%q) does not return the parameter", info.Name)
				}
				if v := p.Values(); len(v) != info.Size() {
					t.Errorf("%s: %d values, want %d", info.Name, len(v), info.Size())
				} else {
					for j, x := range v {
						if x != 0 {
							t.Errorf("%s[%d] = %v after Build, want 0", info.Name, j, x)
							break
						}
					}
				}
				if g := p.Grad(); len(g) != info.Size() {
					t.Errorf("%s: gradient of %d entries, want %d", info.Name, len(g), info.Size())
				}
				if pz, ok := net.Parametrization(info.Name).(nn.Dense); !ok {
					t.Errorf("%s: parametrization %v after Build, want dense", info.Name, pz)
				}
			}
			if net.Param("no.such.weight") != nil {
				t.Errorf("Param of an unknown name is not nil")
			}
			if net.Arch() != arch {
				t.Errorf("Arch() is not the architecture the net was built from")
			}
			// SetValues then Values round trip.
			SetRandom(net, NewRand(1))
			rng := NewRand(1)
			for _, p := range net.Params() {
				v := make([]float32, p.Info().Size())
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				p.SetValues(v)
				if got := values(p); !reflect.DeepEqual(got, v) {
					t.Errorf("%s: Values after SetValues differ", p.Info().Name)
				}
			}
		})
	}
}

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

// slots names the optimizer state slots of o.
func slots(o nn.Optimizer) []string {
	switch {
	case o.Name == "sgd" && o.Momentum > 0:
		return []string{"momentum"}
	case o.Name == "adam" || o.Name == "adamw":
		return []string{"exp_avg", "exp_avg_sq"}
	}
	return nil
}

// predictStep applies one step t of o in float64 to θ with gradient g and
// state s (s[k] for slot k, nil entries for a first step), returning the new
// θ and state.
func predictStep(o nn.Optimizer, lr float64, t int, th, g []float64, s [][]float64) ([]float64, [][]float64) {
	n := len(th)
	out := make([]float64, n)
	ns := make([][]float64, len(s))
	for k := range s {
		ns[k] = make([]float64, n)
	}
	wd := o.WeightDecay
	for i := 0; i < n; i++ {
		switch o.Name {
		case "sgd":
			gi := g[i] + wd*th[i]
			if o.Momentum == 0 {
				out[i] = th[i] - lr*gi
				continue
			}
			v := o.Momentum*s[0][i] + gi
			ns[0][i] = v
			d := v
			if o.Nesterov {
				d = gi + o.Momentum*v
			}
			out[i] = th[i] - lr*d
		case "adam", "adamw":
			p, gi := th[i], g[i]
			if o.Name == "adamw" {
				p *= 1 - lr*wd
			} else {
				gi += wd * th[i]
			}
			m := o.Beta1*s[0][i] + (1-o.Beta1)*gi
			v := o.Beta2*s[1][i] + (1-o.Beta2)*gi*gi
			ns[0][i], ns[1][i] = m, v
			mh := m / (1 - math.Pow(o.Beta1, float64(t)))
			vh := v / (1 - math.Pow(o.Beta2, float64(t)))
			out[i] = p - lr*mh/(math.Sqrt(vh)+o.Eps)
		}
	}
	return out, ns
}

// TestOptimizers checks three steps of each optimizer (θ and state) against
// the nn.Optimizer formulas evaluated in float64 from the engine's own θ,
// state and gradients before each step.
func TestOptimizers(t *testing.T, b nn.Backend) {
	nesterov := nn.SGD(0.9, 0.01)
	nesterov.Nesterov = true
	adam := nn.Adam(0.01)
	adam.Beta1, adam.Beta2 = 0.8, 0.95 // make the bias corrections visible
	cases := []struct {
		name string
		opt  nn.Optimizer
		lr   float64
	}{
		{"sgd", nn.SGD(0, 0.01), 0.1},
		{"sgd-momentum", nn.SGD(0.9, 0.01), 0.1},
		{"sgd-nesterov", nesterov, 0.1},
		{"adam", adam, 0.01},
		{"adam-default", nn.Adam(0), 0.01},
		{"adamw", nn.AdamW(0.1), 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			arch := MLP()
			net := build(t, b, arch, 8, 0, 0)
			SetRandom(net, NewRand(21))
			if err := net.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			sl := slots(c.opt)
			brng := NewRand(22)
			for step := 1; step <= 3; step++ {
				mustGradients(t, net, RandomBatch(arch, 8, brng))
				before := mustState(t, net)
				if got := before.Counters["step"]; got != int64(step-1) {
					t.Errorf("step counter %d before step %d", got, step)
				}
				grads := map[string][]float64{}
				for _, p := range net.Params() {
					grads[p.Info().Name] = to64(p.Grad())
				}
				net.Step(c.lr)
				after := mustState(t, net)
				if got := after.Counters["step"]; got != int64(step) {
					t.Errorf("step counter %d after step %d", got, step)
				}
				for _, info := range arch.Params() {
					name := info.Name
					th := to64(before.Tensors["param/"+name])
					s := make([][]float64, len(sl))
					for k, slot := range sl {
						v, err := before.Tensor("opt/"+slot+"/"+name, info.Size())
						if err != nil {
							t.Fatalf("before step %d: %v", step, err)
						}
						s[k] = to64(v)
					}
					wantTh, wantS := predictStep(c.opt, c.lr, step, th, grads[name], s)
					got, err := after.Tensor("param/"+name, info.Size())
					if err != nil {
						t.Fatal(err)
					}
					checkUpdate(t, fmt.Sprintf("step %d: %s", step, name), th, got, wantTh)
					for k, slot := range sl {
						v, err := after.Tensor("opt/"+slot+"/"+name, info.Size())
						if err != nil {
							t.Fatalf("after step %d: %v", step, err)
						}
						checkClose(t, fmt.Sprintf("step %d: %s of %s", step, slot, name), v, wantS[k], 1e-6*maxAbs(wantS[k])+1e-30, 1e-5)
					}
				}
				for name := range after.Tensors {
					if strings.HasPrefix(name, "opt/") && !hasSlot(name, sl) {
						t.Errorf("state has %s, optimizer %s keeps only %v", name, c.opt.Name, sl)
					}
				}
			}
		})
	}
}

func hasSlot(name string, sl []string) bool {
	for _, s := range sl {
		if strings.HasPrefix(name, "opt/"+s+"/") {
			return true
		}
	}
	return false
}

// checkUpdate compares the update after − before with want − before: the
// tolerance is relative to the size of the update, plus the float32
// rounding of θ.
func checkUpdate(t *testing.T, what string, before []float64, after []float32, want []float64) {
	t.Helper()
	d := make([]float64, len(want))
	for i := range want {
		d[i] = want[i] - before[i]
	}
	md := maxAbs(d)
	bad := 0
	for i := range want {
		got := float64(after[i]) - before[i]
		ulp := math.Abs(float64(math.Nextafter32(float32(want[i]), float32(math.Inf(1)))) - want[i])
		tol := 1e-4*math.Abs(d[i]) + 1e-5*md + 4*ulp
		if math.Abs(got-d[i]) > tol {
			if bad < 5 {
				t.Errorf("%s[%d]: update %.9g, want %.9g (θ %.9g)", what, i, got, d[i], before[i])
			}
			bad++
		}
	}
}

// TestMasks checks the three enforcement patterns on the MLP: what θ,
// optimizer state, gradients, logits and State hold under each.
func TestMasks(t *testing.T, b nn.Backend) {
	t.Run("ZeroAfterStep", func(t *testing.T) {
		for _, opt := range []nn.Optimizer{nn.SGD(0.9, 5e-3), nn.Adam(5e-3), nn.AdamW(0.1)} {
			t.Run(opt.Name, func(t *testing.T) { testZeroAfterStep(t, b, opt) })
		}
	})
	t.Run("MaskedForward", func(t *testing.T) { testMaskedForward(t, b) })
	t.Run("ZeroBeforeForward", func(t *testing.T) { testZeroBeforeForward(t, b) })
}

func testZeroAfterStep(t *testing.T, b nn.Backend, opt nn.Optimizer) {
	arch := MLP()
	net := build(t, b, arch, 8, 0, 0)
	SetRandom(net, NewRand(31))
	if err := net.SetOptimizer(opt); err != nil {
		t.Fatal(err)
	}
	brng := NewRand(32)
	// Two dense steps first, so that the optimizer state is not zero when
	// the masks arrive.
	for range 2 {
		mustGradients(t, net, RandomBatch(arch, 8, brng))
		net.Step(0.05)
	}
	mrng := NewRand(33)
	masks := map[string][]float32{}
	for _, name := range []string{"fc1.weight", "fc2.weight"} {
		m := RandomMask(net.Param(name).Info().Size(), 0.5, mrng)
		masks[name] = m
		if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: nn.ZeroAfterStep}); err != nil {
			t.Fatal(err)
		}
	}
	checkPruned := func(when string) {
		t.Helper()
		st := mustState(t, net)
		for name, m := range masks {
			v := net.Param(name).Values()
			tensors := []string{"param/" + name}
			for _, slot := range slots(opt) {
				tensors = append(tensors, "opt/"+slot+"/"+name)
			}
			for i, keep := range m {
				if keep == 0 && v[i] != 0 {
					t.Errorf("%s: %s[%d] = %v at a pruned position", when, name, i, v[i])
					break
				}
			}
			for _, tn := range tensors {
				x, err := st.Tensor(tn, len(m))
				if err != nil {
					t.Fatal(err)
				}
				for i, keep := range m {
					if keep == 0 && x[i] != 0 {
						t.Errorf("%s: state %s[%d] = %v at a pruned position", when, tn, i, x[i])
						break
					}
				}
			}
			mk, err := st.Tensor("mask/"+name, len(m))
			if err != nil {
				t.Error(err)
			} else if !reflect.DeepEqual(mk, m) {
				t.Errorf("%s: state mask/%s differs from the mask", when, name)
			}
			if p, ok := st.Counters["mask_pattern/"+name]; !ok || nn.MaskPattern(p) != nn.ZeroAfterStep {
				t.Errorf("%s: counter mask_pattern/%s = %d (present %v), want %d", when, name, p, ok, nn.ZeroAfterStep)
			}
		}
	}
	checkPruned("right after SetParametrization")
	for step := range 5 {
		mustGradients(t, net, RandomBatch(arch, 8, brng))
		dense := 0
		for name, m := range masks {
			g := net.Param(name).Grad()
			for i, keep := range m {
				if keep == 0 && g[i] != 0 {
					dense++
				}
			}
		}
		if dense == 0 {
			t.Errorf("step %d: the gradient is zero at every pruned position; Grad must be the dense gradient", step)
		}
		net.Step(0.05)
		checkPruned(fmt.Sprintf("after step %d", step+1))
	}
	// The alive entries did move.
	for name, m := range masks {
		v := net.Param(name).Values()
		alive := 0
		for i, keep := range m {
			if keep == 1 && v[i] != 0 {
				alive++
			}
		}
		if alive == 0 {
			t.Errorf("%s: every alive entry is zero", name)
		}
	}
	// Rewinding (IMP): SetValues on a masked tensor keeps the pruned
	// entries zero, so the next forward already uses θ ⊙ m.
	SetRandom(net, NewRand(34))
	checkPruned("after SetValues")
	batch := RandomBatch(arch, 8, brng)
	ref, err := newRef(net, masks, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.logits(batch.X, 8, false)
	logits := make([]float32, 8*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits after SetValues", logits, want, 1e-5*(1+maxAbs(want)), 1e-5)
	mustGradients(t, net, batch)
	net.Step(0.05)
	checkPruned("after a step that follows SetValues")
}

func testMaskedForward(t *testing.T, b nn.Backend) {
	arch := MLP()
	net := build(t, b, arch, 8, 0, 0)
	SetRandom(net, NewRand(41))
	const lr, wd = 0.05, 0.1
	if err := net.SetOptimizer(nn.SGD(0, wd)); err != nil {
		t.Fatal(err)
	}
	name := "fc2.weight"
	p := net.Param(name)
	m := RandomMask(p.Info().Size(), 0.5, NewRand(42))
	theta := values(p)
	if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
		t.Fatal(err)
	}
	if got := values(p); !reflect.DeepEqual(got, theta) {
		t.Errorf("MaskedForward changed θ of %s", name)
	}
	batch := RandomBatch(arch, 8, NewRand(43))
	// The forward uses θ ⊙ m: logits, loss and (dense) gradients are the
	// reference's with the masked weight.
	ref, err := newRef(net, map[string][]float32{name: m}, 1)
	if err != nil {
		t.Fatal(err)
	}
	refLogits := ref.logits(batch.X, 8, false)
	logits := make([]float32, 8*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits with θ ⊙ m", logits, refLogits, 1e-5*(1+maxAbs(refLogits)), 1e-5)
	refLoss, refGrads := ref.mlpGrads(batch.X, batch.Y, 8)
	loss := mustGradients(t, net, batch)
	if math.Abs(loss-refLoss) > 1e-5*(1+refLoss) {
		t.Errorf("training loss %.9g, reference with θ ⊙ m %.9g", loss, refLoss)
	}
	g := grad(p)
	checkClose(t, "dense gradient of "+name, g, refGrads[name], 1e-4*maxAbs(refGrads[name])+1e-7, 1e-3)
	// One plain SGD step: alive entries follow the gradient, pruned ones
	// only decay (their gradient with respect to θ is zero).
	net.Step(lr)
	after := values(p)
	want := make([]float64, len(theta))
	for i := range want {
		want[i] = float64(theta[i]) - lr*(float64(g[i])*float64(m[i])+wd*float64(theta[i]))
	}
	checkUpdate(t, "θ of "+name+" after a step", to64(theta), after, want)
	nonzero := 0
	for i, keep := range m {
		if keep == 0 && after[i] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Errorf("MaskedForward zeroed the pruned θ of %s", name)
	}
	// State keeps θ dense and the mask.
	st := mustState(t, net)
	if got, err := st.Tensor("param/"+name, len(after)); err != nil || !reflect.DeepEqual(got, after) {
		t.Errorf("state param/%s is not θ (err %v)", name, err)
	}
	if pat, ok := st.Counters["mask_pattern/"+name]; !ok || nn.MaskPattern(pat) != nn.MaskedForward {
		t.Errorf("counter mask_pattern/%s = %d (present %v), want %d", name, pat, ok, nn.MaskedForward)
	}
	// Back to dense: the forward reads θ again, pruned entries included.
	if err := net.SetParametrization(name, nn.Dense{}); err != nil {
		t.Fatal(err)
	}
	ref, err = newRef(net, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	refLogits = ref.logits(batch.X, 8, false)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits after Dense", logits, refLogits, 1e-5*(1+maxAbs(refLogits)), 1e-5)
}

func testZeroBeforeForward(t *testing.T, b nn.Backend) {
	arch := MLP()
	net := build(t, b, arch, 8, 0, 0)
	SetRandom(net, NewRand(51))
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	name := "fc1.weight"
	p := net.Param(name)
	m := RandomMask(p.Info().Size(), 0.5, NewRand(52))
	if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: nn.ZeroBeforeForward}); err != nil {
		t.Fatal(err)
	}
	brng := NewRand(53)
	for step := range 3 {
		batch := RandomBatch(arch, 8, brng)
		// The forward uses θ ⊙ m.
		ref, err := newRef(net, map[string][]float32{name: m}, 1)
		if err != nil {
			t.Fatal(err)
		}
		refLoss, _ := ref.mlpGrads(batch.X, batch.Y, 8)
		loss := mustGradients(t, net, batch)
		if math.Abs(loss-refLoss) > 1e-5*(1+refLoss) {
			t.Errorf("step %d: training loss %.9g, reference with θ ⊙ m %.9g", step, loss, refLoss)
		}
		v := p.Values()
		for i, keep := range m {
			if keep == 0 && v[i] != 0 {
				t.Errorf("step %d: %s[%d] = %v after the forward, want 0", step, name, i, v[i])
				break
			}
		}
		net.Step(0.1)
		// The dense gradient moved pruned entries...
		moved := 0
		v = p.Values()
		for i, keep := range m {
			if keep == 0 && v[i] != 0 {
				moved++
			}
		}
		if moved == 0 {
			t.Errorf("step %d: no pruned entry of %s moved; ZeroBeforeForward updates with the dense gradient", step, name)
		}
		// ...but a State always holds θ ⊙ m (specs/README.md §4.1, P2).
		st := mustState(t, net)
		x, err := st.Tensor("param/"+name, len(m))
		if err != nil {
			t.Fatal(err)
		}
		for i, keep := range m {
			want := v[i] * keep
			if x[i] != want {
				t.Errorf("step %d: state param/%s[%d] = %v, want θ ⊙ m = %v", step, name, i, x[i], want)
				break
			}
		}
	}
}

// TestMaskPatterns is the required test of specs/README.md §4.3: on a
// 2-layer MLP with a fixed random mask, 50 SGD-momentum steps under P1, P2
// and P3 give equal alive weights (to float tolerance), and P3 leaves the
// pruned weights and momentum exactly zero.
func TestMaskPatterns(t *testing.T, b nn.Backend) {
	arch := MaskMLP()
	const n = 16
	mrng := NewRand(61)
	masks := map[string][]float32{}
	for _, info := range arch.Params() {
		if info.Prunable() {
			masks[info.Name] = RandomMask(info.Size(), 0.5, mrng)
		}
	}
	patterns := []nn.MaskPattern{nn.MaskedForward, nn.ZeroBeforeForward, nn.ZeroAfterStep}
	nets := make([]nn.Net, len(patterns))
	for k, pat := range patterns {
		net := build(t, b, arch, n, 0, 0)
		SetRandom(net, NewRand(62))
		if err := net.SetOptimizer(nn.SGD(0.9, 5e-4)); err != nil {
			t.Fatal(err)
		}
		for name, m := range masks {
			if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: pat}); err != nil {
				t.Fatal(err)
			}
		}
		brng := NewRand(63)
		for range 50 {
			mustGradients(t, net, RandomBatch(arch, n, brng))
			net.Step(0.05)
		}
		nets[k] = net
	}
	for _, info := range arch.Params() {
		name := info.Name
		m := masks[name]
		ref := values(nets[2].Param(name))
		for k := 0; k < 2; k++ {
			v := values(nets[k].Param(name))
			bad := 0
			for i := range v {
				if m != nil && m[i] == 0 {
					continue
				}
				if d := math.Abs(float64(v[i] - ref[i])); d > 1e-5+1e-4*math.Abs(float64(ref[i])) {
					if bad < 3 {
						t.Errorf("%s[%d]: %v under %s, %v under %s", name, i, v[i], patterns[k], ref[i], nn.ZeroAfterStep)
					}
					bad++
				}
			}
		}
		if m == nil {
			continue
		}
		st := mustState(t, nets[2])
		mom, err := st.Tensor("opt/momentum/"+name, len(m))
		if err != nil {
			t.Fatal(err)
		}
		for i, keep := range m {
			if keep == 0 && (ref[i] != 0 || mom[i] != 0) {
				t.Errorf("%s[%d] under %s: θ %v, momentum %v at a pruned position, want exactly 0", name, i, nn.ZeroAfterStep, ref[i], mom[i])
				break
			}
		}
	}
}

// TestCheckpoint checks that State → new Net → SetState → further training
// reproduces the uninterrupted run bit for bit (losses, θ, state), with
// masks of every pattern, batch norm buffers, dropout and optimizer state.
func TestCheckpoint(t *testing.T, b nn.Backend) {
	nesterov := nn.SGD(0.9, 1e-3)
	nesterov.Nesterov = true
	cases := []struct {
		arch  *nn.Arch
		opt   nn.Optimizer
		masks map[string]nn.MaskPattern
	}{
		{ConvNet(), nn.Adam(1e-4), map[string]nn.MaskPattern{
			"conv1.weight": nn.ZeroAfterStep, "block1.conv2.weight": nn.MaskedForward, "fc.weight": nn.ZeroBeforeForward}},
		{DropoutMLP(), nesterov, map[string]nn.MaskPattern{"fc1.weight": nn.ZeroAfterStep, "fc2.weight": nn.ZeroBeforeForward}},
		{MLP(), nn.SGD(0, 0), nil},
	}
	for _, c := range cases {
		t.Run(c.arch.Name+"/"+c.opt.Name, func(t *testing.T) {
			const n = 4
			cfgSeed := uint64(77)
			a := build(t, b, c.arch, n, 0, cfgSeed)
			SetRandom(a, NewRand(71))
			if err := a.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			mrng := NewRand(72)
			for _, info := range c.arch.Params() {
				if pat, ok := c.masks[info.Name]; ok {
					if err := a.SetParametrization(info.Name, nn.Masked{Mask: RandomMask(info.Size(), 0.6, mrng), Pattern: pat}); err != nil {
						t.Fatal(err)
					}
				}
			}
			brng := NewRand(73)
			batches := make([]nn.Batch, 7)
			for i := range batches {
				batches[i] = RandomBatch(c.arch, n, brng)
			}
			for _, bt := range batches[:3] {
				mustGradients(t, a, bt)
				a.Step(0.02)
			}
			st := mustState(t, a)
			saved := copyState(st)

			bnet := build(t, b, c.arch, n, 0, cfgSeed)
			if err := bnet.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			if err := bnet.SetState(st); err != nil {
				t.Fatal(err)
			}
			// Neither net may alias the State.
			for _, v := range st.Tensors {
				for i := range v {
					v[i] = float32(math.NaN())
				}
			}
			compareStates(t, "restored state", mustState(t, bnet), saved)
			for _, info := range c.arch.Params() {
				got := bnet.Parametrization(info.Name)
				pat, masked := c.masks[info.Name]
				switch p := got.(type) {
				case nn.Masked:
					if !masked || p.Pattern != pat {
						t.Errorf("%s restored as %s", info.Name, p.Describe())
					}
				case nn.Dense:
					if masked {
						t.Errorf("%s restored as dense, want masked (%s)", info.Name, pat)
					}
				default:
					t.Errorf("%s restored as %v", info.Name, got)
				}
			}
			for k, bt := range batches[3:] {
				la := mustGradients(t, a, bt)
				lb := mustGradients(t, bnet, bt)
				if math.Float64bits(la) != math.Float64bits(lb) {
					t.Errorf("step %d after restoring: loss %.17g, uninterrupted %.17g", k+4, lb, la)
				}
				a.Step(0.02)
				bnet.Step(0.02)
			}
			for _, p := range a.Params() {
				if !bitsEqual(p.Values(), bnet.Param(p.Info().Name).Values()) {
					t.Errorf("%s differs from the uninterrupted run after resuming", p.Info().Name)
				}
			}
			compareStates(t, "state after resuming", mustState(t, bnet), mustState(t, a))
			sa, ca, err := a.Evaluate(batches[0])
			if err != nil {
				t.Fatal(err)
			}
			sb, cb, err := bnet.Evaluate(batches[0])
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(sa) != math.Float64bits(sb) || ca != cb {
				t.Errorf("evaluation after resuming: %v, %d; uninterrupted %v, %d", sb, cb, sa, ca)
			}
		})
	}
}

func copyState(s *nn.State) *nn.State {
	c := nn.NewState()
	for k, v := range s.Tensors {
		c.Tensors[k] = append([]float32(nil), v...)
	}
	for k, v := range s.Counters {
		c.Counters[k] = v
	}
	return c
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func compareStates(t *testing.T, what string, got, want *nn.State) {
	t.Helper()
	names := func(m map[string][]float32) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return s
	}
	if g, w := names(got.Tensors), names(want.Tensors); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: tensors %v, want %v", what, g, w)
		return
	}
	for k, w := range want.Tensors {
		if !bitsEqual(got.Tensors[k], w) {
			t.Errorf("%s: tensor %s differs", what, k)
		}
	}
	if !reflect.DeepEqual(got.Counters, want.Counters) {
		t.Errorf("%s: counters %v, want %v", what, got.Counters, want.Counters)
	}
}

// TestParametrizations checks that Scored and Shared either work or fail
// with an error wrapping nn.ErrNotImplemented (never a silent fallback), and
// that masks are copied in and out.
func TestParametrizations(t *testing.T, b nn.Backend) {
	arch := MLP()
	net := build(t, b, arch, 8, 0, 0)
	SetRandom(net, NewRand(81))
	batch := RandomBatch(arch, 8, NewRand(82))
	name := "fc2.weight"
	size := net.Param(name).Info().Size()

	t.Run("Scored", func(t *testing.T) {
		rng := NewRand(83)
		scores := make([]float32, size)
		for i := range scores {
			scores[i] = float32(rng.NormFloat64())
		}
		keep := size / 3
		err := net.SetParametrization(name, nn.Scored{Scores: scores, Keep: keep})
		if err != nil {
			if !errors.Is(err, nn.ErrNotImplemented) {
				t.Fatalf("scored parametrization: error %q does not wrap nn.ErrNotImplemented", err)
			}
			if _, ok := net.Parametrization(name).(nn.Dense); !ok {
				t.Errorf("after a refused scored parametrization, %s is %v, want unchanged (dense)", name, net.Parametrization(name))
			}
			return
		}
		if _, ok := net.Parametrization(name).(nn.Scored); !ok {
			t.Fatalf("after setting a scored parametrization, %s reports %v", name, net.Parametrization(name))
		}
		// W = θ ⊙ topk(s): the same logits as the top-k mask under P1.
		mask := topK(scores, keep)
		ref, err := newRef(net, map[string][]float32{name: mask}, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.logits(batch.X, 8, false)
		got := make([]float32, 8*arch.Classes)
		if err := net.Logits(got, batch); err != nil {
			t.Fatal(err)
		}
		checkClose(t, "logits with a scored parametrization", got, want, 1e-5*(1+maxAbs(want)), 1e-5)
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Shared", func(t *testing.T) {
		idx := make([]int32, size)
		sign := make([]float32, size)
		for i := range idx {
			idx[i] = int32(i % 7)
			sign[i] = 1
		}
		err := net.SetParametrization(name, nn.Shared{Array: "z", ArraySize: 7, Index: idx, Sign: sign, Scale: 1})
		if err != nil {
			if !errors.Is(err, nn.ErrNotImplemented) {
				t.Fatalf("shared parametrization: error %q does not wrap nn.ErrNotImplemented", err)
			}
			if _, ok := net.Parametrization(name).(nn.Dense); !ok {
				t.Errorf("after a refused shared parametrization, %s is %v, want unchanged (dense)", name, net.Parametrization(name))
			}
			return
		}
		if _, ok := net.Parametrization(name).(nn.Shared); !ok {
			t.Fatalf("after setting a shared parametrization, %s reports %v", name, net.Parametrization(name))
		}
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MaskCopies", func(t *testing.T) {
		m := RandomMask(size, 0.5, NewRand(84))
		orig := append([]float32(nil), m...)
		if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
			t.Fatal(err)
		}
		ref, err := newRef(net, map[string][]float32{name: orig}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			m[i] = 1 - m[i] // the caller's slice must not be the net's mask
		}
		got, ok := net.Parametrization(name).(nn.Masked)
		if !ok || !reflect.DeepEqual(got.Mask, orig) || got.Pattern != nn.MaskedForward {
			t.Fatalf("Parametrization(%s) = %v, want the mask that was set", name, net.Parametrization(name))
		}
		for i := range got.Mask {
			got.Mask[i] = 0 // nor may the returned one be
		}
		want := ref.logits(batch.X, 8, false)
		logits := make([]float32, 8*arch.Classes)
		if err := net.Logits(logits, batch); err != nil {
			t.Fatal(err)
		}
		checkClose(t, "logits after changing the caller's and the returned mask", logits, want, 1e-5*(1+maxAbs(want)), 1e-5)
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
	})
}

// topK is the exact top-k mask of specs/README.md §3.1: the k largest
// scores, ties to the lower index.
func topK(s []float32, k int) []float32 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	m := make([]float32, len(s))
	for _, i := range idx[:k] {
		m[i] = 1
	}
	return m
}

// TestErrors checks that what a user can get wrong is an error, not a
// panic, and leaves the net unchanged.
func TestErrors(t *testing.T, b nn.Backend) {
	arch := MLP()
	const maxBatch = 4
	t.Run("Build", func(t *testing.T) {
		bad := []struct {
			what string
			cfg  nn.Config
		}{
			{"no architecture", nn.Config{MaxBatch: 4}},
			{"MaxBatch 0", nn.Config{Arch: MLP(), MaxBatch: 0}},
			{"negative temperature", nn.Config{Arch: MLP(), MaxBatch: 4, Temperature: -1}},
			{"invalid architecture", nn.Config{Arch: &nn.Arch{Name: "bad", Input: []int{12}, Classes: 4, Layers: []nn.Layer{nn.Linear{Name: "fc", In: 11, Out: 4}}}, MaxBatch: 4}},
		}
		for _, c := range bad {
			if _, err := noPanic(t, c.what, func() (any, error) { return b.Build(c.cfg) }); err == nil {
				t.Errorf("Build with %s: no error", c.what)
			}
		}
	})

	net := build(t, b, arch, maxBatch, 0, 0)
	SetRandom(net, NewRand(91))
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	good := RandomBatch(arch, maxBatch, NewRand(92))
	before := mustState(t, net)

	t.Run("Batch", func(t *testing.T) {
		big := RandomBatch(arch, maxBatch+1, NewRand(93))
		short := good
		short.X = good.X[:len(good.X)-1]
		fewLabels := good
		fewLabels.Y = good.Y[:maxBatch-1]
		badLabel := RandomBatch(arch, maxBatch, NewRand(94))
		badLabel.Y[1] = int32(arch.Classes)
		negLabel := RandomBatch(arch, maxBatch, NewRand(94))
		negLabel.Y[2] = -1
		empty := good
		empty.N = 0
		for _, c := range []struct {
			what  string
			b     nn.Batch
			label bool // only Gradients and Evaluate read labels
		}{
			{"a batch larger than MaxBatch", big, false},
			{"an empty batch", empty, false},
			{"X too short", short, false},
			{"Y too short", fewLabels, true},
			{"a label ≥ Classes", badLabel, true},
			{"a negative label", negLabel, true},
		} {
			if _, err := noPanic(t, "Gradients with "+c.what, func() (any, error) { return net.Gradients(c.b) }); err == nil {
				t.Errorf("Gradients with %s: no error", c.what)
			}
			if _, err := noPanic(t, "Evaluate with "+c.what, func() (any, error) { _, _, err := net.Evaluate(c.b); return nil, err }); err == nil {
				t.Errorf("Evaluate with %s: no error", c.what)
			}
			if !c.label {
				dst := make([]float32, (maxBatch+1)*arch.Classes)
				if _, err := noPanic(t, "Logits with "+c.what, func() (any, error) { return nil, net.Logits(dst, c.b) }); err == nil {
					t.Errorf("Logits with %s: no error", c.what)
				}
			}
		}
		dst := make([]float32, maxBatch*arch.Classes-1)
		if _, err := noPanic(t, "Logits into a short dst", func() (any, error) { return nil, net.Logits(dst, good) }); err == nil {
			t.Errorf("Logits into a short dst: no error")
		}
	})

	t.Run("Parametrization", func(t *testing.T) {
		size := net.Param("fc1.weight").Info().Size()
		half := make([]float32, size)
		for i := range half {
			half[i] = 1
		}
		half[3] = 0.5
		cases := []struct {
			what, param, mention string
			p                    nn.Parametrization
		}{
			{"a mask of the wrong length", "fc1.weight", "fc1.weight", nn.Masked{Mask: make([]float32, size-1)}},
			{"a mask entry of 0.5", "fc1.weight", "fc1.weight", nn.Masked{Mask: half}},
			{"an unknown pattern", "fc1.weight", "fc1.weight", nn.Masked{Mask: RandomMask(size, 0.5, NewRand(95)), Pattern: nn.MaskPattern(99)}},
			{"a mask on a bias", "fc1.bias", "fc1.bias", nn.Masked{Mask: []float32{1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},
			{"an unknown parameter", "fc9.weight", "fc9.weight", nn.Masked{Mask: make([]float32, size)}},
			{"dense on an unknown parameter", "fc9.weight", "fc9.weight", nn.Dense{}},
		}
		for _, c := range cases {
			_, err := noPanic(t, "SetParametrization with "+c.what, func() (any, error) { return nil, net.SetParametrization(c.param, c.p) })
			switch {
			case err == nil:
				t.Errorf("SetParametrization with %s: no error", c.what)
			case !strings.Contains(err.Error(), c.mention):
				t.Errorf("SetParametrization with %s: error %q does not name %s", c.what, err, c.mention)
			}
		}
		if p := net.Parametrization("fc9.weight"); p != nil {
			t.Errorf("Parametrization of an unknown parameter = %v, want nil", p)
		}
		for _, info := range arch.Params() {
			if _, ok := net.Parametrization(info.Name).(nn.Dense); !ok {
				t.Errorf("%s is %v after refused parametrizations, want dense", info.Name, net.Parametrization(info.Name))
			}
		}
		if err := net.SetOptimizer(nn.Optimizer{Name: "rmsprop"}); err == nil {
			t.Errorf("SetOptimizer(rmsprop): no error")
		}
	})

	t.Run("SetState", func(t *testing.T) {
		mutate := []struct {
			what, mention string
			f             func(s *nn.State)
		}{
			{"a missing parameter", "param/fc2.weight", func(s *nn.State) { delete(s.Tensors, "param/fc2.weight") }},
			{"a mis-sized parameter", "param/fc1.bias", func(s *nn.State) { s.Tensors["param/fc1.bias"] = s.Tensors["param/fc1.bias"][:3] }},
			{"a missing momentum", "opt/momentum/fc3.weight", func(s *nn.State) { delete(s.Tensors, "opt/momentum/fc3.weight") }},
			{"an unknown tensor", "param/fc9.weight", func(s *nn.State) { s.Tensors["param/fc9.weight"] = []float32{1} }},
			{"a mask without pattern", "fc1.weight", func(s *nn.State) {
				s.Tensors["mask/fc1.weight"] = RandomMask(len(s.Tensors["param/fc1.weight"]), 0.5, NewRand(96))
			}},
			{"a mis-sized mask", "fc1.weight", func(s *nn.State) {
				s.Tensors["mask/fc1.weight"] = []float32{1, 0}
				s.Counters["mask_pattern/fc1.weight"] = int64(nn.ZeroAfterStep)
			}},
		}
		for _, c := range mutate {
			s := copyState(before)
			// Poison every tensor so that a partial restore would show.
			for _, v := range s.Tensors {
				for i := range v {
					v[i] = 12345
				}
			}
			c.f(s)
			_, err := noPanic(t, "SetState with "+c.what, func() (any, error) { return nil, net.SetState(s) })
			switch {
			case err == nil:
				t.Errorf("SetState with %s: no error", c.what)
			case !strings.Contains(err.Error(), c.mention):
				t.Errorf("SetState with %s: error %q does not name %s", c.what, err, c.mention)
			}
		}
		if _, err := noPanic(t, "SetState(nil)", func() (any, error) { return nil, net.SetState(nil) }); err == nil {
			t.Errorf("SetState(nil): no error")
		}
		compareStates(t, "state after refused SetState calls", mustState(t, net), before)
	})
}

// noPanic runs f and turns a panic into a test error.
func noPanic(t *testing.T, what string, f func() (any, error)) (v any, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}
