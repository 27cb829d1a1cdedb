package prune

// Pruning schedules: pure functions of sizes, rates, densities and steps that
// say how many weights each pruning event keeps and when it happens. They
// need no engine and no weights; the pipelines turn their counts into masks
// with SelectTop.
//
//   - LevelSchedule (this file and schedule_imp.go): the kept counts of every
//     level of iterative magnitude pruning (IMP) and of one-shot pruning,
//     docs/methods/imp.md#remaining-weights.
//   - GradualSchedule (schedule_gradual.go): when GMP, GraNet and RigL-style
//     DST update masks, the cubic density of each pruning update and the
//     cosine death rate, docs/methods/gradual.md#cubic-schedule.
//   - PAIDensities (this file): the density of each iteration of the prune
//     loop of pruning at initialization, docs/methods/pai.md#the-prune-loop.
//
// Every count from a density or a rate uses RoundCount (allocate.go), the
// rule of docs/methods/conventions.md#from-a-density-to-a-count, unless a
// reference rounding is asked for.

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/nn"
)

// GlobalUnit is the name of the single scope unit of a global schedule: the
// union of all prunable tensors.
const GlobalUnit = "global"

// LevelSchedule is the exact kept count of every scope unit at every level of
// an IMP run or a one-shot pruning (docs/methods/imp.md#level-loop,
// docs/methods/imp.md#one-shot). Level 0 is the dense network; level L ≥ 1 is
// the mask level L trains with.
//
// A scope unit is one tensor (layer-wise scope: one SelectTop per tensor with
// its own count) or the union of all tensors (global scope: one SelectTop
// over their concatenation in canonical order,
// docs/methods/conventions.md#scopes). For a global schedule only the total
// is fixed in advance; how it splits over tensors depends on the weights.
type LevelSchedule struct {
	// Tensors are the prunable tensors in canonical order.
	Tensors []nn.ParamInfo
	// Global reports the global scope: Keep has one column, the union of
	// Tensors. Otherwise column u is Tensors[u].
	Global bool
	// Rates are the per-round rates of the scope units when the schedule
	// came from rates (IMP), nil when it came from density targets.
	Rates []float64
	// Rounding is the rule that turned rate · alive into a count (IMP only).
	Rounding IMPRounding
	// Keep[L][u] is the number of weights of scope unit u kept at level L;
	// Keep[0] is every unit's size.
	Keep [][]int
}

// Levels returns the number of pruned levels n; the schedule has levels
// 0..n.
func (s *LevelSchedule) Levels() int { return len(s.Keep) - 1 }

// Units returns the names of the scope units: the tensor names, or
// GlobalUnit alone for a global schedule.
func (s *LevelSchedule) Units() []string {
	if s.Global {
		return []string{GlobalUnit}
	}
	names := make([]string, len(s.Tensors))
	for i, t := range s.Tensors {
		names[i] = t.Name
	}
	return names
}

// Total returns N_P, the number of prunable weights.
func (s *LevelSchedule) Total() int {
	n := 0
	for _, t := range s.Tensors {
		n += t.Size()
	}
	return n
}

// Kept returns the number of prunable weights kept at level L.
func (s *LevelSchedule) Kept(level int) int {
	n := 0
	for _, k := range s.Keep[level] {
		n += k
	}
	return n
}

// Density returns the density over the prunable set at level L.
func (s *LevelSchedule) Density(level int) float64 {
	return float64(s.Kept(level)) / float64(s.Total())
}

// Percent returns Pm, the percent of prunable weights remaining at level L,
// the unit of the LTH paper's labels (docs/methods/imp.md#remaining-weights).
func (s *LevelSchedule) Percent(level int) float64 { return 100 * s.Density(level) }

// Removed returns how many weights of unit u level L removes from level L−1
// (L ≥ 1).
func (s *LevelSchedule) Removed(level, unit int) int {
	return s.Keep[level-1][unit] - s.Keep[level][unit]
}

// OneShotAt returns the one-shot schedule that prunes the dense network
// straight to level L's counts in a single level, with the same scope: the
// one-shot comparison at the same Pm as an IMP level
// (docs/methods/imp.md#one-shot).
func (s *LevelSchedule) OneShotAt(level int) *LevelSchedule {
	if level < 0 || level > s.Levels() {
		panic(fmt.Sprintf("prune: OneShotAt(%d) of a schedule with levels 0..%d", level, s.Levels()))
	}
	return &LevelSchedule{
		Tensors:  s.Tensors,
		Global:   s.Global,
		Rates:    nil,
		Rounding: s.Rounding,
		Keep:     [][]int{append([]int(nil), s.Keep[0]...), append([]int(nil), s.Keep[level]...)},
	}
}

// OneShotGlobal is one-shot pruning to density d over the union of tensors:
// level 1 keeps round(d · N_P) weights
// (docs/methods/conventions.md#from-a-density-to-a-count), split over tensors
// by one global SelectTop. d must lie in (0, 1] and the count must leave at
// least one weight per tensor.
func OneShotGlobal(tensors []nn.ParamInfo, d float64) (*LevelSchedule, error) {
	s, err := DensityLevels(tensors, true, []float64{d})
	if err != nil {
		return nil, fmt.Errorf("one-shot: %w", err)
	}
	return s, nil
}

// OneShotLayerwise is one-shot pruning with a density per tensor (uniform
// layer-wise pruning repeats one value; ERK or per-layer overrides give
// their own): tensor l keeps round(d_l · N_l) weights. Each d_l must lie in
// (0, 1] and leave the tensor at least one weight.
func OneShotLayerwise(tensors []nn.ParamInfo, densities []float64) (*LevelSchedule, error) {
	if err := checkTensors(tensors); err != nil {
		return nil, err
	}
	if len(densities) != len(tensors) {
		return nil, fmt.Errorf("one-shot: %d densities for %d tensors", len(densities), len(tensors))
	}
	s := &LevelSchedule{Tensors: tensors, Keep: [][]int{sizes(tensors), make([]int, len(tensors))}}
	for i, t := range tensors {
		d := densities[i]
		if err := checkDensity(fmt.Sprintf("density of %s", t.Name), d); err != nil {
			return nil, fmt.Errorf("one-shot: %w", err)
		}
		k := RoundCount(d * float64(t.Size()))
		if k < 1 {
			return nil, fmt.Errorf("one-shot: density %v leaves %s with 0 of %d weights", d, t.Name, t.Size())
		}
		s.Keep[1][i] = k
	}
	return s, nil
}

// DensityLevels is a schedule of absolute density targets d_1, …, d_n, one
// per level (the form of Renda et al.'s prune_all_to_global_X and of any
// IMP run given its densities instead of a rate). Level L keeps
// round(d_L · N_base) per scope unit: N_base = N_P for global scope, the
// tensor's size for layer-wise scope (the same d_L for every tensor).
//
// Errors: a target outside (0, 1]; a target above the previous level's (masks
// are monotone, so it is not reachable:
// docs/methods/conventions.md#input-checks); a level that leaves a tensor
// (layer-wise) with no weight, or keeps fewer weights than there are tensors
// (global: some tensor would be empty).
func DensityLevels(tensors []nn.ParamInfo, global bool, densities []float64) (*LevelSchedule, error) {
	if err := checkTensors(tensors); err != nil {
		return nil, err
	}
	s := &LevelSchedule{Tensors: tensors, Global: global}
	s.Keep = [][]int{s.unitSizes()}
	prev := 1.0
	for i, d := range densities {
		level := i + 1
		if err := checkDensity(fmt.Sprintf("level %d density", level), d); err != nil {
			return nil, err
		}
		if d > prev {
			return nil, fmt.Errorf("level %d density %v is above level %d's %v: masks only lose weights, so density targets must not increase", level, d, level-1, prev)
		}
		prev = d
		keep := make([]int, len(s.Keep[0]))
		for u, n := range s.Keep[0] {
			keep[u] = RoundCount(d * float64(n))
		}
		s.Keep = append(s.Keep, keep)
		if err := s.checkLevel(level, fmt.Sprintf("density %v", d)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// unitSizes returns the sizes of the scope units.
func (s *LevelSchedule) unitSizes() []int {
	if s.Global {
		return []int{s.Total()}
	}
	return sizes(s.Tensors)
}

// checkLevel reports a level that leaves a tensor without weights. how
// describes what produced the level, for the message.
func (s *LevelSchedule) checkLevel(level int, how string) error {
	keep := s.Keep[level]
	if s.Global {
		if keep[0] < len(s.Tensors) {
			return fmt.Errorf("level %d (%s) keeps %d of %d weights globally, fewer than the %d prunable tensors: some tensor would be left with 0 weights",
				level, how, keep[0], s.Total(), len(s.Tensors))
		}
		return nil
	}
	for u, k := range keep {
		if k < 1 {
			return fmt.Errorf("level %d (%s) leaves %s with 0 of %d weights; use fewer levels or a lower rate for it",
				level, how, s.Tensors[u].Name, s.Tensors[u].Size())
		}
	}
	return nil
}

func sizes(tensors []nn.ParamInfo) []int {
	out := make([]int, len(tensors))
	for i, t := range tensors {
		out[i] = t.Size()
	}
	return out
}

// checkTensors rejects an empty prunable set, unnamed or duplicate names and
// empty tensors.
func checkTensors(tensors []nn.ParamInfo) error {
	if len(tensors) == 0 {
		return fmt.Errorf("no prunable tensors")
	}
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t.Name == "" {
			return fmt.Errorf("prunable tensor %d has no name", i)
		}
		if seen[t.Name] {
			return fmt.Errorf("prunable tensor %s is listed twice", t.Name)
		}
		seen[t.Name] = true
		if t.Size() < 1 {
			return fmt.Errorf("prunable tensor %s has shape %v: no entries", t.Name, t.Shape)
		}
	}
	return nil
}

// checkDensity checks d ∈ (0, 1] (docs/methods/conventions.md#density: 0 is a
// model with nothing left, not "dense").
func checkDensity(what string, d float64) error {
	if !(d > 0 && d <= 1) {
		return fmt.Errorf("%s = %v: want a value in (0, 1]", what, d)
	}
	return nil
}

// PAISchedule is how the prune loop of pruning at initialization
// (docs/methods/pai.md#the-prune-loop) spreads its E scoring iterations
// between the dense network and the target density d. Both are the
// reference's (prune.py).
type PAISchedule string

const (
	// PAIExponential keeps d_e = d^(e/E) after iteration e: the same fraction
	// of the alive weights is removed every iteration. SynFlow's schedule
	// (docs/methods/pai.md#synflow) and the harness default.
	PAIExponential PAISchedule = "exponential"
	// PAILinear keeps d_e = 1 − (1 − d)·e/E: the same number of weights
	// is removed every iteration.
	PAILinear PAISchedule = "linear"
)

// PAIDensities returns d_1, …, d_E, the densities kept after each of the E
// iterations of the prune loop toward density d on schedule s ("" is
// PAIExponential). The last one is d itself rather than the computed
// power or difference (1 − (1 − 0.1) is 0.09999999999999998 in floating
// point), so the final count is KeepCount(d, N), exactly the one-shot count.
// The sequence does not increase, so every iteration's count is reachable
// from the previous mask. Errors: d ∉ (0, 1], E < 1, an unknown schedule.
func PAIDensities(d float64, iterations int, s PAISchedule) ([]float64, error) {
	if err := checkDensity("density", d); err != nil {
		return nil, err
	}
	if iterations < 1 {
		return nil, fmt.Errorf("prune loop: %d iterations, want at least 1", iterations)
	}
	ds := make([]float64, iterations)
	for i := range ds {
		e := i + 1
		f := float64(e) / float64(iterations)
		switch s {
		case PAIExponential, "":
			ds[i] = math.Pow(d, f)
		case PAILinear:
			ds[i] = 1 - (1-d)*f
		default:
			return nil, fmt.Errorf("prune loop: schedule %q: want %s or %s", s, PAIExponential, PAILinear)
		}
		// Guard against a last-ulp rise of the computed power, which
		// would ask a later iteration for more weights than are alive.
		if i > 0 && ds[i] > ds[i-1] {
			ds[i] = ds[i-1]
		}
	}
	ds[iterations-1] = d
	return ds, nil
}
