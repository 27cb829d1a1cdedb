package nntest

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

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
		// ...but a State always holds θ ⊙ m, under P2 too.
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

// TestMaskPatterns checks the equivalence of
// docs/methods/conventions.md#when-the-patterns-differ: on a 2-layer MLP with
// a fixed random mask, 50 SGD-momentum steps under P1, P2 and P3 give equal
// alive weights (to float tolerance), and P3 leaves the pruned weights and
// momentum exactly zero.
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
