package experiments

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSpecDefaultsAndOverrides(t *testing.T) {
	yaml := []byte("model:\n  name: lenet5\ntraining:\n  lr: 0.01\n  milestones: [1ep, 500it]\n")
	s, err := ParseSpec("t.yaml", yaml, []string{"training.batch_size=32", "dataset.shape=3,32,32", "seed=7"})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Model.Name = "lenet5"
	want.Training.LR = 0.01
	want.Training.Milestones = []string{"1ep", "500it"}
	want.Training.BatchSize = 32
	want.Dataset.Shape = []int{3, 32, 32}
	want.Seed = 7
	if !reflect.DeepEqual(s, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", s, want)
	}
}

func TestParseSpecErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		sets       []string
		want       string // substring of the error
	}{
		{"unknown key", "training:\n  lr_rate: 0.1\n", nil, `did you mean "training.lr"`},
		{"unknown top-level", "modle:\n  name: mlp\n", nil, `unknown key "modle.name"`},
		{"key out of its section", "imp_rate: 0.1\n", nil, `unknown key "imp_rate" (did you mean "prune.imp_rate"?)`},
		{"key in another section", "prune:\n  lr: 0.1\n", nil, `"training.lr"?)`},
		{"scalar for a section", "dataset: mnist\n", nil, "dataset must be a mapping"},
		{"malformed yaml", "training: [\n", nil, "not valid YAML"},
		{"wrong type", "training:\n  batch_size: sixty\n", nil, "batch_size"},
		{"bad override", "", []string{"training.lr"}, "want key=value"},
		{"unknown override", "", []string{"training.lrr=1"}, `did you mean "training.lr"`},
		{"override wrong type", "", []string{"training.batch_size=x"}, "batch_size"},
		{"fractional whole number", "training:\n  batch_size: 60.5\n", nil, `training.batch_size = 60.5: want a whole number`},
		{"fractional override", "", []string{"training.batch_size=60.5"}, `training.batch_size = "60.5": want a whole number`},
		{"overflowing whole number", "training:\n  batch_size: 1e30\n", nil, "training.batch_size = 1e+30: want a whole number"},
		{"NaN", "training:\n  lr: .nan\n", nil, "training.lr = NaN: want a finite number"},
		{"Inf override", "", []string{"training.lr=+Inf"}, `training.lr = "+Inf": want a finite number`},
		{"list for a number", "training:\n  lr: [1, 2]\n", nil, "training.lr = [1, 2]: want a number"},
		{"mapping for text", "model:\n  name: {a: 1}\n", nil, `unknown key "model.name.a" (did you mean "model.name"?)`},
		{"negative seed", "seed: -3\n", nil, "seed = -3: want a whole number ≥ 0"},
		{"not a bool", "training:\n  nesterov: maybe\n", nil, `training.nesterov = "maybe": want true or false`},
		{"bad list element", "", []string{"dataset.shape=3,x,8"}, `dataset.shape[1] = "x": want a whole number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec("t.yaml", []byte(c.yaml), c.sets)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLoadSpecMissingFile(t *testing.T) {
	_, err := LoadSpec("/nonexistent/spec.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/spec.yaml") {
		t.Errorf("error %v, want one naming the file", err)
	}
}

func TestHashOmitsDefaults(t *testing.T) {
	d := Defaults()
	if got := Canonical(d); len(got) != 0 {
		t.Errorf("canonical form of the defaults = %v, want empty", got)
	}
	s := d
	s.Training.LR = 0.1
	if Hash(s) == Hash(d) {
		t.Error("changing training.lr did not change the hash")
	}
	s2 := d
	s2.Output = "elsewhere"
	s2.Model.Widths = []int{}
	if Hash(s2) != Hash(d) {
		t.Error("output folder or an empty list changed the hash")
	}
}
