package native

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// almostEqual compares float32 slices within an absolute tolerance.
func almostEqual(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := float64(got[i]) - float64(want[i]); d > tol || d < -tol {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestLinearForward(t *testing.T) {
	l := newLinear(nn.Linear{Name: "fc", In: 2, Out: 3, Bias: true}, 4, true)
	copy(l.weight.w, []float32{1, 2, 3, 4, 5, 6})
	copy(l.bias.w, []float32{0.5, 0, -1})
	x := []float32{1, 1, 2, -1, 9, 9} // 2 examples used of 3 rows given
	y := l.forward(x, 2, true)
	almostEqual(t, "y", y, []float32{3.5, 7, 10, 0.5, 2, 3}, 0)

	// dy = [[1,0,0],[0,1,1]]: dW = dyᵀx, db = Σ dy, dx = dy W.
	dx := l.backward([]float32{1, 0, 0, 0, 1, 1}, 2)
	almostEqual(t, "dW", l.weight.grad, []float32{1, 1, 2, -1, 2, -1}, 0)
	almostEqual(t, "db", l.bias.grad, []float32{1, 1, 1}, 0)
	almostEqual(t, "dx", dx, []float32{1, 2, 8, 10}, 0)

	nb := newLinear(nn.Linear{Name: "fc", In: 2, Out: 1}, 1, false)
	copy(nb.weight.w, []float32{2, -3})
	almostEqual(t, "y nobias", nb.forward([]float32{1, 1}, 1, false), []float32{-1}, 0)
	if got := nb.backward([]float32{1}, 1); got != nil {
		t.Errorf("backward without input gradient returned %v, want nil", got)
	}
	almostEqual(t, "dW nobias", nb.weight.grad, []float32{1, 1}, 0)
}

// BenchmarkLinear is one forward and backward of a Linear layer.
func BenchmarkLinear(b *testing.B) {
	for _, c := range []struct{ in, out, n int }{{784, 300, 60}, {300, 100, 60}, {784, 300, 256}} {
		b.Run(fmt.Sprintf("%dx%d/batch%d", c.in, c.out, c.n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			l := newLinear(nn.Linear{Name: "fc", In: c.in, Out: c.out, Bias: true}, c.n, true)
			randParams(l, r)
			x := make([]float32, c.n*c.in)
			dy := make([]float32, c.n*c.out)
			fillNormal(x, r, 1)
			fillNormal(dy, r, 1)
			b.ReportAllocs()
			for b.Loop() {
				l.forward(x, c.n, true)
				l.backward(dy, c.n)
			}
		})
	}
}
