package pipelines

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

func TestScaleBudget(t *testing.T) {
	st := func(s string) train.Step {
		v, err := train.ParseStep(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		budget     string
		milestones []string
		f          float64
		ipe        int
		want       string
		wantMs     []string
	}{
		// docs/methods/scratch.md#budget: E_B = floor(E·f), milestones floor(0.5 E_B), floor(0.75 E_B).
		{"160ep", []string{"80ep", "120ep"}, 2.5, 10, "400ep", []string{"200ep", "300ep"}},
		{"160ep", []string{"80ep", "120ep"}, 1.3, 10, "208ep", []string{"104ep", "156ep"}},
		{"3ep", []string{"1ep"}, 1.5, 10, "4ep", []string{"1ep"}}, // floor(4.5) = 4, floor(1·4/3) = 1
		{"100it", []string{"50it"}, 1.5, 10, "150it", []string{"75it"}},
		{"2ep5it", []string{"1ep"}, 2, 10, "50it", []string{"20it"}}, // 25 iterations
		{"10ep", []string{"15it"}, 2, 10, "20ep", []string{"30it"}},
	}
	for _, c := range cases {
		cfg := train.Config{Budget: st(c.budget)}
		for _, m := range c.milestones {
			cfg.Schedule.Milestones = append(cfg.Schedule.Milestones, st(m))
		}
		scaleBudget(&cfg, c.f, c.ipe)
		if cfg.Budget != st(c.want) {
			t.Errorf("%s × %v: budget %s, want %s", c.budget, c.f, cfg.Budget, c.want)
		}
		for i, m := range c.wantMs {
			if cfg.Schedule.Milestones[i] != st(m) {
				t.Errorf("%s × %v: milestone %d is %s, want %s", c.budget, c.f, i, cfg.Schedule.Milestones[i], m)
			}
		}
	}
}

// TestScratchFactor on mlp 36-16-3: dense MACs 576 + 48 = 624; a mask
// keeping 156 + 12 weights gives 624/168.
func TestScratchFactor(t *testing.T) {
	p, err := experiments.Prepare(tinySpec(t, "train"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := prune.ResolvePrunable(p.Arch.Params(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := prune.NewMasks(set)
	for name, keep := range map[string]int{"fc1.weight": 156, "fc2.weight": 12} {
		for i := keep; i < len(m.M[name]); i++ {
			m.M[name][i] = 0
		}
	}
	if got, want := scratchFactor(p.Arch, m, nil), 624.0/168; got != want {
		t.Errorf("factor %v, want %v", got, want)
	}
	if got := scratchFactor(p.Arch, m, f(2)); got != 2 {
		t.Errorf("capped factor %v, want 2", got)
	}
}

// TestIMPBranches runs every branch off level 1 of an IMP run with
// rewind:5it and checks what each inherits: the mask (or its per-layer
// counts), the start step, fresh control_init weights, and Scratch-B's
// budget.
func TestIMPBranches(t *testing.T) {
	s := impSpec(t, "rewind:5it")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.IMPRounds = n(1)
		c.Prune.Branches = branches.Names()
	})
	first := map[string]int{}
	controlInit := map[string]bool{}
	p0, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(p0.Net, p0.Init, nn.NewRand(nn.SeedFor(s.Seed, nn.NSControlInit))); err != nil {
		t.Fatal(err)
	}
	wc := p0.Net.Param("fc1.weight").Values()
	watch := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			if _, seen := first[u.Branch]; seen || e.Phase != train.AfterGradients || u.Level != 1 {
				return nil
			}
			first[u.Branch] = e.Iter
			w := e.Net.Param("fc1.weight").Values()
			match, nonzero := true, 0
			for i := range w {
				if w[i] != 0 {
					nonzero++
					match = match && w[i] == wc[i]
				}
			}
			controlInit[u.Branch] = match && nonzero > 0
			return nil
		}}, func() {}
	}
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2+len(branches.Names()) {
		t.Fatalf("%d results, want 2 levels and %d branches", len(rs), len(branches.Names()))
	}
	wantStart := map[string]int{"": 5, BranchRandomReinit: 5, BranchRandomPrune: 5, BranchScratchE: 0, BranchScratchB: 0}
	for b, it := range wantStart {
		if first[b] != it {
			t.Errorf("branch %q starts at %d, want %d", b, first[b], it)
		}
		if b != "" && !controlInit[b] {
			t.Errorf("branch %s does not start from the control_init draw", b)
		}
	}
	if controlInit[""] {
		t.Error("the trunk starts from the control_init draw")
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0", "level_1")
	trunk, err := prune.LoadMasks(filepath.Join(root, masksFile))
	if err != nil {
		t.Fatal(err)
	}
	byBranch := map[string]results.Result{}
	for _, r := range rs[2:] {
		byBranch[r.Branch] = r
		if r.Level != 1 || r.Method != "imp/"+r.Branch || r.Density != trunk.Density() {
			t.Errorf("branch %s: level %d, method %s, density %v", r.Branch, r.Level, r.Method, r.Density)
		}
		m, err := prune.LoadMasks(filepath.Join(root, "branch_"+r.Branch, masksFile))
		if err != nil {
			t.Fatal(err)
		}
		if r.Branch == BranchRandomPrune {
			if m.Equal(trunk) || !slices.Equal(m.KeptCounts(), trunk.KeptCounts()) {
				t.Errorf("random_prune: counts %v (trunk %v), equal mask %v", m.KeptCounts(), trunk.KeptCounts(), m.Equal(trunk))
			}
		} else if !m.Equal(trunk) {
			t.Errorf("branch %s does not keep the level's mask", r.Branch)
		}
	}
	// 3 epochs of 72/12 = 6 iterations, times FLOPs_dense / FLOPs_pruned,
	// floored in epochs.
	p, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	factor := scratchFactor(p.Arch, trunk, nil)
	if want := 6 * int(math.Floor(3*factor)); byBranch[BranchScratchB].Iterations != want || byBranch[BranchScratchE].Iterations != 18 || factor <= 1 {
		t.Errorf("scratch_b trains %d iterations (factor %v), want %d; scratch_e %d, want 18",
			byBranch[BranchScratchB].Iterations, factor, want, byBranch[BranchScratchE].Iterations)
	}
}
