package experiments

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn/train"
)

func TestCurve(t *testing.T) {
	nan := math.NaN()
	h := &train.History{Points: []train.EvalPoint{train.NewEvalPoint(10), train.NewEvalPoint(20), train.NewEvalPoint(30)}}
	h.Points[0].TrainLoss, h.Points[0].TestAcc = 2.5, 0.4
	h.Points[1].Density, h.Points[1].ValAcc, h.Points[1].TrainAcc = 0.6, 0.7, 0.75
	h.Points[2].Density = 0.3
	want := []results.CurvePoint{
		{Step: 10, TrainLoss: 2.5, TrainAcc: nan, ValLoss: nan, ValAcc: nan, TestLoss: nan, TestAcc: 0.4, Density: 0.25},
		{Step: 20, TrainLoss: 0, TrainAcc: 0.75, ValLoss: nan, ValAcc: 0.7, TestLoss: nan, TestAcc: nan, Density: 0.6},
		{Step: 30, TrainLoss: 0, TrainAcc: nan, ValLoss: nan, ValAcc: nan, TestLoss: nan, TestAcc: nan, Density: 0.3},
	}
	sameCurve(t, "curve", Curve(h, 0.25), want)
	if c := Curve(&train.History{}, 1); c != nil {
		t.Errorf("the curve of an empty history: %v, want none", c)
	}
}

// sameCurve compares curves point by point, NaN equal to NaN.
func sameCurve(t *testing.T, what string, got, want []results.CurvePoint) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points, want %d", what, len(got), len(want))
	}
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	for i, g := range got {
		w := want[i]
		if g.Step != w.Step || !same(g.TrainLoss, w.TrainLoss) || !same(g.TrainAcc, w.TrainAcc) || !same(g.ValLoss, w.ValLoss) ||
			!same(g.ValAcc, w.ValAcc) || !same(g.TestLoss, w.TestLoss) || !same(g.TestAcc, w.TestAcc) || !same(g.Density, w.Density) {
			t.Errorf("%s: point %d is %+v, want %+v", what, i, g, w)
		}
	}
}

// A unit's result carries its learning curve, one point per evaluation
// (every 5 iterations and at the end), with the training accuracy when
// training.eval_train is set; the store keeps the same curve.
func TestRunSpecCurve(t *testing.T) {
	for _, evalTrain := range []bool{false, true} {
		s := tinySpec() // 3 epochs of 6 iterations
		s.Training.EvalTrain = evalTrain
		s.Output = t.TempDir()
		rs, err := RunSpec(context.Background(), s, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		var steps []int
		for _, p := range r.Curve {
			steps = append(steps, p.Step)
			if math.IsNaN(p.TrainAcc) == evalTrain || p.Density != 1 || !(p.TestAcc >= 0 && p.ValAcc >= 0 && p.TrainLoss > 0) {
				t.Errorf("eval_train %v: point %+v", evalTrain, p)
			}
		}
		if want := []int{5, 10, 15, 18}; !slices.Equal(steps, want) {
			t.Fatalf("eval_train %v: steps %v, want %v", evalTrain, steps, want)
		}
		best := slices.IndexFunc(r.Curve, func(p results.CurvePoint) bool { return p.Step == r.BestIter })
		if last := r.Curve[len(r.Curve)-1]; last.TestAcc != r.FinalTestAcc || best < 0 || r.Curve[best].ValLoss != r.BestValLoss {
			t.Errorf("eval_train %v: the curve's last test accuracy %v or its point at t* = %d disagree with the result (%v, %v)",
				evalTrain, last.TestAcc, r.BestIter, r.FinalTestAcc, r.BestValLoss)
		}
		st, err := results.OpenReadOnly(filepath.Join(s.Output, "results.db"))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.Results(nil)
		if err == nil {
			err = st.FillCurves(stored)
		}
		st.Close()
		if err != nil || len(stored) != 1 {
			t.Fatalf("the store: %d rows, %v", len(stored), err)
		}
		sameCurve(t, "the stored curve", stored[0].Curve, r.Curve)
	}
}
