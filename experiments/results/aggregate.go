package results

import (
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
	// real columns with 6 significant digits).
	Keys map[string]string
	// N is the number of rows (replicates) in the group.
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
}

// Aggregate groups rs by the columns in by (DefaultBoardBy when empty) and
// summarizes each group. Groups come in the order of their first row; use
// WriteBoard or SortGroups for a sorted board. An unknown key is an error
// that lists the accepted ones.
func Aggregate(rs []Result, by []string) ([]Group, error) {
	if len(by) == 0 {
		by = DefaultBoardBy
	}
	fields := make([]column, len(by))
	for i, k := range by {
		f, ok := columnByName(k)
		if !ok {
			return nil, fmt.Errorf("board: unknown grouping key %q; the keys are the result columns: %s", k, columnList())
		}
		if slices.Contains(by[:i], k) {
			return nil, fmt.Errorf("board: grouping key %q given twice", k)
		}
		fields[i] = f
	}
	var order []string
	members := map[string][]int{}
	for i := range rs {
		parts := make([]string, len(fields))
		for j, f := range fields {
			parts[j] = f.text(&rs[i])
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
		g := Group{Keys: map[string]string{}, N: len(idx), DensityMin: math.Inf(1), DensityMax: math.Inf(-1)}
		for _, f := range fields {
			g.Keys[f.name] = f.text(&rs[idx[0]])
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
		groups[gi] = g
	}
	return groups, nil
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
	var keys []sortKey
	explicit := spec != ""
	if !explicit {
		spec = DefaultBoardSort
	}
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		k := sortKey{name: strings.TrimPrefix(s, "-"), desc: strings.HasPrefix(s, "-")}
		switch {
		case slices.Contains(by, k.name) && boardMetrics[k.name] == nil:
		case boardMetrics[k.name] != nil:
			k.metric = boardMetrics[k.name]
		case !explicit:
			continue // a default key that is not grouped on
		default:
			metrics := make([]string, 0, len(boardMetrics))
			for m := range boardMetrics {
				metrics = append(metrics, m)
			}
			sort.Strings(metrics)
			return fmt.Errorf("board: unknown sort key %q; sort by a grouping key (%s) or by %s, with a leading - for descending order",
				s, strings.Join(by, ", "), strings.Join(metrics, ", "))
		}
		keys = append(keys, k)
	}
	for _, b := range by {
		keys = append(keys, sortKey{name: b})
	}
	sort.SliceStable(gs, func(i, j int) bool {
		for _, k := range keys {
			var c int
			if k.metric != nil {
				c = compareNaNLast(k.metric(&gs[i]), k.metric(&gs[j]), k.desc)
			} else {
				c = compareKey(k.name, gs[i].Keys[k.name], gs[j].Keys[k.name])
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
