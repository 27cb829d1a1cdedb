package optkernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The sizes of the tests: empty, shorter than one vector, around one and
// four vectors, and LeNet-300-100's weights.
var sizes = []int{0, 1, 7, 8, 9, 31, 1000, 266200}

// kernel is one optimizer update over every entry (m nil: dense) and its
// alive-list form, on a state of two buffers (the ones it keeps no use of
// are ignored).
type kernel struct {
	name  string
	full  func(th, g, m, s1, s2 []float32)
	alive func(th, g, s1, s2 []float32, alive []int32)
	kept  func(th, gk, s1, s2 []float32, pos []int32) // gk: the gradient of pos, compact
}

func kernels() []kernel {
	const lr, wd, mu = 0.05, 0.01, 0.9
	adam := &AdamConsts{WD: wd, Decay: 1, B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, StepSize: 0.05 / 0.1, InvSqrtBc2: float32(1 / math.Sqrt(0.001)), Eps: 1e-8}
	adamw := &AdamConsts{WD: 0, Decay: 1 - lr*0.1, B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, StepSize: 0.05 / 0.19, InvSqrtBc2: float32(1 / math.Sqrt(1-0.999*0.999)), Eps: 1e-8}
	return []kernel{
		{"sgd",
			func(th, g, m, _, _ []float32) { SGD(th, g, m, lr, wd) },
			func(th, g, _, _ []float32, a []int32) { SGDAlive(th, g, a, lr, wd) },
			func(th, g, _, _ []float32, a []int32) { SGDKept(th, g, a, lr, wd) }},
		{"momentum",
			func(th, g, m, v, _ []float32) { Momentum(th, g, m, v, lr, wd, mu) },
			func(th, g, v, _ []float32, a []int32) { MomentumAlive(th, g, v, a, lr, wd, mu) },
			func(th, g, v, _ []float32, a []int32) { MomentumKept(th, g, v, a, lr, wd, mu) }},
		{"nesterov",
			func(th, g, m, v, _ []float32) { Nesterov(th, g, m, v, lr, wd, mu) },
			func(th, g, v, _ []float32, a []int32) { NesterovAlive(th, g, v, a, lr, wd, mu) },
			func(th, g, v, _ []float32, a []int32) { NesterovKept(th, g, v, a, lr, wd, mu) }},
		{"adam",
			func(th, g, m, s1, s2 []float32) { Adam(th, g, m, s1, s2, adam) },
			func(th, g, s1, s2 []float32, a []int32) { AdamAlive(th, g, s1, s2, a, adam) },
			func(th, g, s1, s2 []float32, a []int32) { AdamKept(th, g, s1, s2, a, adam) }},
		{"adamw",
			func(th, g, m, s1, s2 []float32) { Adam(th, g, m, s1, s2, adamw) },
			func(th, g, s1, s2 []float32, a []int32) { AdamAlive(th, g, s1, s2, a, adamw) },
			func(th, g, s1, s2 []float32, a []int32) { AdamKept(th, g, s1, s2, a, adamw) }},
	}
}

// withAsm runs f with the assembly kernels on (asm) or off, and restores
// the default.
func withAsm(asm bool, f func()) {
	saved := useAsm
	useAsm = asm
	defer func() { useAsm = saved }()
	f()
}

// tensors is one tensor's operands, each with guard entries after its end
// that no kernel may write.
type tensors struct {
	th, g, m, s1, s2 []float32
	alive            []int32
}

const guard = 9

func newTensors(n int, masked bool, seed uint64) *tensors {
	r := rand.New(rand.NewPCG(seed, 1))
	vec := func(scale float64) []float32 {
		v := make([]float32, n+guard)
		for i := range v {
			v[i] = float32(scale * r.NormFloat64())
		}
		return v
	}
	t := &tensors{th: vec(1), g: vec(1), s1: vec(0.1), s2: vec(0.1)}
	for i := range t.s2 {
		t.s2[i] *= t.s2[i] // exp_avg_sq is non-negative
	}
	if masked {
		t.m = make([]float32, n+guard)
		for i := range t.m {
			if r.Float64() < 0.5 {
				t.m[i] = 1
			}
		}
	}
	return t
}

func (t *tensors) clone() *tensors {
	c := func(v []float32) []float32 { return append([]float32(nil), v...) }
	return &tensors{th: c(t.th), g: c(t.g), m: c(t.m), s1: c(t.s1), s2: c(t.s2), alive: t.alive}
}

// zeroPruned puts t in the state of a ZeroAfterStep tensor: θ and the
// state zero where m is, and the alive list.
func (t *tensors) zeroPruned(n int) {
	t.alive = nil
	for i, k := range t.m {
		if k == 0 {
			t.th[i], t.s1[i], t.s2[i] = 0, 0, 0
		} else if i < n {
			t.alive = append(t.alive, int32(i))
		}
	}
}

// full runs k on the first n entries (the mask only if masked).
func (t *tensors) full(k kernel, n int, masked bool) {
	var m []float32
	if masked {
		m = t.m[:n]
	}
	k.full(t.th[:n], t.g[:n], m, t.s1[:n], t.s2[:n])
}

// near reports whether got and want agree to within a few float32 roundings
// of the operands' scale: FMA rounds once where the Go loops round twice.
func near(got, want float32) bool {
	return math.Abs(float64(got-want)) <= 2e-6*(1+math.Abs(float64(want)))
}

func compare(t *testing.T, what string, got, want []float32, n int) {
	t.Helper()
	for i := range want {
		if i >= n {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: guard entry %d (n = %d) written: %v, want %v", what, i, n, got[i], want[i])
			}
			continue
		}
		if !near(got[i], want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (n = %d)", what, i, got[i], want[i], n)
		}
	}
}

func compareAll(t *testing.T, step int, got, want *tensors, n int) {
	t.Helper()
	compare(t, fmt.Sprintf("step %d θ", step), got.th, want.th, n)
	compare(t, fmt.Sprintf("step %d s1", step), got.s1, want.s1, n)
	compare(t, fmt.Sprintf("step %d s2", step), got.s2, want.s2, n)
}

func needAsm(t *testing.T) {
	if !asmAvailable {
		t.Skip("no assembly kernels in this build or on this CPU")
	}
}

// TestAsmMatchesGo runs every kernel, dense and masked, three steps with
// the assembly and with the Go loops on the same data, at odd lengths, and
// checks that they agree within float32 rounding and that nothing past the
// end is written. The gradient and the mask are only read.
func TestAsmMatchesGo(t *testing.T) {
	needAsm(t)
	for _, k := range kernels() {
		for _, masked := range []bool{false, true} {
			for _, n := range sizes {
				t.Run(fmt.Sprintf("%s/masked=%v/n=%d", k.name, masked, n), func(t *testing.T) {
					asm := newTensors(n, masked, uint64(n))
					ref := asm.clone()
					g0, m0 := ref.clone().g, ref.clone().m
					for step := 1; step <= 3; step++ {
						withAsm(true, func() { asm.full(k, n, masked) })
						withAsm(false, func() { ref.full(k, n, masked) })
						compareAll(t, step, asm, ref, n)
					}
					compare(t, "g", asm.g, g0, 0)
					compare(t, "m", asm.m, m0, 0)
				})
			}
		}
	}
}

// TestAliveMatchesMasked checks the third mask mode: on a ZeroAfterStep
// tensor (θ and the state zero at pruned positions), the loop over the
// alive list gives what the masked kernel (assembly where available) gives
// over every entry, and the pruned entries stay zero.
func TestAliveMatchesMasked(t *testing.T) {
	for _, k := range kernels() {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/n=%d", k.name, n), func(t *testing.T) {
				alive := newTensors(n, true, uint64(n)+7)
				alive.zeroPruned(n)
				masked := alive.clone()
				for step := 1; step <= 3; step++ {
					k.alive(alive.th[:n], alive.g[:n], alive.s1[:n], alive.s2[:n], alive.alive)
					masked.full(k, n, true)
					compareAll(t, step, alive, masked, n)
					for i := 0; i < n; i++ {
						if masked.m[i] == 0 && (masked.th[i] != 0 || masked.s1[i] != 0 || masked.s2[i] != 0) {
							t.Fatalf("step %d: pruned entry %d is not zero", step, i)
						}
					}
				}
			})
		}
	}
}

// TestKeptMatchesAlive checks the kept-entry loops: with the gradient
// gathered compact in the order of the entry list, they give the alive
// loops' bits.
func TestKeptMatchesAlive(t *testing.T) {
	for _, k := range kernels() {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/n=%d", k.name, n), func(t *testing.T) {
				alive := newTensors(n, true, uint64(n)+9)
				alive.zeroPruned(n)
				kept := alive.clone()
				gk := make([]float32, len(alive.alive))
				for step := 1; step <= 3; step++ {
					for j, i := range alive.alive {
						gk[j] = alive.g[i]
					}
					k.alive(alive.th[:n], alive.g[:n], alive.s1[:n], alive.s2[:n], alive.alive)
					k.kept(kept.th[:n], gk, kept.s1[:n], kept.s2[:n], alive.alive)
					for i := 0; i < n; i++ {
						if kept.th[i] != alive.th[i] || kept.s1[i] != alive.s1[i] || kept.s2[i] != alive.s2[i] {
							t.Fatalf("step %d, entry %d: kept loop θ %v s1 %v s2 %v, alive loop %v %v %v", step, i, kept.th[i], kept.s1[i], kept.s2[i], alive.th[i], alive.s1[i], alive.s2[i])
						}
					}
				}
			})
		}
	}
}

// TestAsmDeterministic checks that the assembly gives the same bits every
// time and wherever an entry sits: the whole tensor, the same entries
// starting one float later (another alignment, another split between the
// vector loop and the masked tail) and one entry at a time agree bit for
// bit.
func TestAsmDeterministic(t *testing.T) {
	needAsm(t)
	const n = 1000
	for _, k := range kernels() {
		for _, masked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/masked=%v", k.name, masked), func(t *testing.T) {
				base := newTensors(n, masked, 3)
				whole, again, shifted, single := base.clone(), base.clone(), base.clone(), base.clone()
				withAsm(true, func() {
					whole.full(k, n, masked)
					again.full(k, n, masked)
					var m []float32
					if masked {
						m = shifted.m[1:n]
					}
					k.full(shifted.th[1:n], shifted.g[1:n], m, shifted.s1[1:n], shifted.s2[1:n])
					for i := 0; i < n; i++ {
						if masked {
							m = single.m[i : i+1]
						}
						k.full(single.th[i:i+1], single.g[i:i+1], m, single.s1[i:i+1], single.s2[i:i+1])
					}
				})
				for _, o := range []struct {
					name string
					t    *tensors
					from int
				}{{"again", again, 0}, {"shifted", shifted, 1}, {"one at a time", single, 0}} {
					for i := o.from; i < n; i++ {
						for _, p := range [][2][]float32{{o.t.th, whole.th}, {o.t.s1, whole.s1}, {o.t.s2, whole.s2}} {
							if math.Float32bits(p[0][i]) != math.Float32bits(p[1][i]) {
								t.Fatalf("%s: entry %d: %v, want %v", o.name, i, p[0][i], p[1][i])
							}
						}
					}
				}
			})
		}
	}
}

// TestShortOperands checks that the wrappers refuse an operand shorter than
// θ instead of reading past it.
func TestShortOperands(t *testing.T) {
	for _, k := range kernels() {
		// The operands k reads: g, m, s1, s2.
		reads := []bool{true, true, k.name != "sgd", k.name == "adam" || k.name == "adamw"}
		for op, read := range reads {
			if !read {
				continue
			}
			t.Run(fmt.Sprintf("%s/operand%d", k.name, op), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Errorf("operand %d short: no panic", op)
					}
				}()
				tt := newTensors(16, true, 1)
				ops := [][]float32{tt.g[:16], tt.m[:16], tt.s1[:16], tt.s2[:16]}
				ops[op] = ops[op][:15]
				k.full(tt.th[:16], ops[0], ops[1], ops[2], ops[3])
			})
		}
	}
}

// BenchmarkKernels times each kernel, dense and masked, assembly and Go, at
// several sizes: a bias, a small layer, LeNet-300-100's first weight
// (235,200) and a tensor larger than the caches (2M entries, 8 MiB per
// operand). Bytes are those of θ.
func BenchmarkKernels(b *testing.B) {
	impls := []struct {
		name string
		asm  bool
	}{{"go", false}}
	if asmAvailable {
		impls = append(impls, struct {
			name string
			asm  bool
		}{"avx2", true})
	}
	for _, k := range kernels() {
		if k.name == "adamw" {
			continue
		}
		for _, masked := range []bool{false, true} {
			for _, n := range []int{300, 30000, 235200, 2 << 20} {
				for _, im := range impls {
					mode := "dense"
					if masked {
						mode = "masked"
					}
					b.Run(fmt.Sprintf("%s/%s/n=%d/%s", k.name, mode, n, im.name), func(b *testing.B) {
						tt := newTensors(n, masked, 1)
						b.SetBytes(int64(4 * n))
						b.ReportAllocs()
						b.ResetTimer()
						withAsm(im.asm, func() {
							for range b.N {
								tt.full(k, n, masked)
							}
						})
					})
				}
			}
		}
	}
}
