package train

import (
	"fmt"
	"math"
	"time"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
)

// EvalPoint is one evaluation during training. Metrics of a split that was
// not evaluated are NaN.
type EvalPoint struct {
	Iter      int
	TrainLoss float64 // mean minibatch loss since the previous point
	// TrainAcc is the accuracy on the whole training split at this point,
	// in evaluation mode and without augmentation; NaN unless an EvalTrain
	// callback measured it (the training loss above is the cheap running
	// mean, which every run has).
	TrainAcc          float64
	ValLoss, ValAcc   float64
	TestLoss, TestAcc float64
	// Density is the network's density over its prunable set at this
	// point when a callback recorded it (gradual pruning, whose masks
	// change during training); NaN otherwise, meaning the unit's density.
	Density float64
}

// History is the record of one training run.
type History struct {
	Points        []EvalPoint
	ItersPerEpoch int
	Total         int
	// Best is the index in Points of the early-stopping iteration: minimum
	// validation loss, ties to the earliest, the last point when there is
	// no validation set.
	Best int
	// Wall is the time spent training and evaluating, summed over resumes.
	Wall time.Duration
	// Resumed is the iteration the last Run call resumed from (0 when it
	// started fresh).
	Resumed int
}

func (h *History) add(p EvalPoint) {
	h.Points = append(h.Points, p)
	h.Best = BestIndex(h.Points)
}

// BestPoint returns the early-stopping point, or a zero point when there is
// none.
func (h *History) BestPoint() EvalPoint {
	if len(h.Points) == 0 {
		return EvalPoint{}
	}
	return h.Points[h.Best]
}

// Final returns the last evaluation point, or a zero point.
func (h *History) Final() EvalPoint {
	if len(h.Points) == 0 {
		return EvalPoint{}
	}
	return h.Points[len(h.Points)-1]
}

// BestIndex returns the index of the point of minimum validation loss, the
// earliest among ties; points whose validation loss is NaN are skipped, and
// when all are NaN the last point is returned
// (docs/methods/conventions.md#early-stopping-and-model-selection).
func BestIndex(points []EvalPoint) int {
	best := -1
	for i, p := range points {
		if math.IsNaN(p.ValLoss) {
			continue
		}
		if best < 0 || p.ValLoss < points[best].ValLoss {
			best = i
		}
	}
	if best < 0 {
		return len(points) - 1
	}
	return best
}

// NewEvalPoint returns the point of iteration it with every metric NaN
// (not measured) and a zero training loss.
func NewEvalPoint(it int) EvalPoint {
	nan := math.NaN()
	return EvalPoint{Iter: it, TrainAcc: nan, ValLoss: nan, ValAcc: nan, TestLoss: nan, TestAcc: nan, Density: nan}
}

// EvalTrain returns an AfterEval callback that evaluates net on the whole
// training split, in batches of at most batch examples, and records the
// accuracy in the point just added (EvalPoint.TrainAcc). Memorization in
// grokking is defined on it (docs/methods/grokking.md): the running
// minibatch loss cannot say when the training set is fitted.
func EvalTrain(set *datasets.Set, batch int) Callback {
	return func(e *Event) error {
		if e.Phase != AfterEval || len(e.History.Points) == 0 {
			return nil
		}
		_, acc, err := Evaluate(e.Net, set, batch)
		if err != nil {
			return fmt.Errorf("evaluating the training split: %w", err)
		}
		e.History.Points[len(e.History.Points)-1].TrainAcc = acc
		return nil
	}
}

// evalPoint evaluates net on the validation split and, when withTest, on
// the test split, in batches of at most batch examples.
func evalPoint(net nn.Net, batch, it int, d Data, withTest bool) (EvalPoint, error) {
	p := NewEvalPoint(it)
	var err error
	if d.Val != nil && d.Val.Len() > 0 {
		if p.ValLoss, p.ValAcc, err = Evaluate(net, d.Val, batch); err != nil {
			return p, err
		}
	}
	if withTest && d.Test != nil && d.Test.Len() > 0 {
		if p.TestLoss, p.TestAcc, err = Evaluate(net, d.Test, batch); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Evaluate returns the mean loss and the top-1 accuracy of net on a whole
// set, in batches of at most batch examples.
func Evaluate(net nn.Net, s *datasets.Set, batch int) (loss, acc float64, err error) {
	n := s.Len()
	var sum float64
	var correct int
	for i := 0; i < n; i += batch {
		x, y := s.Slice(i, batch)
		l, c, err := net.Evaluate(nn.Batch{X: x, Y: y, N: len(y)})
		if err != nil {
			return 0, 0, err
		}
		sum += l
		correct += c
	}
	return sum / float64(n), float64(correct) / float64(n), nil
}
