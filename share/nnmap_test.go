package share

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/zoo"
)

// Map and Parametrization give the engines the same indices, signs and
// weights as the materialized Shared, pass nn.Shared.Validate, and Map's
// Fill does not allocate.
func TestMapAdapter(t *testing.T) {
	ts := []Tensor{lin("fc1", 30, 40), conv("conv", 6, 5, 3), lin("fc2", 10, 30)}
	for _, mapper := range MapperNames() {
		for _, scope := range ScopeNames {
			mp := mustMapper(t, ts, Config{Mapper: mapper, Scope: scope, Ratio: 0.3, BlockK: 4, BlockN: 4, Seed: 3})
			scales := []float64{0.5, 1.25, 2}
			div, err := mp.GradDivisors(scales)
			if err != nil {
				t.Fatal(err)
			}
			for l := range mp.NumLayers() {
				size := ts[l].Size()
				want := mp.Shared(l, float32(scales[l]))
				got := mp.Parametrization(l, scales[l], div)
				_, isTable := got.Map.(nn.TableMap)
				if got.Array != want.Array || got.ArraySize != want.ArraySize || got.Scale != want.Scale || got.Map == nil || isTable ||
					!slices.Equal(got.GradDivisor, div[mp.Layer(l).Array]) {
					t.Fatalf("%s/%s tensor %d: Parametrization %+v, want array %s/%d scale %v and the array's divisors", mapper, scope, l, got.Describe(), want.Array, want.ArraySize, want.Scale)
				}
				if err := got.Validate(ts[l].Param.Name, size); err != nil {
					t.Errorf("%s/%s: %v", mapper, scope, err)
				}
				idx, sign := make([]int32, size), make([]float32, size)
				got.Map.Fill(0, idx, sign)
				if !slices.Equal(idx, tables(want).Index) || !slices.Equal(sign, tables(want).Sign) {
					t.Errorf("%s/%s tensor %d: Map.Fill differs from the materialized tables", mapper, scope, l)
				}
				z := make([]float32, want.ArraySize)
				for j := range z {
					z[j] = float32(j%7) - 3
				}
				wg, ww := make([]float32, size), make([]float32, size)
				got.Weights(wg, z)
				want.Weights(ww, z)
				if !slices.Equal(wg, ww) {
					t.Errorf("%s/%s tensor %d: weights differ", mapper, scope, l)
				}
				m := got.Map
				if n := testing.AllocsPerRun(20, func() { m.Fill(7, idx[:11], sign[:11]) }); n != 0 {
					t.Errorf("%s: Map.Fill allocates %v times", mapper, n)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Map(3) of a 3-tensor mapper did not panic")
		}
	}()
	mustMapper(t, ts, Config{Mapper: Pareto, Ratio: 0.5}).Map(3)
}

// lenetShared builds LeNet-300-100 on the native engine, initialized with
// kaiming_normal, with every weight shared through mp's adapter (scales
// from the initializer, the mapper's divisors) and z drawn U(−a, a).
func lenetShared(t testing.TB, cfg Config, batch int) (nn.Net, *Mapper) {
	t.Helper()
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := Build(arch, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(1)); err != nil {
		t.Fatal(err)
	}
	scales, err := mp.ScalesFromInit("kaiming_normal")
	if err != nil {
		t.Fatal(err)
	}
	div, err := mp.GradDivisors(scales)
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.Apply(net, scales, div); err != nil {
		t.Fatal(err)
	}
	sn, ok := net.(nn.SharedNet)
	if !ok {
		t.Fatalf("the native net does not implement nn.SharedNet")
	}
	a := mp.Config().InitStd
	rng := nn.NewRand(2)
	for _, arr := range mp.Arrays() {
		z := make([]float32, arr.Size)
		for j := range z {
			z[j] = float32(a * (2*rng.Float64() - 1))
		}
		sn.SharedArray(arr.Name).SetValues(z)
	}
	return net, mp
}

func randomBatch(arch *nn.Arch, n int, rng *rand.Rand) nn.Batch {
	size := 1
	for _, d := range arch.Input {
		size *= d
	}
	b := nn.Batch{X: make([]float32, n*size), Y: make([]int32, n), N: n}
	for i := range b.X {
		b.X[i] = float32(rng.Float64())
	}
	for i := range b.Y {
		b.Y[i] = int32(rng.IntN(arch.Classes))
	}
	return b
}

// Pareto continuity through the adapter
// (docs/methods/rps.md#pareto-continuity, on random MNIST-shaped data instead
// of MNIST): LeNet-300-100 with the clean fold mapper at ρ = 1, global scope,
// the v1 scaler and λ = σ/a trains like the dense net started from the
// materialized weights, under plain SGD and momentum SGD with weight decay.
// Every slot has count 1. The run is float32, so losses and weights agree to
// 1e-5·(1 + |loss|) and 1e-6 + 1e-4·|w| after 40 steps; a wrong scale or
// divisor is off by O(1).
func TestApplyParetoContinuity(t *testing.T) {
	const batch, steps = 32, 40
	for _, opt := range []nn.Optimizer{nn.SGD(0, 0), nn.SGD(0.9, 5e-4)} {
		net, mp := lenetShared(t, Config{Mapper: Pareto, Ratio: 1, Seed: 5}, batch)
		st, err := mp.SlotStats(slices.Repeat([]float64{1}, mp.NumLayers()))
		if err != nil {
			t.Fatal(err)
		}
		for j, c := range st[0].Count {
			if c != 1 {
				t.Fatalf("fold at ρ = 1: slot %d has count %v, want 1", j, c)
			}
		}
		b, _ := nn.GetBackend("native")
		dense, err := b.Build(nn.Config{Arch: net.Arch(), MaxBatch: batch})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range net.Params() {
			dense.Param(p.Info().Name).SetValues(p.Values())
		}
		for _, x := range []nn.Net{net, dense} {
			if err := x.SetOptimizer(opt); err != nil {
				t.Fatal(err)
			}
		}
		rng := nn.NewRand(6)
		data := []nn.Batch{randomBatch(net.Arch(), batch, rng), randomBatch(net.Arch(), batch, rng), randomBatch(net.Arch(), batch, rng)}
		for s := range steps {
			ls, err := net.Gradients(data[s%len(data)])
			if err != nil {
				t.Fatal(err)
			}
			ld, err := dense.Gradients(data[s%len(data)])
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ls-ld) > 1e-5*(1+math.Abs(ld)) {
				t.Fatalf("%s momentum %v, step %d: loss %.9g, dense %.9g", opt.Name, opt.Momentum, s, ls, ld)
			}
			net.Step(0.05)
			dense.Step(0.05)
		}
		for _, p := range dense.Params() {
			got, want := net.Param(p.Info().Name).Values(), p.Values()
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6+1e-4*math.Abs(float64(want[i])) {
					t.Fatalf("%s momentum %v: after %d steps %s[%d] = %v, dense %v", opt.Name, opt.Momentum, steps, p.Info().Name, i, got[i], want[i])
				}
			}
		}
	}
}

// The memory test of docs/methods/rps.md#memory-accounting: LeNet-300-100 at
// 100× (m = 2,662) through the adapter, fold and HashedNet mappers, holds a
// small fraction of the dense net's heap after construction and one
// momentum-SGD step (heap in use after a collection, minus the baseline; the
// batch is allocated first). Logged: both numbers and the persistent bytes
// the accounting predicts.
func TestApplyMemory(t *testing.T) {
	const batch = 60
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBatch(arch, batch, nn.NewRand(7))
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	measure := func(build func() nn.Net) uint64 {
		base := heap()
		net := build()
		if err := net.SetOptimizer(nn.SGD(0.9, 1e-4)); err != nil {
			t.Fatal(err)
		}
		if _, err := net.Gradients(data); err != nil {
			t.Fatal(err)
		}
		net.Step(0.01)
		used := heap() - base
		runtime.KeepAlive(net)
		return used
	}
	dense := measure(func() nn.Net {
		b, _ := nn.GetBackend("native")
		net, err := b.Build(nn.Config{Arch: arch, MaxBatch: batch})
		if err != nil {
			t.Fatal(err)
		}
		if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(1)); err != nil {
			t.Fatal(err)
		}
		return net
	})
	for _, mapper := range []string{Pareto, HashedNet} {
		var mp *Mapper
		shared := measure(func() nn.Net {
			net, m := lenetShared(t, Config{Mapper: mapper, Ratio: 0.01, Seed: 8}, batch)
			mp = m
			return net
		})
		mem, err := mp.Memory(arch)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s at 100× (m = %d): heap %d bytes, dense %d bytes (%.1f%%); parameters %d bytes + tables %d bytes, dense parameters %d bytes", mapper, mp.M(), shared, dense, 100*float64(shared)/float64(dense), mem.ParamBytes, mem.TableBytes, mem.DenseBytes)
		if shared > dense/4 {
			t.Errorf("%s: shared net holds %d bytes, more than 25%% of the dense net's %d", mapper, shared, dense)
		}
	}
}

// Apply checks its arguments and names the tensor the engine refuses.
func TestApplyErrors(t *testing.T) {
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := Build(arch, Config{Mapper: Pareto, Ratio: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := nn.GetBackend("native")
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.Apply(net, []float64{1}, nil); err == nil || !strings.Contains(err.Error(), "1 scales for 3") {
		t.Errorf("wrong number of scales: %v", err)
	}
	if err := mp.Apply(net, []float64{1, 1, 1}, [][]float32{nil, nil}); err == nil || !strings.Contains(err.Error(), "2 arrays") {
		t.Errorf("wrong number of divisor arrays: %v", err)
	}
	if err := mp.Apply(net, []float64{1, math.NaN(), 1}, nil); err == nil || !strings.Contains(err.Error(), "fc2.weight") {
		t.Errorf("a NaN scale: %v", err)
	}
}

// BenchmarkSharedTrainStep is one Gradients+Step (momentum SGD) of
// LeNet-300-100 at batch 60 on the native engine, dense and with every
// weight shared through the adapter at 10× and 100× (fold, HashedNet and
// ROAST with 8 × 8 tiles, v1 scaler). Compare ns/op with the dense line of
// the same run: the shared step recomputes indices and signs in the
// forward and backward kernels instead of storing them.
func BenchmarkSharedTrainStep(b *testing.B) {
	const batch = 60
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := randomBatch(arch, batch, nn.NewRand(9))
	run := func(b *testing.B, net nn.Net) {
		if err := net.SetOptimizer(nn.SGD(0.9, 1e-4)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := net.Gradients(data); err != nil {
				b.Fatal(err)
			}
			net.Step(1e-3)
		}
	}
	b.Run("lenet-300-100/b60/dense", func(b *testing.B) {
		be, _ := nn.GetBackend("native")
		net, err := be.Build(nn.Config{Arch: arch, MaxBatch: batch})
		if err != nil {
			b.Fatal(err)
		}
		if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(1)); err != nil {
			b.Fatal(err)
		}
		run(b, net)
	})
	for _, c := range []int{10, 100} {
		for _, mapper := range MapperNames() {
			b.Run(fmt.Sprintf("lenet-300-100/b60/%s-%dx", mapper, c), func(b *testing.B) {
				net, _ := lenetShared(b, Config{Mapper: mapper, Ratio: 1 / float64(c), BlockK: 8, BlockN: 8, Seed: 10}, batch)
				run(b, net)
			})
		}
	}
}
