package experiments

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/prune"
)

func init() { RegisterPipeline("imp", impPipeline{}) }

// impPipeline is iterative magnitude pruning with rewinding (specs/lth.md
// §2): level 0 trains the dense network from θ0; level L ≥ 1 removes
// prune.imp_rate of the alive weights of each scope unit by magnitude of the
// final weights of level L−1 (not those at the early-stopping iteration),
// resets the weights by prune.rewind and retrains the full budget under the
// mask with a fresh optimizer (pattern P3), for prune.imp_rounds levels.
// Every level saves its mask (masks.bin) and result.
//
// Reset modes (lth.md §2.2): init starts every level from m ⊙ θ0 at
// iteration 0; rewind:k from m ⊙ θk at iteration k, with the learning-rate
// schedule and the data order continuing from k (θk is saved by level 0);
// lr_rewind:k keeps the trained weights of level L−1 and replays the
// schedule from k. Renda's finetune mode and the random-reinit and
// random-prune control branches are not implemented yet (issue #4) and are
// refused rather than replaced.
type impPipeline struct{}

type resetMode struct {
	kind string // "init", "rewind" or "lr_rewind"
	at   nn.Step
}

func parseRewind(s string) (resetMode, error) {
	if s == "" || s == "init" {
		return resetMode{kind: "init"}, nil
	}
	kind, at, ok := strings.Cut(s, ":")
	if !ok || (kind != "rewind" && kind != "lr_rewind") {
		if s == "finetune" {
			return resetMode{}, fmt.Errorf("prune.rewind = finetune: %w yet", nn.ErrNotImplemented)
		}
		return resetMode{}, fmt.Errorf("prune.rewind = %q: want init, rewind:STEP or lr_rewind:STEP (e.g. rewind:500it)", s)
	}
	st, err := nn.ParseStep(at)
	if err != nil {
		return resetMode{}, fmt.Errorf("prune.rewind: %w", err)
	}
	return resetMode{kind: kind, at: st}, nil
}

func (impPipeline) Validate(s Spec) error {
	p := s.Prune
	if p.IMPRate == nil || p.IMPRounds == nil {
		return errors.New("pipeline imp needs prune.imp_rate (fraction of the alive weights removed per level) and prune.imp_rounds (levels after the dense one)")
	}
	if _, _, err := p.Resolve(); err != nil {
		return err
	}
	if p.Criterion != "" && p.Criterion != "magnitude" {
		return fmt.Errorf("prune.criterion = %q: pipeline imp prunes by magnitude (leave it empty)", p.Criterion)
	}
	if p.OutputRate != nil {
		if err := prune.CheckRate(*p.OutputRate); err != nil {
			return fmt.Errorf("prune.output_rate: %w", err)
		}
	}
	if _, err := paiScope(p.Scope); err != nil {
		return err
	}
	mode, err := parseRewind(p.Rewind)
	if err != nil {
		return err
	}
	budget, err := nn.ParseStep(s.Training.Steps)
	if err != nil {
		return fmt.Errorf("training.steps: %w", err)
	}
	if mode.kind != "init" && budget.Epochs == 0 && mode.at.Epochs == 0 && mode.at.Iterations >= budget.Iterations {
		return fmt.Errorf("prune.rewind step %s is past the training budget %s", mode.at, budget)
	}
	return nil
}

func (impPipeline) Run(ctx context.Context, r *Replicate) error {
	s := r.Spec
	mode, err := parseRewind(s.Prune.Rewind)
	if err != nil {
		return err
	}
	for level := 0; level <= *s.Prune.IMPRounds; level++ {
		_, err := r.Unit(ctx, level, "", func(ctx context.Context, dir string, cbs []Callback) (Result, error) {
			return impLevel(ctx, r, level, mode, dir, cbs)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

const (
	masksFile  = "masks.bin"
	rewindFile = "rewind.gob"
)

// impLevel trains one level in dir.
func impLevel(ctx context.Context, r *Replicate, level int, mode resetMode, dir string, cbs []Callback) (Result, error) {
	s := r.Spec
	p, err := Prepare(s) // θ0: the initialization is a function of the seed
	if err != nil {
		return Result{}, err
	}
	set, err := prune.ResolvePrunable(p.Arch.Params(), nil, nil)
	if err != nil {
		return Result{}, err
	}
	masks := prune.NewMasks(set)
	if level == 0 {
		if mode.kind == "rewind" && !mode.at.IsZero() {
			cbs = append(cbs, saveRewind(mode, filepath.Join(dir, rewindFile)))
		}
	} else {
		prev := r.UnitDir(level-1, "")
		final, err := finalWeights(prev)
		if err != nil {
			return Result{}, err
		}
		if level > 1 {
			if masks, err = prune.LoadMasks(filepath.Join(prev, masksFile)); err != nil {
				return Result{}, err
			}
		}
		if masks, err = impPrune(s, set, masks, final); err != nil {
			return Result{}, fmt.Errorf("level %d: %w", level, err)
		}
		switch mode.kind {
		case "rewind":
			if mode.at.IsZero() {
				break // θ0, from Prepare
			}
			theta, err := loadRewind(filepath.Join(r.UnitDir(0, ""), rewindFile))
			if err != nil {
				return Result{}, err
			}
			setWeights(p.Net, theta)
			p.Config.Start = mode.at
		case "lr_rewind":
			setWeights(p.Net, final)
			p.Config.Start = mode.at
		}
		if err := masks.Save(filepath.Join(dir, masksFile)); err != nil {
			return Result{}, err
		}
	}
	if err := masks.Apply(p.Net, nn.ZeroAfterStep); err != nil {
		return Result{}, err
	}
	h, err := trainPrepared(ctx, p, dir, cbs)
	if err != nil {
		return Result{}, err
	}
	method := "imp"
	if level == 0 {
		method = "dense"
	}
	return Measure(p, h, method, masks.Density()), nil
}

// impPrune removes imp_rate of the alive weights of each scope unit (the
// output layer at output_rate when set) by magnitude of the final weights.
func impPrune(s Spec, set []nn.ParamInfo, current *prune.Masks, final map[string][]float32) (*prune.Masks, error) {
	scope, _ := paiScope(s.Prune.Scope)
	var overrides map[string]float64
	if s.Prune.OutputRate != nil {
		overrides = map[string]float64{set[len(set)-1].Name: *s.Prune.OutputRate}
	}
	plan, err := prune.RatePlan(set, current, *s.Prune.IMPRate, scope, overrides)
	if err != nil {
		return nil, err
	}
	scores := make([][]float32, len(set))
	for i, t := range set {
		w, ok := final[t.Name]
		if !ok {
			return nil, fmt.Errorf("the previous level's checkpoint has no weights for %s", t.Name)
		}
		m := current.M[t.Name]
		sc := make([]float32, len(w))
		for j, v := range w {
			if v < 0 {
				v = -v
			}
			sc[j] = v * m[j] // |θT ⊙ m|
		}
		scores[i] = sc
	}
	return plan.Select(scores, current)
}

// finalWeights reads θ at the end of a finished level from its checkpoint.
func finalWeights(dir string) (map[string][]float32, error) {
	ck, err := nn.LoadCheckpoint(filepath.Join(dir, "checkpoint.gob"))
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

// saveRewind is a level-0 callback that saves θ at the rewind step.
func saveRewind(mode resetMode, path string) Callback {
	return func(e *nn.Event) error {
		if e.Phase != nn.AfterStep || e.Iter != mode.at.Iters(e.History.ItersPerEpoch) {
			return nil
		}
		w := map[string][]float32{}
		for _, prm := range e.Net.Params() {
			w[prm.Info().Name] = append([]float32(nil), prm.Values()...)
		}
		return writeFileAtomic(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(w) })
	}
}

func loadRewind(path string) (map[string][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rewind weights: %w (level 0 saves them when prune.rewind names a step)", err)
	}
	defer f.Close()
	var w map[string][]float32
	if err := gob.NewDecoder(f).Decode(&w); err != nil {
		return nil, fmt.Errorf("rewind weights %s are unreadable: %v", path, err)
	}
	return w, nil
}
