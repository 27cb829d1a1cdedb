package pipelines

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/prune"
)

// nmIMPSpec is a tiny one-shot imp spec with pattern n:m and no amount key.
func nmIMPSpec(t *testing.T, nKeep, m int) experiments.Spec {
	s := tinySpec(t, "imp")
	edit(t, &s, func(c *impPipeline) {
		c.Prune.Pattern, c.Prune.N, c.Prune.M = "nm", nKeep, m
	})
	s.Output = t.TempDir()
	return s
}

// nmPAISpec is a tiny pai spec with pattern n:m and no amount key.
func nmPAISpec(t *testing.T, criterion string, nKeep, m int) experiments.Spec {
	s := tinySpec(t, "pai")
	edit(t, &s, func(c *paiPipeline) {
		c.Prune.Criterion = criterion
		c.Prune.DataExamples = 40
		c.Prune.Pattern, c.Prune.N, c.Prune.M = "nm", nKeep, m
	})
	s.Output = t.TempDir()
	return s
}

// countGroups checks a [out, in] mask by hand, independently of
// prune.NM.Verify: every group of m consecutive entries of a row keeps
// exactly want.
func countGroups(t *testing.T, name string, shape []int, mask []float32, m, want int) {
	t.Helper()
	if len(shape) != 2 || shape[1]%m != 0 {
		t.Fatalf("%s %v: want a linear weight whose rows are multiples of %d", name, shape, m)
	}
	for row := range shape[0] {
		for g := 0; g < shape[1]; g += m {
			k := 0
			for _, v := range mask[row*shape[1]+g : row*shape[1]+g+m] {
				if v == 1 {
					k++
				}
			}
			if k != want {
				t.Errorf("%s row %d, entries %d…%d: %d kept, want %d", name, row, g, g+m-1, k, want)
			}
		}
	}
}

// TestNMPipelines runs imp one-shot and pai snip with 2:4 on the tiny MLP
// (36-16-3, rows of 36 and 16): every group of 4 consecutive input weights
// keeps exactly 2, the recorded density is 312/624, imp keeps the two
// largest |θT| of level 0's final weights in each group, and the trained
// weights are zero where pruned.
func TestNMPipelines(t *testing.T) {
	nm := prune.NM{N: 2, M: 4}
	for _, tc := range []struct {
		name   string
		spec   experiments.Spec
		level  int
		method string
	}{
		{"imp oneshot", nmIMPSpec(t, 2, 4), 1, "oneshot"},
		{"pai snip", nmPAISpec(t, "snip", 2, 4), 0, "snip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			if _, err := experiments.Validate(s); err != nil {
				t.Fatal(err)
			}
			rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[len(rs)-1]
			if r.Level != tc.level || r.Method != tc.method || r.Density != 312.0/624 {
				t.Errorf("level %d method %s density %v, want %d %s %v", r.Level, r.Method, r.Density, tc.level, tc.method, 312.0/624)
			}
			if r.ParamsNonzero > 312+19 {
				t.Errorf("%d nonzero parameters, at most 312 weights and 19 biases are kept", r.ParamsNonzero)
			}
			rep := replicateOf(s, 0)
			masks, err := prune.LoadMasks(filepath.Join(rep.UnitDir(tc.level, ""), masksFile))
			if err != nil {
				t.Fatal(err)
			}
			p, err := experiments.Prepare(s)
			if err != nil {
				t.Fatal(err)
			}
			set, err := prunableSet(p.Arch, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(set) != 2 {
				t.Fatalf("prunable set %v", set)
			}
			for _, ti := range set {
				countGroups(t, ti.Name, ti.Shape, masks.M[ti.Name], 4, 2)
			}
			if err := nm.VerifyMasks(set, masks); err != nil {
				t.Error(err)
			}
			if tc.level == 1 {
				final, err := finalWeights(rep, 0)
				if err != nil {
					t.Fatal(err)
				}
				scores := make([][]float32, len(set))
				for i, ti := range set {
					for _, v := range final[ti.Name] {
						scores[i] = append(scores[i], max(v, -v))
					}
				}
				want, err := prune.NMMasks(set, nm, scores, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !want.Equal(masks) {
					t.Error("imp's n:m mask is not the two largest |θT| of each group of level 0's final weights")
				}
			}
		})
	}
}

// TestNMDensityIsKeptFraction: under 3:8 the rows of 36 end in a partial
// group of 4 that keeps ceil(3·4/8) = 2, so the recorded density is the
// actual kept fraction (16·14 + 3·6) / 624 = 242/624, not 3/8. A density
// key that says 3/8 is accepted (it agrees with n/m), and the result is the
// same run's density.
func TestNMDensityIsKeptFraction(t *testing.T) {
	s := nmPAISpec(t, "magnitude", 3, 8)
	edit(t, &s, func(c *paiPipeline) { c.Prune.Density = f(0.375) })
	rs, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 242.0 / 624; rs[0].Density != want {
		t.Errorf("density %v, want %v (the kept fraction)", rs[0].Density, want)
	}
}

// TestNMConv runs pai with magnitude and with random scores at 2:4 on a
// small Conv-2 (3 input channels, 8 channels after): the groups run along
// the input channels at each kernel position (conv1's fibers of 3 keep 2),
// and the recorded density is the kept fraction.
func TestNMConv(t *testing.T) {
	for _, crit := range []string{"magnitude", "random", "synflow"} {
		t.Run(crit, func(t *testing.T) {
			s := nmPAISpec(t, crit, 2, 4)
			s.Dataset.Shape = []int{3, 8, 8}
			s.Model = experiments.ModelSpec{Name: "conv2", WidthMultiplier: 0.125}
			p, err := experiments.Prepare(s)
			if err != nil {
				t.Fatal(err)
			}
			masks, err := s.Config.(paiPipeline).masks(p)
			if err != nil {
				t.Fatal(err)
			}
			set, err := prunableSet(p.Arch, nil)
			if err != nil {
				t.Fatal(err)
			}
			nm := prune.NM{N: 2, M: 4}
			if err := nm.VerifyMasks(set, masks); err != nil {
				t.Error(err)
			}
			kept, size := 0, 0
			for _, ti := range set {
				k, err := nm.Kept(ti.Shape)
				if err != nil {
					t.Fatal(err)
				}
				kept += k
				size += ti.Size()
			}
			if masks.Kept() != kept || masks.Size() != size {
				t.Errorf("kept %d of %d, want %d of %d", masks.Kept(), masks.Size(), kept, size)
			}
			// conv1 [8, 3, 3, 3]: at each output channel and kernel
			// position, 2 of the 3 input channels.
			c1 := masks.M["conv1.weight"]
			for o := range 8 {
				for pos := range 9 {
					k := 0
					for c := range 3 {
						k += int(c1[(o*3+c)*9+pos])
					}
					if k != 2 {
						t.Errorf("conv1 output %d position %d keeps %d input channels, want 2", o, pos, k)
					}
				}
			}
		})
	}
}

// TestNMValidate: the pattern keys' errors name the keys, an amount that
// disagrees with n/m is refused, the settings that do not apply to n:m are
// refused, and a pipeline without n:m refuses the key by name.
func TestNMValidate(t *testing.T) {
	type impEdit = func(*impPipeline)
	type paiEdit = func(*paiPipeline)
	cases := []struct {
		name string
		imp  impEdit
		pai  paiEdit
		want string // "" accepts
	}{
		{"unknown pattern", func(c *impPipeline) { c.Prune.Pattern = "2:4" }, func(c *paiPipeline) { c.Prune.Pattern = "2:4" }, `prune.pattern = "2:4": want unstructured or nm`},
		{"n without nm", func(c *impPipeline) { c.Prune.Density, c.Prune.Pattern, c.Prune.M = f(0.5), "", 0 }, func(c *paiPipeline) { c.Prune.Density, c.Prune.Pattern, c.Prune.M = f(0.5), "", 0 }, "prune.n and prune.m are the group of prune.pattern: nm"},
		{"m without nm", func(c *impPipeline) { c.Prune.Density, c.Prune.Pattern, c.Prune.N = f(0.5), "unstructured", 0 }, func(c *paiPipeline) { c.Prune.Density, c.Prune.Pattern, c.Prune.N = f(0.5), "unstructured", 0 }, "prune.n and prune.m"},
		{"n = 0", func(c *impPipeline) { c.Prune.N = 0 }, func(c *paiPipeline) { c.Prune.N = 0 }, "prune.n = 0"},
		{"m unset", func(c *impPipeline) { c.Prune.M = 0 }, func(c *paiPipeline) { c.Prune.M = 0 }, "prune.m = 0"},
		{"m = 1", func(c *impPipeline) { c.Prune.N, c.Prune.M = 1, 1 }, func(c *paiPipeline) { c.Prune.N, c.Prune.M = 1, 1 }, "prune.m = 1"},
		{"n = m", func(c *impPipeline) { c.Prune.N = 4 }, func(c *paiPipeline) { c.Prune.N = 4 }, "want prune.n < prune.m"},
		{"n > m", func(c *impPipeline) { c.Prune.N = 5 }, func(c *paiPipeline) { c.Prune.N = 5 }, "want prune.n < prune.m"},
		{"density that disagrees", func(c *impPipeline) { c.Prune.Density = f(0.25) }, func(c *paiPipeline) { c.Prune.Density = f(0.25) }, "prune.density gives density 0.25, but prune.pattern nm with prune.n = 2, prune.m = 4 keeps n/m = 0.5"},
		{"sparsity that disagrees", func(c *impPipeline) { c.Prune.Sparsity = f(0.9) }, func(c *paiPipeline) { c.Prune.Sparsity = f(0.9) }, "prune.sparsity gives density 0.1"},
		{"density that agrees", func(c *impPipeline) { c.Prune.Density = f(0.5) }, func(c *paiPipeline) { c.Prune.Density = f(0.5) }, ""},
		{"sparsity that agrees", func(c *impPipeline) { c.Prune.Sparsity = f(0.5) }, func(c *paiPipeline) { c.Prune.Sparsity = f(0.5) }, ""},
		{"compression that agrees", func(c *impPipeline) { c.Prune.Compression = f(2) }, func(c *paiPipeline) { c.Prune.Compression = f(2) }, ""},
		{"log10_compression that agrees", func(c *impPipeline) { c.Prune.Log10Compression = f(0.3010299956639812) }, func(c *paiPipeline) { c.Prune.Log10Compression = f(0.3010299956639812) }, ""},
		{"log10_compression that disagrees", func(c *impPipeline) { c.Prune.Log10Compression = f(0.301) }, func(c *paiPipeline) { c.Prune.Log10Compression = f(0.301) }, "prune.log10_compression gives density"},
		{"scope", func(c *impPipeline) { c.Prune.Scope = "layerwise" }, func(c *paiPipeline) { c.Prune.Scope = "global" }, "prune.scope"},
		{"invalid amount first", func(c *impPipeline) { c.Prune.Density = f(0) }, func(c *paiPipeline) { c.Prune.Density = f(2) }, "prune.density"},
	}
	for _, tc := range cases {
		s := nmIMPSpec(t, 2, 4)
		edit(t, &s, tc.imp)
		checkValidate(t, "imp: "+tc.name, s, tc.want)
		s = nmPAISpec(t, "magnitude", 2, 4)
		edit(t, &s, tc.pai)
		checkValidate(t, "pai: "+tc.name, s, tc.want)
	}
	// imp: one round to n:m is imp; more rounds, output_rate are refused.
	for _, tc := range []struct {
		name string
		edit impEdit
		want string
	}{
		{"one round", func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds = f(0.5), n(1) }, ""},
		{"one round at another rate", func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds = f(0.2), n(1) }, "prune.imp_rate gives density 0.8"},
		{"two rounds", func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds = f(0.5), n(2) }, "prune.imp_rounds = 2 with prune.pattern nm: IMP prunes to n:m (2:4) in its first round"},
		{"zero rounds", func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds = f(0.5), n(0) }, "prune.imp_rounds = 0"},
		{"output rate", func(c *impPipeline) { c.Prune.IMPRate, c.Prune.IMPRounds, c.Prune.OutputRate = f(0.5), n(1), f(0.25) }, "prune.output_rate does not apply to prune.pattern nm"},
	} {
		s := nmIMPSpec(t, 2, 4)
		edit(t, &s, tc.edit)
		checkValidate(t, "imp: "+tc.name, s, tc.want)
	}
	// pai: one scoring pass.
	for _, tc := range []struct {
		name string
		edit paiEdit
		want string
	}{
		{"synflow at its default iterations", func(c *paiPipeline) { c.Prune.Criterion = "synflow" }, ""},
		{"one iteration", func(c *paiPipeline) { c.Prune.Iterations = 1 }, ""},
		{"iterations", func(c *paiPipeline) { c.Prune.Criterion, c.Prune.Iterations = "synflow", 100 }, "prune.iterations = 100 with prune.pattern nm"},
		{"allow_empty", func(c *paiPipeline) { c.Prune.AllowEmpty = true }, "prune.allow_empty does not apply to prune.pattern nm"},
		{"no amount and no pattern", func(c *paiPipeline) { c.Prune.Pattern, c.Prune.N, c.Prune.M = "", 0, 0 }, "pipeline pai needs an amount of pruning"},
	} {
		s := nmPAISpec(t, "magnitude", 2, 4)
		edit(t, &s, tc.edit)
		checkValidate(t, "pai: "+tc.name, s, tc.want)
	}
	// A spec file with the keys, read back: imp accepts, and the method of
	// one round is imp.
	s := reparse(t, tinySpec(t, "imp"), "prune.pattern=nm", "prune.n=1", "prune.m=4")
	if _, err := experiments.Validate(s); err != nil {
		t.Errorf("imp with --set prune.pattern=nm: %v", err)
	}
	if c := s.Config.(impPipeline); c.Prune.N != 1 || c.Prune.M != 4 || c.method() != "oneshot" || c.levels() != 1 {
		t.Errorf("parsed %+v: method %s, %d levels", c.Prune.patternKeys, c.method(), c.levels())
	}
	// Pipelines without n:m refuse the keys by name.
	for _, pl := range []string{"gmp", "bip", "train"} {
		_, err := experiments.Validate(reparse(t, tinySpec(t, pl), "prune.pattern=nm"))
		if want := "pipeline " + pl + " does not read prune.pattern (remove it, or use pipeline imp or pai)"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with prune.pattern=nm: %v, want %q", pl, err, want)
		}
	}
}

func checkValidate(t *testing.T, name string, s experiments.Spec, want string) {
	t.Helper()
	_, err := experiments.Validate(s)
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", name, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: error %v, want one containing %q", name, err, want)
	}
}

// TestNMKeysKeepRunNames: the pattern keys at their defaults, or the
// default written out, leave the canonical form and the run name as they
// were; pattern nm names a run of its own.
func TestNMKeysKeepRunNames(t *testing.T) {
	for _, pl := range []string{"imp", "pai"} {
		s := tinySpec(t, pl)
		h := experiments.Hash(s)
		for k := range experiments.Canonical(s) {
			if k == "prune.pattern" || k == "prune.n" || k == "prune.m" {
				t.Errorf("%s at defaults: canonical form holds %s", pl, k)
			}
		}
		if got := experiments.Hash(reparse(t, s, "prune.pattern=unstructured")); got != h {
			t.Errorf("%s: prune.pattern: unstructured renames the run %s → %s", pl, h, got)
		}
		if got := experiments.Hash(reparse(t, s, "prune.pattern=nm", "prune.n=2", "prune.m=4")); got == h {
			t.Errorf("%s: pattern nm shares the run name %s", pl, h)
		}
	}
}
