package nntest

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// sharedFixture returns Shared parametrizations of the named weights of net
// on one array "z" of m entries, with explicit tables (an nn.TableMap):
// uniform indices (so that slots collect weights of several tensors), random
// signs, a different scale per tensor and one set of gradient divisors for
// the array.
func sharedFixture(net nn.Net, names []string, m int, rng *rand.Rand) map[string]nn.Shared {
	div := make([]float32, m)
	for j := range div {
		div[j] = float32(0.5 + rng.Float64())
	}
	out := map[string]nn.Shared{}
	for k, name := range names {
		size := net.Param(name).Info().Size()
		tab := nn.TableMap{Index: make([]int32, size), Sign: make([]float32, size)}
		for i := range tab.Index {
			tab.Index[i] = int32(rng.IntN(m))
			tab.Sign[i] = float32(1 - 2*rng.IntN(2))
		}
		out[name] = nn.Shared{Array: "z", ArraySize: m, Map: tab, Scale: float32(0.5 + 0.75*float64(k)), GradDivisor: div}
	}
	return out
}

// tables returns the tables of a parametrization built by sharedFixture.
func tables(p nn.Shared) nn.TableMap { return p.Map.(nn.TableMap) }

// refWeights is W_i = Scale · Sign_i · z[Index_i] in float64, from the
// tables, independently of nn.Shared.Weights.
func refWeights(p nn.Shared, z []float32) []float64 {
	tab := tables(p)
	w := make([]float64, len(tab.Index))
	for i, j := range tab.Index {
		w[i] = float64(p.Scale) * float64(tab.Sign[i]) * float64(z[j])
	}
	return w
}

// checkShared checks the Shared contract (nn/shared.go) on a net where the
// first tensor of ps is already shared: the others are set on the same
// array; the net is an nn.SharedNet whose array starts zero; the shared
// Params materialize W, have no gradient and refuse SetValues; logits and
// the gradient of z (scatter-add of Scale·Sign·∂ℓ/∂W over two tensors with
// collisions) and of the dense parameters match the float64 reference; Step
// divides ∂ℓ/∂z by the GradDivisor; Parametrization returns copies; a State
// carries z to a fresh net with the same parametrizations and is refused by
// one without; and Dense gives the tensors θ = W without changing the
// function, dropping the array.
func checkShared(t *testing.T, b nn.Backend, net nn.Net, ps map[string]nn.Shared) {
	t.Helper()
	arch := net.Arch()
	names := make([]string, 0, len(ps))
	for name := range ps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := net.SetParametrization(name, ps[name]); err != nil {
			t.Fatalf("second tensor on the same array: %v", err)
		}
	}
	sn, ok := net.(nn.SharedNet)
	if !ok {
		t.Fatalf("the engine accepts a shared parametrization, but its Net (%T) does not implement nn.SharedNet", net)
	}
	if got := sn.SharedArrays(); !reflect.DeepEqual(got, []string{"z"}) {
		t.Fatalf("SharedArrays = %v, want [z]", got)
	}
	arr := sn.SharedArray("z")
	m := ps[names[0]].ArraySize
	if arr == nil || !slices.Equal(arr.Info().Shape, []int{m}) {
		t.Fatalf("SharedArray(z) = %v, want an array of shape [%d]", arr, m)
	}
	if sn.SharedArray("nope") != nil {
		t.Errorf("SharedArray(nope) is not nil")
	}
	for j, v := range arr.Values() {
		if v != 0 {
			t.Fatalf("a new array must start zero: z[%d] = %v", j, v)
		}
	}
	z := make([]float32, m)
	rng := NewRand(87)
	for j := range z {
		z[j] = float32(rng.NormFloat64() * 0.3)
	}
	arr.SetValues(z)

	// The shared Params: W on demand, no gradient, no SetValues.
	ref, err := newRef(net, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		w := refWeights(ps[name], z)
		p := net.Param(name)
		checkClose(t, "Values of shared "+name, p.Values(), w, 1e-7, 1e-6)
		p.Values()[0] += 100 // a copy: the net must not see it
		ref.params[name] = w
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetValues on shared %s did not panic", name)
				}
			}()
			p.SetValues(make([]float32, p.Info().Size()))
		}()
	}

	batch := RandomBatch(arch, 8, NewRand(88))
	want := ref.logits(batch.X, 8, false)
	logits := make([]float32, 8*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits with shared weights", logits, want, 1e-5*(1+maxAbs(want)), 1e-5)

	// ∂ℓ/∂z_j = Σ_{i→j} Scale·Sign_i·∂ℓ/∂W_i, over both tensors.
	wantLoss, grads := ref.mlpGrads(batch.X, batch.Y, 8)
	loss := mustGradients(t, net, batch)
	if d := loss - wantLoss; d > 1e-5 || d < -1e-5 {
		t.Errorf("loss with shared weights %.9g, want %.9g", loss, wantLoss)
	}
	gz := make([]float64, m)
	for _, name := range names {
		p := ps[name]
		tab := tables(p)
		for i, j := range tab.Index {
			gz[j] += float64(p.Scale) * float64(tab.Sign[i]) * grads[name][i]
		}
		if g := net.Param(name).Grad(); len(g) != 0 {
			t.Errorf("Grad of shared %s has %d entries, want none (the gradient is the array's)", name, len(g))
		}
	}
	checkClose(t, "gradient of the shared array", arr.Grad(), gz, 1e-5, 1e-4)
	for _, p := range net.Params() {
		if _, shared := ps[p.Info().Name]; !shared {
			checkClose(t, "gradient of "+p.Info().Name+" next to shared weights", grad(p), grads[p.Info().Name], 1e-5, 1e-4)
		}
	}

	// Step divides by the divisors before the update.
	if err := net.SetOptimizer(nn.SGD(0, 0)); err != nil {
		t.Fatal(err)
	}
	mustGradients(t, net, batch)
	z0, g0 := values(arr), grad(arr)
	div := ps[names[0]].GradDivisor
	net.Step(0.5)
	wantZ := make([]float64, m)
	for j := range wantZ {
		wantZ[j] = float64(z0[j]) - 0.5*float64(g0[j])/float64(div[j])
	}
	checkClose(t, "z after a step with gradient divisors", arr.Values(), wantZ, 1e-6, 1e-5)

	// Parametrization returns copies of what was set.
	for _, name := range names {
		got, ok := net.Parametrization(name).(nn.Shared)
		p := ps[name]
		if !ok {
			t.Fatalf("Parametrization(%s) = %v, want the shared parametrization that was set", name, net.Parametrization(name))
		}
		gotTab, isTab := got.Map.(nn.TableMap)
		tab := tables(p)
		if !isTab || got.Array != p.Array || got.ArraySize != p.ArraySize || got.Scale != p.Scale ||
			!slices.Equal(gotTab.Index, tab.Index) || !slices.Equal(gotTab.Sign, tab.Sign) || !slices.Equal(got.GradDivisor, p.GradDivisor) {
			t.Fatalf("Parametrization(%s) = %v, want the shared parametrization that was set (its Map a TableMap over the same tables)", name, net.Parametrization(name))
		}
		gotTab.Index[0] = (gotTab.Index[0] + 1) % int32(m)
		got.GradDivisor[0] = 1e9
	}

	// State: z travels, the shared tensors have no θ.
	st := mustState(t, net)
	if _, ok := st.Tensors["shared/z"]; !ok {
		t.Errorf("State has no tensor shared/z")
	}
	for _, name := range names {
		if _, ok := st.Tensors["param/"+name]; ok {
			t.Errorf("State has param/%s for a shared tensor", name)
		}
	}
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	plain := build(t, b, arch, 8, 0, 0)
	if err := plain.SetOptimizer(nn.SGD(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := plain.SetState(st); err == nil || !strings.Contains(err.Error(), "shared") {
		t.Errorf("SetState of a state with shared tensors on a net without them: error %v, want one that mentions the shared parametrization", err)
	}
	fresh := build(t, b, arch, 8, 0, 0)
	for _, name := range names {
		if err := fresh.SetParametrization(name, ps[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := fresh.SetOptimizer(nn.SGD(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := fresh.SetState(st); err != nil {
		t.Fatalf("SetState with the same shared parametrizations: %v", err)
	}
	restored := make([]float32, 8*arch.Classes)
	if err := fresh.Logits(restored, batch); err != nil {
		t.Fatal(err)
	}
	if !bitsEqual(restored, logits) {
		t.Errorf("logits after SetState with shared arrays differ from the saved net's")
	}

	// Leaving the shared parametrization keeps the function.
	before := map[string][]float32{}
	for _, name := range names {
		before[name] = values(net.Param(name))
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(values(net.Param(name)), before[name]) {
			t.Errorf("after Dense, θ of %s is not the W it had while shared", name)
		}
	}
	if got := net.(nn.SharedNet).SharedArrays(); len(got) != 0 {
		t.Errorf("arrays no tensor reads are still listed: %v", got)
	}
	after := make([]float32, 8*arch.Classes)
	if err := net.Logits(after, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits after leaving the shared parametrization", after, to64(logits), 1e-6, 1e-6)
}
