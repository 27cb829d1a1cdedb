package pipelines

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// masksFile holds a pruned unit's masks (prune.Masks.Save).
const masksFile = "masks.bin"

// prunableSet is the prunable set of a model: every linear and conv weight
// (never biases or normalization parameters) minus the globs of
// prune.exclude (open_lth's pruning_layers_to_ignore, GraNet's
// --rm-first). Every pruning pipeline and branch uses it.
func prunableSet(arch *nn.Arch, exclude []string) ([]nn.ParamInfo, error) {
	return prune.ResolvePrunable(arch.Params(), nil, exclude)
}

// outputWeight is the name of the model's output layer's weight: the last
// prunable-kind parameter in canonical order.
func outputWeight(arch *nn.Arch) (string, error) {
	ps := arch.Params()
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Prunable() {
			return ps[i].Name, nil
		}
	}
	return "", fmt.Errorf("model %s has no weights", arch.Name)
}

// trainMasked saves masks to dir/masks.bin, enforces them after every step
// (pattern P3: θ and the optimizer state at pruned positions are zero) and
// trains p: what every pruning pipeline and branch does with its mask.
func trainMasked(ctx context.Context, p *experiments.Prepared, masks *prune.Masks, dir string, callbacks []train.Callback) (*train.History, error) {
	if err := masks.Save(filepath.Join(dir, masksFile)); err != nil {
		return nil, err
	}
	if err := masks.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		return nil, err
	}
	return p.Train(ctx, dir, callbacks...)
}
