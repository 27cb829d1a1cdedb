package search

import (
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// Callback runs BiP's upper level inside the frozen training loop: after the
// loop's θ-step on its batch B1 (train.AfterStep of iteration it), it takes
// the upper batch B2 of the same iteration from upper (an independently
// shuffled stream over the training split,
// docs/methods/bip.md#one-iteration), computes the dense gradients there at
// the installed mask, and takes one score step. In reference mode the scores
// first take θ's values (the aliasing) and the net sees B2 in training mode
// twice more, once before and once after the score step, as the code's
// parameter-gradient and logging forwards do (batch-norm running statistics
// then move four times per iteration). Batch-norm parameters are trained by
// the θ-step only: the score step updates nothing but the scores (and, in
// reference mode, θ through the aliasing).
func (b *BiP) Callback(upper func(it int) nn.Batch) train.Callback {
	return func(e *train.Event) error {
		if e.Phase != train.AfterStep {
			return nil
		}
		it := e.Iter - 1
		batch := upper(it)
		if b.cfg.Mode == "reference" {
			b.AliasScores(e.Net)
			if _, err := e.Net.Gradients(batch); err != nil {
				return err
			}
		}
		if _, err := e.Net.Gradients(batch); err != nil {
			return err
		}
		if err := b.ScoreStep(e.Net, it); err != nil {
			return err
		}
		if b.cfg.Mode == "reference" {
			if _, err := e.Net.Gradients(batch); err != nil {
				return err
			}
		}
		return nil
	}
}
