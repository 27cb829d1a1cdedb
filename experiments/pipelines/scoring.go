package pipelines

import (
	"fmt"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

// Scoring at initialization, shared by pai and layer (at initialization):
// what a criterion scores is built from what it needs (prune.Needs).

// initCriteria are the pruning criteria that score weights on training
// data (prune.Needs.Data): pai gives them pruning batches, and layer scores
// blocks at initialization with them.
func initCriteria() []string {
	var names []string
	for _, n := range prune.CriterionNames() {
		if c, err := prune.CriterionByName(n); err == nil && c.Needs().Data {
			names = append(names, n)
		}
	}
	return names
}

func init() { experiments.RegisterNameList("data_criteria", initCriteria) }

// defaultScoringExamples is SNIP's one batch of 100 (docs/methods/pai.md),
// and pruneBatch the SynFlow harness's --prune-batch-size.
const (
	defaultScoringExamples = 100
	pruneBatch             = 256
)

// scoreContext builds the context crit scores set in, on the freshly
// prepared p: the mask stream, and for a criterion that needs data the
// pruning batches (scoringBatches) and a net built for them at the
// criterion's temperature with p's state. Data-free criteria score p.Net
// itself (SynFlow restores it bit for bit).
func scoreContext(p *experiments.Prepared, crit prune.Criterion, set []nn.ParamInfo, data scoringData) (prune.ScoreContext, error) {
	needs := crit.Needs()
	sc := prune.ScoreContext{
		Net: p.Net, Set: set, Rng: nn.NewRand(nn.SeedFor(p.Spec.Seed, nn.NSMask)),
		Temperature: p.Spec.Training.Temperature, TrainMode: data.TrainMode,
	}
	if !needs.Data {
		return sc, nil
	}
	if needs.Temperature != 0 {
		sc.Temperature = needs.Temperature
	}
	var err error
	if sc.Batches, err = scoringBatches(p, crit.Name(), data.DataExamples); err != nil {
		return sc, err
	}
	// Scoring batches (up to 256) can be larger than the training batch
	// the net was built for, and the criterion may need its own
	// temperature: score on a second net with the same state.
	if sc.Net, err = scoringNet(p, sc.Temperature); err != nil {
		return sc, err
	}
	return sc, nil
}

// checkTrainMode refuses prune.train_mode for a criterion that cannot
// score in training mode.
func checkTrainMode(crit prune.Criterion, trainMode bool) error {
	needs := crit.Needs()
	if !trainMode || needs.TrainMode {
		return nil
	}
	why := "it runs no network"
	if needs.Network {
		why = "it scores in evaluation mode by definition"
	}
	return fmt.Errorf("prune.train_mode: criterion %s has no training-mode scoring (%s); remove prune.train_mode or use a criterion that scores on data", crit.Name(), why)
}

// scoringBatches draws the pruning set: the first examples (0: the
// default 100) of a permutation of the training split drawn from the
// prune_data seed namespace, without augmentation, in batches of at most
// pruneBatch.
func scoringBatches(p *experiments.Prepared, criterion string, examples int) ([]nn.Batch, error) {
	n := examples
	if n == 0 {
		n = defaultScoringExamples
	}
	trainSet := p.Splits.Train
	if n > trainSet.Len() {
		return nil, fmt.Errorf("prune.data_examples = %d: criterion %s scores on training data, and the training split has only %d examples", n, criterion, trainSet.Len())
	}
	perm := nn.NewRand(nn.SeedFor(p.Spec.Seed, nn.NSPruneData)).Perm(trainSet.Len())[:n]
	sub := trainSet.Subset(perm)
	var bs []nn.Batch
	for i := 0; i < n; i += pruneBatch {
		x, y := sub.Slice(i, pruneBatch)
		bs = append(bs, nn.Batch{X: x, Y: y, N: len(y)})
	}
	return bs, nil
}

// scoringNet builds a net of p's architecture for batches of up to
// pruneBatch examples, with the given temperature and p's state: θ, batch
// norm running statistics and masks (evaluation-mode scores read the
// running statistics). The optimizer state stays behind: the scoring net
// takes no step.
func scoringNet(p *experiments.Prepared, temperature float64) (nn.Net, error) {
	net, err := p.BuildNet(p.Arch, pruneBatch, temperature)
	if err != nil {
		return nil, err
	}
	st, err := p.Net.State()
	if err != nil {
		return nil, err
	}
	for name := range st.Tensors {
		if strings.HasPrefix(name, "opt/") {
			delete(st.Tensors, name)
		}
	}
	if err := net.SetState(st); err != nil {
		return nil, fmt.Errorf("scoring net: %w", err)
	}
	return net, nil
}

// nmSelect is the n:m selection at initialization
// (docs/methods/pai.md#nm-masks): one scoring pass of crit on sc, then in
// every group of nm.M consecutive input weights the nm.N highest scores
// (prune.NMMasks, ties to the lower index). The candidates are the entries
// alive on sc.Net (all of a freshly initialized net).
func nmSelect(sc prune.ScoreContext, crit prune.Criterion, nm prune.NM) (*prune.Masks, error) {
	current, err := prune.MasksFromNet(sc.Net, setNames(sc.Set))
	if err != nil {
		return nil, fmt.Errorf("n:m selection: %w", err)
	}
	scores, err := crit.Scores(sc)
	if err != nil {
		return nil, fmt.Errorf("n:m selection (%s), scoring with %s: %w", nm, crit.Name(), err)
	}
	masks, err := prune.NMMasks(sc.Set, nm, scores, current)
	if err != nil {
		return nil, fmt.Errorf("n:m selection (%s): %w", nm, err)
	}
	return masks, nil
}

func setNames(set []nn.ParamInfo) []string {
	names := make([]string, len(set))
	for i, t := range set {
		names[i] = t.Name
	}
	return names
}
