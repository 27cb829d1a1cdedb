package pipelines

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// What the search pipelines (bip, jackpot) share: they start from a
// pretrained dense model (docs/methods/bip.md#pretraining,
// docs/methods/jackpot.md#pretraining).
//
// Level 0 of such a run is that model, trained with the spec's training
// section and recorded as method "dense", unless the section's `pretrained`
// key names the checkpoint of a finished run to start from instead (e.g.
// runs/<hash>/replicate_{replicate}/level_0/checkpoint.gob, where
// {replicate} is replaced by the replicate index). The search levels load
// θ and the batch-norm running statistics of that model; the optimizer
// starts fresh.

// pretrainedCheckpoint reads the checkpoint a search level starts from: the
// named one, or level 0's (which must name level 0 of this replicate).
func pretrainedCheckpoint(r *experiments.Replicate, named string) (*train.Checkpoint, error) {
	if named == "" {
		ck, err := r.Checkpoint(0, "")
		if err != nil {
			return nil, fmt.Errorf("pretrained model: %w", err)
		}
		return ck, nil
	}
	path := strings.ReplaceAll(named, "{replicate}", fmt.Sprint(r.Index))
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("pretrained model: %w", err)
	}
	return ck, nil
}

// checkPretrained is the check before training: a named checkpoint must
// exist for every replicate.
func checkPretrained(key, named string, replicates int) error {
	if named == "" {
		return nil
	}
	for i := range max(replicates, 1) {
		path := strings.ReplaceAll(named, "{replicate}", fmt.Sprint(i))
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s = %q: the pretrained model of replicate %d: %v (leave it empty to pretrain in this run with the training section)", key, named, i, err)
		}
	}
	return nil
}

// pretrainUnit runs level 0: dense training with the spec's training
// section, unless a pretrained checkpoint is named (then level 0 is not
// run).
func pretrainUnit(ctx context.Context, r *experiments.Replicate, named string) error {
	if named != "" {
		return nil
	}
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
		p, err := r.Prepare(r.Spec)
		if err != nil {
			return results.Result{}, err
		}
		h, err := p.Train(ctx, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return experiments.Measure(p, h, "dense", 1), nil
	})
	return err
}

// loadPretrained sets net's parameters and buffers to those of the
// pretrained checkpoint (pretrainedCheckpoint); masks, optimizer state and
// the step counter are not taken (the search starts with a fresh
// optimizer). The net must have no optimizer installed yet.
func loadPretrained(net nn.Net, r *experiments.Replicate, named string) error {
	ck, err := pretrainedCheckpoint(r, named)
	if err != nil {
		return err
	}
	st := nn.NewState()
	for name, t := range ck.State.Tensors {
		if strings.HasPrefix(name, "param/") || strings.HasPrefix(name, "buffer/") {
			st.Tensors[name] = t
		}
	}
	st.Counters["step"] = 0
	if err := net.SetState(st); err != nil {
		return fmt.Errorf("pretrained model: %w", err)
	}
	return nil
}
