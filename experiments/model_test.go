package experiments

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

// inlineYAML is a small convolutional inline model on tinySpec's synthetic
// data (1×6×6, 3 classes): conv 4×1×3×3 → [4 4 4], pooled to [4 2 2], a
// linear 3×16.
const inlineYAML = `
dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
training: {steps: 3ep, batch_size: 12, lr: 0.01, eval_every: 5it}
model:
  layers:
    - {type: conv2d, out: 4, kernel: 3}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: linear, out: 3}
`

func mustParse(t *testing.T, yaml string, sets ...string) Spec {
	t.Helper()
	s, err := ParseSpec("test.yaml", []byte(yaml), sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInlineSpecParse(t *testing.T) {
	s := mustParse(t, inlineYAML)
	if s.Model.Name != "" || len(s.Model.Layers) != 5 || s.Model.Label() != "inline" {
		t.Fatalf("model %+v", s.Model)
	}
	if _, err := Validate(s); err != nil {
		t.Fatal(err)
	}
	if got, want := Canonical(s)["model.name"], ""; got != want {
		t.Errorf("canonical model.name %v, want %q", got, want)
	}
}

func TestInlineSpecErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		sets       []string
		want       string
	}{
		{"name and layers", strings.Replace(inlineYAML, "model:\n", "model:\n  name: lenet5\n", 1), nil,
			`model.name = "lenet5" and model.layers are both set`},
		{"--set model.layers", inlineYAML, []string{"model.layers=conv2d"},
			`model.layers = "conv2d": a list of layer mappings cannot be set with --set; write model.layers in the spec file`},
		{"layers by --set on a named model", "model: {name: mlp}\n", []string{"model.layers=[{type: relu}]"},
			"cannot be set with --set"},
		{"a bad layer", strings.Replace(inlineYAML, "{type: relu}", "{type: relu, p: 0.1}", 1), nil,
			`model.layers[1]: unknown key "p" for relu`},
		{"layers as a mapping", "model:\n  layers: {type: relu}\n", nil, "model.layers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec("test.yaml", []byte(c.yaml), c.sets)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant one containing %q", err, c.want)
			}
		})
	}
	for _, c := range []struct {
		set, want string
	}{
		{"model.widths=8", "model.widths = [8]: an inline model"},
		{"model.shortcut=B", `model.shortcut = "B": an inline model`},
		{"model.width_multiplier=2", "model.width_multiplier = 2: not supported with model.layers"},
	} {
		s, err := ParseSpec("test.yaml", []byte(inlineYAML), []string{c.set})
		if err == nil {
			_, err = Validate(s)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--set %s: error %v, want one containing %q", c.set, err, c.want)
		}
	}
}

// TestInlineHash: the layer list names the run. The same list (with or
// without its defaults written out) is the same run, another list another,
// and the spec the runner writes reads back to the same run.
func TestInlineHash(t *testing.T) {
	h := Hash(mustParse(t, inlineYAML))
	if again := Hash(mustParse(t, inlineYAML)); again != h {
		t.Errorf("hash %s then %s", h, again)
	}
	explicit := strings.Replace(inlineYAML, "{type: conv2d, out: 4, kernel: 3}", "{type: conv2d, out: 4, kernel: 3, stride: 1, pad: 0, bias: true, in: 1}", 1)
	if got := Hash(mustParse(t, explicit)); got != h {
		t.Errorf("defaults written out: hash %s, want %s", got, h)
	}
	for _, change := range [][2]string{
		{"out: 4", "out: 5"},
		{"{type: relu}", "{type: dropout, p: 0.1}"},
		{"kernel: 2}", "kernel: 2, stride: 1}"},
	} {
		if got := Hash(mustParse(t, strings.Replace(inlineYAML, change[0], change[1], 1))); got == h {
			t.Errorf("%s → %s: same hash %s", change[0], change[1], h)
		}
	}
	named := tinySpec()
	if Hash(named) == h {
		t.Errorf("a named model has the inline model's hash")
	}
	var b bytes.Buffer
	if err := WriteSpecYAML(&b, mustParse(t, inlineYAML)); err != nil {
		t.Fatal(err)
	}
	if got := Hash(mustParse(t, b.String())); got != h {
		t.Errorf("written spec reads back to hash %s, want %s:\n%s", got, h, b.String())
	}
	if got, want := Settings(mustParse(t, inlineYAML)), "model.layers=[conv2d(out=4,kernel=3),relu,maxpool(kernel=2),flatten,linear(out=3)]"; !strings.Contains(got, want) {
		t.Errorf("settings %s, want them to contain %s", got, want)
	}
}

// TestInlineTrains builds the inline model on the native engine through
// Prepare (torch_default initialization) and trains it.
func TestInlineTrains(t *testing.T) {
	s := mustParse(t, inlineYAML)
	p, h, err := (&Replicate{Spec: s}).Train(context.Background(), s, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Arch.Name != "inline" || p.Init != "torch_default" || h.Total != 18 {
		t.Errorf("arch %s, init %s, %d iterations; want inline, torch_default, 18", p.Arch.Name, p.Init, h.Total)
	}
	if len(p.Net.Params()) != 4 {
		t.Errorf("%d parameters, want conv1 and fc2 weights and biases", len(p.Net.Params()))
	}
	if acc := h.Final().TestAcc; math.IsNaN(acc) || acc < 0.5 {
		t.Errorf("final test accuracy %.3f, want ≥ 0.5 (chance is 1/3)", acc)
	}
}
