package native

import (
	"fmt"
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// naiveStep is the unfused update, one phase at a time, as
// docs/methods/conventions.md#mask-enforcement words it: mask the gradient
// (P1, P3), update, then mask θ and the state (P3).
func naiveStep(o nn.Optimizer, lr float64, t int64, pattern string, th, g, m, s1, s2 []float32) {
	n := len(th)
	gm := make([]float32, n)
	for i := range gm {
		gm[i] = g[i]
		if pattern == "P1" || pattern == "P3" {
			gm[i] = g[i] * m[i]
		}
	}
	lr32, wd := float32(lr), float32(o.WeightDecay)
	for i := 0; i < n; i++ {
		switch o.Name {
		case "sgd":
			gi := gm[i] + wd*th[i]
			if o.Momentum == 0 {
				th[i] -= lr32 * gi
				continue
			}
			mu := float32(o.Momentum)
			s1[i] = mu*s1[i] + gi
			if o.Nesterov {
				th[i] -= lr32 * (gi + mu*s1[i])
			} else {
				th[i] -= lr32 * s1[i]
			}
		default:
			gi := gm[i]
			if o.Name == "adam" {
				gi += wd * th[i]
			} else {
				th[i] *= float32(1 - lr*o.WeightDecay)
			}
			s1[i] = float32(o.Beta1)*s1[i] + float32(1-o.Beta1)*gi
			s2[i] = float32(o.Beta2)*s2[i] + float32(1-o.Beta2)*gi*gi
			bc1 := 1 - math.Pow(o.Beta1, float64(t))
			bc2 := 1 - math.Pow(o.Beta2, float64(t))
			den := float32(math.Sqrt(float64(s2[i])))*float32(1/math.Sqrt(bc2)) + float32(o.Eps)
			th[i] -= float32(lr/bc1) * s1[i] / den
		}
	}
	if pattern == "P3" {
		for i := range th {
			th[i] *= m[i]
			if s1 != nil {
				s1[i] *= m[i]
			}
			if s2 != nil {
				s2[i] *= m[i]
			}
		}
	}
}

// TestFusedLoops compares every fused loop (optimizer × pattern) with the
// unfused update over three steps.
func TestFusedLoops(t *testing.T) {
	nesterov := nn.SGD(0.9, 0.01)
	nesterov.Nesterov = true
	opts := []nn.Optimizer{nn.SGD(0, 0.01), nn.SGD(0.9, 0.01), nesterov, nn.Adam(0.01), nn.AdamW(0.1)}
	patterns := map[string]nn.MaskPattern{"P1": nn.MaskedForward, "P2": nn.ZeroBeforeForward, "P3": nn.ZeroAfterStep}
	const size = 1003
	for _, o := range opts {
		for _, pat := range []string{"dense", "P1", "P2", "P3"} {
			name := fmt.Sprintf("%s-%v-%v/%s", o.Name, o.Momentum, o.Nesterov, pat)
			t.Run(name, func(t *testing.T) {
				rng := nntest.NewRand(1)
				info := nn.ParamInfo{Name: "w", Shape: []int{size}, Kind: nn.Weight}
				net := &Net{arch: &nn.Arch{Name: "loops"}}
				e := &entry{p: newParam(info), info: info}
				net.entries = []*entry{e}
				for i := range e.p.value {
					e.p.value[i] = float32(rng.NormFloat64())
				}
				if err := net.SetOptimizer(o); err != nil {
					t.Fatal(err)
				}
				m := nntest.RandomMask(size, 0.5, rng)
				if pat != "dense" {
					net.setMasked(e, m, patterns[pat])
				}
				th := append([]float32(nil), e.p.value...)
				var s1, s2 []float32
				if e.s1 != nil {
					s1 = make([]float32, size)
				}
				if e.s2 != nil {
					s2 = make([]float32, size)
				}
				for step := int64(1); step <= 3; step++ {
					for i := range e.p.grad {
						e.p.grad[i] = float32(rng.NormFloat64())
					}
					g := append([]float32(nil), e.p.grad...)
					net.Step(0.05)
					naiveStep(o, 0.05, step, pat, th, g, m, s1, s2)
					for i := range g {
						if g[i] != e.p.grad[i] {
							t.Fatalf("step %d: the step changed the gradient", step)
						}
					}
					near(t, fmt.Sprintf("step %d θ", step), e.p.value, th)
					near(t, fmt.Sprintf("step %d s1", step), e.s1, s1)
					near(t, fmt.Sprintf("step %d s2", step), e.s2, s2)
					if pat == "P3" {
						for i, k := range m {
							if k == 0 && (e.p.value[i] != 0 || (s1 != nil && e.s1[i] != 0) || (s2 != nil && e.s2[i] != 0)) {
								t.Fatalf("step %d: entry %d pruned but not zero", step, i)
							}
						}
					}
				}
			})
		}
	}
}

func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestWeightDecayAllKinds documents that weight decay applies to biases
// and norm parameters too.
func TestWeightDecayAllKinds(t *testing.T) {
	net := newTrainNet(t, nntest.ConvNet(), 2)
	if err := net.SetOptimizer(nn.SGD(0, 0.5)); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for _, e := range net.entries {
		clear(e.p.grad)
		before[e.info.Name] = append([]float32(nil), e.p.value...)
	}
	net.Step(0.1)
	for _, e := range net.entries {
		for i, v := range e.p.value {
			want := before[e.info.Name][i] * (1 - 0.1*0.5)
			if math.Abs(float64(v-want)) > 1e-6 {
				t.Errorf("%s (%s): θ %v after a decay-only step, want %v", e.info.Name, e.info.Kind, v, want)
				break
			}
		}
	}
}

// BenchmarkOptimizer times the fused update alone on one tensor, dense and
// under each mask pattern (density 0.2), at several sizes: a layer's bias
// (300), a small layer (30,000), the weights of LeNet-300-100 (266,200) and
// a tensor larger than the caches (2M entries, 8 MiB per buffer). Bytes are
// those of θ.
func BenchmarkOptimizer(b *testing.B) {
	nesterov := nn.SGD(0.9, 1e-4)
	nesterov.Nesterov = true
	opts := []struct {
		name string
		o    nn.Optimizer
	}{{"sgd", nn.SGD(0, 1e-4)}, {"sgd-momentum", nn.SGD(0.9, 1e-4)}, {"nesterov", nesterov}, {"adam", nn.Adam(1e-4)}}
	pats := []struct {
		name string
		p    nn.MaskPattern
	}{{"dense", -1}, {"P1", nn.MaskedForward}, {"P3", nn.ZeroAfterStep}}
	for _, o := range opts {
		for _, p := range pats {
			for _, size := range []int{300, 30000, 266200, 2 << 20} {
				b.Run(fmt.Sprintf("%s/%s/n=%d", o.name, p.name, size), func(b *testing.B) {
					rng := nntest.NewRand(1)
					info := nn.ParamInfo{Name: "w", Shape: []int{size}, Kind: nn.Weight}
					net := &Net{arch: &nn.Arch{Name: "bench"}}
					e := &entry{p: newParam(info), info: info}
					net.entries = []*entry{e}
					for i := range e.p.value {
						e.p.value[i] = float32(rng.NormFloat64())
						e.p.grad[i] = float32(rng.NormFloat64())
					}
					if err := net.SetOptimizer(o.o); err != nil {
						b.Fatal(err)
					}
					if p.p >= 0 {
						net.setMasked(e, nntest.RandomMask(size, 0.2, rng), p.p)
					}
					b.SetBytes(int64(size) * 4)
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						net.Step(1e-6)
					}
				})
			}
		}
	}
}
