package share

import (
	"math"
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

func lenet(t testing.TB) *nn.Arch {
	a, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// LeNet-300-100: weights 235,200 + 30,000 + 1,000 = 266,200 in canonical
// order; modules of 235,500, 30,100 and 1,010 parameters.
func TestTensorsAndModuleLimit(t *testing.T) {
	ts := Tensors(lenet(t))
	var names []string
	var mods []int
	for _, x := range ts {
		names = append(names, x.Param.Name)
		mods = append(mods, x.ModuleParams)
		if x.Kind != KindLinear {
			t.Errorf("%s: kind %v", x.Param.Name, x.Kind)
		}
	}
	if !slices.Equal(names, []string{"fc1.weight", "fc2.weight", "fc3.weight"}) || !slices.Equal(mods, []int{235500, 30100, 1010}) {
		t.Errorf("tensors %v modules %v", names, mods)
	}
	for _, c := range []struct {
		limit int
		want  int
	}{{-1, 3}, {0, 3}, {1010, 3}, {1011, 2}, {30100, 2}, {30101, 1}, {235501, 0}} {
		if got := len(SharedTensors(ts, c.limit)); got != c.want {
			t.Errorf("module_limit %d shares %d tensors, want %d", c.limit, got, c.want)
		}
	}
	mp, err := Build(lenet(t), Config{Ratio: 0.5, ModuleLimit: 30100})
	if err != nil {
		t.Fatal(err)
	}
	if mp.NumLayers() != 2 || mp.Layer(1).Offset != 235200 || mp.N() != 265200 {
		t.Errorf("module limit 30100: %d layers, fc2 offset %d, n %d; want 2, 235200, 265200", mp.NumLayers(), mp.Layer(1).Offset, mp.N())
	}
	conv, err := zoo.Build("conv2", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []LayerKind{}
	for _, x := range Tensors(conv) {
		kinds = append(kinds, x.Kind)
	}
	if kinds[0] != KindConv2d || kinds[len(kinds)-1] != KindLinear {
		t.Errorf("conv2 kinds %v", kinds)
	}
}

// docs/methods/rps.md#memory-accounting: LeNet-300-100 at 100× has m = 2,662;
// P_dense = 266,610, P_unshared = 410 biases; c_model = 266,610 / 3,072.
func TestMemoryLeNet100x(t *testing.T) {
	a := lenet(t)
	mp, err := Build(a, Config{Ratio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := mp.Memory(a)
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{Shared: 266200, Array: 2662, Unshared: 410, Dense: 266610, CShared: 100, CModel: 266610.0 / 3072,
		Params: 3072, ParamBytes: 12288, DenseBytes: 1066440}
	// The fold keeps one shift per partition each layer touches:
	// fc1 L 0 … 235,199: partitions 0 … 88 (89); fc2 L 235,200 … 265,199:
	// 88 … 99 (12); fc3 L 265,200 … 266,199: 99 (1).
	want.TableBytes = 4 * (89 + 12 + 1)
	if mem != want {
		t.Errorf("memory %+v\nwant   %+v", mem, want)
	}
	if mem.ParamBytes+mem.TableBytes > mem.DenseBytes/50 {
		t.Errorf("persistent bytes %d not a small fraction of dense %d", mem.ParamBytes+mem.TableBytes, mem.DenseBytes)
	}
	if _, err := Account(10, 0, 20); err == nil {
		t.Error("m = 0 accepted")
	}
	if _, err := Account(10, 11, 20); err == nil {
		t.Error("m > n accepted")
	}
}

// The mlp on [4] with hidden width w and 2 classes has 4w + w + 2w + 2 =
// 7w + 2 parameters; dense w = 10 gives 72. Target 37 is w = 5 exactly;
// 40 lies between 37 (w 5, 3 away) and 44 (w 6, 4 away); 41 is 4 from 37
// and 3 from 44; 1 is below the smallest model (w 1: 9).
func TestNarrowWidthByHand(t *testing.T) {
	o := zoo.Options{Input: []int{4}, Classes: 2, Widths: []int{10}}
	for _, c := range []struct {
		target, want int64
		width        int
	}{{72, 72, 10}, {37, 37, 5}, {40, 37, 5}, {41, 44, 6}, {1, 9, 1}, {10000, 7*640 + 2, 640}} {
		mult, got, err := NarrowWidth("mlp", o, c.target)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("target %d: %d parameters, want %d", c.target, got, c.want)
		}
		o2 := o
		o2.WidthMultiplier = mult
		a, err := zoo.Build("mlp", o2)
		if err != nil {
			t.Fatal(err)
		}
		if w := a.Layers[1].(nn.Linear).Out; w != c.width || nn.Count(a).Params != got {
			t.Errorf("target %d: multiplier %v gives width %d (%d parameters), want %d", c.target, mult, w, nn.Count(a).Params, c.width)
		}
	}
	if _, _, err := NarrowWidth("mlp", o, 0); err == nil {
		t.Error("target 0 accepted")
	}
	if _, _, err := NarrowWidth("nosuchmodel", o, 10); err == nil {
		t.Error("unknown model accepted")
	}
}

// The narrow LeNet at the parameter count of STABLE-RPS at 100×: no other
// integer width pair reachable by a multiplier is closer.
func TestNarrowWidthLeNet(t *testing.T) {
	a := lenet(t)
	mp, _ := Build(a, Config{Ratio: 0.01})
	mem, _ := mp.Memory(a)
	mult, got, err := NarrowWidth("lenet-300-100", zoo.Options{}, mem.Params)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []float64{-1e-3, 1e-3, -1e-2, 1e-2} {
		b, err := zoo.Build("lenet-300-100", zoo.Options{WidthMultiplier: mult * (1 + d)})
		if err != nil {
			t.Fatal(err)
		}
		if c := nn.Count(b).Params; math.Abs(float64(c-mem.Params)) < math.Abs(float64(got-mem.Params)) {
			t.Errorf("multiplier %v gives %d parameters, closer to %d than %v's %d", mult*(1+d), c, mem.Params, mult, got)
		}
	}
	t.Logf("narrow LeNet-300-100 at %d parameters: multiplier %.6f, %d parameters", mem.Params, mult, got)
}
