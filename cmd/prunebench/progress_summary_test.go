package main

import (
	"math"
	"testing"

	"github.com/prunebench/prunebench/nn/train"
)

// TestPointSummary checks what progress lines show of an evaluation: the
// validation accuracy, the test accuracy when there is no validation split,
// and the training accuracy when it was measured.
func TestPointSummary(t *testing.T) {
	pt := func(val, test, tr float64) train.EvalPoint {
		p := train.NewEvalPoint(100)
		p.ValAcc, p.TestAcc, p.TrainAcc = val, test, tr
		return p
	}
	nan := math.NaN()
	for _, tc := range []struct {
		p    train.EvalPoint
		want string
	}{
		{pt(0.9712, 0.95, nan), "val 97.12%"},
		{pt(nan, 0.421, 1), "test 42.10% train 100.00%"},
		{pt(0.5, nan, 0.25), "val 50.00% train 25.00%"},
	} {
		if got := pointSummary(tc.p); got != tc.want {
			t.Errorf("pointSummary(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
