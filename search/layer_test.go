package search

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

func layerArch(t *testing.T, name string, o zoo.Options) *nn.Arch {
	t.Helper()
	a, err := zoo.Build(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func layerBlocks(t *testing.T, a *nn.Arch) *Blocks {
	t.Helper()
	bs, err := FindBlocks(a)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestRemovability checks docs/methods/layer.md#removability on
// ResNet-20/32/56 (both shortcuts) and resmlp: blocks per stage,
// downsampling blocks, the candidate lists (b − 1 per stage: not the first
// block of the network, not layer2.0 / layer3.0) and the maxima 3, 9, 21
// (9 for resmlp's 3 × 5); strict also drops layer2.1 and layer3.1.
func TestRemovability(t *testing.T) {
	cases := []struct {
		model                  string
		o                      zoo.Options
		b, candidates, maximum int
		strictCand, strictMax  int
	}{
		{"resnet20", zoo.Options{}, 3, 6, 3, 4, 3},
		{"resnet20", zoo.Options{Shortcut: "B"}, 3, 6, 3, 4, 3},
		{"resnet32", zoo.Options{}, 5, 12, 9, 10, 9},
		{"resnet56", zoo.Options{}, 9, 24, 21, 22, 21},
		{"resmlp", zoo.Options{}, 5, 12, 9, 10, 9},
		{"resmlp", zoo.Options{Widths: []int{8, 8, 8}}, 5, 12, 9, 10, 9},
	}
	for _, tc := range cases {
		bs := layerBlocks(t, layerArch(t, tc.model, tc.o))
		if got := bs.PerStage(); !slices.Equal(got, []int{tc.b, tc.b, tc.b}) {
			t.Errorf("%s %+v: blocks per stage %v, want 3 × %d", tc.model, tc.o, got, tc.b)
		}
		var down []string
		for _, b := range bs.Blocks {
			if b.Downsampling {
				down = append(down, b.Name)
			}
			if len(b.Weights) != 2 || !b.ReLU || !strings.HasSuffix(b.Norm2, ".bn2") {
				t.Errorf("%s block %s: weights %v, ReLU %v, norm2 %q", tc.model, b.Name, b.Weights, b.ReLU, b.Norm2)
			}
		}
		if !slices.Equal(down, []string{"layer2.0", "layer3.0"}) {
			t.Errorf("%s: downsampling blocks %v, want layer2.0 layer3.0", tc.model, down)
		}
		for _, rule := range RemovableRules {
			c, err := bs.Candidates(rule)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := bs.MaxRemovable(rule)
			wantC, wantQ := tc.candidates, tc.maximum
			if rule == RemovableStrict {
				wantC, wantQ = tc.strictCand, tc.strictMax
			}
			names := bs.Names(c)
			if len(c) != wantC || q != wantQ {
				t.Errorf("%s %s: %d candidates %v, max %d; want %d, %d", tc.model, rule, len(c), names, q, wantC, wantQ)
			}
			excluded := []string{"layer1.0", "layer2.0", "layer3.0"}
			if rule == RemovableStrict {
				excluded = append(excluded, "layer2.1", "layer3.1")
			}
			for _, n := range excluded {
				if slices.Contains(names, n) {
					t.Errorf("%s %s: %s is a candidate", tc.model, rule, n)
				}
			}
		}
	}
}

// TestGreedySkip: on ResNet-20 (3 blocks per stage) the two lowest scores
// are both in stage 1; the second is skipped because stage 1 is then at
// its minimum of 2 blocks, and the third lowest (stage 3) goes instead.
func TestGreedySkip(t *testing.T) {
	bs := layerBlocks(t, layerArch(t, "resnet20", zoo.Options{}))
	// blocks: layer1.0 1.1 1.2 2.0 2.1 2.2 3.0 3.1 3.2
	scores := []float64{-9, 0.1, 0.2, -9, 0.9, 0.8, -9, 0.3, 0.5}
	got, err := bs.SelectRemoval(scores, 2, RemovableUtility)
	if err != nil {
		t.Fatal(err)
	}
	if names := bs.Names(got); !slices.Equal(names, []string{"layer1.1", "layer3.1"}) {
		t.Errorf("removed %v, want layer1.1 then layer3.1 (layer1.2 skipped)", names)
	}
	// Ties go to the lower block index.
	got, _ = bs.SelectRemoval([]float64{0, 1, 1, 0, 1, 1, 0, 1, 1}, 1, RemovableUtility)
	if names := bs.Names(got); !slices.Equal(names, []string{"layer1.1"}) {
		t.Errorf("tie: removed %v, want layer1.1", names)
	}
	// All 3 removable blocks come out, one per stage.
	got, _ = bs.SelectRemoval(scores, 3, RemovableUtility)
	if names := bs.Names(got); !slices.Equal(names, []string{"layer1.1", "layer3.1", "layer2.2"}) {
		t.Errorf("p = 3: removed %v", names)
	}
}

func TestLayerBadInput(t *testing.T) {
	bs := layerBlocks(t, layerArch(t, "resnet20", zoo.Options{}))
	scores := make([]float64, 9)
	if _, err := bs.SelectRemoval(scores, 4, RemovableUtility); err == nil || !strings.Contains(err.Error(), "asked to remove 4 blocks, only 3 removable") {
		t.Errorf("p = 4 on ResNet-20: %v", err)
	}
	if err := bs.CheckRemovable(10, RemovableStrict); err == nil || !strings.Contains(err.Error(), "asked to remove 10 blocks, only 3 removable") {
		t.Errorf("p = 10 strict: %v", err)
	}
	if _, err := bs.Candidates("loose"); err == nil || !strings.Contains(err.Error(), "layer.removable") || !strings.Contains(err.Error(), "strict") {
		t.Errorf("unknown rule: %v", err)
	}
	if _, err := bs.AggregateBlocks(nil, "max"); err == nil || !strings.Contains(err.Error(), "layer.agg") || !strings.Contains(err.Error(), "mean") {
		t.Errorf("unknown agg: %v", err)
	}
	nan := []float64{0, 1, layerNaN(), 0, 1, 1, 0, 1, 1}
	if _, err := bs.SelectRemoval(nan, 1, RemovableUtility); err == nil || !strings.Contains(err.Error(), "layer1.2") {
		t.Errorf("NaN score: %v", err)
	}
	for _, m := range []string{"lenet5", "mlp", "vgg11"} {
		if _, err := FindBlocks(layerArch(t, m, zoo.Options{})); !errors.Is(err, ErrNoBlocks) || !strings.Contains(err.Error(), m) {
			t.Errorf("%s: %v, want ErrNoBlocks naming the model", m, err)
		}
	}
	if err := CheckTrainedCriterion("pls"); !errors.Is(err, nn.ErrNotImplemented) {
		t.Errorf("pls: %v, want not implemented", err)
	}
	if err := CheckTrainedCriterion("fisher"); err == nil || !strings.Contains(err.Error(), "expected_abs") {
		t.Errorf("unknown criterion: %v", err)
	}
}

// TestRebuildIsSmallerZooModel: ResNet-32 without the last two blocks of
// every stage is ResNet-20, layer for layer and name for name; without
// layer1.1 the later blocks of stage 1 move up one position.
func TestRebuildIsSmallerZooModel(t *testing.T) {
	bs := layerBlocks(t, layerArch(t, "resnet32", zoo.Options{}))
	var remove []int
	for _, st := range bs.Stages {
		remove = append(remove, st[3], st[4])
	}
	r, err := bs.Rebuild(remove)
	if err != nil {
		t.Fatal(err)
	}
	want := layerArch(t, "resnet20", zoo.Options{})
	if !reflect.DeepEqual(r.Arch.Layers, want.Layers) {
		t.Error("ResNet-32 without blocks 3, 4 of each stage is not ResNet-20")
	}
	if !slices.Equal(r.PerStage, []int{3, 3, 3}) || r.Arch.Name != "resnet32-blocks3.3.3" {
		t.Errorf("per stage %v, name %s", r.PerStage, r.Arch.Name)
	}

	r, err = bs.Rebuild([]int{1})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Mapping(bs)
	if m["layer1.0"] != "layer1.0" || m["layer1.2"] != "layer1.1" || m["layer1.4"] != "layer1.3" || m["layer2.3"] != "layer2.3" || len(m) != 14 {
		t.Errorf("mapping %v", m)
	}
	if _, ok := m["layer1.1"]; ok || r.NewIndex[2] != 1 || r.NewIndex[5] != 4 {
		t.Errorf("new indices %v", r.NewIndex)
	}
	if got := r.OldName("layer1.3.conv2.weight"); got != "layer1.4.conv2.weight" {
		t.Errorf("OldName(layer1.3.conv2.weight) = %s", got)
	}
	if got := r.OldName("layer1.1.bn1.running_mean"); got != "layer1.2.bn1.running_mean" {
		t.Errorf("OldName(layer1.1.bn1.running_mean) = %s", got)
	}
	for _, bad := range [][]int{{5}, {1, 1}, {99}} {
		if _, err := bs.Rebuild(bad); err == nil {
			t.Errorf("Rebuild(%v): no error", bad)
		}
	}
}

// TestFLOPReductions are the derived values of
// docs/methods/layer.md#reproduction-targets (FLOP cross-check): every
// non-downsampling block of ResNet-32 and ResNet-56 costs 4,718,592
// multiply-accumulates, so p blocks save p times that.
func TestFLOPReductions(t *testing.T) {
	cases := []struct {
		model string
		total int64
		ps    []int
		pct   []float64
	}{
		{"resnet32", 68_862_592, []int{1, 3, 4, 5}, []float64{6.85, 20.56, 27.41, 34.26}},
		{"resnet56", 125_485_696, []int{3, 4, 5, 12}, []float64{11.28, 15.04, 18.80, 45.12}},
	}
	for _, tc := range cases {
		bs := layerBlocks(t, layerArch(t, tc.model, zoo.Options{}))
		if got := nn.Count(bs.Arch).FLOPs; got != tc.total {
			t.Errorf("%s FLOPs %d, want %d", tc.model, got, tc.total)
		}
		for k, p := range tc.ps {
			scores := make([]float64, len(bs.Blocks))
			for i := range scores {
				scores[i] = float64(i % 5) // spread over stages
			}
			rm, err := bs.SelectRemoval(scores, p, RemovableUtility)
			if err != nil {
				t.Fatal(err)
			}
			r, err := bs.Rebuild(rm)
			if err != nil {
				t.Fatal(err)
			}
			saved := tc.total - nn.Count(r.Arch).FLOPs
			pct := float64(saved) / float64(tc.total) * 100
			if saved != int64(p)*4_718_592 || pct < tc.pct[k]-0.005 || pct > tc.pct[k]+0.005 {
				t.Errorf("%s p = %d: saves %d FLOPs (%.2f%%), want %d (%.2f%%)", tc.model, p, saved, pct, int64(p)*4_718_592, tc.pct[k])
			}
		}
	}
}
