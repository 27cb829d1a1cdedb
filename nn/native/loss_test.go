package native

import (
	"math"
	"testing"
)

func TestSoftmaxCrossEntropy(t *testing.T) {
	// Two examples, two classes. Row 0: equal logits, loss ln 2. Row 1:
	// logits (2, 0) at T = 2 are (1, 0): p = (e/(e+1), 1/(e+1)), label 1.
	logits := []float32{0, 0, 2, 0}
	y := []int32{0, 1}
	d := make([]float32, 4)
	e := math.E
	p0 := e / (e + 1)
	loss := softmaxCrossEntropy(d, logits, y, 2, 2, 2)
	want := (math.Ln2 + math.Log(e+1)) / 2
	if math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %v, want %v", loss, want)
	}
	// dL/dz = (p − onehot)/(n·T).
	almostEqual(t, "dlogits", d, []float32{-0.5 / 4, 0.5 / 4, float32(p0 / 4), float32(-p0 / 4)}, 1e-7)

	// Temperature 0 means 1.
	if l1, l0 := softmaxCrossEntropy(nil, logits, y, 2, 2, 1), softmaxCrossEntropy(nil, logits, y, 2, 2, 0); l1 != l0 {
		t.Errorf("T = 0 gives %v, T = 1 gives %v", l0, l1)
	}

	// Huge logits do not overflow.
	big := []float32{1e4, 0, -1e4}
	loss = softmaxCrossEntropy(d[:3], big, []int32{1}, 1, 3, 1)
	if math.Abs(loss-1e4) > 1e-3 {
		t.Errorf("big loss %v, want 1e4", loss)
	}
	almostEqual(t, "big dlogits", d[:3], []float32{1, -1, 0}, 1e-7)
}

func TestCorrectCount(t *testing.T) {
	logits := []float32{
		1, 3, 3, // tie between 1 and 2: class 1
		5, 5, 5, // all tied: class 0
		0, 0, 1,
		2, 1, 0,
	}
	if got := correctCount(logits, []int32{1, 0, 1, 0}, 4, 3); got != 3 {
		t.Errorf("correct %d, want 3", got)
	}
	if got := correctCount(logits, []int32{2, 1, 2, 0}, 4, 3); got != 2 {
		t.Errorf("correct %d, want 2", got)
	}
}
