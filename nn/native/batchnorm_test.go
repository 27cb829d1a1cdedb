package native

import (
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func TestBatchNormForward(t *testing.T) {
	// Four numbers, one feature: mean 2.5, biased variance 1.25, unbiased 5/3.
	l := newBatchNorm(nn.BatchNorm{Name: "bn", C: 1}, []int{1}, 4, true)
	if l.eps != 1e-5 || l.mom != 0.1 {
		t.Errorf("defaults eps %v momentum %v, want 1e-5 0.1", l.eps, l.mom)
	}
	l.weight.w[0], l.bias.w[0] = 2, 1
	x := []float32{1, 2, 3, 4}
	inv := 1 / math.Sqrt(1.25+1e-5)
	want := make([]float32, 4)
	for i, v := range x {
		want[i] = float32(2*(float64(v)-2.5)*inv + 1)
	}
	almostEqual(t, "train y", l.forward(x, 4, true), want, 1e-6)
	almostEqual(t, "running_mean", l.runMean, []float32{0.25}, 1e-7)
	rv := 0.9 + 0.1*5.0/3
	almostEqual(t, "running_var", l.runVar, []float32{float32(rv)}, 1e-7)
	for i, v := range x {
		want[i] = float32(2*(float64(v)-0.25)/math.Sqrt(rv+1e-5) + 1)
	}
	almostEqual(t, "eval y", l.forward(x, 4, false), want, 1e-6)

	// 1-D with two features: rows [1 10], [3 20].
	l = newBatchNorm(nn.BatchNorm{Name: "bn", C: 2, Eps: 1e-3}, []int{2}, 2, true)
	copy(l.weight.w, []float32{1, 1})
	y := l.forward([]float32{1, 10, 3, 20}, 2, true)
	a, b := float32(1/math.Sqrt(1+1e-3)), float32(5/math.Sqrt(25+1e-3))
	almostEqual(t, "1d y", y, []float32{-a, -b, a, b}, 1e-6)

	// 2-D, CNHW, two channels of two examples of 1×2 pixels: channel 0 holds
	// 1 2 3 4 (mean 2.5, var 1.25), channel 1 holds 10 10 10 14 (mean 11,
	// var 3).
	l = newBatchNorm(nn.BatchNorm{Name: "bn", C: 2, Momentum: 0.5}, []int{2, 1, 2}, 2, true)
	copy(l.weight.w, []float32{1, 1})
	x = []float32{1, 2, 3, 4, 10, 10, 10, 14}
	y = l.forward(x, 2, true)
	want = make([]float32, 8)
	for i, v := range x {
		m, vr := 2.5, 1.25
		if i >= 4 {
			m, vr = 11, 3
		}
		want[i] = float32((float64(v) - m) / math.Sqrt(vr+1e-5))
	}
	almostEqual(t, "2d y", y, want, 1e-6)
	almostEqual(t, "2d running_mean", l.runMean, []float32{1.25, 5.5}, 1e-6)
	almostEqual(t, "2d running_var", l.runVar, []float32{0.5 + 0.5*5.0/3, 0.5 + 0.5*4}, 1e-6)
}

func TestBatchNormBuffers(t *testing.T) {
	l := newBatchNorm(nn.BatchNorm{Name: "layer1.0.bn1", C: 3}, []int{3, 2, 2}, 2, false)
	bufs := l.buffers()
	if len(bufs) != 2 || bufs[0].name != "layer1.0.bn1.running_mean" || bufs[1].name != "layer1.0.bn1.running_var" {
		t.Fatalf("buffers %v", bufs)
	}
	almostEqual(t, "running_mean", bufs[0].data, []float32{0, 0, 0}, 0)
	almostEqual(t, "running_var", bufs[1].data, []float32{1, 1, 1}, 0)
	ps := l.params()
	if len(ps) != 2 || ps[0].info.Name != "layer1.0.bn1.weight" || ps[0].info.Kind != nn.NormScale ||
		ps[1].info.Name != "layer1.0.bn1.bias" || ps[1].info.Kind != nn.NormShift {
		t.Errorf("params %v %v", ps[0].info, ps[1].info)
	}
}
