package experiments

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

// prunableSet is the prunable set of a spec's model: every linear and conv
// weight (never biases or normalization parameters) minus the globs of
// prune.exclude (open_lth's pruning_layers_to_ignore, GraNet's
// --rm-first). Every pruning pipeline and branch uses it.
func prunableSet(arch *nn.Arch, s Spec) ([]nn.ParamInfo, error) {
	return prune.ResolvePrunable(arch.Params(), nil, s.Prune.Exclude)
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
