package pipelines

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/prune"
)

// TestGrokMetrics checks t_mem, t_grok, the delay and grokked on
// histories small enough to read: the first evaluation at or above each
// threshold, NaN when none is.
func TestGrokMetrics(t *testing.T) {
	pt := func(it int, trainAcc, testAcc float64) train.EvalPoint {
		p := train.NewEvalPoint(it)
		p.TrainAcc, p.TestAcc = trainAcc, testAcc
		return p
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name                 string
		points               []train.EvalPoint
		tMem, tGrok, grokked float64
	}{
		{"groks", []train.EvalPoint{pt(100, 0.5, 0.01), pt(200, 0.99, 0.02), pt(300, 1, 0.94), pt(400, 1, 0.95), pt(500, 1, 0.2)}, 200, 400, 1},
		{"never generalizes", []train.EvalPoint{pt(100, 0.98, 0.1), pt(200, 1, 0.5)}, 200, nan, 0},
		{"never memorizes", []train.EvalPoint{pt(100, 0.5, 0.01), pt(200, 0.9, 0.02)}, nan, nan, 0},
		{"generalizes first", []train.EvalPoint{pt(100, 0.9, 0.96), pt(200, 1, 1)}, 200, 100, 1},
		{"no training accuracy", []train.EvalPoint{pt(100, nan, 0.96)}, nan, 100, 1},
	} {
		m := grokMetrics(tc.points, 0.99, 0.95)
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if !same(m["t_mem"], tc.tMem) || !same(m["t_grok"], tc.tGrok) || !same(m["delay"], tc.tGrok-tc.tMem) || m["grokked"] != tc.grokked {
			t.Errorf("%s: %v; want t_mem %v, t_grok %v, delay %v, grokked %v", tc.name, m, tc.tMem, tc.tGrok, tc.tGrok-tc.tMem, tc.grokked)
		}
	}
}

// grokkingSpec is the Grokking Tickets MLP on (a + b) mod 67 at the paper
// config's recipe, with a budget of budget iterations.
func grokkingSpec(t testing.TB, budget string) experiments.Spec {
	t.Helper()
	s, err := experiments.DefaultsFor("grokking")
	if err != nil {
		t.Fatal(err)
	}
	s.Dataset = experiments.DatasetSpec{Name: "modular", Augment: "default", Encoding: "sum"}
	s.Model = experiments.ModelSpec{Name: "grokking-mlp", WidthMultiplier: 1}
	s.Training.Steps, s.Training.BatchSize, s.Training.EvalEvery, s.Training.EvalTrain = budget, 911, "10it", true
	s.Training.Optimizer, s.Training.LR, s.Training.Beta2, s.Training.WeightDecay = "adamw", 1e-3, 0.98, 1
	s.Output = t.TempDir()
	return s
}

// TestGrokkingTicketCounts checks the tickets of the paper's four ratios
// on the 115,000-weight MLP: exactly round((1 − ratio) · 115,000) weights
// kept (69,000, 46,000, 21,850 and 11,500), and they are the largest in
// magnitude.
func TestGrokkingTicketCounts(t *testing.T) {
	s := grokkingSpec(t, "10it")
	p, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	total := 0
	for _, prm := range p.Net.Params() {
		w[prm.Info().Name] = prm.Values()
		total += prm.Info().Size()
	}
	if total != 115_000 {
		t.Fatalf("%d parameters, want 115,000", total)
	}
	for _, tc := range []struct {
		ratio float64
		kept  int
	}{{0.4, 69_000}, {0.6, 46_000}, {0.81, 21_850}, {0.9, 11_500}} {
		d, err := ratioDensity(tc.ratio)
		if err != nil {
			t.Fatal(err)
		}
		m, err := magnitudeMasks(p, w, d)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kept() != tc.kept {
			t.Errorf("ratio %v: %d kept, want %d", tc.ratio, m.Kept(), tc.kept)
		}
		minKept, maxPruned := math.Inf(1), 0.0
		for name, v := range w {
			for i, x := range v {
				a := math.Abs(float64(x))
				if m.M[name][i] != 0 {
					minKept = math.Min(minKept, a)
				} else {
					maxPruned = math.Max(maxPruned, a)
				}
			}
		}
		if minKept < maxPruned {
			t.Errorf("ratio %v: a kept weight of magnitude %v is smaller than a pruned one of %v", tc.ratio, minKept, maxPruned)
		}
	}
}

// TestGrokkingPipeline runs the pipeline on a small modular task with
// every control and checks what each unit starts from, bit for bit: the
// ticket and the no-decay run start at θ0 ⊙ m (θ0 the base run's start), the
// memorization ticket at θ0 ⊙ m' with m' the magnitude mask of the weights
// saved at t_mem, the norm controls at s·θ0 with the ticket's L1 (L2) norm,
// and the pruning-at-initialization controls at θ0 under a mask of the
// ticket's kept count.
func TestGrokkingPipeline(t *testing.T) {
	s := grokkingSpec(t, "40it")
	s.Dataset.Modulus = 11 // 66 pairs, 26 for training
	s.Model.Widths = []int{12, 6}
	s.Training.BatchSize, s.Training.LR = 26, 0.01
	edit(t, &s, func(c *grokkingPipeline) {
		c.Grokking.Ratios = []float64{0.5, 0.8}
		c.Grokking.Controls = grokkingControls.Names()
		c.Grokking.ControlRatios = []float64{0.5}
		c.Grokking.NoDecayRatios = []float64{0.8}
		c.Grokking.MemAcc = 0.3 // reached early in 40 steps
	})
	type unit struct {
		level  int
		branch string
	}
	start := map[unit]map[string][]float32{}
	watch := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			k := unit{u.Level, u.Branch}
			if _, seen := start[k]; seen || e.Phase != train.AfterGradients {
				return nil
			}
			w := map[string][]float32{}
			for _, prm := range e.Net.Params() {
				w[prm.Info().Name] = slices.Clone(prm.Values())
			}
			start[k] = w
			return nil
		}}, func() {}
	}
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	controls := grokkingControls.Names()
	if len(rs) != 3+len(controls)+1 {
		t.Fatalf("%d results, want the base, 2 tickets, %d controls and no_decay", len(rs), len(controls))
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0")
	theta0 := start[unit{0, ""}]
	masksOf := func(dir string) *prune.Masks {
		m, err := prune.LoadMasks(filepath.Join(root, dir, masksFile))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// underMask says whether w is θ0 ⊙ m bit for bit.
	underMask := func(w map[string][]float32, m *prune.Masks) bool {
		for name, v := range theta0 {
			for i, x := range v {
				if want := x * m.M[name][i]; w[name][i] != want {
					return false
				}
			}
		}
		return true
	}
	ticket := map[int]*prune.Masks{1: masksOf("level_1"), 2: masksOf("level_2")}
	for level, m := range ticket {
		if !underMask(start[unit{level, ""}], m) {
			t.Errorf("level %d does not start at θ0 under its mask", level)
		}
	}
	if got, want := ticket[1].Kept(), int(math.Round(0.5*float64(ticket[1].Size()))); got != want {
		t.Errorf("ratio 0.5 keeps %d of %d, want %d", got, ticket[1].Size(), want)
	}
	if !underMask(start[unit{2, branchNoDecay}], ticket[2]) || !masksOf("level_2/branch_no_decay").Equal(ticket[2]) {
		t.Error("no_decay does not train the ticket's mask from θ0")
	}
	mem, err := readWeights(filepath.Join(root, "level_0", memorizationFile), "memorization weights", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	memMask, err := magnitudeMasks(p, mem, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if memMask.Equal(ticket[1]) {
		t.Error("the memorization-stage mask equals the final-weights mask: the test cannot tell them apart")
	}
	if !underMask(start[unit{1, "memorization"}], memMask) || !masksOf("level_1/branch_memorization").Equal(memMask) {
		t.Error("the memorization control does not start at θ0 under the magnitude mask of the weights at t_mem")
	}
	for _, name := range []string{"random", "snip", "grasp", "synflow"} {
		m := masksOf("level_1/branch_" + name)
		if m.Kept() != ticket[1].Kept() || !underMask(start[unit{1, name}], m) {
			t.Errorf("%s keeps %d (ticket %d), or does not start at θ0 under its mask", name, m.Kept(), ticket[1].Kept())
		}
	}
	for pNorm, name := range map[int]string{1: "l1_norm", 2: "l2_norm"} {
		w := start[unit{1, name}]
		var kept, got float64
		for k, v := range theta0 {
			for i, x := range v {
				a, b := math.Abs(float64(x)), math.Abs(float64(w[k][i]))
				if pNorm == 2 {
					a, b = a*a, b*b
				}
				got += b
				if ticket[1].M[k][i] != 0 {
					kept += a
				}
			}
		}
		if math.Abs(got-kept) > 1e-5*kept {
			t.Errorf("%s starts with norm^%d %v, the ticket's is %v", name, pNorm, got, kept)
		}
	}
	methods := map[string]bool{}
	for _, r := range rs {
		methods[r.Method] = true
		for _, k := range []string{"t_mem", "t_grok", "delay", "grokked"} {
			if _, ok := r.Metrics[k]; !ok {
				t.Errorf("%s at level %d: no metric %s in %v", r.Method, r.Level, k, r.Metrics)
			}
		}
		if _, ok := r.Metrics["norm_scale"]; ok != strings.HasPrefix(r.Method, "dense_l") {
			t.Errorf("%s: norm_scale recorded %v", r.Method, ok)
		}
		if len(r.Curve) != 4 || r.Curve[3].Step != 40 || math.IsNaN(r.Curve[3].TrainAcc) {
			t.Errorf("%s at level %d: curve %v, want 4 points to step 40 with training accuracy", r.Method, r.Level, r.Curve)
		}
		if r.Level == 0 && r.Density != 1 || strings.HasPrefix(r.Method, "dense_l") && r.Density != 1 {
			t.Errorf("%s at level %d has density %v, want 1", r.Method, r.Level, r.Density)
		}
	}
	for _, m := range []string{"dense", "ticket", "dense_l1", "dense_l2", "random", "snip", "grasp", "synflow", "ticket/memorization", "ticket/no_decay"} {
		if !methods[m] {
			t.Errorf("no result of method %s (have %v)", m, methods)
		}
	}
}

// TestGrokkingMemorizationStep checks that grokking.memorization_step
// saves the base run's weights after that step, bit for bit, and that the
// memorization control prunes those.
func TestGrokkingMemorizationStep(t *testing.T) {
	s := grokkingSpec(t, "30it")
	s.Dataset.Modulus = 11
	s.Model.Widths = []int{12, 6}
	s.Training.BatchSize, s.Training.LR = 26, 0.01
	edit(t, &s, func(c *grokkingPipeline) {
		c.Grokking.Ratios = []float64{0.5}
		c.Grokking.Controls = []string{"memorization"}
		c.Grokking.MemStep = "20it"
	})
	var at20 map[string][]float32
	watch := func(u experiments.UnitInfo) ([]experiments.Callback, func()) {
		return []experiments.Callback{func(e *train.Event) error {
			if u.Level == 0 && e.Phase == train.AfterStep && e.Iter == 20 {
				at20 = map[string][]float32{}
				for _, prm := range e.Net.Params() {
					at20[prm.Info().Name] = slices.Clone(prm.Values())
				}
			}
			return nil
		}}, func() {}
	}
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{Watch: watch}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(s.Output, experiments.Hash(s), "replicate_0")
	saved, err := readWeights(filepath.Join(root, "level_0", memorizationFile), "memorization weights", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range at20 {
		if !slices.Equal(saved[name], v) {
			t.Fatalf("%s: the saved weights are not those after step 20", name)
		}
	}
	p, err := experiments.Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := magnitudeMasks(p, at20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := prune.LoadMasks(filepath.Join(root, "level_1", "branch_memorization", masksFile))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Error("the memorization control's mask is not the magnitude mask of the weights after step 20")
	}
}

// TestGrokkingValidate checks the errors of the grokking section: each
// names the key and what it accepts.
func TestGrokkingValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*experiments.Spec, *grokkingKeys)
		want   string
	}{
		{"no eval_train", func(s *experiments.Spec, _ *grokkingKeys) { s.Training.EvalTrain = false }, "training.eval_train: true"},
		{"no ratios", func(_ *experiments.Spec, g *grokkingKeys) { g.Ratios = nil }, "grokking.ratios is empty"},
		{"ratio 1", func(_ *experiments.Spec, g *grokkingKeys) { g.Ratios = []float64{0.5, 1} }, "grokking.ratios[1]"},
		{"ratio twice", func(_ *experiments.Spec, g *grokkingKeys) { g.Ratios = []float64{0.5, 0.5} }, "lists 0.5 twice"},
		{"control ratio", func(_ *experiments.Spec, g *grokkingKeys) { g.ControlRatios = []float64{0.7} }, "grokking.control_ratios[0] = 0.7 is not one of grokking.ratios"},
		{"no-decay ratio", func(_ *experiments.Spec, g *grokkingKeys) { g.NoDecayRatios = []float64{0.3} }, "grokking.no_decay_ratios[0] = 0.3"},
		{"unknown control", func(_ *experiments.Spec, g *grokkingKeys) { g.Controls = []string{"snipp"} }, `grokking.controls[0]: unknown grokking control "snipp"`},
		{"control twice", func(_ *experiments.Spec, g *grokkingKeys) { g.Controls = []string{"snip", "snip"} }, "lists snip twice"},
		{"memorization step", func(_ *experiments.Spec, g *grokkingKeys) { g.MemStep = "11it" }, "grokking.memorization_step = 11it: want a step inside the training budget 10it"},
		{"memorization step syntax", func(_ *experiments.Spec, g *grokkingKeys) { g.MemStep = "ten" }, "grokking.memorization_step:"},
		{"mem_acc", func(_ *experiments.Spec, g *grokkingKeys) { g.MemAcc = 0 }, "grokking.mem_acc = 0: want an accuracy in (0, 1]"},
		{"grok_acc", func(_ *experiments.Spec, g *grokkingKeys) { g.GrokAcc = 1.5 }, "grokking.grok_acc = 1.5"},
	} {
		s := grokkingSpec(t, "10it")
		edit(t, &s, func(c *grokkingPipeline) { tc.change(&s, &c.Grokking) })
		_, err := experiments.Validate(s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
