package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/search"
)

// The search level of pipeline jackpot, and how it survives interruption.
//
// The scores, their momentum and the masks are not part of the net's State
// (the net forwards a plain mask; search/jackpot_train.go says why), so the
// unit saves them next to the checkpoint as jackpot_<iteration>.gob: at
// every evaluation, just before train.Run writes its checkpoint for the same
// iteration, and when the run is interrupted (train.Run then checkpoints the
// iteration the search state has reached). A resume loads the state whose
// iteration is the checkpoint's. The previous state file is kept until the
// next one is written, so a crash between the two writes still finds the
// matching pair; a checkpoint with no matching state (a crash before any
// state was written for it) is an error that says which folder to delete.
// Resumed searches are bit-identical to uninterrupted ones
// (TestJackpotResumeAfterInterrupt).

// jackpotStatePath names the search state saved at iteration it.
func jackpotStatePath(dir string, it int) string {
	return filepath.Join(dir, fmt.Sprintf("jackpot_%d.gob", it))
}

// level runs the search of level 1 in dir.
func (c jackpotPipeline) level(ctx context.Context, r *experiments.Replicate, dir string, cbs []experiments.Callback) (results.Result, error) {
	p, masks, err := c.start(r)
	if err != nil {
		return results.Result{}, err
	}
	frozen := search.Freeze(p.Net)
	j, err := search.NewJackpot(c.Jackpot, masks)
	if err != nil {
		return results.Result{}, err
	}
	saved, err := jackpotResume(j, dir)
	if err != nil {
		return results.Result{}, err
	}
	if err := j.Install(p.Net); err != nil {
		return results.Result{}, err
	}
	save := func() error {
		if err := j.SaveState(jackpotStatePath(dir, j.Iter)); err != nil {
			return err
		}
		saved = append(saved, j.Iter)
		for len(saved) > 2 {
			if err := os.Remove(jackpotStatePath(dir, saved[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			saved = saved[1:]
		}
		return nil
	}
	atEval := func(e *train.Event) error {
		if e.Phase != train.AfterEval {
			return nil
		}
		return save()
	}
	h, err := p.Train(ctx, dir, append([]experiments.Callback{j.Callback(), atEval}, cbs...)...)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			if serr := save(); serr != nil {
				return results.Result{}, fmt.Errorf("%w (and saving the search state failed: %v)", err, serr)
			}
		}
		return results.Result{}, err
	}
	if err := frozen.Check(p.Net); err != nil {
		return results.Result{}, err
	}
	final := j.MaskSet()
	if err := final.Save(filepath.Join(dir, masksFile)); err != nil {
		return results.Result{}, err
	}
	// θ ⊙ m, so that the nonzero counts are those of the pruned network.
	if err := final.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		return results.Result{}, err
	}
	method, _ := c.methods()
	return experiments.Measure(p, h, method, final.Density()), nil
}

// jackpotResume loads the search state of the checkpoint in dir, if there
// is one, and removes every other state file. It returns the iterations of
// the state files left.
func jackpotResume(j *search.Jackpot, dir string) ([]int, error) {
	keep := -1
	ckPath := filepath.Join(dir, experiments.CheckpointFile)
	ck, err := train.LoadCheckpoint(ckPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		path := jackpotStatePath(dir, ck.Iter)
		if err := j.LoadState(path); err != nil {
			return nil, fmt.Errorf("%w: the checkpoint %s is at iteration %d and needs the search state saved with it; delete %s to start the search over", err, ckPath, ck.Iter, dir)
		}
		keep = ck.Iter
	}
	old, err := filepath.Glob(filepath.Join(dir, "jackpot_*.gob"))
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "jackpot_"), ".gob")
		if it, err := strconv.Atoi(n); err == nil && it == keep {
			continue
		}
		if err := os.Remove(f); err != nil {
			return nil, err
		}
	}
	if keep < 0 {
		return nil, nil
	}
	return []int{keep}, nil
}
