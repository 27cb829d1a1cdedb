//go:build torch

package torch_test

import (
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/torch"
	"github.com/prunebench/prunebench/nn/zoo"
)

// BenchmarkResNet20Step times training steps (forward, loss, backward, SGD
// with momentum) of ResNet-20 on CIFAR-shaped random data, batch 128, on the
// device PRUNEBENCH_TORCH_DEVICE names. scripts/torch/gpu_check.sh sets it
// against the same loop in PyTorch.
func BenchmarkResNet20Step(b *testing.B) {
	arch, err := zoo.Build("resnet20", zoo.Options{Input: []int{3, 32, 32}, Classes: 10})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	net, err := torch.Backend{}.Build(nn.Config{Arch: arch, MaxBatch: batch})
	if err != nil {
		b.Fatal(err)
	}
	if err := nn.Initialize(net, zoo.DefaultInit("resnet20"), nn.NewRand(1)); err != nil {
		b.Fatal(err)
	}
	if err := net.SetOptimizer(nn.SGD(0.9, 1e-4)); err != nil {
		b.Fatal(err)
	}
	data := nntest.RandomBatch(arch, batch, nntest.NewRand(2))
	// Gradients returns the loss, which waits for the device: every step
	// is timed to its end.
	if _, err := net.Gradients(data); err != nil {
		b.Fatal(err)
	}
	net.Step(0.01)
	b.ResetTimer()
	for range b.N {
		if _, err := net.Gradients(data); err != nil {
			b.Fatal(err)
		}
		net.Step(0.01)
	}
}

// BenchmarkLeNet300Step times training steps (forward, loss, backward,
// Adam) of LeNet-300-100 on MNIST-shaped random data, batch 60: the step of
// `make bench-torch`'s lenet-300-100-epoch case without the data loader. At
// about 2 ms a step, the per-step overhead of the engine (the optimizer's
// passes over θ, worker handoffs, temporaries) shows here first.
func BenchmarkLeNet300Step(b *testing.B) {
	arch, err := zoo.Build("lenet-300-100", zoo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 60
	net, err := torch.Backend{}.Build(nn.Config{Arch: arch, MaxBatch: batch})
	if err != nil {
		b.Fatal(err)
	}
	if err := nn.Initialize(net, zoo.DefaultInit("lenet-300-100"), nn.NewRand(1)); err != nil {
		b.Fatal(err)
	}
	if err := net.SetOptimizer(nn.Adam(0)); err != nil {
		b.Fatal(err)
	}
	data := nntest.RandomBatch(arch, batch, nntest.NewRand(2))
	if _, err := net.Gradients(data); err != nil {
		b.Fatal(err)
	}
	net.Step(1.2e-3)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := net.Gradients(data); err != nil {
			b.Fatal(err)
		}
		net.Step(1.2e-3)
	}
}
