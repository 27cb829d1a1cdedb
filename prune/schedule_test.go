package prune

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// schedPrunable returns the default prunable tensors (weights of linear and
// convolutional layers) of a zoo model, in canonical order.
func schedPrunable(t *testing.T, model string) []nn.ParamInfo {
	t.Helper()
	a, err := zoo.Build(model, zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []nn.ParamInfo
	for _, p := range a.Params() {
		if p.Prunable() {
			ts = append(ts, p)
		}
	}
	return ts
}

// tensors builds ParamInfos of the given names and sizes (1-D shapes).
func schedTensors(namesAndSizes ...any) []nn.ParamInfo {
	var ts []nn.ParamInfo
	for i := 0; i < len(namesAndSizes); i += 2 {
		ts = append(ts, nn.ParamInfo{Name: namesAndSizes[i].(string), Shape: []int{namesAndSizes[i+1].(int)}, Kind: nn.Weight})
	}
	return ts
}

func schedWantErr(t *testing.T, desc string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", desc, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not contain %q", desc, err, p)
		}
	}
}

func TestOneShot(t *testing.T) {
	lenet := schedPrunable(t, "lenet-300-100")
	g, err := OneShotGlobal(lenet, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Global || g.Levels() != 1 || g.Keep[0][0] != 266200 || g.Keep[1][0] != 26620 || g.Units()[0] != GlobalUnit {
		t.Errorf("global one-shot to 0.1: %+v, want one global unit 266200 → 26620", g.Keep)
	}

	l, err := OneShotLayerwise(lenet, []float64{0.0795678, 0.2301887, 1})
	if err != nil {
		t.Fatal(err)
	}
	// The ERK densities at d = 0.1 give the exact counts of
	// docs/methods/gradual.md#erk (18,714, 6,906, 1,000).
	if want := []int{18714, 6906, 1000}; !slices.Equal(l.Keep[1], want) || l.Kept(1) != 26620 {
		t.Errorf("layer-wise one-shot: %v, want %v", l.Keep[1], want)
	}
	if got := l.Units(); got[0] != "fc1.weight" || got[2] != "fc3.weight" {
		t.Errorf("units %v", got)
	}

	// The count rule (docs/methods/conventions.md#from-a-density-to-a-count)
	// through a schedule.
	r, err := OneShotLayerwise(schedTensors("a", 50, "b", 10), []float64{0.29, 1 - 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{15, 1}; !slices.Equal(r.Keep[1], want) {
		t.Errorf("0.29·50 and (1−0.9)·10: %v, want %v", r.Keep[1], want)
	}

	// One-shot at an IMP level's counts.
	imp, err := IMPLayerwise(lenet, []float64{0.2, 0.2, 0.1}, 12, IMPRoundHalfAway)
	if err != nil {
		t.Fatal(err)
	}
	o := imp.OneShotAt(12)
	if o.Levels() != 1 || !slices.Equal(o.Keep[1], []int{16162, 2062, 282}) || !slices.Equal(o.Keep[0], []int{235200, 30000, 1000}) {
		t.Errorf("OneShotAt(12) = %v", o.Keep)
	}
	if o.Percent(1) != imp.Percent(12) {
		t.Errorf("OneShotAt(12) Pm %v, IMP level 12 %v", o.Percent(1), imp.Percent(12))
	}
}

func TestDensityLevels(t *testing.T) {
	ts := schedTensors("a", 100, "b", 10)
	s, err := DensityLevels(ts, false, []float64{0.5, 0.5, 0.25, 0.15})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{100, 10}, {50, 5}, {50, 5}, {25, 3}, {15, 2}} // 2.5 → 3, 1.5 → 2
	for L := range want {
		if !slices.Equal(s.Keep[L], want[L]) {
			t.Errorf("level %d: %v, want %v", L, s.Keep[L], want[L])
		}
	}
	gs, err := DensityLevels(ts, true, []float64{0.8, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Keep[1][0] != 88 || gs.Keep[2][0] != 11 || gs.Density(2) != 0.1 {
		t.Errorf("global levels %v", gs.Keep)
	}
}

func TestScheduleErrors(t *testing.T) {
	ts := schedTensors("a.weight", 100, "b.weight", 10)
	_, err := DensityLevels(ts, false, []float64{0.5, 0.6})
	schedWantErr(t, "increasing targets", err, "level 2 density 0.6", "above level 1's 0.5", "must not increase")
	_, err = DensityLevels(ts, false, []float64{0})
	schedWantErr(t, "density 0", err, "level 1 density = 0", "(0, 1]")
	_, err = DensityLevels(ts, true, []float64{1.5})
	schedWantErr(t, "density 1.5", err, "level 1 density = 1.5")
	_, err = DensityLevels(ts, false, []float64{0.5, 0.04})
	schedWantErr(t, "layer emptied", err, "level 2", "leaves b.weight with 0 of 10 weights")
	_, err = DensityLevels(ts, true, []float64{0.01})
	schedWantErr(t, "global below one per tensor", err, "keeps 1 of 110 weights globally", "fewer than the 2 prunable tensors")
	_, err = OneShotGlobal(nil, 0.5)
	schedWantErr(t, "no tensors", err, "no prunable tensors")
	_, err = OneShotLayerwise(ts, []float64{0.5})
	schedWantErr(t, "density count", err, "1 densities for 2 tensors")
	_, err = OneShotLayerwise(ts, []float64{0.5, 0.01})
	schedWantErr(t, "one-shot empties", err, "leaves b.weight with 0 of 10 weights")
	_, err = OneShotLayerwise(ts, []float64{0.5, -1})
	schedWantErr(t, "one-shot negative", err, "density of b.weight = -1")
	_, err = OneShotGlobal(schedTensors("a", 3, "a", 4), 0.5)
	schedWantErr(t, "duplicate", err, "a is listed twice")
	_, err = OneShotGlobal(append(schedTensors("a", 3), nn.ParamInfo{Name: "z", Shape: []int{0, 3}}), 0.5)
	schedWantErr(t, "empty tensor", err, "z has shape [0 3]")
}

// TestPAIDensities checks the prune-at-init schedules of
// docs/methods/pai.md#the-prune-loop for E = 100 (and E = 1):
// d_e = d^(e/E) and 1 − (1 − d)·e/E, non-increasing, and the last one
// exactly d, so that the final kept count is the one-shot count
// KeepCount(d, N) (LeNet-300-100's 266,200 weights: 2,662 at 0.01).
func TestPAIDensities(t *testing.T) {
	lenet := schedPrunable(t, "lenet-300-100")
	cases := []struct {
		sched PAISchedule
		d     float64
		e     int
		want  func(e, E int) float64
	}{
		{PAIExponential, 0.01, 100, func(e, E int) float64 { return math.Pow(0.01, float64(e)/float64(E)) }},
		{"", 0.001, 100, func(e, E int) float64 { return math.Pow(0.001, float64(e)/float64(E)) }},
		{PAILinear, 0.1, 100, func(e, E int) float64 { return 1 - 0.9*float64(e)/float64(E) }},
		{PAIExponential, 0.05, 1, func(e, E int) float64 { return 0.05 }},
	}
	for _, c := range cases {
		ds, err := PAIDensities(c.d, c.e, c.sched)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != c.e {
			t.Fatalf("%s d=%v: %d densities, want %d", c.sched, c.d, len(ds), c.e)
		}
		for i, d := range ds {
			if w := c.want(i+1, c.e); math.Abs(d-w) > 1e-15 {
				t.Errorf("%s d=%v: d_%d = %.17g, want %.17g", c.sched, c.d, i+1, d, w)
			}
			if i > 0 && d > ds[i-1] {
				t.Errorf("%s d=%v: d_%d = %v above d_%d = %v", c.sched, c.d, i+1, d, i, ds[i-1])
			}
		}
		if ds[len(ds)-1] != c.d {
			t.Errorf("%s: last density %.17g, want exactly %v", c.sched, ds[len(ds)-1], c.d)
		}
		s, err := DensityLevels(lenet, true, ds)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Kept(s.Levels()), KeepCount(c.d, 266200); got != want {
			t.Errorf("%s d=%v: final count %d, want the one-shot %d", c.sched, c.d, got, want)
		}
	}
	// Worked values: exponential to 0.01 halves the log-density: d_50 = 0.1,
	// and d_1 = 0.01^0.01 = 0.955 keeps round(254219.03) = 254219;
	// linear to 0.1 keeps 0.55 at e = 50 and exactly 0.1 at e = 100, where
	// 1 − 0.9 would be 0.09999999999999998.
	ds, _ := PAIDensities(0.01, 100, PAIExponential)
	if math.Abs(ds[49]-0.1) > 1e-15 || KeepCount(ds[0], 266200) != 254219 {
		t.Errorf("exponential to 0.01: d_50 = %.17g (want 0.1), d_1 keeps %d of 266200 (want 254219)", ds[49], KeepCount(ds[0], 266200))
	}
	if d := 0.1; 1-(1-d) == d {
		t.Fatal("1 − (1 − 0.1) is exact here: the exact-final-count case is vacuous")
	}
	lin, _ := PAIDensities(0.1, 100, PAILinear)
	if math.Abs(lin[49]-0.55) > 1e-15 || lin[99] != 0.1 || KeepCount(lin[99], 266200) != 26620 {
		t.Errorf("linear to 0.1: d_50 = %v, d_100 = %.17g", lin[49], lin[99])
	}

	for _, c := range []struct {
		d     float64
		e     int
		sched PAISchedule
		want  string
	}{
		{0.1, 0, PAIExponential, "iterations"},
		{0.1, -3, PAIExponential, "iterations"},
		{0, 10, PAIExponential, "density"},
		{1.5, 10, PAILinear, "density"},
		{0.1, 10, "cubic", "schedule"},
	} {
		_, err := PAIDensities(c.d, c.e, c.sched)
		schedWantErr(t, "PAIDensities", err, c.want)
	}
}
