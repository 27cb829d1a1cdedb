package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Group is one entry of a leaderboard: the replicates that share the values
// of the grouping keys.
type Group struct {
	// Keys holds the value of each grouping key as text (density and other
	// real columns with 6 significant digits), and of method, model and
	// dataset when the group's rows agree on them.
	Keys map[string]string
	// Settings holds the spec keys that set the group's experiments apart
	// from the defaults (Result.Settings), as text, where its rows agree.
	Settings map[string]string
	// N is the number of results in the group: under the default grouping,
	// the number of seeds (two results of one experiment, level and branch
	// with one seed are one result).
	N int
	// Density is the mean density of the rows; Sparsity = 1 − Density and
	// Compression = 1/Density. DensityMin and DensityMax differ when the
	// group mixes densities (density is not a grouping key).
	Density, Sparsity, Compression float64
	DensityMin, DensityMax         float64
	// Parameter and FLOP counts over the replicates.
	ParamsTotal, ParamsNonzero, FLOPsNonzero Stat
	// Test accuracies (fractions, as stored) at the early-stopping iteration
	// and at the end of training.
	BestTestAcc, FinalTestAcc Stat
	// BestIter is the early-stopping iteration t* (minimum validation
	// loss), whose decrease is the LTH paper's "learns faster".
	BestIter Stat
	// Wall is the wall time in seconds.
	Wall Stat
	// Metrics summarizes each metric that the group's results record
	// (Result.Metrics), NaN (not reached) left out of its Stat.
	Metrics map[string]MetricStat
}

// describing are the columns a group reports besides its grouping keys,
// when its rows agree on them: what a reader needs to know of an entry.
var describing = []string{"method", "model", "dataset"}

// describedBy maps the spec keys whose value a describing column shows to
// that column: a board shows the model once, not again as model.name.
var describedBy = map[string]string{"model.name": "model", "dataset.name": "dataset"}

// Aggregate groups rs by the keys in by (DefaultBoardBy when empty) and
// summarizes each group. A key is a result column (Columns) or a spec key
// such as training.lr: specDefaults maps every spec key to its default as
// text (`prunebench config --defaults`), which is a result's value for a
// key its Settings leave out. Results of one experiment, level, branch and
// seed count once (Dedupe). Groups come in the order of their first row;
// use WriteBoard or SortGroups for a sorted board. An unknown key is an
// error that says what is accepted.
func Aggregate(rs []Result, by []string, specDefaults map[string]string) ([]Group, error) {
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	rs = Dedupe(rs)
	settings := make([]map[string]string, len(rs))
	for i := range rs {
		settings[i] = settingsOf(&rs[i])
	}
	keyOf := make([]func(r *Result, settings map[string]string) string, len(by))
	for j, k := range by {
		if slices.Contains(by[:j], k) {
			return nil, fmt.Errorf("board: grouping key %q given twice", k)
		}
		get, ok := resultKey(k, specDefaults)
		if !ok {
			return nil, fmt.Errorf("board: unknown grouping key %q; group by a result column (%s) or by a spec key (prunebench config --defaults lists them)", k, columnList())
		}
		keyOf[j] = get
	}
	var order []string
	members := map[string][]int{}
	for i := range rs {
		parts := make([]string, len(by))
		for j := range by {
			parts[j] = keyOf[j](&rs[i], settings[i])
		}
		id := strings.Join(parts, "\x00")
		if _, ok := members[id]; !ok {
			order = append(order, id)
		}
		members[id] = append(members[id], i)
	}
	groups := make([]Group, len(order))
	for gi, id := range order {
		idx := members[id]
		g := Group{Keys: map[string]string{}, Settings: map[string]string{}, N: len(idx), DensityMin: math.Inf(1), DensityMax: math.Inf(-1)}
		for j, k := range by {
			g.Keys[k] = keyOf[j](&rs[idx[0]], settings[idx[0]])
		}
		for _, k := range describing {
			c, _ := columnByName(k)
			if v := c.text(&rs[idx[0]]); allSame(idx, func(i int) string { return c.text(&rs[i]) }) {
				g.Keys[k] = v
			}
		}
		for k, v := range settings[idx[0]] {
			if allSame(idx, func(i int) string { return settings[i][k] }) {
				g.Settings[k] = v
			}
		}
		col := func(get func(*Result) float64) Stat {
			xs := make([]float64, len(idx))
			for j, i := range idx {
				xs[j] = get(&rs[i])
			}
			return NewStat(xs)
		}
		d := col(func(r *Result) float64 { return r.Density })
		for _, i := range idx {
			if x := rs[i].Density; !math.IsNaN(x) {
				g.DensityMin = min(g.DensityMin, x)
				g.DensityMax = max(g.DensityMax, x)
			}
		}
		if d.N == 0 {
			g.DensityMin, g.DensityMax = math.NaN(), math.NaN()
		}
		g.Density, g.Sparsity, g.Compression = d.Mean, 1-d.Mean, 1/d.Mean
		g.ParamsTotal = col(func(r *Result) float64 { return float64(r.ParamsTotal) })
		g.ParamsNonzero = col(func(r *Result) float64 { return float64(r.ParamsNonzero) })
		g.FLOPsNonzero = col(func(r *Result) float64 { return float64(r.FLOPsNonzero) })
		g.BestTestAcc = col(func(r *Result) float64 { return r.BestTestAcc })
		g.FinalTestAcc = col(func(r *Result) float64 { return r.FinalTestAcc })
		g.BestIter = col(func(r *Result) float64 { return float64(r.BestIter) })
		g.Wall = col(func(r *Result) float64 { return r.Wall.Seconds() })
		g.Metrics = groupMetrics(rs, idx)
		groups[gi] = g
	}
	return groups, nil
}

func allSame(idx []int, value func(i int) string) bool {
	for _, i := range idx[1:] {
		if value(i) != value(idx[0]) {
			return false
		}
	}
	return true
}

// experimentOf is a result's experiment, or for a row stored before results
// recorded one, its run: the replicates of that run.
func experimentOf(r *Result) string {
	if r.Experiment != "" {
		return r.Experiment
	}
	return "run " + r.SpecHash
}

// Dedupe keeps one result per experiment, level, branch and seed: the one
// that finished last. Two results with the same settings and seed are one
// result (a run started again under another seed that overlaps, or the
// same run in two stores), never two replicates. Order is kept.
func Dedupe(rs []Result) []Result {
	type unit struct {
		experiment, branch string
		level              int
		seed               uint64
	}
	last := map[unit]int{}
	for i := range rs {
		u := unit{experimentOf(&rs[i]), rs[i].Branch, rs[i].Level, rs[i].Seed}
		if j, ok := last[u]; !ok || !rs[i].Finished.Before(rs[j].Finished) {
			last[u] = i
		}
	}
	out := make([]Result, 0, len(last))
	for i := range rs {
		if last[unit{experimentOf(&rs[i]), rs[i].Branch, rs[i].Level, rs[i].Seed}] == i {
			out = append(out, rs[i])
		}
	}
	return out
}

// resultKey reads key k of a result as boards group and plots draw by it:
// a result column (experiment as experimentOf names it), or a spec key of
// specDefaults, from the result's settings (settingsOf, which the callers
// have parsed once per result) or, where they leave it out, its default.
// ok is false for a key that is neither.
func resultKey(k string, specDefaults map[string]string) (get func(r *Result, settings map[string]string) string, ok bool) {
	if c, ok := columnByName(k); ok {
		if k == "experiment" {
			return func(r *Result, _ map[string]string) string { return experimentOf(r) }, true
		}
		return func(r *Result, _ map[string]string) string { return c.text(r) }, true
	}
	def, ok := specDefaults[k]
	if !ok {
		return nil, false
	}
	return func(_ *Result, settings map[string]string) string {
		if v, ok := settings[k]; ok {
			return v
		}
		return def
	}, true
}

// settingsOf is a result's Settings as text values by key: numbers as a
// spec writes them, lists as [a,b].
func settingsOf(r *Result) map[string]string {
	out := map[string]string{}
	if r.Settings == "" {
		return out
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Settings), &m); err != nil {
		return out // a store written by hand: no settings to show
	}
	for k, v := range m {
		out[k] = jsonText(v)
	}
	return out
}

// WhereSettings keeps the results whose spec keys have the given values:
// filter maps a spec key to a value as text, and specDefaults (as for
// Aggregate) gives the value of a key a result leaves at its default. Two
// numbers are equal by value (0.10 and 0.1 match). A key that is not a spec
// key is an error. Order is kept.
func WhereSettings(rs []Result, filter, specDefaults map[string]string) ([]Result, error) {
	for k := range filter {
		if _, ok := specDefaults[k]; !ok {
			return nil, fmt.Errorf("unknown key %q: not a result column (%s) nor a spec key (prunebench config --defaults lists them)", k, columnList())
		}
	}
	var out []Result
	for i := range rs {
		settings := settingsOf(&rs[i])
		keep := true
		for k, want := range filter {
			got, ok := settings[k]
			if !ok {
				got = specDefaults[k]
			}
			if !sameSetting(got, want) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, rs[i])
		}
	}
	return out, nil
}

// sameSetting compares two setting values as text, and as numbers when
// both are.
func sameSetting(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && x == y
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonText(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

// boardMetrics are the sort keys that are not grouping keys.
var boardMetrics = map[string]func(*Group) float64{
	"n":              func(g *Group) float64 { return float64(g.N) },
	"density":        func(g *Group) float64 { return g.Density },
	"sparsity":       func(g *Group) float64 { return g.Sparsity },
	"compression":    func(g *Group) float64 { return g.Compression },
	"params_total":   func(g *Group) float64 { return g.ParamsTotal.Mean },
	"params_nonzero": func(g *Group) float64 { return g.ParamsNonzero.Mean },
	"flops_nonzero":  func(g *Group) float64 { return g.FLOPsNonzero.Mean },
	"best_test_acc":  func(g *Group) float64 { return g.BestTestAcc.Mean },
	"final_test_acc": func(g *Group) float64 { return g.FinalTestAcc.Mean },
	"best_iter":      func(g *Group) float64 { return g.BestIter.Mean },
	"wall":           func(g *Group) float64 { return g.Wall.Mean },
}

// SortGroups sorts gs, grouped by the keys in by, by the sort
// specification of BoardOptions.Sort (DefaultBoardSort when empty).
func SortGroups(gs []Group, by []string, spec string) error {
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	type sortKey struct {
		name   string
		desc   bool
		metric func(*Group) float64 // nil for a grouping key
	}
	// The spec keys the groups' settings hold can be sort keys too.
	var settings []string
	for i := range gs {
		for k := range gs[i].Settings {
			if !slices.Contains(settings, k) && !slices.Contains(by, k) {
				settings = append(settings, k)
			}
		}
	}
	slices.Sort(settings)
	recorded := recordedMetrics(gs)
	var keys []sortKey
	explicit := spec != ""
	if !explicit {
		spec = DefaultBoardSort
	}
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		k := sortKey{name: strings.TrimPrefix(s, "-"), desc: strings.HasPrefix(s, "-")}
		switch {
		case (slices.Contains(by, k.name) || slices.Contains(describing, k.name) || slices.Contains(settings, k.name)) && boardMetrics[k.name] == nil:
		case boardMetrics[k.name] != nil:
			k.metric = boardMetrics[k.name]
		case slices.Contains(recorded, k.name):
			// A metric the results record, by its mean over the reached.
			name := k.name
			k.metric = func(g *Group) float64 {
				if m, ok := g.Metrics[name]; ok {
					return m.Mean
				}
				return math.NaN()
			}
		case !explicit:
			continue // a default key that is not grouped on
		default:
			metrics := make([]string, 0, len(boardMetrics))
			for m := range boardMetrics {
				metrics = append(metrics, m)
			}
			sort.Strings(metrics)
			also := ""
			if len(recorded) > 0 {
				also = ", or a metric the results record (" + strings.Join(recorded, ", ") + ")"
			}
			return fmt.Errorf("board: unknown sort key %q; sort by a grouping key (%s), a spec key the entries set, or by %s%s, with a leading - for descending order",
				s, strings.Join(by, ", "), strings.Join(metrics, ", "), also)
		}
		keys = append(keys, k)
	}
	// Ties are broken by the spec keys that set entries apart, in key
	// order (a learning-rate sweep reads from the smallest rate up), and
	// then by the grouping keys.
	for _, k := range settings {
		keys = append(keys, sortKey{name: k})
	}
	for _, b := range by {
		keys = append(keys, sortKey{name: b})
	}
	value := func(g *Group, k string) string {
		if v, ok := g.Keys[k]; ok {
			return v
		}
		return g.Settings[k]
	}
	sort.SliceStable(gs, func(i, j int) bool {
		for _, k := range keys {
			var c int
			if k.metric != nil {
				c = compareNaNLast(k.metric(&gs[i]), k.metric(&gs[j]), k.desc)
			} else {
				c = compareKey(k.name, value(&gs[i], k.name), value(&gs[j], k.name))
				if k.desc {
					c = -c
				}
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	return nil
}

// compareNaNLast orders a and b (descending if desc) with NaN last.
func compareNaNLast(a, b float64, desc bool) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	c := 0
	if a < b {
		c = -1
	} else if a > b {
		c = 1
	}
	if desc {
		c = -c
	}
	return c
}

// compareKey orders values of a grouping key: numerically when both are
// numbers, otherwise as text; the method "dense" comes first.
func compareKey(name, a, b string) int {
	if name == "method" && a != b {
		if a == "dense" {
			return -1
		}
		if b == "dense" {
			return 1
		}
	}
	x, errx := strconv.ParseFloat(a, 64)
	y, erry := strconv.ParseFloat(b, 64)
	if errx == nil && erry == nil && x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
