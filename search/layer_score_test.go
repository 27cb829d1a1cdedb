package search

import (
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/prune"
)

func layerNaN() float64 { return math.NaN() }

// constScores gives every weight of block b the value v[b] (weights
// outside blocks: 0).
func layerConstScores(bs *Blocks, v map[string]float32) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range WeightSet(bs.Arch) {
		s := make([]float32, p.Size())
		for _, b := range bs.Blocks {
			if slices.Contains(b.Weights, p.Name) {
				for i := range s {
					s[i] = v[b.Name]
				}
			}
		}
		out[p.Name] = s
	}
	return out
}

// TestAggregation: resmlp with stage widths 2 and 4 has 2·2·2 = 8 weights
// in a stage-1 block and 2·4·4 = 32 in an identity block of stage 2. With
// 1 per weight on layer1.1 and 0.5 on layer2.1 (2 on every other block),
// sum gives 8 < 16 and removes layer1.1; mean gives 1 > 0.5 and removes
// layer2.1.
func TestAggregation(t *testing.T) {
	bs := layerBlocks(t, layerArch(t, "resmlp", zoo.Options{Input: []int{3}, Classes: 2, Widths: []int{2, 4}}))
	v := map[string]float32{}
	for _, b := range bs.Blocks {
		v[b.Name] = 2
	}
	v["layer1.1"], v["layer2.1"] = 1, 0.5
	scores := layerConstScores(bs, v)
	for agg, want := range map[string]string{AggSum: "layer1.1", AggMean: "layer2.1"} {
		s, err := bs.AggregateBlocks(scores, agg)
		if err != nil {
			t.Fatal(err)
		}
		if agg == AggSum && (s[1] != 8 || s[6] != 16) || agg == AggMean && (s[1] != 1 || s[6] != 0.5) {
			t.Errorf("%s: scores %v", agg, s)
		}
		rm, err := bs.SelectRemoval(s, 1, RemovableUtility)
		if err != nil {
			t.Fatal(err)
		}
		if got := bs.Names(rm); !slices.Equal(got, []string{want}) {
			t.Errorf("%s removes %v, want %s", agg, got, want)
		}
	}
}

// fakeCriterion returns fixed scores, standing for θ ⊙ Hg.
type fakeCriterion struct{ s map[string][]float32 }

func (fakeCriterion) Name() string       { return "fake" }
func (fakeCriterion) Needs() prune.Needs { return prune.Needs{Iterations: 1} }
func (f fakeCriterion) Scores(ctx prune.ScoreContext) ([][]float32, error) {
	out := make([][]float32, len(ctx.Set))
	for i, p := range ctx.Set {
		out[i] = f.s[p.Name]
	}
	return out, nil
}

// TestGraSPOrientation: block scores keep the criterion's signed values
// (θ ⊙ Hg for GraSP), so the block with the most negative aggregate goes
// first, not the one with the largest magnitude.
func TestGraSPOrientation(t *testing.T) {
	bs := layerBlocks(t, layerArch(t, "resmlp", zoo.Options{Input: []int{3}, Classes: 2, Widths: []int{2, 2}}))
	v := map[string]float32{"layer1.2": -0.5, "layer2.3": 3, "layer1.4": -0.25}
	s, err := ScoreBlocksAtInit(prune.ScoreContext{}, fakeCriterion{layerConstScores(bs, v)}, bs, AggSum)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := bs.SelectRemoval(s, 2, RemovableUtility)
	if err != nil {
		t.Fatal(err)
	}
	if got := bs.Names(rm); !slices.Equal(got, []string{"layer1.2", "layer1.4"}) {
		t.Errorf("removed %v (scores %v), want layer1.2 then layer1.4", got, s)
	}
}

// TestScoreAtInitEngine scores a small resmlp with the real SNIP and GraSP
// on the native engine: every block gets a finite score, SNIP's are ≥ 0,
// and each block score is the sum of the criterion's weight scores over
// the block's two weight tensors.
func TestScoreAtInitEngine(t *testing.T) {
	arch := layerArch(t, "resmlp", zoo.Options{Input: []int{6}, Classes: 3, Widths: []int{4, 6}})
	bs := layerBlocks(t, arch)
	batch := layerBatch(arch, 12, 1)
	for _, crit := range []string{"grasp", "snip"} {
		c, _ := prune.CriterionByName(crit)
		temp := 1.0
		if n := c.Needs(); n.Temperature != 0 {
			temp = n.Temperature
		}
		net := layerNet(t, arch, 12, temp, 7)
		ctx := prune.ScoreContext{Net: net, Batches: []nn.Batch{batch}, Temperature: temp}
		s, err := ScoreBlocksAtInit(ctx, c, bs, AggSum)
		if err != nil {
			t.Fatal(err)
		}
		ctx.Set = WeightSet(arch)
		w, err := c.Scores(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range bs.Blocks {
			var want float64
			for k, p := range ctx.Set {
				if slices.Contains(b.Weights, p.Name) {
					for _, x := range w[k] {
						want += float64(x)
					}
				}
			}
			if math.IsNaN(s[i]) || math.Abs(s[i]-want) > 1e-6*math.Max(1, math.Abs(want)) || crit == "snip" && s[i] < 0 {
				t.Errorf("%s block %s: score %v, want %v", crit, b.Name, s[i], want)
			}
		}
	}
}
