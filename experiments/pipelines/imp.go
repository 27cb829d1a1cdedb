package pipelines

import (
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func init() {
	experiments.RegisterPipeline("imp", impPipeline{Prune: impPrune{patternKeys: patternKeys{Pattern: patternUnstructured}}})
}

// impPipeline is iterative magnitude pruning with rewinding
// (docs/methods/imp.md#level-loop): level 0 trains the dense network from
// θ0; level L ≥ 1 removes prune.imp_rate of the alive weights of each scope
// unit by magnitude of the final weights of level L−1 (not those at the
// early-stopping iteration), resets the weights by prune.rewind and retrains
// the full budget under the mask with a fresh optimizer (pattern P3), for
// prune.imp_rounds levels.
// Every level saves its mask (masks.bin) and result; the early-stopping
// iteration t* (minimum validation loss) and the test accuracy there are the
// result's best_iter and best_test_acc.
//
// One-shot (docs/methods/imp.md#one-shot): with any other amount key
// (prune.density, prune.sparsity, ...) instead of imp_rate/imp_rounds there
// is one pruned level, which prunes level 0's final weights straight to that
// density; its method is "oneshot".
//
// Reset modes (docs/methods/imp.md#rewinding): init starts every level from
// m ⊙ θ0 at iteration 0; rewind:k from m ⊙ θk at iteration k, with the
// learning-rate schedule and the data order continuing from k (θk is saved
// by level 0); lr_rewind:k keeps the trained weights of level L−1 and
// replays the schedule from k; finetune (Renda's baseline) keeps the trained
// weights and trains at the schedule's final learning rate, constant, for the
// whole budget, and finetune:k for the budget minus k (Renda's T − k, so that
// it costs what rewind:k costs).
//
// N:M masks (docs/methods/imp.md#nm-masks): with prune.pattern nm the
// pruned level keeps the prune.n largest |θT| of every prune.m consecutive
// input weights (prune.NMMasks); the amount is n/m, so no amount key is
// needed (one that is set must agree). IMP with nm prunes to n:m in its
// first round: prune.imp_rounds: 1 with prune.imp_rate 1 − n/m is accepted
// (method imp), more rounds are an error (a fixed n:m leaves a later round
// nothing to remove), and without imp_rate/imp_rounds it is one-shot.
// prune.scope and prune.output_rate do not apply to nm and are refused.
//
// prune.branches run off every pruned level (branches.go): the random-reinit
// and random-prune controls (docs/methods/imp.md#controls) and Scratch-E/B.
type impPipeline struct {
	Prune impPrune `mapstructure:"prune"`
}

// impPrune is the prune section of pipeline imp.
type impPrune struct {
	experiments.AmountSpec `mapstructure:",squash"`
	scopeKey               `mapstructure:",squash"`
	patternKeys            `mapstructure:",squash"`
	excludeKey             `mapstructure:",squash"`
	Rewind                 string   `mapstructure:"rewind" help:"imp: starting weights of each level: init (θ0), rewind:STEP (θ at STEP, schedule and data continue from STEP), lr_rewind:STEP (trained weights, schedule replayed from STEP), finetune[:STEP] (trained weights, the schedule's final rate, from STEP)"`
	OutputRate             *float64 `mapstructure:"output_rate" help:"imp: per-round rate of the output layer's weights (the LTH paper prunes it at half rate); empty: imp_rate"`
	branchKeys             `mapstructure:",squash"`
}

type resetMode struct {
	kind string // "init", "rewind", "lr_rewind" or "finetune"
	at   train.Step
}

func parseRewind(s string) (resetMode, error) {
	if s == "" || s == "init" || s == "finetune" {
		return resetMode{kind: cmp.Or(s, "init")}, nil
	}
	kind, at, ok := strings.Cut(s, ":")
	if !ok || (kind != "rewind" && kind != "lr_rewind" && kind != "finetune") {
		return resetMode{}, fmt.Errorf("prune.rewind = %q: want init, rewind:STEP, lr_rewind:STEP, finetune or finetune:STEP (e.g. rewind:500it)", s)
	}
	st, err := train.ParseStep(at)
	if err != nil {
		return resetMode{}, fmt.Errorf("prune.rewind: %w", err)
	}
	return resetMode{kind: kind, at: st}, nil
}

func (c impPipeline) Validate(s experiments.Spec) error {
	p := c.Prune
	nm, isNM, err := p.nm()
	if err != nil {
		return err
	}
	am, ok, err := p.Resolve()
	if err != nil {
		return err
	}
	switch {
	case isNM:
		if err := validateIMPNM(p, nm); err != nil {
			return err
		}
	case !ok:
		return errors.New("pipeline imp needs prune.imp_rate (fraction of the alive weights removed per level) with prune.imp_rounds (levels after the dense one), or a density (prune.density, prune.sparsity, ...) for one-shot pruning, or prune.pattern: nm with prune.n and prune.m")
	}
	if err := validateBranches(p.branchKeys); err != nil {
		return err
	}
	if p.OutputRate != nil {
		if am.Convention != "imp_rate" {
			return fmt.Errorf("prune.output_rate is a per-round rate: it needs prune.imp_rate and prune.imp_rounds, not prune.%s", am.Convention)
		}
		if err := prune.CheckRate(*p.OutputRate); err != nil {
			return fmt.Errorf("prune.output_rate: %w", err)
		}
	}
	if _, err := pruneScope(p.Scope); err != nil {
		return err
	}
	mode, err := parseRewind(p.Rewind)
	if err != nil {
		return err
	}
	budget, err := train.ParseStep(s.Training.Steps)
	if err != nil {
		return fmt.Errorf("training.steps: %w", err)
	}
	if mode.kind != "init" && budget.Epochs == 0 && mode.at.Epochs == 0 && mode.at.Iterations >= budget.Iterations {
		return fmt.Errorf("prune.rewind step %s is past the training budget %s", mode.at, budget)
	}
	return nil
}

func (c impPipeline) Run(ctx context.Context, r *experiments.Replicate) error {
	mode, err := parseRewind(c.Prune.Rewind)
	if err != nil {
		return err
	}
	for level := 0; level <= c.levels(); level++ {
		_, err := r.Unit(ctx, level, "", func(ctx context.Context, dir string, cbs []experiments.Callback) (results.Result, error) {
			return c.level(ctx, r, level, mode, dir, cbs)
		})
		if err != nil {
			return err
		}
		if level == 0 || len(c.Prune.Branches) == 0 {
			continue
		}
		masks, err := prune.LoadMasks(filepath.Join(r.UnitDir(level, ""), masksFile))
		if err != nil {
			return err
		}
		if err := runBranches(ctx, r, c.Prune.branchKeys, trunk{level: level, method: c.method(), masks: masks, start: mode.at}); err != nil {
			return err
		}
	}
	return nil
}

// validateIMPNM checks the keys that meet pattern nm in pipeline imp
// (docs/methods/imp.md#nm-masks).
func validateIMPNM(p impPrune, nm prune.NM) error {
	if p.IMPRounds != nil && *p.IMPRounds != 1 { // Resolve checked that imp_rate goes with it
		return fmt.Errorf("prune.imp_rounds = %d with prune.pattern nm: IMP prunes to n:m (%s) in its first round, and a fixed n:m pattern leaves later rounds nothing to remove; set prune.imp_rounds: 1 (with prune.imp_rate: %v), or remove both for one-shot n:m", *p.IMPRounds, nm, 1-nm.Density())
	}
	if err := nmAmount(nm, p.AmountSpec); err != nil {
		return err
	}
	if p.OutputRate != nil {
		return fmt.Errorf("prune.output_rate does not apply to prune.pattern nm: every tensor keeps %s", nm)
	}
	if p.Scope != "" {
		return fmt.Errorf("prune.scope = %q does not apply to prune.pattern nm: every group of prune.m keeps prune.n, whatever the scope; remove prune.scope", p.Scope)
	}
	return nil
}

// method is the method name of the pruned levels: "imp" for iterative
// pruning, "oneshot" for one-shot pruning to a density, so that a board
// holding both at one density keeps them apart.
func (c impPipeline) method() string {
	if c.Prune.IMPRate != nil {
		return "imp"
	}
	return "oneshot"
}

// levels is the number of pruned levels: imp_rounds, or 1 for one-shot.
func (c impPipeline) levels() int {
	if c.Prune.IMPRounds != nil {
		return *c.Prune.IMPRounds
	}
	return 1
}

// Precheck catches what Validate cannot see without the data and the
// model, before anything of the run exists: a reset step past the budget in
// epochs, and layer-wise rounds that would leave a tensor with no weights.
func (c impPipeline) Precheck(r *experiments.Replicate) error {
	mode, err := parseRewind(c.Prune.Rewind)
	if err != nil {
		return err
	}
	p, err := r.Prepare(r.Spec)
	if err != nil {
		return err
	}
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return err
	}
	if total := p.Config.Budget.Iters(ipe); mode.at.Iters(ipe) >= total {
		return fmt.Errorf("prune.rewind step %s (%d iterations) is past the training budget %s (%d iterations)", mode.at, mode.at.Iters(ipe), p.Config.Budget, total)
	}
	set, err := prunableSet(p.Arch, c.Prune.Exclude)
	if err != nil {
		return err
	}
	overrides, err := c.overrides(p.Arch, set)
	if err != nil {
		return err
	}
	scope, _ := pruneScope(c.Prune.Scope)
	if scope != prune.LayerWise || c.Prune.IMPRate == nil {
		return nil // global levels are checked when they are allocated
	}
	for _, t := range set {
		rate, ok := overrides[t.Name]
		if !ok {
			rate = *c.Prune.IMPRate
		}
		alive := t.Size()
		for round := 1; round <= *c.Prune.IMPRounds; round++ {
			if alive -= prune.RemoveCount(rate, alive); alive < 1 {
				return fmt.Errorf("prune.imp_rounds = %d: %s (%d weights) has no weights left after round %d at rate %v", *c.Prune.IMPRounds, t.Name, t.Size(), round, rate)
			}
		}
	}
	return nil
}

// rewindFile holds θ at the rewind step, saved by level 0.
const rewindFile = "rewind.gob"

// level trains one level in dir.
func (c impPipeline) level(ctx context.Context, r *experiments.Replicate, level int, mode resetMode, dir string, cbs []experiments.Callback) (results.Result, error) {
	p, err := r.Prepare(r.Spec) // θ0: the initialization is a function of the seed
	if err != nil {
		return results.Result{}, err
	}
	set, err := prunableSet(p.Arch, c.Prune.Exclude)
	if err != nil {
		return results.Result{}, err
	}
	masks := prune.NewMasks(set)
	if level == 0 {
		if mode.kind == "rewind" && !mode.at.IsZero() {
			cbs = append(cbs, saveAtStep(mode.at, filepath.Join(dir, rewindFile)))
		}
	} else {
		prev := r.UnitDir(level-1, "")
		final, err := finalWeights(r, level-1)
		if err != nil {
			return results.Result{}, err
		}
		if level > 1 {
			if masks, err = prune.LoadMasks(filepath.Join(prev, masksFile)); err != nil {
				return results.Result{}, err
			}
		}
		if masks, err = c.prune(p.Arch, set, masks, final); err != nil {
			return results.Result{}, fmt.Errorf("level %d: %w", level, err)
		}
		switch mode.kind {
		case "rewind":
			if mode.at.IsZero() {
				break // θ0, from experiments.Prepare
			}
			theta, err := loadRewind(filepath.Join(r.UnitDir(0, ""), rewindFile))
			if err != nil {
				return results.Result{}, err
			}
			setWeights(p.Net, theta)
			p.Config.Start = mode.at
		case "lr_rewind":
			setWeights(p.Net, final)
			p.Config.Start = mode.at
		case "finetune":
			setWeights(p.Net, final)
			if err := finetuneSchedule(p, mode.at); err != nil {
				return results.Result{}, err
			}
		}
	}
	h, err := trainMasked(ctx, p, masks, dir, cbs)
	if err != nil {
		return results.Result{}, err
	}
	method := c.method()
	if level == 0 {
		method = "dense"
	}
	return experiments.Measure(p, h, method, masks.Density()), nil
}

// finetuneSchedule makes p train at the final learning rate of its
// schedule, constant, from step at (docs/methods/imp.md#rewinding, Renda's
// fine-tuning).
func finetuneSchedule(p *experiments.Prepared, at train.Step) error {
	ipe, err := p.ItersPerEpoch()
	if err != nil {
		return err
	}
	total := p.Config.Budget.Iters(ipe)
	lr, err := p.Config.Schedule.Func(p.Config.LR, ipe, total)
	if err != nil {
		return err
	}
	p.Config.LR = lr(total - 1)
	p.Config.Schedule = train.Schedule{}
	p.Config.Start = at
	return nil
}

// overrides is the per-round rate of the output layer's weight when
// prune.output_rate is set (nil otherwise); an output layer that
// prune.exclude removed cannot take one.
func (c impPipeline) overrides(arch *nn.Arch, set []nn.ParamInfo) (map[string]float64, error) {
	if c.Prune.OutputRate == nil {
		return nil, nil
	}
	out, err := outputWeight(arch)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(set, func(p nn.ParamInfo) bool { return p.Name == out }) {
		return nil, fmt.Errorf("prune.output_rate: the output layer's weight %s is not pruned (prune.exclude)", out)
	}
	return map[string]float64{out: *c.Prune.OutputRate}, nil
}

// prune removes imp_rate of the alive weights of each scope unit (the
// output layer at output_rate when set) by magnitude of the final weights;
// with pattern nm it keeps the n largest of every m instead.
func (c impPipeline) prune(arch *nn.Arch, set []nn.ParamInfo, current *prune.Masks, final map[string][]float32) (*prune.Masks, error) {
	nm, isNM, err := c.Prune.nm()
	if err != nil {
		return nil, err
	}
	var plan *prune.Plan
	if !isNM {
		scope, _ := pruneScope(c.Prune.Scope)
		overrides, err := c.overrides(arch, set)
		if err != nil {
			return nil, err
		}
		if c.Prune.IMPRate != nil {
			plan, err = prune.RatePlan(set, current, *c.Prune.IMPRate, scope, overrides)
		} else {
			am, _, _ := c.Prune.Resolve() // one-shot; Validate checked it
			plan, err = prune.DensityPlan(set, am.Density, scope, nil)
		}
		if err != nil {
			return nil, err
		}
	}
	scores, err := magnitudeScores(set, final, current, "the previous level's checkpoint")
	if err != nil {
		return nil, err
	}
	if isNM {
		return prune.NMMasks(set, nm, scores, current)
	}
	return plan.Select(scores, current)
}

// magnitudeScores returns |w ⊙ m| for each tensor of set, m the tensor's
// mask in current: the score of magnitude pruning from saved weights (IMP's
// final weights, Grokking Tickets' base run). what names the weights in the
// error for a tensor they lack.
func magnitudeScores(set []nn.ParamInfo, weights map[string][]float32, current *prune.Masks, what string) ([][]float32, error) {
	scores := make([][]float32, len(set))
	for i, t := range set {
		w, ok := weights[t.Name]
		if !ok {
			return nil, fmt.Errorf("%s has no weights for %s", what, t.Name)
		}
		m := current.M[t.Name]
		sc := make([]float32, len(w))
		for j, v := range w {
			if v < 0 {
				v = -v
			}
			sc[j] = v * m[j]
		}
		scores[i] = sc
	}
	return scores, nil
}

// finalWeights reads θ at the end of a finished level from its checkpoint.
func finalWeights(r *experiments.Replicate, level int) (map[string][]float32, error) {
	ck, err := r.Checkpoint(level, "")
	if err != nil {
		return nil, fmt.Errorf("the previous level's weights: %w", err)
	}
	w := map[string][]float32{}
	for name, t := range ck.State.Tensors {
		if n, ok := strings.CutPrefix(name, "param/"); ok {
			w[n] = t
		}
	}
	return w, nil
}

func setWeights(net nn.Net, w map[string][]float32) {
	for _, p := range net.Params() {
		if v, ok := w[p.Info().Name]; ok {
			p.SetValues(v)
		}
	}
}

// saveAtStep saves the net's weights to path (writeWeights) after step st:
// θk for rewinding, the grokking base run's memorization-stage weights.
func saveAtStep(st train.Step, path string) experiments.Callback {
	return func(e *train.Event) error {
		if e.Phase != train.AfterStep || e.Iter != st.Iters(e.History.ItersPerEpoch) {
			return nil
		}
		return writeWeights(path, e.Net)
	}
}

// writeWeights saves every parameter of net, by name, to path (a gob,
// written whole or not at all): the weights a later level starts from or
// prunes by (readWeights).
func writeWeights(path string, net nn.Net) error {
	w := map[string][]float32{}
	for _, prm := range net.Params() {
		w[prm.Info().Name] = append([]float32(nil), prm.Values()...)
	}
	return atomicfile.Write(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(w) })
}

func loadRewind(path string) (map[string][]float32, error) {
	return readWeights(path, "rewind weights", "level 0 saves them when prune.rewind names a step")
}

// readWeights reads weights that writeWeights saved; what names them in
// errors and where says which unit writes them.
func readWeights(path, what, where string) (map[string][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%s)", what, err, where)
	}
	defer f.Close()
	var w map[string][]float32
	if err := gob.NewDecoder(f).Decode(&w); err != nil {
		return nil, fmt.Errorf("%s %s are unreadable: %v", what, path, err)
	}
	return w, nil
}
