package native

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

func stateNames(s *nn.State) (tensors, counters []string) {
	for k := range s.Tensors {
		tensors = append(tensors, k)
	}
	for k := range s.Counters {
		counters = append(counters, k)
	}
	sort.Strings(tensors)
	sort.Strings(counters)
	return
}

// TestStateNames pins the naming scheme of nn.State.
func TestStateNames(t *testing.T) {
	arch := &nn.Arch{Name: "names", Input: []int{4}, Classes: 2, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 4, Out: 3, Bias: true},
		nn.BatchNorm{Name: "bn1", C: 3},
		nn.ReLU{},
		nn.Linear{Name: "fc2", In: 3, Out: 2},
	}}
	net := newTrainNet(t, arch, 2)
	if err := net.SetOptimizer(nn.Adam(0)); err != nil {
		t.Fatal(err)
	}
	if err := net.SetParametrization("fc2.weight", nn.Masked{Mask: []float32{1, 0, 1, 1, 0, 1}, Pattern: nn.MaskedForward}); err != nil {
		t.Fatal(err)
	}
	s, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	tensors, counters := stateNames(s)
	wantT := []string{
		"buffer/bn1.running_mean", "buffer/bn1.running_var",
		"mask/fc2.weight",
		"opt/exp_avg/bn1.bias", "opt/exp_avg/bn1.weight", "opt/exp_avg/fc1.bias", "opt/exp_avg/fc1.weight", "opt/exp_avg/fc2.weight",
		"opt/exp_avg_sq/bn1.bias", "opt/exp_avg_sq/bn1.weight", "opt/exp_avg_sq/fc1.bias", "opt/exp_avg_sq/fc1.weight", "opt/exp_avg_sq/fc2.weight",
		"param/bn1.bias", "param/bn1.weight", "param/fc1.bias", "param/fc1.weight", "param/fc2.weight",
	}
	wantC := []string{"mask_pattern/fc2.weight", "step"}
	if !reflect.DeepEqual(tensors, wantT) {
		t.Errorf("tensors %v\nwant %v", tensors, wantT)
	}
	if !reflect.DeepEqual(counters, wantC) {
		t.Errorf("counters %v, want %v", counters, wantC)
	}
	if s.Counters["mask_pattern/fc2.weight"] != int64(nn.MaskedForward) {
		t.Errorf("mask_pattern = %d", s.Counters["mask_pattern/fc2.weight"])
	}
	// Momentum SGD keeps one slot, plain SGD none.
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	s, _ = net.State()
	tensors, _ = stateNames(s)
	if n := countPrefix(tensors, "opt/momentum/"); n != 5 || countPrefix(tensors, "opt/") != 5 {
		t.Errorf("SGD momentum: %d momentum tensors in %v", n, tensors)
	}
	if err := net.SetOptimizer(nn.SGD(0, 0)); err != nil {
		t.Fatal(err)
	}
	s, _ = net.State()
	tensors, _ = stateNames(s)
	if countPrefix(tensors, "opt/") != 0 {
		t.Errorf("plain SGD: optimizer tensors in %v", tensors)
	}
}

func countPrefix(names []string, prefix string) int {
	n := 0
	for _, s := range names {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestSetStateOptimizer: the optimizer must be installed before SetState,
// and must be the one the state was saved with.
func TestSetStateOptimizer(t *testing.T) {
	arch := nntest.MLP()
	src := newTrainNet(t, arch, 2)
	if err := src.SetOptimizer(nn.Adam(0)); err != nil {
		t.Fatal(err)
	}
	b := nntest.RandomBatch(arch, 2, nntest.NewRand(1))
	for range 3 {
		if _, err := src.Gradients(b); err != nil {
			t.Fatal(err)
		}
		src.Step(0.01)
	}
	s, _ := src.State()

	dst := newTrainNet(t, arch, 2)
	err := dst.SetState(s)
	if err == nil || !strings.Contains(err.Error(), "SetOptimizer") {
		t.Errorf("SetState without an optimizer: %v, want an error that says to call SetOptimizer", err)
	}
	if err := dst.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	if err := dst.SetState(s); err == nil || !strings.Contains(err.Error(), "opt/") {
		t.Errorf("SetState of an Adam state into an SGD net: %v", err)
	}
	if err := dst.SetOptimizer(nn.Adam(0)); err != nil {
		t.Fatal(err)
	}
	if err := dst.SetState(s); err != nil {
		t.Fatal(err)
	}
	if dst.step != 3 {
		t.Errorf("step %d after SetState, want 3", dst.step)
	}
	// SetOptimizer starts over.
	if err := dst.SetOptimizer(nn.Adam(0)); err != nil {
		t.Fatal(err)
	}
	if dst.step != 0 {
		t.Errorf("step %d after SetOptimizer, want 0", dst.step)
	}
	for _, e := range dst.entries {
		for _, v := range e.s1 {
			if v != 0 {
				t.Fatalf("%s: exp_avg not reset by SetOptimizer", e.info.Name)
			}
		}
	}
}

// TestStateNoAliasing: a State shares no memory with the net.
func TestStateNoAliasing(t *testing.T) {
	net := newTrainNet(t, nntest.ConvNet(), 2)
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	if err := net.SetParametrization("fc.weight", nn.Masked{Mask: nntest.RandomMask(160, 0.5, nntest.NewRand(4)), Pattern: nn.ZeroAfterStep}); err != nil {
		t.Fatal(err)
	}
	s, _ := net.State()
	h := weightHash(net)
	for _, v := range s.Tensors {
		for i := range v {
			v[i] = 7
		}
	}
	if weightHash(net) != h {
		t.Fatalf("writing into a State changed the net")
	}
	if m := net.Parametrization("fc.weight").(nn.Masked).Mask; m[0] == 7 {
		t.Fatalf("the State's mask aliases the net's")
	}
}
