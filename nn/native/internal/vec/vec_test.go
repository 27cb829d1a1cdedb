package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var sizes = []int{0, 1, 3, 4, 5, 7, 8, 9, 12, 31, 1000, 266200}

func withAsm(asm bool, f func()) {
	saved := useAsm
	useAsm = asm
	defer func() { useAsm = saved }()
	f()
}

func needAsm(t *testing.T) {
	if !asmAvailable {
		t.Skip("no assembly in this build or on this CPU")
	}
}

// randomVec returns n floats, normal, with a few special values (±0, ±Inf,
// NaNs of both signs) mixed in.
func randomVec(n int, r *rand.Rand) []float32 {
	v := make([]float32, n)
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002), 1e-40, -1e-40}
	for i := range v {
		if r.IntN(20) == 0 {
			v[i] = specials[r.IntN(len(specials))]
		} else {
			v[i] = float32(r.NormFloat64())
		}
	}
	return v
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: entry %d = %v (%#x), want %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestRowsMatchGo checks AddRows, CopyRows and CopyRowsStride2, assembly
// against Go, bit for bit, on blocks of odd widths and strides, and that nothing outside the
// block is written.
func TestRowsMatchGo(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, rows := range []int{0, 1, 3, 17} {
		for _, cols := range []int{0, 1, 3, 4, 5, 7, 8, 9, 10, 28, 31, 1024} {
			for _, pad := range []int{0, 1, 5} {
				ds, ss := cols+pad, 2*cols+2*pad+1
				name := fmt.Sprintf("rows=%d/cols=%d/pad=%d", rows, cols, pad)
				t.Run(name, func(t *testing.T) {
					src := randomVec(rows*ss+3, r)
					dst := randomVec(rows*ds+3, r)
					for _, op := range []struct {
						name string
						f    func(dst []float32, ds int, src []float32, ss, rows, cols int)
					}{{"add", AddRows}, {"copy", CopyRows}, {"copy stride 2", stride2}} {
						a, g := append([]float32(nil), dst...), append([]float32(nil), dst...)
						withAsm(true, func() { op.f(a, ds, src, ss, rows, cols) })
						withAsm(false, func() { op.f(g, ds, src, ss, rows, cols) })
						sameBits(t, op.name, a, g)
					}
				})
			}
		}
	}
}

// TestRowsDefinition checks the Go loops against the definition.
// stride2 is CopyRowsStride2 on the first rows of src that hold whole
// stride-2 rows.
func stride2(dst []float32, ds int, src []float32, ss, rows, cols int) {
	CopyRowsStride2(dst, ds, src, ss, rows, cols)
}

func TestRowsDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rows, cols, ds, ss = 3, 13, 15, 27
	src := randomVec((rows-1)*ss+2*cols-1, r) // exactly what CopyRowsStride2 may read
	dst := randomVec(rows*ds, r)
	for _, asm := range []bool{false, asmAvailable} {
		add, cp, cp2 := append([]float32(nil), dst...), append([]float32(nil), dst...), append([]float32(nil), dst...)
		withAsm(asm, func() {
			AddRows(add, ds, src, ss, rows, cols)
			CopyRows(cp, ds, src, ss, rows, cols)
			CopyRowsStride2(cp2, ds, src, ss, rows, cols)
		})
		for i := range dst {
			rr, j := i/ds, i%ds
			wantAdd, wantCopy, wantCopy2 := dst[i], dst[i], dst[i]
			if rr < rows && j < cols {
				wantAdd = dst[i] + src[rr*ss+j]
				wantCopy = src[rr*ss+j]
				wantCopy2 = src[rr*ss+2*j]
			}
			sameBits(t, fmt.Sprintf("asm=%v add[%d]", asm, i), add[i:i+1], []float32{wantAdd})
			sameBits(t, fmt.Sprintf("asm=%v copy[%d]", asm, i), cp[i:i+1], []float32{wantCopy})
			sameBits(t, fmt.Sprintf("asm=%v copy stride 2[%d]", asm, i), cp2[i:i+1], []float32{wantCopy2})
		}
	}
}

func TestRowsOutOfRange(t *testing.T) {
	for _, c := range []struct{ n, ds, rows, cols int }{{10, 5, 3, 5}, {10, 4, 2, 5}, {10, 5, -1, 1}, {14, 5, 3, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", c)
				}
			}()
			AddRows(make([]float32, c.n), c.ds, make([]float32, 100), c.cols, c.rows, c.cols)
		}()
	}
	AddRows(make([]float32, 15), 5, make([]float32, 15), 5, 3, 5) // exactly fits
}

// TestReLUMatchesGo checks ReLU and its gradient, and AddTo, assembly
// against Go, bit for bit, special values included.
func TestReLUMatchesGo(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x, dy := randomVec(n+3, r), randomVec(n+3, r)
			ya := randomVec(n+3, r)
			var yg []float32
			yg = append(yg, ya...)
			withAsm(true, func() { ReLU(ya[:n], x) })
			withAsm(false, func() { ReLU(yg[:n], x) })
			sameBits(t, "relu", ya, yg)
			sa, sg := randomVec(n+3, r), []float32(nil)
			sg = append(sg, sa...)
			withAsm(true, func() { AddTo(sa[:n], x, dy) })
			withAsm(false, func() { AddTo(sg[:n], x, dy) })
			sameBits(t, "add to", sa, sg)
			da, dg := randomVec(n+3, r), []float32(nil)
			dg = append(dg, da...)
			withAsm(true, func() { ReLUGrad(da[:n], dy, ya) })
			withAsm(false, func() { ReLUGrad(dg[:n], dy, yg) })
			sameBits(t, "relu grad", da, dg)
		})
	}
}

// TestReLUDefinition checks both implementations on the cases that matter.
func TestReLUDefinition(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	x := []float32{-1, 0, negZero, 2, float32(math.Inf(-1)), float32(math.Inf(1)), 1e-40, -1e-40}
	want := []float32{0, 0, 0, 2, 0, float32(math.Inf(1)), 1e-40, 0}
	dy := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	wantDx := []float32{0, 0, 0, 4, 0, 6, 7, 0}
	for _, asm := range []bool{false, asmAvailable} {
		y, dx := make([]float32, len(x)), make([]float32, len(x))
		withAsm(asm, func() {
			ReLU(y, x)
			ReLUGrad(dx, dy, y)
		})
		sameBits(t, fmt.Sprintf("asm=%v relu", asm), y, want)
		sameBits(t, fmt.Sprintf("asm=%v relu grad", asm), dx, wantDx)
	}
}

func BenchmarkVec(b *testing.B) {
	impls := []bool{false}
	if asmAvailable {
		impls = append(impls, true)
	}
	name := map[bool]string{false: "go", true: "avx2"}
	r := rand.New(rand.NewPCG(7, 8))
	for _, asm := range impls {
		for _, c := range []struct{ rows, cols, ds, ss int }{{1, 1 << 17, 1 << 17, 1 << 17}, {1280, 10, 14, 10}, {3584, 28, 32, 28}} {
			dst, src := randomVec(c.rows*c.ds, r), randomVec(c.rows*c.ss, r)
			b.Run(fmt.Sprintf("add/%dx%d/%s", c.rows, c.cols, name[asm]), func(b *testing.B) {
				b.SetBytes(int64(4 * c.rows * c.cols))
				withAsm(asm, func() {
					for range b.N {
						AddRows(dst, c.ds, src, c.ss, c.rows, c.cols)
					}
				})
			})
			b.Run(fmt.Sprintf("copy/%dx%d/%s", c.rows, c.cols, name[asm]), func(b *testing.B) {
				b.SetBytes(int64(4 * c.rows * c.cols))
				withAsm(asm, func() {
					for range b.N {
						CopyRows(dst, c.ds, src, c.ss, c.rows, c.cols)
					}
				})
			})
		}
		x, y := randomVec(1<<17, r), make([]float32, 1<<17)
		b.Run("relu/"+name[asm], func(b *testing.B) {
			b.SetBytes(4 << 17)
			withAsm(asm, func() {
				for range b.N {
					ReLU(y, x)
				}
			})
		})
		b.Run("relugrad/"+name[asm], func(b *testing.B) {
			b.SetBytes(4 << 17)
			withAsm(asm, func() {
				for range b.N {
					ReLUGrad(x, x, y)
				}
			})
		})
	}
}

// TestNormMatchesGo checks the batch-norm loops, assembly against Go, bit
// for bit, at odd lengths, and the sums against plain float64 sums.
func TestNormMatchesGo(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 131072} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := make([]float32, n)
			h := make([]float32, n)
			for i := range x {
				x[i] = float32(3 + 2*r.NormFloat64())
				h[i] = float32(r.NormFloat64())
			}
			var sums [2][4]float64
			outs := [2][4][]float32{}
			for k, asm := range []bool{true, false} {
				withAsm(asm, func() {
					sums[k][0] = Sum(x)
					sums[k][1] = SumSquaredDev(x, 3.1)
					sums[k][2], sums[k][3] = SumAndDot(x, h)
					xhat, y, dx := make([]float32, n), make([]float32, n), make([]float32, n)
					NormAffine(xhat, y, x, 3.1, 0.47, 1.3, -0.2)
					NormGrad(dx, h, xhat, 0.8, 0.01, -0.3)
					outs[k] = [4][]float32{xhat, y, dx, nil}
				})
			}
			for i := range sums[0] {
				if math.Float64bits(sums[0][i]) != math.Float64bits(sums[1][i]) {
					t.Errorf("sum %d: asm %v, Go %v", i, sums[0][i], sums[1][i])
				}
			}
			for i, name := range []string{"x̂", "y", "dx"} {
				sameBits(t, name, outs[0][i], outs[1][i])
			}
			var s, ss, sd float64
			for i, v := range x {
				s += float64(v)
				d := float64(v) - 3.1
				ss += d * d
				sd += float64(v) * float64(h[i])
			}
			for i, want := range []float64{s, ss, s, sd} {
				if math.Abs(sums[0][i]-want) > 1e-12*(1+math.Abs(want)) {
					t.Errorf("sum %d = %v, want %v", i, sums[0][i], want)
				}
			}
		})
	}
}

// TestNormDefinition checks NormAffine and NormGrad, both implementations,
// against their formulas entry by entry.
func TestNormDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n = 37
	x, dy := randomVec(n, r), randomVec(n, r)
	for _, asm := range []bool{false, asmAvailable} {
		xhat, y, dx := make([]float32, n), make([]float32, n), make([]float32, n)
		withAsm(asm, func() {
			NormAffine(xhat, y, x, 0.3, 1.7, 0.9, 0.1)
			NormGrad(dx, dy, xhat, 1.1, 0.2, 0.4)
		})
		for j := range x {
			h := float32((float64(x[j]) - 0.3) * 1.7)
			want := []float32{h, float32(0.9)*h + float32(0.1), float32(1.1) * (dy[j] - float32(0.2) - h*float32(0.4))}
			sameBits(t, fmt.Sprintf("asm=%v entry %d", asm, j), []float32{xhat[j], y[j], dx[j]}, want)
		}
	}
}

func BenchmarkNorm(b *testing.B) {
	impls := []bool{false}
	if asmAvailable {
		impls = append(impls, true)
	}
	name := map[bool]string{false: "go", true: "avx2"}
	r := rand.New(rand.NewPCG(13, 14))
	const n = 1 << 17 // one channel of a 32×32 ResNet feature map at batch 128
	x, h, y, z := randomVec(n, r), randomVec(n, r), make([]float32, n), make([]float32, n)
	for _, asm := range impls {
		for _, c := range []struct {
			name string
			f    func()
		}{
			{"sum", func() { Sum(x) }},
			{"sumsqdev", func() { SumSquaredDev(x, 0.1) }},
			{"sumanddot", func() { SumAndDot(x, h) }},
			{"normaffine", func() { NormAffine(y, z, x, 0.1, 2, 1, 0) }},
			{"normgrad", func() { NormGrad(y, x, h, 1, 0.1, 0.2) }},
		} {
			b.Run(c.name+"/"+name[asm], func(b *testing.B) {
				b.SetBytes(4 * n)
				withAsm(asm, func() {
					for range b.N {
						c.f()
					}
				})
			})
		}
	}
}
