package zoo

import (
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

func boolPtr(b bool) *bool { return &b }

func mustBuild(t *testing.T, name string, o Options) *nn.Arch {
	t.Helper()
	a, err := Build(name, o)
	if err != nil {
		t.Fatalf("Build(%q): %v", name, err)
	}
	return a
}

func TestModelNames(t *testing.T) {
	want := []string{"conv2", "conv4", "conv6", "grokking-mlp", "lenet-300-100", "lenet5", "mlp",
		"resmlp", "resnet110", "resnet20", "resnet32", "resnet44", "resnet56", "vgg11", "vgg13", "vgg16", "vgg19"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if !slices.Contains(nn.InitNames, DefaultInit(n)) {
			t.Errorf("DefaultInit(%q) = %q, not one of %v", n, DefaultInit(n), nn.InitNames)
		}
	}
	if got := DefaultInit("nope"); got != "" {
		t.Errorf("DefaultInit(unknown) = %q, want \"\"", got)
	}
}

func TestBuildArchUnknown(t *testing.T) {
	_, err := Build("resnet18", Options{})
	if err == nil || !strings.Contains(err.Error(), "resnet18") || !strings.Contains(err.Error(), "resnet20") || !strings.Contains(err.Error(), "lenet5") {
		t.Errorf("unknown model error = %v, want it to name the model and list the zoo", err)
	}
}

// The pinned counts on each model's canonical input with 10 classes. Weight
// counts of LeNet-300-100 and Conv-2/4/6 are those of
// docs/methods/imp.md#remaining-weights, LeNet-5-Caffe's that of conv.go;
// the other numbers were derived by hand and cross-checked with an
// independent script over the layer plans:
//
//	params   = Σ weights + Σ biases + 2·Σ batch-norm channels
//	FLOPs    = Σ_conv size(W)·H_out·W_out + Σ_linear size(W)   (docs/methods/scratch.md#flop-count)
//
// e.g. LeNet-5-Caffe FLOPs = 500·24·24 + 25,000·8·8 + 400,000 + 5,000 =
// 288,000 + 1,600,000 + 405,000 = 2,293,000; ResNet-20 FLOPs =
// 432·32² + 13,824·32² + 50,688·16² + 202,752·8² + 640 = 40,551,040.
var pinnedCounts = []struct {
	name             string
	opts             Options
	params, prunable int64
	flops            int64
}{
	{"lenet-300-100", Options{}, 266_610, 266_200, 266_200},
	{"mlp", Options{}, 266_610, 266_200, 266_200},
	{"lenet5", Options{}, 431_080, 430_500, 2_293_000},
	// Grokking Tickets' MLP on (a + b) mod 67: 67·500 + 500·48 + 48·500 +
	// 500·67 = 33,500 + 24,000 + 24,000 + 33,500 = 115,000, no biases.
	{"grokking-mlp", Options{Input: []int{67}, Classes: 67}, 115_000, 115_000, 115_000},
	{"conv2", Options{}, 4_301_642, 4_300_992, 43_780_608},
	{"conv4", Options{}, 2_425_930, 2_425_024, 98_306_560},
	{"conv6", Options{}, 2_262_602, 2_261_184, 153_881_088},
	{"vgg11", Options{}, 9_231_114, 9_222_848, 152_769_536},
	{"vgg13", Options{}, 9_416_010, 9_407_168, 228_267_008},
	{"vgg16", Options{}, 14_728_266, 14_715_584, 313_201_664},
	{"vgg19", Options{}, 20_040_522, 20_024_000, 398_136_320},
	{"vgg19", Options{BatchNorm: boolPtr(false)}, 20_029_514, 20_024_000, 398_136_320},
	{"resnet20", Options{}, 269_722, 268_336, 40_551_040},
	{"resnet20", Options{Shortcut: "B"}, 272_474, 270_896, 40_813_184},
	{"resnet32", Options{}, 464_154, 461_872, 68_862_592},
	{"resnet44", Options{}, 658_586, 655_408, 97_174_144},
	{"resnet56", Options{}, 853_018, 848_944, 125_485_696},
	{"resnet56", Options{Shortcut: "B"}, 855_770, 851_504, 125_747_840},
	{"resnet110", Options{}, 1_727_962, 1_719_856, 252_887_680},
}

func TestPinnedCounts(t *testing.T) {
	for _, tc := range pinnedCounts {
		a := mustBuild(t, tc.name, tc.opts)
		c := nn.Count(a)
		if c.Params != tc.params || c.Prunable != tc.prunable || c.FLOPs != tc.flops || c.Bytes != 4*tc.params {
			t.Errorf("%s %+v: params %d, prunable %d, FLOPs %d, bytes %d; want %d, %d, %d, %d",
				tc.name, tc.opts, c.Params, c.Prunable, c.FLOPs, c.Bytes, tc.params, tc.prunable, tc.flops, 4*tc.params)
		}
		// The counts agree with the Arch's own parameter list.
		var params, prunable int64
		for _, p := range a.Params() {
			params += int64(p.Size())
			if p.Prunable() {
				prunable += int64(p.Size())
			}
		}
		if params != c.Params || prunable != c.Prunable {
			t.Errorf("%s: Arch.Params gives %d params, %d prunable; Count %d, %d", tc.name, params, prunable, c.Params, c.Prunable)
		}
	}
}

func TestLeNetShapes(t *testing.T) {
	a := mustBuild(t, "lenet-300-100", Options{})
	want := []string{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}
	if got := paramNames(a); !slices.Equal(got, want) {
		t.Errorf("lenet-300-100 params %v, want %v", got, want)
	}
	c := nn.Count(a)
	wantLayers := []nn.LayerCount{{Layer: "fc1", Params: 235_500, Prunable: 235_200, FLOPs: 235_200}, {Layer: "fc2", Params: 30_100, Prunable: 30_000, FLOPs: 30_000}, {Layer: "fc3", Params: 1_010, Prunable: 1_000, FLOPs: 1_000}}
	if !slices.Equal(c.Layers, wantLayers) {
		t.Errorf("lenet-300-100 layers %v, want %v", c.Layers, wantLayers)
	}

	a = mustBuild(t, "lenet5", Options{})
	want = []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"}
	if got := paramNames(a); !slices.Equal(got, want) {
		t.Errorf("lenet5 params %v, want %v", got, want)
	}
	shapes := [][]int{{20, 1, 5, 5}, {20}, {50, 20, 5, 5}, {50}, {500, 800}, {500}, {10, 500}, {10}}
	for i, p := range a.Params() {
		if !slices.Equal(p.Shape, shapes[i]) {
			t.Errorf("lenet5 %s shape %v, want %v", p.Name, p.Shape, shapes[i])
		}
	}
	c = nn.Count(a)
	wantLayers = []nn.LayerCount{{Layer: "conv1", Params: 520, Prunable: 500, FLOPs: 288_000}, {Layer: "conv2", Params: 25_050, Prunable: 25_000, FLOPs: 1_600_000}, {Layer: "fc3", Params: 400_500, Prunable: 400_000, FLOPs: 400_000}, {Layer: "fc4", Params: 5_010, Prunable: 5_000, FLOPs: 5_000}}
	if !slices.Equal(c.Layers, wantLayers) {
		t.Errorf("lenet5 layers %v, want %v", c.Layers, wantLayers)
	}
	// ReLU after each convolution and after fc3, as sparselearning's LeNet_5_Caffe.
	relus := 0
	for _, l := range a.Layers {
		if _, ok := l.(nn.ReLU); ok {
			relus++
		}
	}
	if relus != 3 {
		t.Errorf("lenet5 has %d ReLUs, want 3", relus)
	}

	// Other inputs: the first linear layer follows the shapes.
	a = mustBuild(t, "lenet5", Options{Input: []int{3, 32, 32}, Classes: 100})
	if p := a.Params()[4]; !slices.Equal(p.Shape, []int{500, 1250}) {
		t.Errorf("lenet5 on [3 32 32]: fc3 shape %v, want [500 1250]", p.Shape)
	}
	if p := a.Params()[6]; !slices.Equal(p.Shape, []int{100, 500}) {
		t.Errorf("lenet5 with 100 classes: fc4 shape %v, want [100 500]", p.Shape)
	}
}

func TestConvNets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		fcIn  int
	}{
		{"conv2", []string{"conv1", "conv2", "fc3", "fc4", "fc5"}, 16 * 16 * 64},
		{"conv4", []string{"conv1", "conv2", "conv3", "conv4", "fc5", "fc6", "fc7"}, 8 * 8 * 128},
		{"conv6", []string{"conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc7", "fc8", "fc9"}, 4 * 4 * 256},
	} {
		a := mustBuild(t, tc.name, Options{})
		c := nn.Count(a)
		var layers []string
		for _, l := range c.Layers {
			layers = append(layers, l.Layer)
		}
		if !slices.Equal(layers, tc.names) {
			t.Errorf("%s layers %v, want %v", tc.name, layers, tc.names)
		}
		fc := a.Params()[2*(len(tc.names)-3)]
		if !slices.Equal(fc.Shape, []int{256, tc.fcIn}) {
			t.Errorf("%s first FC %s shape %v, want [256 %d]", tc.name, fc.Name, fc.Shape, tc.fcIn)
		}
		// Batch norm variant: one BN per convolution, 2 parameters per channel.
		var channels int64
		for _, p := range a.Params() {
			if len(p.Shape) == 4 {
				channels += int64(p.Shape[0])
			}
		}
		bn := mustBuild(t, tc.name, Options{BatchNorm: boolPtr(true)})
		if got, want := nn.Count(bn).Params, c.Params+2*channels; got != want {
			t.Errorf("%s with batch norm: %d params, want %d", tc.name, got, want)
		}
		if !slices.Contains(paramNames(bn), "bn1.weight") {
			t.Errorf("%s with batch norm has no bn1", tc.name)
		}
	}
	// Small synthetic inputs work where the arithmetic does.
	mustBuild(t, "conv6", Options{Input: []int{3, 8, 8}})
	if _, err := Build("conv6", Options{Input: []int{3, 4, 4}}); err == nil || !strings.Contains(err.Error(), "conv6") {
		t.Errorf("conv6 on [3 4 4]: error %v, want one naming the model", err)
	}
}

func TestVGG(t *testing.T) {
	a := mustBuild(t, "vgg16", Options{})
	names := paramNames(a)
	if names[0] != "conv1.weight" || names[1] != "conv1.bias" || names[2] != "bn1.weight" || names[3] != "bn1.bias" {
		t.Errorf("vgg16 first params %v", names[:4])
	}
	if last := names[len(names)-2:]; !slices.Equal(last, []string{"fc.weight", "fc.bias"}) {
		t.Errorf("vgg16 last params %v", last)
	}
	convs := 0
	for _, p := range a.Params() {
		if len(p.Shape) == 4 {
			convs++
		}
	}
	if convs != 13 {
		t.Errorf("vgg16 has %d convolutions, want 13", convs)
	}
	a = mustBuild(t, "vgg19", Options{BatchNorm: boolPtr(false)})
	for _, n := range paramNames(a) {
		if strings.HasPrefix(n, "bn") {
			t.Errorf("vgg19 without batch norm has %s", n)
		}
	}
	mustBuild(t, "vgg11", Options{Input: []int{3, 16, 16}})
	if _, err := Build("vgg11", Options{Input: []int{3, 8, 8}}); err == nil {
		t.Error("vgg11 on [3 8 8] (four pools) built without error")
	}
}

func TestResNet(t *testing.T) {
	a := mustBuild(t, "resnet20", Options{Shortcut: "B"})
	names := paramNames(a)
	for _, n := range []string{"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
		"layer1.0.conv2.weight", "layer1.0.bn2.bias", "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight",
		"layer3.2.conv2.weight", "fc.weight", "fc.bias"} {
		if !slices.Contains(names, n) {
			t.Errorf("resnet20 option B has no parameter %s", n)
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".bias") && strings.Contains(n, "conv") {
			t.Errorf("resnet convolution with a bias: %s", n)
		}
	}
	// Layer order: stem, 9 blocks each followed by ReLU, pool, fc.
	if len(a.Layers) != 3+2*9+2 {
		t.Fatalf("resnet20 has %d top-level layers, want %d", len(a.Layers), 3+2*9+2)
	}
	r, ok := a.Layers[3+2*3].(nn.Residual)
	if !ok || r.Name != "layer2.0" {
		t.Fatalf("layer %d is %#v, want block layer2.0", 3+2*3, a.Layers[3+2*3])
	}
	if conv := r.Body[0].(nn.Conv2d); conv.Stride != 2 || conv.In != 16 || conv.Out != 32 || conv.Bias {
		t.Errorf("layer2.0.conv1 = %+v, want 16→32 stride 2 without bias", conv)
	}
	if sc := r.Shortcut[0].(nn.Conv2d); sc.Kernel != 1 || sc.Stride != 2 || sc.Bias {
		t.Errorf("layer2.0 shortcut = %+v, want 1×1 stride 2 without bias", sc)
	}
	if _, ok := a.Layers[4].(nn.ReLU); !ok {
		t.Errorf("layer after block layer1.0 is %T, want ReLU", a.Layers[4])
	}
	// Option A: a parameter-free PadChannels shortcut on downsampling
	// blocks, identity elsewhere.
	a = mustBuild(t, "resnet20", Options{})
	for _, l := range a.Layers {
		r, ok := l.(nn.Residual)
		if !ok {
			continue
		}
		down := r.Name == "layer2.0" || r.Name == "layer3.0"
		if !down && len(r.Shortcut) != 0 {
			t.Errorf("%s: shortcut %v, want identity", r.Name, r.Shortcut)
		}
		if down {
			want := nn.PadChannels{In: 16, Out: 32, Stride: 2}
			if r.Name == "layer3.0" {
				want = nn.PadChannels{In: 32, Out: 64, Stride: 2}
			}
			if len(r.Shortcut) != 1 || r.Shortcut[0] != nn.Layer(want) {
				t.Errorf("%s: shortcut %v, want %v", r.Name, r.Shortcut, want)
			}
		}
	}
	// Small inputs for fast tests, other class counts, width multiplier.
	a = mustBuild(t, "resnet20", Options{Input: []int{3, 8, 8}, Classes: 4, WidthMultiplier: 0.25})
	ps := a.Params()
	if !slices.Equal(ps[0].Shape, []int{4, 3, 3, 3}) || !slices.Equal(ps[len(ps)-2].Shape, []int{4, 16}) {
		t.Errorf("resnet20 ×0.25 on [3 8 8], 4 classes: conv1 %v, fc %v; want [4 3 3 3], [4 16]", ps[0].Shape, ps[len(ps)-2].Shape)
	}
	a = mustBuild(t, "resnet20", Options{WidthMultiplier: 0.3}) // round(4.8) = 5
	if ps := a.Params(); !slices.Equal(ps[len(ps)-2].Shape, []int{10, 20}) {
		t.Errorf("resnet20 ×0.3: fc %v, want [10 20]", ps[len(ps)-2].Shape)
	}
}

func TestWidthMultiplier(t *testing.T) {
	a := mustBuild(t, "conv2", Options{WidthMultiplier: 0.5})
	ps := a.Params()
	if !slices.Equal(ps[0].Shape, []int{32, 3, 3, 3}) || !slices.Equal(ps[4].Shape, []int{128, 16 * 16 * 32}) || !slices.Equal(ps[8].Shape, []int{10, 128}) {
		t.Errorf("conv2 ×0.5 shapes %v %v %v", ps[0].Shape, ps[4].Shape, ps[8].Shape)
	}
	a = mustBuild(t, "mlp", Options{Widths: []int{50, 25}, WidthMultiplier: 2, Input: []int{6}})
	ps = a.Params()
	if !slices.Equal(ps[0].Shape, []int{100, 6}) || !slices.Equal(ps[4].Shape, []int{10, 50}) {
		t.Errorf("mlp ×2 shapes %v %v", ps[0].Shape, ps[4].Shape)
	}
	// Never below one channel.
	a = mustBuild(t, "vgg11", Options{WidthMultiplier: 0.001})
	if ps := a.Params(); ps[0].Shape[0] != 1 {
		t.Errorf("vgg11 ×0.001 conv1 shape %v, want 1 output channel", ps[0].Shape)
	}
}

func TestMLP(t *testing.T) {
	a := mustBuild(t, "mlp", Options{Widths: []int{50}, Input: []int{2, 3, 3}, Classes: 3, BatchNorm: boolPtr(true)})
	want := []string{"fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"}
	if got := paramNames(a); !slices.Equal(got, want) {
		t.Errorf("mlp params %v, want %v", got, want)
	}
	if s := a.Params()[0].Shape; !slices.Equal(s, []int{50, 18}) {
		t.Errorf("mlp fc1 shape %v, want [50 18]", s)
	}
}

func TestBuildArchOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"resnet20", Options{BatchNorm: boolPtr(false)}, "batch_norm"},
		{"lenet5", Options{BatchNorm: boolPtr(true)}, "batch_norm"},
		{"lenet-300-100", Options{BatchNorm: boolPtr(true)}, "batch_norm"},
		{"lenet5", Options{Widths: []int{10}}, "widths"},
		{"lenet-300-100", Options{Widths: []int{10}}, "widths"},
		{"resnet20", Options{Shortcut: "C"}, "shortcut"},
		{"vgg16", Options{Shortcut: "B"}, "shortcut"},
		{"mlp", Options{Widths: []int{10, 0}}, "widths"},
		{"conv2", Options{WidthMultiplier: -1}, "width multiplier"},
		{"conv2", Options{Classes: -2}, "classes"},
		{"conv2", Options{Input: []int{3, 0, 32}}, "input"},
		{"conv2", Options{Input: []int{3072}}, "input"},
		{"resnet20", Options{Input: []int{1, 28, 28}, Classes: 10}, ""}, // works: any channel count
	} {
		_, err := Build(tc.name, tc.opts)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %+v: %v", tc.name, tc.opts, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %+v: error %v, want one naming the model and %q", tc.name, tc.opts, err, tc.want)
		}
	}
}

func TestBuildArchDoesNotAlias(t *testing.T) {
	in := []int{3, 32, 32}
	a := mustBuild(t, "resnet20", Options{Input: in})
	in[0] = 7
	if a.Input[0] != 3 {
		t.Error("Build keeps the caller's Input slice")
	}
	b := mustBuild(t, "resnet20", Options{})
	b.Input[0] = 9
	if c := mustBuild(t, "resnet20", Options{}); c.Input[0] != 3 {
		t.Error("Build shares the registry's default input")
	}
	if a.Name != "resnet20" || a.Classes != 10 {
		t.Errorf("Name %q, Classes %d", a.Name, a.Classes)
	}
}

func paramNames(a *nn.Arch) []string {
	var ns []string
	for _, p := range a.Params() {
		ns = append(ns, p.Name)
	}
	return ns
}
