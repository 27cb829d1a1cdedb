package prune

import (
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn/train"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// cifarGraNet is the worked example of docs/methods/gradual.md#cubic-schedule:
// I = 352, E = 160, ΔT = 1000, window 0–80 epochs, d_i = 0.5, d_f = 0.1.
func cifarGraNet(t *testing.T) *GradualSchedule {
	t.Helper()
	s := DefaultGradualSpec()
	s.InitDensity, s.FinalDensity = 0.5, 0.1
	s.FinalPruneEpoch = "80ep"
	s.UpdateFrequency = 1000
	g, err := s.Resolve(352, train.MustParseStep("160ep"))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCubicDensity(t *testing.T) {
	for _, tc := range []struct {
		di, df float64
		k, n   int
		want   float64
	}{
		{1, 0.1, 0, 4, 1},
		{1, 0.1, 1, 4, 0.1 + 0.9*27.0/64}, // 0.4796875
		{1, 0.1, 2, 4, 0.2125},            // 0.1 + 0.9/8
		{1, 0.1, 3, 4, 0.1140625},         // 0.1 + 0.9/64
		{1, 0.1, 4, 4, 0.1},
		{1, 0.1, 5, 4, 0.1},   // past the window
		{1, 0.1, -1, 4, 1},    // before it
		{0.5, 0.5, 2, 4, 0.5}, // constant
		{0.5, 0.1, 14, 28, 0.15},
	} {
		if got := CubicDensity(tc.di, tc.df, tc.k, tc.n); !near(got, tc.want, 1e-15) {
			t.Errorf("CubicDensity(%v, %v, %d, %d) = %v, want %v", tc.di, tc.df, tc.k, tc.n, got, tc.want)
		}
	}
}

func TestCosineDeathRate(t *testing.T) {
	for _, tc := range []struct {
		r0, eta float64
		t, T    int
		want    float64
	}{
		{0.5, 0.005, 0, 1000, 0.5},
		{0.5, 0.005, 250, 1000, 0.005 + 0.2475*(1+math.Sqrt2/2)},
		{0.5, 0.005, 500, 1000, 0.2525}, // T/2: the midpoint of r_0 and η_min
		{0.5, 0.005, 1000, 1000, 0.005}, // T_end
		{0.5, 0.005, 1500, 1000, 0.005}, // beyond: held at η_min
		{0.5, 0.005, -3, 1000, 0.5},
		{0.3, 0, 500, 1000, 0.15}, // RigL's form: r_0/2 at T/2
		{0.3, 0, 1000, 1000, 0},
	} {
		if got := CosineDeathRate(tc.r0, tc.eta, tc.t, tc.T); !near(got, tc.want, 1e-15) {
			t.Errorf("CosineDeathRate(%v, %v, %d, %d) = %v, want %v", tc.r0, tc.eta, tc.t, tc.T, got, tc.want)
		}
	}
}

// TestGraNetWorkedExample checks the derived example of
// docs/methods/gradual.md#cubic-schedule and the death rates of
// docs/methods/gradual.md#cosine-death-rate.
func TestGraNetWorkedExample(t *testing.T) {
	g := cifarGraNet(t)
	if g.Total != 56320 || g.T0 != 0 || g.TF != 28 || g.N() != 28 {
		t.Fatalf("T = %d, t0 = %d, tf = %d, n = %d; want 56320, 0, 28, 28", g.Total, g.T0, g.TF, g.N())
	}
	ps := g.PruneSteps()
	if len(ps) != 27 || ps[0] != 1000 || ps[26] != 27000 {
		t.Errorf("pruning steps %v, want 1000, 2000, …, 27000 (27)", ps)
	}
	rs := g.RegrowSteps()
	if len(rs) != 56 || rs[0] != 1000 || rs[55] != 56000 {
		t.Errorf("prune-and-regrow steps: %d from %d to %d, want 56 from 1000 to 56000", len(rs), rs[0], rs[len(rs)-1])
	}
	for _, c := range []struct {
		t    int
		want float64
	}{{1000, 0.458655}, {2000, 0.420262}, {14000, 0.150000}, {27000, 0.100018}} {
		d, ok := g.PruneAt(c.t)
		if !ok || !near(d, c.want, 5e-7) {
			t.Errorf("PruneAt(%d) = %v, %v; want %v", c.t, d, ok, c.want)
		}
	}
	// The last update leaves d_f + (d_i − d_f)/n³, not d_f.
	if d, _ := g.PruneAt(27000); !near(d, 0.1+0.4/(28*28*28), 1e-15) {
		t.Errorf("final density %v", d)
	}
	for _, c := range []struct {
		t    int
		want float64
	}{{1000, 0.499615}, {28000, 0.254709}, {56000, 0.005039}} {
		if got := g.DeathRate(c.t); !near(got, c.want, 5e-7) {
			t.Errorf("DeathRate(%d) = %v, want %v", c.t, got, c.want)
		}
	}
	for _, c := range []int{0, 999, 1001, 28000, 56000, 56320, 57000} {
		if _, ok := g.PruneAt(c); ok {
			t.Errorf("PruneAt(%d) prunes", c)
		}
	}
	if !g.RegrowAt(28000) || !g.RegrowAt(56000) || g.RegrowAt(56320) || g.RegrowAt(0) || g.RegrowAt(1500) {
		t.Error("RegrowAt: want updates at multiples of 1000 up to 56000, after the window too")
	}
	// Kept counts over N = 1000: clean rounds, the reference truncates.
	for _, c := range []struct {
		t, clean, ref int
	}{
		{1000, 459, 458},  // 458.655…
		{14000, 150, 149}, // the reference's 1000 · (1 − 0.85) is 149.99999999999997
		{27000, 100, 100}, // 100.018…
	} {
		k, ok := g.PruneKeep(c.t, 1000)
		kr, okr := g.PruneKeepReference(c.t, 1000)
		if !ok || !okr || k != c.clean || kr != c.ref {
			t.Errorf("t = %d: keep %d (clean), %d (reference); want %d, %d", c.t, k, kr, c.clean, c.ref)
		}
	}
	if _, ok := g.PruneKeep(500, 1000); ok {
		t.Error("PruneKeep(500) ok")
	}
	// Death counts: q = ceil(r_t · nnz).
	if got := g.DeathCount(28000, 1000); got != 255 { // 254.709…
		t.Errorf("DeathCount(28000, 1000) = %d, want 255", got)
	}
	if got := g.DeathCount(56000, 10); got != 1 { // 0.05039 → 1
		t.Errorf("DeathCount(56000, 10) = %d, want 1", got)
	}
	if got := g.DeathCount(56000, 0); got != 0 {
		t.Errorf("DeathCount(56000, 0) = %d, want 0", got)
	}
	if len(g.Warnings()) != 0 {
		t.Errorf("warnings %v", g.Warnings())
	}
}

// TestGradualWindows checks which steps prune and to what density on
// scaled-down schedules (docs/methods/gradual.md#iteration-order), including
// windows whose start is not a multiple of ΔT.
func TestGradualWindows(t *testing.T) {
	type point struct {
		t int
		d float64
	}
	for _, tc := range []struct {
		desc        string
		method      GradualMethod
		di, df      float64
		start, end  string
		every       int
		budget      string // at 10 iterations per epoch
		prune       []point
		steps       []int // all pruning steps; nil: those of prune
		regrowFirst int
		regrowN     int
	}{
		{
			// t0 = 0, tf = 10, n = 10: the first update (j = 1) jumps to
			// 0.1 + 0.9·0.9³, the last (j = 9) to d_f + (d_i − d_f)/n³.
			desc: "dense to sparse from 0", method: GradualGraNet, di: 1, df: 0.1, start: "", end: "10ep", every: 10, budget: "20ep",
			prune:       []point{{10, 0.7561}, {20, 0.1 + 0.9*0.512}, {50, 0.2125}, {90, 0.1009}},
			steps:       []int{10, 20, 30, 40, 50, 60, 70, 80, 90},
			regrowFirst: 10, regrowN: 20,
		},
		{
			// start 15 is not a multiple of 10: t0 = 1 but t = 10 < 15, so
			// the first update is j = 2 (k = 1 of n = 4).
			desc: "start between updates", method: GradualGraNet, di: 1, df: 0.1, start: "1ep5it", end: "5ep", every: 10, budget: "20ep",
			prune:       []point{{20, 0.4796875}, {30, 0.2125}, {40, 0.1140625}},
			regrowFirst: 20, regrowN: 19, // floor(200/10) − one multiple (10) below 15
		},
		{
			// start 20 is a multiple: j = t0 = 2 prunes to d_i itself.
			desc: "start on an update", method: GradualGMP, di: 0.5, df: 0.1, start: "2ep", end: "6ep", every: 10, budget: "8ep",
			prune: []point{{20, 0.5}, {30, 0.1 + 0.4*27.0/64}, {40, 0.15}, {50, 0.1 + 0.4/64}},
		},
		{
			desc: "end not a multiple of ΔT", method: GradualGraNet, di: 0.5, df: 0.05, start: "0ep", end: "95it", every: 20, budget: "10ep",
			// tf = floor(95/20) = 4, n = 4: updates j = 1, 2, 3.
			prune:       []point{{20, 0.05 + 0.45*27.0/64}, {40, 0.05 + 0.45/8}, {60, 0.05 + 0.45/64}},
			regrowFirst: 20, regrowN: 5,
		},
		{
			desc: "dst", method: GradualDST, di: 0.2, df: 0.2, every: 30, budget: "10ep",
			regrowFirst: 30, regrowN: 3, // 30, 60, 90; never at t = 0
		},
	} {
		s := GradualSpec{Method: tc.method, InitDensity: tc.di, FinalDensity: tc.df, GradualSettings: GradualSettings{InitPruneEpoch: tc.start, FinalPruneEpoch: tc.end,
			UpdateFrequency: tc.every, PruneRate: 0.5, DeathRateMin: GraNetDeathRateMin}}
		g, err := s.Resolve(10, train.MustParseStep(tc.budget))
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		var steps []int
		for _, p := range tc.prune {
			steps = append(steps, p.t)
			d, ok := g.PruneAt(p.t)
			if !ok || !near(d, p.d, 1e-12) {
				t.Errorf("%s: PruneAt(%d) = %v, %v; want %v", tc.desc, p.t, d, ok, p.d)
			}
		}
		if tc.steps != nil {
			steps = tc.steps
		}
		if got := g.PruneSteps(); !slices.Equal(got, steps) {
			t.Errorf("%s: pruning steps %v, want %v", tc.desc, got, steps)
		}
		rs := g.RegrowSteps()
		if len(rs) != tc.regrowN || (tc.regrowN > 0 && rs[0] != tc.regrowFirst) {
			t.Errorf("%s: prune-and-regrow steps %v, want %d from %d", tc.desc, rs, tc.regrowN, tc.regrowFirst)
		}
		for i := 1; i < len(rs); i++ {
			if rs[i]-rs[i-1] != tc.every {
				t.Errorf("%s: prune-and-regrow steps %v not every %d", tc.desc, rs, tc.every)
				break
			}
		}
	}
}

// TestGradualKeepCounts checks the density trajectory as kept counts
// (docs/methods/gradual.md#cubic-schedule): round(N · density_j) after every
// pruning update.
func TestGradualKeepCounts(t *testing.T) {
	s := GradualSpec{Method: GradualGMP, InitDensity: 1, FinalDensity: 0.1, GradualSettings: GradualSettings{FinalPruneEpoch: "10ep", UpdateFrequency: 10}}
	g, err := s.Resolve(10, train.MustParseStep("20ep"))
	if err != nil {
		t.Fatal(err)
	}
	// 1000 · (0.1 + 0.9 · (1 − j/10)³), j = 1..9, rounded half away.
	want := []int{756, 561, 409, 294, 213, 158, 124, 107, 101}
	var got []int
	for _, st := range g.PruneSteps() {
		k, _ := g.PruneKeep(st, 1000)
		got = append(got, k)
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept counts %v, want %v", got, want)
	}
	if w := g.Warnings(); len(w) != 0 {
		t.Errorf("dense GMP warns: %v", w)
	}
	s.InitDensity = 0.5
	g, _ = s.Resolve(10, train.MustParseStep("20ep"))
	if w := g.Warnings(); len(w) != 1 {
		t.Errorf("GMP from d_i = 0.5: warnings %v, want one", w)
	}
	if g.RegrowAt(10) || len(g.RegrowSteps()) != 0 {
		t.Error("GMP regrows")
	}
}

func TestGradualErrors(t *testing.T) {
	base := func() GradualSpec {
		s := DefaultGradualSpec()
		s.InitDensity, s.FinalDensity, s.FinalPruneEpoch, s.UpdateFrequency = 1, 0.1, "80ep", 1000
		return s
	}
	if _, err := base().Resolve(352, train.MustParseStep("160ep")); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for _, tc := range []struct {
		desc   string
		edit   func(*GradualSpec)
		budget string
		ipe    int
		parts  []string
	}{
		{"init density 0", func(s *GradualSpec) { s.InitDensity = 0 }, "", 0, []string{"granet.init_density = 0", "(0, 1]"}},
		{"final density 0", func(s *GradualSpec) { s.FinalDensity = 0 }, "", 0, []string{"granet.final_density = 0"}},
		{"final above init", func(s *GradualSpec) { s.InitDensity, s.FinalDensity = 0.5, 0.6 }, "", 0,
			[]string{"granet.final_density = 0.6 is above granet.init_density = 0.5"}},
		{"density above 1", func(s *GradualSpec) { s.InitDensity = 1.5 }, "", 0, []string{"granet.init_density = 1.5"}},
		{"no window end", func(s *GradualSpec) { s.FinalPruneEpoch = "" }, "", 0, []string{"granet.final_prune_epoch is required"}},
		{"unitless end", func(s *GradualSpec) { s.FinalPruneEpoch = "80" }, "", 0, []string{"granet.final_prune_epoch", `"80"`}},
		{"bad start", func(s *GradualSpec) { s.InitPruneEpoch = "x" }, "", 0, []string{"granet.init_prune_epoch"}},
		{"inverted window", func(s *GradualSpec) { s.InitPruneEpoch = "90ep" }, "", 0,
			[]string{"granet.init_prune_epoch = 90ep", "not before granet.final_prune_epoch = 80ep", "empty or inverted"}},
		{"empty window", func(s *GradualSpec) { s.InitPruneEpoch = "80ep" }, "", 0, []string{"empty or inverted"}},
		{"window past the budget", func(s *GradualSpec) { s.FinalPruneEpoch = "200ep" }, "", 0,
			[]string{"granet.final_prune_epoch = 200ep (iteration 70400)", "after the training budget training.steps = 160ep (56320 iterations"}},
		{"window inside one period", func(s *GradualSpec) { s.InitPruneEpoch, s.FinalPruneEpoch, s.UpdateFrequency = "10it", "50it", 100 }, "", 0,
			[]string{"n = tf − t0 = 0", "granet.update_frequency = 100"}},
		{"window without an update", func(s *GradualSpec) { s.InitPruneEpoch, s.FinalPruneEpoch, s.UpdateFrequency = "15it", "25it", 10 }, "", 0,
			[]string{"contains no pruning update"}},
		{"ΔT 0", func(s *GradualSpec) { s.UpdateFrequency = 0 }, "", 0, []string{"granet.update_frequency = 0", "at least 1"}},
		{"ΔT ≥ T", func(s *GradualSpec) { s.UpdateFrequency = 56320 }, "", 0, []string{"granet.update_frequency = 56320", "training.steps = 160ep"}},
		{"death rate 1", func(s *GradualSpec) { s.PruneRate = 1 }, "", 0, []string{"granet.prune_rate = 1", "[0, 1)"}},
		{"negative death rate", func(s *GradualSpec) { s.PruneRate = -0.5 }, "", 0, []string{"granet.prune_rate = -0.5"}},
		{"η_min above r_0", func(s *GradualSpec) { s.PruneRate, s.DeathRateMin = 0.1, 0.2 }, "", 0, []string{"granet.death_rate_min = 0.2", "granet.prune_rate = 0.1"}},
		{"dst density mismatch", func(s *GradualSpec) { s.Method, s.InitDensity, s.FinalDensity = GradualDST, 0.2, 0.1 }, "", 0,
			[]string{"granet.final_density = 0.1", "fixed density granet.init_density = 0.2"}},
		{"unknown method", func(s *GradualSpec) { s.Method = 7 }, "", 0, []string{"granet.method"}},
		{"empty budget", func(*GradualSpec) {}, "0ep", 0, []string{"training.steps = 0it"}},
		{"no iterations per epoch", func(*GradualSpec) {}, "", -1, []string{"iterations per epoch"}},
	} {
		s := base()
		tc.edit(&s)
		budget, ipe := "160ep", 352
		if tc.budget != "" {
			budget = tc.budget
		}
		if tc.ipe != 0 {
			ipe = tc.ipe
		}
		_, err := s.Resolve(ipe, train.MustParseStep(budget))
		schedWantErr(t, tc.desc, err, tc.parts...)
	}
	// GMP ignores the death rate; DST ignores the window and a zero final density.
	s := base()
	s.Method, s.PruneRate = GradualGMP, 3
	if _, err := s.Resolve(352, train.MustParseStep("160ep")); err != nil {
		t.Errorf("GMP with an unused death rate: %v", err)
	}
	s = base()
	s.Method, s.InitDensity, s.FinalDensity, s.FinalPruneEpoch = GradualDST, 0.1, 0, "900ep"
	if g, err := s.Resolve(352, train.MustParseStep("160ep")); err != nil || g.FinalDensity != 0.1 || len(g.PruneSteps()) != 0 {
		t.Errorf("DST: %+v, %v", g, err)
	}
	for i, n := range gradualMethodNames {
		if m, err := ParseGradualMethod(n); err != nil || int(m) != i || m.String() != n {
			t.Errorf("ParseGradualMethod(%q) = %v, %v", n, m, err)
		}
	}
	if _, err := ParseGradualMethod("rigl"); err == nil {
		t.Error("ParseGradualMethod(rigl): no error")
	}
}

// TestGradualCheck: Check, the validation without the iterations per epoch
// I, reports the field errors and the window errors that hold for every
// I ≥ 1, and leaves those that depend on I to Resolve (which reports them).
func TestGradualCheck(t *testing.T) {
	base := func() GradualSpec {
		s := DefaultGradualSpec()
		s.InitDensity, s.FinalDensity, s.FinalPruneEpoch, s.UpdateFrequency = 1, 0.1, "80ep", 1000
		return s
	}
	for _, tc := range []struct {
		desc   string
		edit   func(*GradualSpec)
		budget string
		parts  []string // nil: Check accepts
		// resolveFails: Resolve at I = 352 rejects what Check had to accept.
		resolveFails bool
	}{
		{"valid", func(*GradualSpec) {}, "160ep", nil, false},
		{"default window end past an epoch budget", func(s *GradualSpec) { s.FinalPruneEpoch = "110ep" }, "20ep",
			[]string{"granet.final_prune_epoch = 110ep ends after the training budget training.steps = 20ep"}, true},
		{"window end past an iteration budget", func(s *GradualSpec) { s.FinalPruneEpoch, s.UpdateFrequency = "600it", 100 }, "500it",
			[]string{"granet.final_prune_epoch = 600it ends after"}, true},
		{"window end on the budget", func(s *GradualSpec) { s.FinalPruneEpoch = "160ep" }, "160ep", nil, false},
		{"window end in epochs, budget in iterations", func(s *GradualSpec) { s.FinalPruneEpoch, s.UpdateFrequency = "110ep", 100 }, "5000it", nil, true},
		{"inverted window", func(s *GradualSpec) { s.InitPruneEpoch = "90ep" }, "160ep",
			[]string{"granet.init_prune_epoch = 90ep is not before granet.final_prune_epoch = 80ep", "empty or inverted"}, true},
		{"empty window", func(s *GradualSpec) { s.InitPruneEpoch = "80ep" }, "160ep", []string{"empty or inverted"}, true},
		{"inverted only for small I", func(s *GradualSpec) { s.InitPruneEpoch, s.FinalPruneEpoch, s.UpdateFrequency = "500it", "2ep", 100 }, "160ep", nil, false}, // inverted for I ≤ 250
		{"ΔT ≥ an iteration budget", func(s *GradualSpec) { s.FinalPruneEpoch, s.UpdateFrequency = "100it", 500 }, "500it",
			[]string{"granet.update_frequency = 500", "training.steps = 500it"}, true},
		{"ΔT against an epoch budget", func(s *GradualSpec) { s.UpdateFrequency = 60000 }, "160ep", nil, true},
		{"final above init", func(s *GradualSpec) { s.InitDensity, s.FinalDensity = 0.5, 0.6 }, "160ep",
			[]string{"granet.final_density = 0.6 is above granet.init_density = 0.5"}, true},
		{"death rate", func(s *GradualSpec) { s.PruneRate = 1 }, "160ep", []string{"granet.prune_rate = 1"}, true},
		{"no window end", func(s *GradualSpec) { s.FinalPruneEpoch = "" }, "160ep", []string{"granet.final_prune_epoch is required"}, true},
		{"empty budget", func(*GradualSpec) {}, "0ep", []string{"training.steps"}, true},
		{"dst has no window", func(s *GradualSpec) { s.Method, s.FinalDensity, s.FinalPruneEpoch = GradualDST, 0, "900ep" }, "160ep", nil, false},
	} {
		s := base()
		tc.edit(&s)
		budget := train.MustParseStep(tc.budget)
		err := s.Check(budget)
		if tc.parts == nil {
			if err != nil {
				t.Errorf("%s: Check: %v", tc.desc, err)
			}
		} else {
			schedWantErr(t, tc.desc, err, tc.parts...)
		}
		if _, err := s.Resolve(352, budget); (err != nil) != tc.resolveFails {
			t.Errorf("%s: Resolve at I = 352: %v, want failure %v", tc.desc, err, tc.resolveFails)
		}
	}
}
