package zoo

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/nn"
)

// parseYAML parses a YAML list of layers as a spec file gives it.
func parseYAML(t *testing.T, src string) ([]LayerSpec, error) {
	t.Helper()
	var raw any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatalf("YAML %q: %v", src, err)
	}
	return ParseLayers("model.layers", raw)
}

func mustLayers(t *testing.T, src string, input []int, classes int) *nn.Arch {
	t.Helper()
	ls, err := parseYAML(t, src)
	if err != nil {
		t.Fatal(err)
	}
	a, err := BuildLayers("model.layers", ls, input, classes)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// shapes maps each parameter name to its shape.
func shapes(a *nn.Arch) map[string][]int {
	m := map[string][]int{}
	for _, p := range a.Params() {
		m[p.Name] = p.Shape
	}
	return m
}

const exampleLayers = `
- {type: conv2d, out: 20, kernel: 5}
- {type: relu}
- {type: maxpool, kernel: 2}
- {type: flatten}
- {type: linear, out: 10}
`

func TestInlineShapes(t *testing.T) {
	cases := []struct {
		name, src string
		input     []int
		classes   int
		want      map[string][]int
	}{
		// 28−5+1 = 24, pooled 2/2 to 12: the linear layer reads 20·12·12 = 2880.
		{"the README example on MNIST", exampleLayers, []int{1, 28, 28}, 10, map[string][]int{
			"conv1.weight": {20, 1, 5, 5}, "conv1.bias": {20},
			"fc2.weight": {10, 2880}, "fc2.bias": {10},
		}},
		// Stride 2 and padding 1 on 3×8×8: (8+2−3)/2+1 = 4; bn1 follows
		// conv1; no biases where asked; the pool's stride 1 gives 4−2+1 = 3.
		{"stride, padding, batchnorm, no bias", `
- {type: conv2d, out: 4, kernel: 3, stride: 2, pad: 1, bias: false}
- {type: batchnorm}
- {type: relu}
- {type: maxpool, kernel: 2, stride: 1}
- {type: flatten}
- {type: dropout, p: 0.5}
- {type: linear, out: 3, bias: false}
`, []int{3, 8, 8}, 3, map[string][]int{
			"conv1.weight": {4, 3, 3, 3}, "bn1.weight": {4}, "bn1.bias": {4},
			"fc2.weight": {3, 36},
		}},
		// An identity block keeps 4×6×6; a downsampling block needs its
		// shortcut (1×1, stride 2, named by index); avgpool gives [8].
		{"residual blocks", `
- {type: conv2d, out: 4, kernel: 3, pad: 1}
- type: residual
  body:
    - {type: conv2d, out: 4, kernel: 3, pad: 1}
    - {type: batchnorm}
    - {type: relu}
    - {type: conv2d, out: 4, kernel: 3, pad: 1}
- type: residual
  body:
    - {type: conv2d, out: 8, kernel: 3, stride: 2, pad: 1}
  shortcut:
    - {type: conv2d, out: 8, kernel: 1, stride: 2, bias: false}
    - {type: batchnorm}
- {type: avgpool}
- {type: linear, out: 2}
`, []int{1, 6, 6}, 2, map[string][]int{
			"conv1.weight": {4, 1, 3, 3}, "conv1.bias": {4},
			"block2.conv1.weight": {4, 4, 3, 3}, "block2.conv1.bias": {4},
			"block2.bn1.weight": {4}, "block2.bn1.bias": {4},
			"block2.conv2.weight": {4, 4, 3, 3}, "block2.conv2.bias": {4},
			"block3.conv1.weight": {8, 4, 3, 3}, "block3.conv1.bias": {8},
			"block3.shortcut.0.weight": {8, 4, 1, 1},
			"block3.shortcut.1.weight": {8}, "block3.shortcut.1.bias": {8},
			"fc4.weight": {2, 8}, "fc4.bias": {2},
		}},
		{"an MLP on vectors", `
- {type: linear, out: 5, in: 7}
- {type: batchnorm}
- {type: relu}
- {type: linear, out: 2}
`, []int{7}, 2, map[string][]int{
			"fc1.weight": {5, 7}, "fc1.bias": {5}, "bn1.weight": {5}, "bn1.bias": {5},
			"fc2.weight": {2, 5}, "fc2.bias": {2},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mustLayers(t, c.src, c.input, c.classes)
			if got := shapes(a); !reflect.DeepEqual(got, c.want) {
				t.Errorf("parameters %v\nwant %v", got, c.want)
			}
			if a.Name != InlineName || !slices.Equal(a.Input, c.input) || a.Classes != c.classes {
				t.Errorf("arch %s on %v with %d classes", a.Name, a.Input, a.Classes)
			}
		})
	}
}

// TestInlineLeNet5 writes LeNet-5 as a layer list: it has the zoo model's
// parameters, names and order included, so masks and exports line up.
func TestInlineLeNet5(t *testing.T) {
	a := mustLayers(t, `
- {type: conv2d, out: 20, kernel: 5}
- {type: relu}
- {type: maxpool, kernel: 2}
- {type: conv2d, out: 50, kernel: 5}
- {type: relu}
- {type: maxpool, kernel: 2, stride: 2}
- {type: flatten}
- {type: linear, out: 500}
- {type: relu}
- {type: linear, out: 10}
`, []int{1, 28, 28}, 10)
	z, err := Build("lenet5", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Params(), z.Params()) {
		t.Errorf("inline LeNet-5 parameters\n%v\nwant\n%v", a.Params(), z.Params())
	}
}

func TestInlineErrors(t *testing.T) {
	cases := []struct {
		name, src string
		input     []int
		want      string
	}{
		{"linear without flatten", `[{type: conv2d, out: 2, kernel: 3}, {type: linear, out: 10}]`, []int{1, 5, 5},
			"model.layers[1]: linear expects a vector, the previous layer gives [2 3 3] (add a flatten before it)"},
		{"linear in mismatch", `[{type: conv2d, out: 2, kernel: 3}, {type: flatten}, {type: relu}, {type: linear, in: 800, out: 10}]`, []int{1, 27, 27},
			"model.layers[3]: linear expects 800 inputs, the previous layer gives 1250"},
		{"conv in mismatch", `[{type: conv2d, in: 3, out: 2, kernel: 3}]`, []int{1, 5, 5},
			"model.layers[0]: conv2d expects 3 input channels, the input gives 1"},
		{"kernel larger than the input", `[{type: conv2d, out: 2, kernel: 3}, {type: maxpool, kernel: 2}, {type: conv2d, out: 2, kernel: 3}]`, []int{1, 5, 5},
			"model.layers[2]: conv2d kernel 3 is larger than the 1×1 input (with padding 0) that the previous layer gives"},
		{"pool larger than the input", `[{type: maxpool, kernel: 6}]`, []int{1, 5, 5},
			"model.layers[0]: maxpool kernel 6 is larger than the 5×5 input that the input gives"},
		{"conv on vectors", `[{type: conv2d, out: 2, kernel: 1}]`, []int{5},
			"model.layers[0]: conv2d expects an image [C H W], the input gives [5]"},
		{"unknown type", `[{type: lstm}]`, []int{5},
			"model.layers[0]: unknown type lstm; want one of avgpool, batchnorm, conv2d, dropout, flatten, linear, maxpool, relu, residual"},
		{"no type", `[{out: 3}]`, []int{5}, "model.layers[0]: no type; want one of avgpool,"},
		{"unknown key", `[{type: flatten}, {type: linear, out: 10, kernel: 3}]`, []int{5},
			`model.layers[1]: unknown key "kernel" for linear; its keys are out, bias, in`},
		{"key on a type without keys", `[{type: relu, inplace: true}]`, []int{5},
			`model.layers[0]: unknown key "inplace" for relu; its keys are none besides type`},
		{"missing out", `[{type: linear}]`, []int{5}, "model.layers[0]: linear needs out"},
		{"missing kernel", `[{type: conv2d, out: 3}]`, []int{1, 5, 5}, "model.layers[0]: conv2d needs kernel"},
		{"zero out", `[{type: linear, out: 0}]`, []int{5}, "model.layers[0]: out = 0: want ≥ 1"},
		{"fractional kernel", `[{type: conv2d, out: 3, kernel: 2.5}]`, []int{1, 5, 5}, "model.layers[0]: kernel = 2.5: want a whole number"},
		{"bias not a bool", `[{type: linear, out: 3, bias: "no"}]`, []int{5}, "model.layers[0]: bias = no: want true or false"},
		{"dropout p", `[{type: dropout, p: 1}]`, []int{5}, "model.layers[0]: p = 1: want 0 ≤ p < 1"},
		{"dropout without p", `[{type: dropout}]`, []int{5}, "model.layers[0]: dropout needs p"},
		{"not a mapping", `[relu]`, []int{5}, "model.layers[0]: want a mapping with a type"},
		{"not a list", `{type: relu}`, []int{5}, "model.layers: want a list of layer mappings"},
		{"wrong class count", `[{type: linear, out: 4}]`, []int{5}, "model.layers: the last layer gives [4], want [3] for the data set's 3 classes"},
		{"ends in an image", `[{type: relu}]`, []int{3, 1, 1}, "the last layer gives [3 1 1], want [3] for the data set's 3 classes (end with flatten and linear)"},
		{"empty", `[]`, []int{5}, "model.layers: empty"},
		{"identity shortcut changes shape", `[{type: residual, body: [{type: linear, out: 4}]}, {type: linear, out: 3}]`, []int{5},
			"model.layers[0]: the body gives [4], the identity shortcut gives the input [5]; they must match"},
		{"error inside a body", `[{type: residual, body: [{type: relu}, {type: linear, out: 4}]}]`, []int{1, 2, 2},
			"model.layers[0].body[1]: linear expects a vector, the previous layer gives [1 2 2]"},
		{"error inside a shortcut", `[{type: residual, body: [{type: relu}], shortcut: [{type: dropout, p: 2}]}]`, []int{3},
			"model.layers[0].shortcut[0]: p = 2: want 0 ≤ p < 1"},
		{"residual without body", `[{type: residual}]`, []int{3}, "model.layers[0]: a residual block needs a body"},
		{"two batchnorms", `[{type: linear, out: 3}, {type: batchnorm}, {type: batchnorm}]`, []int{3},
			`model.layers[2]: a second batchnorm after the same layer would also be named "bn1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls, err := parseYAML(t, c.src)
			if err == nil {
				_, err = BuildLayers("model.layers", ls, c.input, 3)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant one containing %q", err, c.want)
			}
		})
	}
}

// TestLayerSpecCanonical checks what enters the run name: defaults written
// out and the `in` check leave the JSON unchanged, other sizes change it,
// and the YAML a runner writes reads back to the same JSON.
func TestLayerSpecCanonical(t *testing.T) {
	js := func(src string) string {
		ls, err := parseYAML(t, src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(ls)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := js(exampleLayers)
	if want := `[{"type":"conv2d","out":20,"kernel":5},{"type":"relu"},{"type":"maxpool","kernel":2},{"type":"flatten"},{"type":"linear","out":10}]`; base != want {
		t.Errorf("canonical JSON %s\nwant %s", base, want)
	}
	same := `
- {type: conv2d, out: 20, kernel: 5, stride: 1, pad: 0, bias: true, in: 1}
- {type: relu}
- {type: maxpool, kernel: 2, stride: 2}
- {type: flatten}
- {type: linear, out: 10, in: 2880}
`
	if got := js(same); got != base {
		t.Errorf("defaults written out: %s, want %s", got, base)
	}
	if got := js(strings.Replace(exampleLayers, "out: 20", "out: 21", 1)); got == base {
		t.Errorf("another width has the same canonical form %s", got)
	}
	for _, src := range []string{exampleLayers, same, `
- {type: residual, body: [{type: linear, out: 3, bias: false}, {type: dropout, p: 0.25}], shortcut: [{type: linear, out: 3}]}
`} {
		ls, _ := parseYAML(t, src)
		out, err := yaml.Marshal(ls)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseYAML(t, string(out))
		if err != nil || !reflect.DeepEqual(back, ls) {
			t.Errorf("YAML round trip of %s: %v, %v\nwant %v", out, back, err, ls)
		}
	}
	ls, _ := parseYAML(t, `[{type: conv2d, out: 4, kernel: 3, stride: 2, bias: false}, {type: residual, body: [{type: relu}]}, {type: dropout, p: 0.5}]`)
	if got, want := fmt.Sprint(ls), "[conv2d(out=4,kernel=3,stride=2,bias=false) residual(body=[relu]) dropout(p=0.5)]"; got != want {
		t.Errorf("text %s, want %s", got, want)
	}
}
