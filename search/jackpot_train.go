package search

import (
	"fmt"
	"math"
	"slices"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// How a jackpot search runs inside the frozen training loop (train.Run):
//
//   - FreezeWeights makes the loop's own optimizer a no-op on θ (plain SGD,
//     learning rate 0, no momentum, no weight decay), so every weight, bias
//     and batch-norm scale and shift keeps its value, while the training-mode
//     forwards still update the batch-norm running statistics (the reference
//     freezes weight and bias of every module and keeps model.train()).
//     Frozen.Check verifies after the search that θ did not move by one bit.
//   - Callback runs the score step and the swaps at AfterGradients, when the
//     dense gradients of the batch are readable, and installs the changed
//     masks before the next forward.
//
// This keeps data order, evaluation, early-stopping bookkeeping and
// checkpoints those of every other pipeline. The score state (scores,
// momentum, masks) is not in the net's State; the pipeline saves it next to
// the checkpoint (SaveState) and the callback refuses to continue from a
// state whose step count differs from the loop's iteration.

// FreezeWeights sets cfg's optimizer and learning rate so that train.Run
// leaves θ unchanged: SGD with learning rate 0, no momentum and no weight
// decay (θ ← θ − 0·g is θ for every finite g; no optimizer state is kept).
func FreezeWeights(cfg *train.Config) {
	cfg.LR = 0
	cfg.Optimizer = nn.SGD(0, 0)
	cfg.Schedule = train.Schedule{}
	cfg.Start = train.Step{}
}

// Install sets the current masks on net: nn.Masked with MaskedForward for
// every searched tensor (θ stays intact, W = θ ⊙ b).
func (j *Jackpot) Install(net nn.Net) error {
	for i, name := range j.Names {
		if err := net.SetParametrization(name, nn.Masked{Mask: j.Masks[i], Pattern: nn.MaskedForward}); err != nil {
			return fmt.Errorf("jackpot: install mask of %s: %w", name, err)
		}
	}
	return nil
}

// checkInstalled verifies that net forwards with the search's masks (after
// a resume, the checkpoint's masks must be the saved search state's).
func (j *Jackpot) checkInstalled(net nn.Net) error {
	for i, name := range j.Names {
		m, ok := net.Parametrization(name).(nn.Masked)
		if !ok || m.Pattern != nn.MaskedForward || !slices.Equal(m.Mask, j.Masks[i]) {
			return fmt.Errorf("jackpot: the network's mask of %s is not the search's (a checkpoint from another search state?)", name)
		}
	}
	return nil
}

// Callback returns the train.Run callback of the search: at AfterGradients of
// iteration it (epoch e = it / I of E = total / I epochs, I iterations per
// epoch), one Update at learning rate JackpotScoreLR(LR, e, E) and restriction
// rate RestrictionRate(e, E), then the changed masks are installed. It
// fails when the search state and the loop disagree on the iteration (a
// search state saved at another point than the checkpoint).
func (j *Jackpot) Callback() train.Callback {
	checked := false
	theta := make([][]float32, len(j.Names))
	grad := make([][]float32, len(j.Names))
	return func(e *train.Event) error {
		if e.Phase != train.AfterGradients {
			return nil
		}
		if !checked {
			if err := j.checkInstalled(e.Net); err != nil {
				return err
			}
			checked = true
		}
		if e.Iter != j.Iter {
			return fmt.Errorf("jackpot: the search state has taken %d score steps but training is at iteration %d", j.Iter, e.Iter)
		}
		ipe := e.History.ItersPerEpoch
		epochs := float64(e.Total) / float64(ipe)
		epoch := e.Iter / ipe
		for i, name := range j.Names {
			p := e.Net.Param(name)
			theta[i], grad[i] = p.Values(), p.Grad()
		}
		changed, err := j.Update(theta, grad, JackpotScoreLR(j.Config.LR, epoch, epochs), RestrictionRate(j.Config.Restriction, epoch, epochs))
		if err != nil {
			return err
		}
		for i, c := range changed {
			if !c {
				continue
			}
			if err := e.Net.SetParametrization(j.Names[i], nn.Masked{Mask: j.Masks[i], Pattern: nn.MaskedForward}); err != nil {
				return fmt.Errorf("jackpot: install mask of %s: %w", j.Names[i], err)
			}
		}
		return nil
	}
}

// Frozen is a copy of θ of every parameter of a net, to check that a search
// left the weights, biases and normalization parameters as they were.
type Frozen struct {
	names  []string
	values [][]float32
}

// Freeze copies θ of every parameter of net.
func Freeze(net nn.Net) *Frozen {
	f := &Frozen{}
	for _, p := range net.Params() {
		f.names = append(f.names, p.Info().Name)
		f.values = append(f.values, slices.Clone(p.Values()))
	}
	return f
}

// Check returns an error naming the first parameter entry of net whose bits
// differ from the frozen copy.
func (f *Frozen) Check(net nn.Net) error {
	for i, name := range f.names {
		p := net.Param(name)
		if p == nil {
			return fmt.Errorf("jackpot: frozen parameter %s is missing", name)
		}
		v := p.Values()
		for k, want := range f.values[i] {
			if math.Float32bits(v[k]) != math.Float32bits(want) {
				return fmt.Errorf("jackpot: frozen parameter %s changed during the search: entry %d is %v, was %v", name, k, v[k], want)
			}
		}
	}
	return nil
}
