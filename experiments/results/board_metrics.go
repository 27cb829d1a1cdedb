package results

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prunebench/prunebench/internal/registry"
)

// MetricStat summarizes one named metric (Result.Metrics) over a group's
// results: the Stat of the values that are not NaN (reached), and Of, the
// number of results that record the metric at all, reached or not. A board
// shows "1840 ± 120 (2/3)" for a metric two of three seeds reached.
type MetricStat struct {
	Stat
	Of int
}

// ErrBoardMetrics is wrapped by the errors of BoardOptions.Metrics, so that
// a command can name the flag that gave them.
var ErrBoardMetrics = errors.New("board metrics")

// metricsError is an error of BoardOptions.Metrics: errors.Is(err,
// ErrBoardMetrics) holds, and its text is its own.
type metricsError string

func (e metricsError) Error() string        { return string(e) }
func (e metricsError) Is(target error) bool { return target == ErrBoardMetrics }

// DefaultBoardMetrics is the most metrics a board shows when none are
// asked for (BoardOptions.Metrics): those that the most entries record,
// so that a control's own metric (one or two entries) gives way to the
// metrics every entry has; a table names the others below itself.
const DefaultBoardMetrics = 4

// groupMetrics summarizes the metrics that the results rs[idx] record.
func groupMetrics(rs []Result, idx []int) map[string]MetricStat {
	var names []string
	for _, i := range idx {
		for k := range rs[i].Metrics {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	out := make(map[string]MetricStat, len(names))
	for _, k := range names {
		var xs []float64
		for _, i := range idx {
			if x, ok := rs[i].Metrics[k]; ok {
				xs = append(xs, x)
			}
		}
		out[k] = MetricStat{Stat: NewStat(xs), Of: len(xs)}
	}
	return out
}

// recordedMetrics lists, sorted, the metrics that some group records.
func recordedMetrics(gs []Group) []string {
	var names []string
	for i := range gs {
		for k := range gs[i].Metrics {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	return names
}

// BoardMetrics resolves o.Metrics against the metrics the groups record:
// the metric columns a board of gs shows, in order, and the recorded ones
// it leaves out unasked. o.Metrics lists metric names, or is "all" (every
// recorded metric, sorted by name) or "none"; empty means at most
// DefaultBoardMetrics of the recorded metrics, those recorded by the most
// groups (ties by name), sorted by name, the others omitted. A name no
// group records is an error that lists the recorded ones.
func BoardMetrics(gs []Group, o BoardOptions) (shown, omitted []string, err error) {
	recorded := recordedMetrics(gs)
	switch {
	case len(o.Metrics) == 0 && len(recorded) <= DefaultBoardMetrics:
		return recorded, nil, nil
	case len(o.Metrics) == 0:
		entries := func(m string) int {
			n := 0
			for i := range gs {
				if _, ok := gs[i].Metrics[m]; ok {
					n++
				}
			}
			return n
		}
		byUse := slices.Clone(recorded)
		slices.SortStableFunc(byUse, func(a, b string) int { return entries(b) - entries(a) }) // ties stay in name order
		shown, omitted = byUse[:DefaultBoardMetrics], byUse[DefaultBoardMetrics:]
		slices.Sort(shown)
		slices.Sort(omitted)
		return shown, omitted, nil
	case len(o.Metrics) == 1 && o.Metrics[0] == "all":
		return recorded, nil, nil
	case len(o.Metrics) == 1 && o.Metrics[0] == "none":
		return nil, nil, nil
	}
	bad := func(format string, args ...any) error {
		return metricsError("board: " + fmt.Sprintf(format, args...))
	}
	for _, m := range o.Metrics {
		switch {
		case m == "all" || m == "none":
			return nil, nil, bad("metrics %q: %s stands alone, not in a list of names", strings.Join(o.Metrics, ","), m)
		case slices.Contains(shown, m):
			return nil, nil, bad("metric %q given twice", m)
		case !slices.Contains(recorded, m) && len(recorded) == 0:
			return nil, nil, bad("unknown metric %q: the results record no metrics (a pipeline derives them from the learning curve)", m)
		case !slices.Contains(recorded, m):
			hint := ""
			if best := registry.Closest(m, recorded); best != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", best)
			}
			return nil, nil, bad("unknown metric %q%s; the results record %s; or give all or none", m, hint, strings.Join(recorded, ", "))
		}
		shown = append(shown, m)
	}
	return shown, nil, nil
}

// formatMetric renders a metric of a group: "1840 ± 120" over the group's
// seeds, "1840 (n=1)" for one, and, when some results did not reach it
// (NaN), how many of those that record it did: "1840 ± 120 (2/3)",
// "1840 (1/3)", "— (0/3)". "—" alone: no result of the group records it.
// Numbers keep four significant digits (less the trailing zeros both have),
// without exponents below 10⁷.
func formatMetric(m MetricStat) string {
	switch {
	case m.Of == 0:
		return "—"
	case m.N == 0:
		return fmt.Sprintf("— (0/%d)", m.Of)
	}
	// Decimals that are 0 in both numbers go: a step reads 400, not 400.0.
	dec := metricDecimals(m.Mean)
	for ; dec > 0; dec-- {
		if !strings.HasSuffix(formatFixed(m.Mean, dec), "0") || m.N >= 2 && !strings.HasSuffix(formatFixed(m.Std, dec), "0") {
			break
		}
	}
	out := formatFixed(m.Mean, dec)
	if m.N >= 2 {
		out += " ± " + formatFixed(m.Std, dec)
	}
	switch {
	case m.N < m.Of:
		out += fmt.Sprintf(" (%d/%d)", m.N, m.Of)
	case m.N == 1:
		out += " (n=1)"
	}
	return out
}

// metricDecimals is the number of decimals that give x four significant
// digits: 0 for 1840, 4 for 0.6667.
func metricDecimals(x float64) int {
	if x == 0 || math.IsInf(x, 0) {
		return 0
	}
	return min(max(0, 3-int(math.Floor(math.Log10(math.Abs(x))))), 8)
}

// formatFixed writes x with dec decimals, or in exponent form when it is
// too large for that to be read.
func formatFixed(x float64, dec int) string {
	if math.Abs(x) >= 1e7 {
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	return strconv.FormatFloat(x, 'f', dec, 64)
}
