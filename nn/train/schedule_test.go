package train

import (
	"math"
	"strings"
	"testing"
)

func steps(ss ...string) []Step {
	var out []Step
	for _, s := range ss {
		out = append(out, MustParseStep(s))
	}
	return out
}

func TestScheduleValues(t *testing.T) {
	type point struct {
		it int
		lr float64
	}
	cos := func(x float64) float64 { return math.Cos(math.Pi * x) }
	for _, tc := range []struct {
		desc       string
		s          Schedule
		base       float64
		ipe, total int
		points     []point
	}{
		{"empty name is constant", Schedule{}, 0.1, 10, 100, []point{{0, 0.1}, {99, 0.1}, {1000, 0.1}}},
		{"constant", Schedule{Name: "constant"}, 0.1, 10, 100, []point{{0, 0.1}, {-3, 0.1}}},
		// open_lth training/test/test_lr_scheduler.py test_milestones:
		// '2ep,4ep,7ep,8ep', gamma 0.1, 10 iterations per epoch.
		{"step, open_lth's test", Schedule{Name: "step", Milestones: steps("2ep", "4ep", "7ep", "8ep"), Gamma: 0.1}, 0.1, 10, 200,
			[]point{{0, 0.1}, {19, 0.1}, {20, 1e-2}, {39, 1e-2}, {40, 1e-3}, {69, 1e-3}, {70, 1e-4}, {79, 1e-4}, {80, 1e-5}, {180, 1e-5}}},
		{"step in iterations", Schedule{Name: "step", Milestones: steps("100it", "150it"), Gamma: 0.5}, 0.4, 7, 200,
			[]point{{99, 0.4}, {100, 0.2}, {149, 0.2}, {150, 0.1}, {200, 0.1}}},
		{"step, mixed units", Schedule{Name: "step", Milestones: steps("1ep50it", "3ep"), Gamma: 0.1}, 1, 100, 400,
			[]point{{149, 1}, {150, 0.1}, {299, 0.1}, {300, 0.01}}},
		{"step at 80ep/120ep (CIFAR recipe, 391 it/ep)", Schedule{Name: "step", Milestones: steps("80ep", "120ep"), Gamma: 0.1}, 0.1, 391, 160 * 391,
			[]point{{31279, 0.1}, {31280, 0.01}, {46919, 0.01}, {46920, 0.001}}},
		{"cosine", Schedule{Name: "cosine"}, 0.1, 10, 100,
			[]point{{0, 0.1}, {25, 0.05 * (1 + math.Sqrt2/2)}, {50, 0.05}, {75, 0.05 * (1 - math.Sqrt2/2)}, {100, 0}, {150, 0}}},
		{"cosine with floor", Schedule{Name: "cosine", MinLR: 0.001}, 0.1, 10, 100,
			[]point{{0, 0.1}, {50, 0.001 + 0.099*0.5}, {100, 0.001}, {120, 0.001}}},
		{"linear", Schedule{Name: "linear"}, 0.1, 10, 100, []point{{0, 0.1}, {25, 0.075}, {50, 0.05}, {100, 0}, {101, 0}}},
		{"linear with floor", Schedule{Name: "linear", MinLR: 0.01}, 0.1, 10, 100, []point{{50, 0.055}, {100, 0.01}}},
		// open_lth test_warmup: warmup '20it', lr(i) = i/20 · 0.1.
		{"warmup, open_lth's test", Schedule{Warmup: MustParseStep("20it")}, 0.1, 10, 200,
			[]point{{0, 0}, {1, 0.005}, {10, 0.05}, {19, 0.095}, {20, 0.1}, {120, 0.1}}},
		{"warmup in epochs over a step schedule", Schedule{Name: "step", Milestones: steps("5it"), Gamma: 0.1, Warmup: MustParseStep("1ep")}, 0.1, 10, 100,
			[]point{{4, 0.1 * 0.4}, {5, 0.01 * 0.5}, {10, 0.01}}},
		{"warmup over cosine (not shifted)", Schedule{Name: "cosine", Warmup: MustParseStep("10it")}, 0.1, 10, 100,
			[]point{{5, 0.5 * 0.05 * (1 + cos(0.05))}, {10, 0.05 * (1 + cos(0.1))}, {50, 0.05}}},
	} {
		f, err := tc.s.Func(tc.base, tc.ipe, tc.total)
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		for _, p := range tc.points {
			if got := f(p.it); math.Abs(got-p.lr) > 1e-12*math.Max(1, math.Abs(p.lr)) {
				t.Errorf("%s: lr(%d) = %.15g, want %.15g", tc.desc, p.it, got, p.lr)
			}
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, tc := range []struct {
		desc       string
		s          Schedule
		base       float64
		ipe, total int
		want       string
	}{
		{"unknown name", Schedule{Name: "exponential"}, 0.1, 10, 100, "cosine"},
		{"step without milestones", Schedule{Name: "step", Gamma: 0.1}, 0.1, 10, 100, "milestones"},
		{"zero gamma", Schedule{Name: "step", Milestones: steps("1ep")}, 0.1, 10, 100, "gamma"},
		{"negative gamma", Schedule{Name: "step", Milestones: steps("1ep"), Gamma: -0.1}, 0.1, 10, 100, "gamma"},
		{"repeated milestone", Schedule{Name: "step", Milestones: steps("2ep", "2ep"), Gamma: 0.1}, 0.1, 10, 100, "increasing"},
		{"decreasing milestones", Schedule{Name: "step", Milestones: steps("3ep", "1ep"), Gamma: 0.1}, 0.1, 10, 100, "increasing"},
		{"decreasing once resolved", Schedule{Name: "step", Milestones: steps("1ep", "50it"), Gamma: 0.1}, 0.1, 100, 1000, "does not come after"},
		{"milestone beyond training", Schedule{Name: "step", Milestones: steps("20ep"), Gamma: 0.1}, 0.1, 10, 100, "beyond"},
		{"milestones on cosine", Schedule{Name: "cosine", Milestones: steps("1ep")}, 0.1, 10, 100, "step schedule"},
		{"gamma on constant", Schedule{Gamma: 0.1}, 0.1, 10, 100, "step schedule"},
		{"floor on step", Schedule{Name: "step", Milestones: steps("1ep"), Gamma: 0.1, MinLR: 0.01}, 0.1, 10, 100, "min_lr"},
		{"negative floor", Schedule{Name: "cosine", MinLR: -1}, 0.1, 10, 100, "min_lr"},
		{"floor above base", Schedule{Name: "cosine", MinLR: 0.5}, 0.1, 10, 100, "min_lr"},
		{"warmup beyond training", Schedule{Warmup: MustParseStep("11ep")}, 0.1, 10, 100, "warmup"},
		{"negative base", Schedule{}, -0.1, 10, 100, "learning rate"},
		{"NaN base", Schedule{}, math.NaN(), 10, 100, "learning rate"},
		{"no iterations per epoch", Schedule{}, 0.1, 0, 100, "per epoch"},
		{"no training", Schedule{Name: "cosine"}, 0.1, 10, 0, "training length"},
	} {
		_, err := tc.s.Func(tc.base, tc.ipe, tc.total)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.desc, err, tc.want)
		}
	}
	if err := (Schedule{Name: "step", Milestones: steps("1ep", "50it"), Gamma: 0.1}).Validate(); err != nil {
		t.Errorf("Validate rejects milestones whose order depends on the epoch length: %v", err)
	}
	for _, s := range []Schedule{{}, {Name: "constant"}, {Name: "cosine", MinLR: 1e-4, Warmup: MustParseStep("5ep")}, {Name: "linear"},
		{Name: "step", Milestones: steps("80ep", "120ep"), Gamma: 0.1}} {
		if err := s.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", s, err)
		}
	}
}
