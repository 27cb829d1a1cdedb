package experiments

import (
	"context"
	"math"
	"strings"
	"testing"

	_ "github.com/prunebench/prunebench/nn/native"
)

// tinySpec is a fast synthetic spec: an MLP on 1×6×6 inputs, 3 classes.
func tinySpec() Spec {
	s := Defaults()
	s.Dataset = DatasetSpec{Name: "synthetic", Augment: "default", Shape: []int{1, 6, 6}, Classes: 3, TrainSize: 96, TestSize: 48, ValSize: 24}
	s.Model = ModelSpec{Name: "mlp", Widths: []int{16}, WidthMultiplier: 1}
	s.Training.Steps = "3ep"
	s.Training.BatchSize = 12
	s.Training.LR = 0.01
	s.Training.EvalEvery = "5it"
	return s
}

func TestPrepareBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"unknown model", func(s *Spec) { s.Model.Name = "resnet18x" }, "want one of"},
		{"unknown dataset", func(s *Spec) { s.Dataset.Name = "imagenet" }, "dataset"},
		{"unknown optimizer", func(s *Spec) { s.Training.Optimizer = "lion" }, "training.optimizer"},
		{"unknown schedule", func(s *Spec) { s.Training.Schedule = "poly" }, "training.schedule"},
		{"unknown init", func(s *Spec) { s.Model.Init = "orthogonal" }, "model.init"},
		{"unknown backend", func(s *Spec) { s.Backend = "jax" }, "backend"},
		{"bad steps", func(s *Spec) { s.Training.Steps = "10 epochs" }, "training.steps"},
		{"bad eval_every", func(s *Spec) { s.Training.EvalEvery = "100" }, "training.eval_every"},
		{"bad milestone", func(s *Spec) { s.Training.Schedule = "step"; s.Training.Milestones = []string{"1ep", "x"} }, "training.milestones[1]"},
		{"bad batch", func(s *Spec) { s.Training.BatchSize = 0 }, "training.batch_size"},
		{"bad momentum", func(s *Spec) { s.Training.Optimizer = "sgd"; s.Training.Momentum = 1.5 }, "training.momentum"},
		{"bad augment", func(s *Spec) { s.Dataset.Augment = "yes" }, "dataset.augment"},
		{"input does not fit", func(s *Spec) { s.Model = ModelSpec{Name: "lenet-300-100", WidthMultiplier: 1} }, "lenet-300-100"},
		{"cifar dir missing", func(s *Spec) { s.Dataset = DatasetSpec{Name: "cifar10", Dir: "/nonexistent/cifar", Augment: "default"} }, "/nonexistent/cifar"},
		{"mnist dir missing", func(s *Spec) { s.Dataset = DatasetSpec{Name: "mnist", Dir: "/nonexistent/mnist", Augment: "default"} }, "/nonexistent/mnist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tinySpec()
			c.edit(&s)
			_, err := Prepare(s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestTrainTinyLearns(t *testing.T) {
	p, h, err := (&Replicate{Spec: tinySpec()}).Train(context.Background(), tinySpec(), "")
	if err != nil {
		t.Fatal(err)
	}
	if h.Total != 18 || p.Arch.Name != "mlp" {
		t.Errorf("total %d iterations on %s, want 18 (72 train examples, batch 12, 3ep) on mlp", h.Total, p.Arch.Name)
	}
	// 3 linearly separable-ish classes: far above the 1/3 of chance.
	if acc := h.Final().TestAcc; math.IsNaN(acc) || acc < 0.6 {
		t.Errorf("final test accuracy %.3f, want ≥ 0.6", acc)
	}
}

// TestDeviceOnNative: the native engine refuses a GPU device before
// training, naming what to use instead.
func TestDeviceOnNative(t *testing.T) {
	s := tinySpec()
	s.Device = "cuda"
	_, err := Prepare(s)
	if err == nil || !strings.Contains(err.Error(), `device "cuda"`) || !strings.Contains(err.Error(), "backend: torch") {
		t.Errorf("error %v", err)
	}
	s.Device = "cpu"
	if _, err := Prepare(s); err != nil {
		t.Error(err)
	}
}
