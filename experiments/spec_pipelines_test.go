package experiments_test

import (
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines"
	_ "github.com/prunebench/prunebench/nn/native"
)

// These tests need the registered pipelines, which live in a package that
// imports this one, hence the external test package.

func parse(t *testing.T, yaml string, sets ...string) experiments.Spec {
	t.Helper()
	s, err := experiments.ParseSpec("t.yaml", []byte(yaml), sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHashGolden pins run names. If this fails, a change renamed existing
// runs: their folders and results no longer match their specs. Give a new
// option a default that has no effect instead (OpenLTH's rule).
func TestHashGolden(t *testing.T) {
	cases := []struct {
		name string
		s    experiments.Spec
		want string
	}{
		{"defaults", experiments.Defaults(), "44136fa355b3"},
		{"lenet5", parse(t, "model: {name: lenet5}\ntraining: {steps: 20ep}\n"), "6556c57d8c39"},
		{"sgd", parse(t, "training: {optimizer: sgd, lr: 0.1, momentum: 0.9, milestones: [80ep, 120ep]}\nseed: 3\noutput: elsewhere\n"), "d68872da61ab"},
		// One-shot magnitude pruning at sparsity 0.9. (Until the pipelines
		// owned their keys this case was pipeline train with
		// prune.sparsity, which train never read, pinned as 61aa0f5dce4e;
		// that spec is now refused.)
		{"sparse", parse(t, "pipeline: imp\nprune: {sparsity: 0.9}\n"), "73d5ac306829"},
	}
	for _, c := range cases {
		if got := experiments.Hash(c.s); got != c.want {
			t.Errorf("Hash(%s) = %s, pinned %s (canonical form %v)", c.name, got, c.want, experiments.Canonical(c.s))
		}
	}
}

func TestValidateBeforeTraining(t *testing.T) {
	cases := []struct {
		sets []string
		want string
	}{
		{[]string{"pipeline=imp2"}, "pipeline"},
		{[]string{"replicates=0"}, "replicates"},
		{[]string{"pipeline=pai", "prune.criterion=snip", "prune.density=0"}, "prune.density"},
		{[]string{"prune.sparsity=0.5"}, "does not read prune.sparsity"},
		{[]string{"output="}, "output"},
		{[]string{"training.lr=0"}, "training.lr = 0: want a learning rate > 0"},
		{[]string{"training.eval_every=0it"}, "training.eval_every = 0it: want an interval of at least one iteration"},
		{[]string{"training.steps=0ep"}, "training.steps = 0ep: want a training length"},
		{[]string{"training.steps=9999999999999999ep"}, "at most 1000000 epochs"},
		{[]string{"model.name=lenet6"}, `model.name: unknown model "lenet6" (did you mean "lenet5"?)`},
		{[]string{"dataset.name=mnst"}, `dataset.name: unknown data set "mnst" (did you mean "mnist"?)`},
		{[]string{"model.init=he"}, `model.init = "he": want one of kaiming_normal`},
		{[]string{"dataset.augment=maybe"}, `dataset.augment = "maybe"`},
		{[]string{"dataset.encoding=onehot"}, `dataset.encoding = "onehot": want concat or sum`},
		{[]string{"dataset.val_size=-3"}, "dataset.val_size = -3"},
		{[]string{"model.width_multiplier=0"}, "model.width_multiplier = 0"},
	}
	for _, c := range cases {
		s := parse(t, "", c.sets...)
		if _, err := experiments.Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.sets, err, c.want)
		}
	}
}

// A spec that sets keys its pipeline does not read is refused, naming the
// first of them in sorted order (every time: no map order) and the
// pipelines that read it; those keys never enter the run name.
func TestStrayKeys(t *testing.T) {
	const imp = "pipeline: imp\nprune: {imp_rate: 0.2, imp_rounds: 2}\n"
	stray := imp + "bip: {lr: 0.5}\njackpot: {steps: 3ep}\nrps: {mapper: roast}\n"
	for range 5 {
		_, err := experiments.Validate(parse(t, stray))
		if err == nil || err.Error() != "pipeline imp does not read bip.lr (remove it, or use pipeline bip)" {
			t.Fatalf("error %v", err)
		}
	}
	// Before pipelines owned their keys, the stray keys renamed this run
	// (28e96857d3ec in the issue that fixed it).
	if a, b := experiments.Hash(parse(t, stray)), experiments.Hash(parse(t, imp)); a != b || b != "5a2fe1c0070b" {
		t.Errorf("stray keys renamed the run: %s, without them %s, pinned 5a2fe1c0070b", a, b)
	}
	// A key read by several pipelines names them all.
	_, err := experiments.Validate(parse(t, "prune: {scope: layerwise, branches: [scratch_e]}\n"))
	if err == nil || !strings.Contains(err.Error(), "pipeline train does not read prune.branches (remove it, or use pipeline dst, gmp, granet, imp or pai)") {
		t.Errorf("error %v", err)
	}
	// A stray key at its default changes nothing and is accepted.
	if _, err := experiments.Validate(parse(t, imp, "bip.mode=clean")); err != nil {
		t.Errorf("a stray key at its default: %v", err)
	}
}

// In a sweep, a key set for every point is dropped from the points whose
// pipeline does not read it, so those points keep the name they have
// without it, and the sweep says so once. A key set at some points only is
// kept where it is set, and a point that does not read it is refused.
func TestSweepDropsUnreadBaseKeys(t *testing.T) {
	doc := `
bip: {steps: 1ep}
prune: {density: 0.5, criterion: snip}
training: {steps: 2ep}
sweep:
  pipeline: [imp, bip, pai]
  seed: [0, 1, 2]
`
	sw, err := experiments.ParseSweep("s.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "bip.steps applies to 3 of 9 points; prune.criterion applies to 3 of 9 points"
	if got := strings.Join(sw.Notes, "; "); got != want {
		t.Errorf("notes %q, want %q", got, want)
	}
	if len(sw.Specs) != 9 {
		t.Fatalf("%d points, want 9", len(sw.Specs))
	}
	for _, s := range sw.Specs {
		if _, err := experiments.Validate(s); err != nil {
			t.Errorf("%s point: %v", s.Pipeline, err)
		}
	}
	// The imp points have the names of the imp spec without the keys.
	imp := parse(t, "pipeline: imp\nprune: {density: 0.5}\ntraining: {steps: 2ep}\n")
	if s := sw.Specs[0]; s.Pipeline != "imp" || s.Seed != 0 || experiments.Hash(s) != experiments.Hash(imp) {
		t.Errorf("imp point %s (%v), the same spec without the unread keys %s", experiments.Hash(s), experiments.Canonical(s), experiments.Hash(imp))
	}

	zip := `
prune: {density: 0.5}
sweep_mode: zip
sweep:
  pipeline: [imp, pai, train]
  prune.criterion: [snip, snip, null]
`
	if sw, err = experiments.ParseSweep("z.yaml", []byte(zip), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sw.Notes, "; "); got != "prune.density applies to 2 of 3 points" {
		t.Errorf("notes %q", got)
	}
	for i, want := range []string{"pipeline imp does not read prune.criterion", "", ""} {
		_, err := experiments.Validate(sw.Specs[i])
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("point %d (%s): error %v, want %q", i, sw.Specs[i].Pipeline, err, want)
		}
	}
}

// TestParseSweepNull: a null value leaves the key unset at that point, so a
// zip sweep can hold a dense baseline next to pruned runs.
func TestParseSweepNull(t *testing.T) {
	doc := []byte(`
sweep_mode: zip
sweep:
  pipeline: [train, pai]
  prune.criterion: [null, snip]
  prune.sparsity: [null, 0.95]
`)
	sw, err := experiments.ParseSweep("null.yaml", doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := sw.Specs
	if len(specs) != 2 {
		t.Fatalf("%d specs, want 2", len(specs))
	}
	if s := specs[0]; s.Pipeline != "train" || len(experiments.Canonical(s)) != 0 {
		t.Errorf("dense point: pipeline %s, canonical %v", s.Pipeline, experiments.Canonical(s))
	}
	c := experiments.Canonical(specs[1])
	if s := specs[1]; s.Pipeline != "pai" || c["prune.criterion"] != "snip" || c["prune.sparsity"] == nil || *c["prune.sparsity"].(*float64) != 0.95 {
		t.Errorf("pruned point: %v", c)
	}
	for _, s := range specs {
		if _, err := experiments.Validate(s); err != nil {
			t.Error(err)
		}
	}
	if len(sw.Notes) != 0 {
		t.Errorf("notes %v for keys set at some points only", sw.Notes)
	}
	// In product mode a null is one more value of the axis.
	sw, err = experiments.ParseSweep("null.yaml", []byte("sweep:\n  training.lr: [null, 0.5]\n"), nil)
	if err != nil || len(sw.Specs) != 2 || sw.Specs[0].Training.LR != experiments.Defaults().Training.LR || sw.Specs[1].Training.LR != 0.5 {
		t.Errorf("product with null: %d specs, err %v", len(sw.Specs), err)
	}
}

func TestFilterSweep(t *testing.T) {
	sw, err := experiments.LoadSweep("papers/snip-lenet.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		where []string
		n     int
	}{
		{nil, 6},
		{[]string{"model.name=lenet-300-100"}, 3},
		{[]string{"model.name=lenet5", "pipeline=pai"}, 2},
		{[]string{"prune.sparsity=0.980"}, 2},
		{[]string{"prune.sparsity=null"}, 2}, // the dense points, which do not read it: its default
		{[]string{"pipeline=train"}, 2},
		{[]string{"model.name=vgg16"}, 0},
	}
	for _, c := range cases {
		got, err := experiments.FilterSweep(sw.Specs, c.where)
		if err != nil || len(got) != c.n {
			t.Errorf("%v: %d runs (err %v), want %d", c.where, len(got), err, c.n)
		}
	}
	for _, bad := range []string{"model.nam=lenet5", "lenet5"} {
		if _, err := experiments.FilterSweep(sw.Specs, []string{bad}); err == nil || !strings.Contains(err.Error(), "--where") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

// Help texts list registered names from the registries, never by hand:
// every "{list}" placeholder is expanded.
func TestKeysHelp(t *testing.T) {
	keys := experiments.Keys()
	if len(keys) < 80 {
		t.Fatalf("%d keys: the pipelines are not registered", len(keys))
	}
	for _, k := range keys {
		if k.Help == "" {
			t.Errorf("%s has no help text", k.Key)
		}
		rest := strings.ReplaceAll(k.Help, "{replicate}", "")
		if strings.ContainsAny(rest, "{}") {
			t.Errorf("%s: help %q has an unexpanded list", k.Key, k.Help)
		}
	}
	help := map[string]experiments.KeyInfo{}
	for _, k := range keys {
		help[k.Key] = k
	}
	for key, names := range map[string][]string{
		"pipeline":        {"imp", "bip", "granet", "train"},
		"model.name":      {"lenet5", "resnet20", "resmlp"},
		"dataset.name":    {"mnist", "cifar10"},
		"prune.criterion": {"snip", "synflow"},
		"prune.branches":  {"scratch_b", "random_reinit"},
		"rps.mapper":      {"pareto", "roast", "hashednet"},
	} {
		for _, n := range names {
			if !strings.Contains(help[key].Help, n) {
				t.Errorf("help of %s %q does not list %s", key, help[key].Help, n)
			}
		}
	}
	if got := help["prune.branches"].Pipelines; strings.Join(got, ",") != "dst,gmp,granet,imp,pai" {
		t.Errorf("prune.branches is read by %v", got)
	}
}
