package native

import (
	"slices"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

// buildSparse builds arch with the sparse mode given.
func buildSparse(t testing.TB, arch *nn.Arch, maxBatch int, mode string) *Net {
	t.Helper()
	net, err := Backend{}.Build(nn.Config{Arch: arch, MaxBatch: maxBatch, DropoutSeed: 5, Sparse: mode})
	if err != nil {
		t.Fatal(err)
	}
	nntest.SetRandom(net, nntest.NewRand(1))
	return net.(*Net)
}

// The index follows the parametrization: built for P1 and P3 masks, not
// for P2, dense or shared weights, nor under "off" or above the crossover
// under "auto"; rebuilt when the kept entries change, and only then.
func TestSparseIndexLifecycle(t *testing.T) {
	arch := lenet300100()
	name := "fc1.weight"
	size := 784 * 300
	rng := nntest.NewRand(9)
	sparseMask := nntest.RandomMask(size, 0.02, rng)
	other := nntest.RandomMask(size, 0.02, rng)
	denseMask := nntest.RandomMask(size, 0.9, rng)
	set := func(net *Net, p nn.Parametrization) {
		t.Helper()
		if err := net.SetParametrization(name, p); err != nil {
			t.Fatal(err)
		}
	}
	sp := func(net *Net) *sparseIndex { return net.byName[name].p.sp }

	net := buildSparse(t, arch, 8, "")
	set(net, nn.Masked{Mask: sparseMask, Pattern: nn.ZeroAfterStep})
	if sp(net) == nil || sp(net).builds != 1 {
		t.Fatalf("P3 at density 0.02 under auto: index %+v", sp(net))
	}
	set(net, nn.Masked{Mask: slices.Clone(sparseMask), Pattern: nn.MaskedForward})
	if sp(net).builds != 1 {
		t.Errorf("the same kept entries again rebuilt the index (%d builds)", sp(net).builds)
	}
	set(net, nn.Masked{Mask: other, Pattern: nn.ZeroAfterStep})
	if sp(net).builds != 2 || sp(net).nnz() != countKept(other) {
		t.Errorf("a new mask: %d builds, %d entries; want 2 builds, %d", sp(net).builds, sp(net).nnz(), countKept(other))
	}
	set(net, nn.Masked{Mask: other, Pattern: nn.ZeroBeforeForward})
	if sp(net) != nil {
		t.Error("P2 kept the sparse path (Step reads its dense gradient)")
	}
	set(net, nn.Masked{Mask: denseMask, Pattern: nn.ZeroAfterStep})
	if sp(net) != nil {
		t.Error("density 0.9 took the sparse path under auto")
	}
	set(net, nn.Masked{Mask: sparseMask, Pattern: nn.ZeroAfterStep})
	set(net, nn.Dense{})
	if sp(net) != nil {
		t.Error("Dense kept the sparse path")
	}
	off := buildSparse(t, arch, 8, "off")
	set(off, nn.Masked{Mask: sparseMask, Pattern: nn.ZeroAfterStep})
	if sp(off) != nil {
		t.Error(`Sparse "off" took the sparse path`)
	}
	on := buildSparse(t, arch, 8, "on")
	set(on, nn.Masked{Mask: denseMask, Pattern: nn.ZeroAfterStep})
	if sp(on) == nil {
		t.Error(`Sparse "on" did not take the sparse path at density 0.9`)
	}
	// The crossover table: LeNet-300-100's fc1 (a large Linear) at 0.2
	// and 0.3, a convolution at 0.3 and 0.4.
	for _, c := range []struct {
		arch    *nn.Arch
		name    string
		density float64
		sparse  bool
	}{{lenet300100(), "fc1.weight", 0.2, true}, {lenet300100(), "fc1.weight", 0.3, false}, {smallConvNet(), "layer1.0.conv2.weight", 0.3, true}, {smallConvNet(), "layer1.0.conv2.weight", 0.4, false}} {
		net := buildSparse(t, c.arch, 8, "auto")
		info := net.byName[c.name].info
		if err := net.SetParametrization(c.name, nn.Masked{Mask: nntest.RandomMask(info.Size(), c.density, nntest.NewRand(3)), Pattern: nn.ZeroAfterStep}); err != nil {
			t.Fatal(err)
		}
		if got := net.byName[c.name].p.sp != nil; got != c.sparse {
			t.Errorf("%s at density %g under auto: sparse %v, want %v", c.name, c.density, got, c.sparse)
		}
	}
	if _, err := (Backend{}).Build(nn.Config{Arch: arch, MaxBatch: 8, Sparse: "sometimes"}); err == nil {
		t.Error(`Sparse "sometimes" was accepted`)
	}
}

func countKept(m []float32) int {
	n := 0
	for _, v := range m {
		if v != 0 {
			n++
		}
	}
	return n
}

// Param.Grad is the dense gradient of the last Gradients call also after
// an evaluation in between (which overwrites the layers' inputs), and the
// sparse path allocates nothing per step, nor when the dense gradient is
// asked for.
func TestSparseGradAfterEvaluate(t *testing.T) {
	for _, arch := range []*nn.Arch{lenet300100(), smallConvNet()} {
		nets := [2]*Net{buildSparse(t, arch, 8, "on"), buildSparse(t, arch, 8, "off")}
		for _, net := range nets {
			if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
				t.Fatal(err)
			}
			maskAll(t, net, nn.ZeroAfterStep, false)
		}
		rng := nntest.NewRand(4)
		b1, b2 := nntest.RandomBatch(arch, 8, rng), nntest.RandomBatch(arch, 5, rng)
		for _, net := range nets {
			if _, err := net.Gradients(b1); err != nil {
				t.Fatal(err)
			}
			if _, _, err := net.Evaluate(b2); err != nil {
				t.Fatal(err)
			}
		}
		for _, info := range arch.Params() {
			got, want := nets[0].Param(info.Name).Grad(), nets[1].Param(info.Name).Grad()
			compareF(t, arch.Name+" "+info.Name+" after an evaluation", got, want)
		}
		net := nets[0]
		params := net.Params() // a copy: not in the loop
		var err error
		allocs := testing.AllocsPerRun(5, func() {
			if _, err = net.Gradients(b1); err == nil {
				net.Step(0.01)
			}
			for _, p := range params {
				_ = p.Grad()
			}
			_, _, err = net.Evaluate(b2)
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%s: a sparse step, the dense gradient and an evaluation allocate %v times", arch.Name, allocs)
		}
	}
}
