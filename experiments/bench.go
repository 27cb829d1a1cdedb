package experiments

import (
	"fmt"
	"time"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// TimeSteps times steps training iterations (batch from the seeded loader,
// Gradients, Step) of a prepared spec after warmup untimed ones, with no
// evaluation. It is the loop Train runs, without the callbacks, so its time
// is the engine's cost per step.
func TimeSteps(p *Prepared, steps train.Step, warmup int) (time.Duration, int, error) {
	c := p.Config
	l, err := datasets.NewLoader(p.Splits.Train, c.BatchSize, c.DataSeed, p.Splits.Augment, c.DropLast)
	if err != nil {
		return 0, 0, err
	}
	n := steps.Iters(l.ItersPerEpoch())
	if n < 1 {
		return 0, 0, fmt.Errorf("bench: %s is no iteration", steps)
	}
	if err := p.Net.SetOptimizer(c.Optimizer); err != nil {
		return 0, 0, err
	}
	bx := make([]float32, c.BatchSize*p.Splits.Train.ExampleSize())
	by := make([]int32, c.BatchSize)
	step := func(it int) error {
		k := l.Batch(it, bx, by)
		if _, err := p.Net.Gradients(nn.Batch{X: bx, Y: by, N: k}); err != nil {
			return err
		}
		p.Net.Step(c.LR)
		return nil
	}
	for it := 0; it < warmup; it++ {
		if err := step(it); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	for it := 0; it < n; it++ {
		if err := step(warmup + it); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(start), n, nil
}
