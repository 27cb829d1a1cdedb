package prune

import (
	"fmt"
	"math"
	"math/big"
	"path"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// Allocation turns "how much to keep" into exact per-unit keep counts
// (docs/methods/conventions.md#scopes), before any training starts, so that
// bad input is an error up front (docs/methods/conventions.md#input-checks).
//
// A Plan is a list of units over a prunable set. A unit is either one tensor
// with its own keep count (layer-wise and quota scopes, per-tensor
// overrides) or the global pool: several tensors whose kept entries are
// chosen by one SelectTop over their concatenation in canonical order.
// Plan.Select runs the SelectTops.

// Scope says how a density or a rate applies to the prunable set.
type Scope string

const (
	// Global is one SelectTop over the concatenation of the prunable set
	// (minus tensors with an override, which are units of their own).
	Global Scope = "global"
	// LayerWise is one SelectTop per tensor, each with the same density or
	// rate (or its override).
	LayerWise Scope = "layerwise"
)

func (s Scope) check() error {
	switch s {
	case Global, LayerWise:
		return nil
	}
	return fmt.Errorf("scope %q: want %q or %q", string(s), Global, LayerWise)
}

// snapTol is the distance within which d·N is snapped to the nearest multiple
// of ½ before rounding
// (docs/methods/conventions.md#from-a-density-to-a-count).
const snapTol = 1e-9

// RoundCount rounds a real count by the count rule of
// docs/methods/conventions.md#from-a-density-to-a-count: first snap x to the
// nearest multiple of ½ when it lies within 1e-9 of one (so float error in
// d·N cannot move a half across the rounding boundary), then round to the
// nearest integer with halves away from zero (math.Round).
//
// For |x| above about 10⁶ the snapping tolerance grows to 2⁻⁵⁰·|x| (a few
// float64 ulps): a product that large carries more than 1e-9 of float
// error, and the rule's intent is that float error never decides a half.
func RoundCount(x float64) int {
	h := math.Round(2*x) / 2
	if math.Abs(x-h) <= max(snapTol, math.Abs(x)*0x1p-50) {
		x = h
	}
	return int(math.Round(x))
}

// KeepCount is the number of entries a density d keeps of n:
// RoundCount(d·n). 0.29·50 keeps 15 (14.5 after snapping, rounded up).
func KeepCount(d float64, n int) int { return RoundCount(d * float64(n)) }

// keepCount is KeepCount (the name the issue uses).
func keepCount(d float64, n int) int { return KeepCount(d, n) }

// RemoveCount is the number of entries a per-round rate removes of alive
// entries (IMP, docs/methods/imp.md#level-loop): RoundCount(rate·alive).
// (1 − 0.9)·10 removes 1, though the float product is 0.9999999999999998.
func RemoveCount(rate float64, alive int) int { return RoundCount(rate * float64(alive)) }

// KeepCountRat is KeepCount in exact rational arithmetic, for densities that
// come from configs as decimals
// (docs/methods/conventions.md#from-a-density-to-a-count). d must be
// non-negative.
func KeepCountRat(d *big.Rat, n int) int {
	x := new(big.Rat).Mul(d, new(big.Rat).SetInt64(int64(n)))
	// floor(x + ½) = floor((2·num + den) / (2·den)) for x ≥ 0.
	num := new(big.Int).Lsh(x.Num(), 1)
	num.Add(num, x.Denom())
	den := new(big.Int).Lsh(x.Denom(), 1)
	return int(new(big.Int).Quo(num, den).Int64())
}

// CheckDensity returns an error unless d ∈ (0, 1].
func CheckDensity(d float64) error {
	if !(d > 0 && d <= 1) {
		return fmt.Errorf("density %v: want 0 < density ≤ 1 (0 would leave nothing)", d)
	}
	return nil
}

// CheckRate returns an error unless a per-round pruning rate is in [0, 1).
func CheckRate(rate float64) error {
	if !(rate >= 0 && rate < 1) {
		return fmt.Errorf("pruning rate %v: want 0 ≤ rate < 1 (the fraction of the remaining weights removed per round)", rate)
	}
	return nil
}

// ResolvePrunable returns the prunable set P of a model
// (docs/methods/conventions.md#prunable-set) in canonical order. params are
// all the model's parameters in canonical order (Arch.Params).
//
//   - With no include patterns the base set is the default one: every
//     parameter of Kind Weight (linear and conv weights; never biases or
//     normalization parameters).
//   - With include patterns the base set is every parameter whose name
//     matches one of them, of any kind: this is how a spec that prunes
//     biases says so explicitly (the native engine masks only Kind Weight
//     today, so Masks.Apply rejects such a set there).
//   - Parameters whose name matches an exclude pattern are then removed
//     (open_lth's pruning_layers_to_ignore, GraNet's --rm-first).
//
// Patterns are path.Match globs on the full name ("fc3.weight",
// "conv*.weight", "layer*.*.conv?.weight"; '*' crosses dots). A malformed
// pattern, a pattern that matches no parameter of the model (a typo), and
// an empty result are errors.
func ResolvePrunable(params []nn.ParamInfo, include, exclude []string) ([]nn.ParamInfo, error) {
	incl, err := matchAll("prune.include", include, params)
	if err != nil {
		return nil, err
	}
	excl, err := matchAll("prune.exclude", exclude, params)
	if err != nil {
		return nil, err
	}
	var set []nn.ParamInfo
	for i, p := range params {
		in := p.Prunable()
		if len(include) > 0 {
			in = incl[i]
		}
		if in && !excl[i] {
			set = append(set, p)
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("prunable set is empty (include %q, exclude %q over %s)", include, exclude, nameList(infoNames(params)))
	}
	return set, nil
}

// matchAll reports for each parameter whether some pattern matches it; a bad
// pattern or one that matches nothing is an error naming the field.
func matchAll(field string, patterns []string, params []nn.ParamInfo) ([]bool, error) {
	hit := make([]bool, len(params))
	for _, pat := range patterns {
		n := 0
		for i, p := range params {
			ok, err := path.Match(pat, p.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: pattern %q: %w", field, pat, err)
			}
			if ok {
				hit[i] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: pattern %q matches no parameter of the model (%s)", field, pat, nameList(infoNames(params)))
		}
	}
	return hit, nil
}

// Unit is one SelectTop of a Plan: Keep entries chosen among the tensors
// Tensors (indices into Plan.Tensors, in canonical order). A unit of one
// tensor is layer-wise; a unit of several is the global pool.
type Unit struct {
	Tensors []int
	Keep    int
}

// Plan is an allocation over a prunable set: units that partition Tensors.
// Build one with DensityPlan, RatePlan, QuotaPlan or ERKPlan and run it with
// Select.
type Plan struct {
	// Tensors is the prunable set in canonical order.
	Tensors []nn.ParamInfo
	Units   []Unit
	// AllowEmpty lets Select leave a tensor of a global pool with no kept
	// entry. No method allows it by default
	// (docs/methods/conventions.md#density).
	AllowEmpty bool
}

// Names returns the names of the prunable set.
func (p *Plan) Names() []string { return infoNames(p.Tensors) }

// Keep is the total kept count over the set.
func (p *Plan) Keep() int {
	k := 0
	for _, u := range p.Units {
		k += u.Keep
	}
	return k
}

// TensorKeep returns a tensor's own keep count; ok is false for a tensor of
// the global pool (its count depends on the scores) or one not in the set.
func (p *Plan) TensorKeep(name string) (keep int, ok bool) {
	for _, u := range p.Units {
		if len(u.Tensors) == 1 && p.Tensors[u.Tensors[0]].Name == name {
			return u.Keep, true
		}
	}
	return 0, false
}

// String lists the units with sizes and keep counts, one per line, meant for
// a log line at the start of a run; no pipeline prints it yet
// (docs/methods/conventions.md#known-gaps).
func (p *Plan) String() string {
	var b strings.Builder
	for _, u := range p.Units {
		n := 0
		names := make([]string, len(u.Tensors))
		for j, t := range u.Tensors {
			n += p.Tensors[t].Size()
			names[j] = p.Tensors[t].Name
		}
		if len(u.Tensors) == 1 {
			fmt.Fprintf(&b, "%s %v: keep %d of %d\n", names[0], p.Tensors[u.Tensors[0]].Shape, u.Keep, n)
		} else {
			fmt.Fprintf(&b, "global pool (%s): keep %d of %d\n", strings.Join(names, ", "), u.Keep, n)
		}
	}
	return b.String()
}

// DensityPlan allocates an absolute density d over the prunable set:
//
//   - LayerWise: every tensor keeps KeepCount(d_l, N_l), d_l = d or its
//     override;
//   - Global: the tensors without an override form one pool that keeps
//     KeepCount(d, N_pool) (N_base is the pool,
//     docs/methods/conventions.md#from-a-density-to-a-count); a tensor with
//     an override is a unit of its own with its density.
//
// overrides maps tensor names or path.Match patterns to densities; each
// key must match at least one tensor of the set and no tensor may match two
// keys. Errors: d or an override ∉ (0, 1], a tensor (or the pool) left with
// no kept entry (named), an unknown scope.
func DensityPlan(set []nn.ParamInfo, d float64, scope Scope, overrides map[string]float64) (*Plan, error) {
	if err := checkSet(set); err != nil {
		return nil, err
	}
	if err := scope.check(); err != nil {
		return nil, err
	}
	if err := CheckDensity(d); err != nil {
		return nil, err
	}
	ov, has, err := resolveOverrides(set, overrides, func(key string, v float64) error {
		if err := CheckDensity(v); err != nil {
			return fmt.Errorf("override %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p := &Plan{Tensors: set}
	var pool []int
	for i, t := range set {
		switch {
		case has[i]:
			p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: KeepCount(ov[i], t.Size())})
		case scope == LayerWise:
			p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: KeepCount(d, t.Size())})
		default:
			pool = append(pool, i)
			p.Units = append(p.Units, Unit{Tensors: nil}) // placeholder, filled below
		}
	}
	p.Units = compactPool(p.Units, pool, func(n int) int { return KeepCount(d, n) }, set)
	if err := p.checkNonEmpty(func(u Unit) string { return fmt.Sprintf("density %v", unitDensity(u, d, ov, has)) }); err != nil {
		return nil, err
	}
	return p, nil
}

// RatePlan allocates one IMP round
// (docs/methods/imp.md#per-round-rates-and-scope): each unit removes
// RemoveCount(r, alive) of its alive entries and keeps the rest, with alive
// counted from current (nil: a dense model). LayerWise units are the tensors
// with their rate or override (the LTH output layer at half rate:
// {"fc3.weight": rate/2}); Global is one pool for the tensors without an
// override. Errors: a rate or override ∉ [0, 1), a tensor (or the pool) left
// with no kept entry (named), current not masking exactly the set.
func RatePlan(set []nn.ParamInfo, current *Masks, rate float64, scope Scope, overrides map[string]float64) (*Plan, error) {
	if err := checkSet(set); err != nil {
		return nil, err
	}
	if err := scope.check(); err != nil {
		return nil, err
	}
	if err := CheckRate(rate); err != nil {
		return nil, err
	}
	alive, err := aliveCounts(set, current)
	if err != nil {
		return nil, err
	}
	ov, has, err := resolveOverrides(set, overrides, func(key string, v float64) error {
		if err := CheckRate(v); err != nil {
			return fmt.Errorf("override %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p := &Plan{Tensors: set}
	var pool []int
	for i := range set {
		switch {
		case has[i]:
			p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: alive[i] - RemoveCount(ov[i], alive[i])})
		case scope == LayerWise:
			p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: alive[i] - RemoveCount(rate, alive[i])})
		default:
			pool = append(pool, i)
			p.Units = append(p.Units, Unit{Tensors: nil})
		}
	}
	poolAlive := 0
	for _, i := range pool {
		poolAlive += alive[i]
	}
	p.Units = compactPool(p.Units, pool, func(int) int { return poolAlive - RemoveCount(rate, poolAlive) }, set)
	if err := p.checkNonEmpty(func(u Unit) string {
		r := rate
		if len(u.Tensors) == 1 && has[u.Tensors[0]] {
			r = ov[u.Tensors[0]]
		}
		return fmt.Sprintf("pruning rate %v", r)
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// QuotaPlan is the quota scope (docs/methods/conventions.md#scopes):
// per-tensor keep counts supplied by an allocation (ERK, a per-layer map, LTH
// rates). keep must name every tensor of the set exactly, each count in
// 1 … N_l.
func QuotaPlan(set []nn.ParamInfo, keep map[string]int) (*Plan, error) {
	if err := checkSet(set); err != nil {
		return nil, err
	}
	p := &Plan{Tensors: set}
	for i, t := range set {
		k, ok := keep[t.Name]
		if !ok {
			return nil, fmt.Errorf("quota: no keep count for %s", t.Name)
		}
		if k < 1 || k > t.Size() {
			return nil, fmt.Errorf("quota: keep %d for %s, want 1 … %d (a tensor must keep at least one entry)", k, t.Name, t.Size())
		}
		p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: k})
	}
	if len(keep) != len(set) {
		names := infoNames(set)
		for _, k := range sortedMapKeys(keep) {
			if !slices.Contains(names, k) {
				return nil, fmt.Errorf("quota: %s is not in the prunable set (%s)", k, nameList(names))
			}
		}
	}
	return p, nil
}

// Select runs the plan: one SelectTop per unit over scores (one slice per
// tensor of the set, in Plan.Tensors order). Candidates are the alive
// entries of current (nil: every entry); pruned entries stay pruned. It
// returns the new masks of the set. Errors: scores or current that do not
// fit the set, a unit that must keep more entries than it has alive, a NaN
// score (a *NaNScoreError naming the tensor), and a tensor of a global pool
// left with no kept entry (named) unless AllowEmpty.
func (p *Plan) Select(scores [][]float32, current *Masks) (*Masks, error) {
	if len(scores) != len(p.Tensors) {
		return nil, fmt.Errorf("select: %d score tensors for a prunable set of %d (%s)", len(scores), len(p.Tensors), nameList(p.Names()))
	}
	for i, t := range p.Tensors {
		if len(scores[i]) != t.Size() {
			return nil, fmt.Errorf("select: %d scores for %s, want %d", len(scores[i]), t.Name, t.Size())
		}
	}
	if _, err := aliveCounts(p.Tensors, current); err != nil {
		return nil, err
	}
	out := &Masks{Names: p.Names(), M: make(map[string][]float32, len(p.Tensors))}
	for _, u := range p.Units {
		names := make([]string, len(u.Tensors))
		parts := make([][]float32, len(u.Tensors))
		var elig [][]bool
		if current != nil {
			elig = make([][]bool, len(u.Tensors))
		}
		for j, t := range u.Tensors {
			names[j] = p.Tensors[t].Name
			parts[j] = scores[t]
			if current != nil {
				elig[j] = aliveFlags(current.M[names[j]])
			}
		}
		alive := 0
		for j := range u.Tensors {
			if elig == nil {
				alive += len(parts[j])
			} else {
				alive += countTrue(elig[j])
			}
		}
		if u.Keep > alive {
			return nil, fmt.Errorf("select: %s must keep %d entries but has %d alive", unitName(names), u.Keep, alive)
		}
		ms, err := SelectTopGlobal(names, parts, elig, u.Keep, nil)
		if err != nil {
			return nil, err
		}
		for j, name := range names {
			out.M[name] = ms[j]
		}
	}
	if !p.AllowEmpty {
		for _, name := range out.Names {
			if maskOnes(out.M[name]) == 0 {
				return nil, fmt.Errorf("select: %s is left with no kept entry (the global pool gave all of its %d entries to other tensors); lower the sparsity, exclude the tensor or prune it layer-wise", name, len(out.M[name]))
			}
		}
	}
	return out, nil
}

// resolveOverrides maps override keys (names or path.Match patterns) to
// tensors of the set. Keys are visited in sorted order so errors are
// deterministic.
func resolveOverrides(set []nn.ParamInfo, overrides map[string]float64, check func(string, float64) error) ([]float64, []bool, error) {
	vals := make([]float64, len(set))
	has := make([]bool, len(set))
	by := make([]string, len(set))
	for _, key := range sortedMapKeys(overrides) {
		v := overrides[key]
		if err := check(key, v); err != nil {
			return nil, nil, err
		}
		n := 0
		for i, t := range set {
			ok, err := path.Match(key, t.Name)
			if err != nil {
				return nil, nil, fmt.Errorf("override %q: %w", key, err)
			}
			if !ok {
				continue
			}
			if has[i] {
				return nil, nil, fmt.Errorf("overrides %q and %q both match %s", by[i], key, t.Name)
			}
			vals[i], has[i], by[i] = v, true, key
			n++
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("override %q matches no tensor of the prunable set (%s)", key, nameList(infoNames(set)))
		}
	}
	return vals, has, nil
}

// compactPool replaces the pool placeholders (units with nil Tensors) by a
// single pool unit at the position of the first pooled tensor.
func compactPool(units []Unit, pool []int, keep func(n int) int, set []nn.ParamInfo) []Unit {
	var out []Unit
	placed := false
	for _, u := range units {
		if u.Tensors != nil {
			out = append(out, u)
			continue
		}
		if placed {
			continue
		}
		placed = true
		n := 0
		for _, i := range pool {
			n += set[i].Size()
		}
		out = append(out, Unit{Tensors: slices.Clone(pool), Keep: keep(n)})
	}
	return out
}

// checkNonEmpty rejects a unit with no kept entry, naming its tensors.
func (p *Plan) checkNonEmpty(what func(Unit) string) error {
	if p.AllowEmpty {
		return nil
	}
	for _, u := range p.Units {
		if u.Keep >= 1 {
			continue
		}
		names := make([]string, len(u.Tensors))
		n := 0
		for j, t := range u.Tensors {
			names[j] = p.Tensors[t].Name
			n += p.Tensors[t].Size()
		}
		return fmt.Errorf("%s leaves %s (%d entries) with no kept entry; every prunable tensor must keep at least one", what(u), unitName(names), n)
	}
	return nil
}

func unitDensity(u Unit, d float64, ov []float64, has []bool) float64 {
	if len(u.Tensors) == 1 && has[u.Tensors[0]] {
		return ov[u.Tensors[0]]
	}
	return d
}

func unitName(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return "the global pool (" + strings.Join(names, ", ") + ")"
}

func checkSet(set []nn.ParamInfo) error {
	if len(set) == 0 {
		return fmt.Errorf("allocation: the prunable set is empty")
	}
	seen := map[string]bool{}
	for _, t := range set {
		if seen[t.Name] {
			return fmt.Errorf("allocation: %s is in the prunable set twice", t.Name)
		}
		seen[t.Name] = true
		if t.Size() < 1 {
			return fmt.Errorf("allocation: %s has shape %v and no entries", t.Name, t.Shape)
		}
	}
	return nil
}

// aliveCounts returns the alive entries per tensor of the set, from current
// (nil: all), checking that current masks exactly the set.
func aliveCounts(set []nn.ParamInfo, current *Masks) ([]int, error) {
	alive := make([]int, len(set))
	if current == nil {
		for i, t := range set {
			alive[i] = t.Size()
		}
		return alive, nil
	}
	names := infoNames(set)
	if !slices.Equal(current.Names, names) {
		return nil, fmt.Errorf("current masks cover %s, the prunable set is %s", nameList(current.Names), nameList(names))
	}
	for i, t := range set {
		v := current.M[t.Name]
		if err := (nn.Masked{Mask: v}).Validate(t.Name, t.Size()); err != nil {
			return nil, fmt.Errorf("current masks: %w", err)
		}
		alive[i] = maskOnes(v)
	}
	return alive, nil
}

func aliveFlags(m []float32) []bool {
	f := make([]bool, len(m))
	for i, v := range m {
		f[i] = v == 1
	}
	return f
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func infoNames(ps []nn.ParamInfo) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

func nameList(names []string) string {
	if len(names) == 0 {
		return "no tensors"
	}
	return strings.Join(names, ", ")
}

func sortedMapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
