package nntest

import (
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// TestParametrizations checks that Scored and Shared either work or fail
// with an error wrapping nn.ErrNotImplemented (never a silent fallback), that
// an engine that implements them follows their contract against the
// reference (checkScored, checkShared), and that masks are copied in and
// out.
func TestParametrizations(t *testing.T, b nn.Backend) {
	arch := MLP()
	net := build(t, b, arch, 8, 0, 0)
	SetRandom(net, NewRand(81))
	batch := RandomBatch(arch, 8, NewRand(82))
	name := "fc2.weight"
	size := net.Param(name).Info().Size()

	t.Run("Scored", func(t *testing.T) {
		rng := NewRand(83)
		scores := make([]float32, size)
		for i := range scores {
			scores[i] = float32(rng.NormFloat64())
		}
		keep := size / 3
		err := net.SetParametrization(name, nn.Scored{Scores: scores, Keep: keep})
		if err != nil {
			if !errors.Is(err, nn.ErrNotImplemented) {
				t.Fatalf("scored parametrization: error %q does not wrap nn.ErrNotImplemented", err)
			}
			if _, ok := net.Parametrization(name).(nn.Dense); !ok {
				t.Errorf("after a refused scored parametrization, %s is %v, want unchanged (dense)", name, net.Parametrization(name))
			}
			return
		}
		if _, ok := net.Parametrization(name).(nn.Scored); !ok {
			t.Fatalf("after setting a scored parametrization, %s reports %v", name, net.Parametrization(name))
		}
		// W = θ ⊙ topk(s): the same logits as the top-k mask under P1.
		mask := topK(scores, keep)
		ref, err := newRef(net, map[string][]float32{name: mask}, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.logits(batch.X, 8, false)
		got := make([]float32, 8*arch.Classes)
		if err := net.Logits(got, batch); err != nil {
			t.Fatal(err)
		}
		checkClose(t, "logits with a scored parametrization", got, want, 1e-5*(1+maxAbs(want)), 1e-5)
		checkScored(t, b, net, name, scores, keep)
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Shared", func(t *testing.T) {
		p := sharedFixture(net, []string{"fc1.weight", name}, 7, NewRand(86))
		err := net.SetParametrization(name, p[name])
		if err != nil {
			if !errors.Is(err, nn.ErrNotImplemented) {
				t.Fatalf("shared parametrization: error %q does not wrap nn.ErrNotImplemented", err)
			}
			if _, ok := net.Parametrization(name).(nn.Dense); !ok {
				t.Errorf("after a refused shared parametrization, %s is %v, want unchanged (dense)", name, net.Parametrization(name))
			}
			return
		}
		if _, ok := net.Parametrization(name).(nn.Shared); !ok {
			t.Fatalf("after setting a shared parametrization, %s reports %v", name, net.Parametrization(name))
		}
		checkShared(t, b, net, p)
	})

	t.Run("MaskCopies", func(t *testing.T) {
		m := RandomMask(size, 0.5, NewRand(84))
		orig := append([]float32(nil), m...)
		if err := net.SetParametrization(name, nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
			t.Fatal(err)
		}
		ref, err := newRef(net, map[string][]float32{name: orig}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			m[i] = 1 - m[i] // the caller's slice must not be the net's mask
		}
		got, ok := net.Parametrization(name).(nn.Masked)
		if !ok || !reflect.DeepEqual(got.Mask, orig) || got.Pattern != nn.MaskedForward {
			t.Fatalf("Parametrization(%s) = %v, want the mask that was set", name, net.Parametrization(name))
		}
		for i := range got.Mask {
			got.Mask[i] = 0 // nor may the returned one be
		}
		want := ref.logits(batch.X, 8, false)
		logits := make([]float32, 8*arch.Classes)
		if err := net.Logits(logits, batch); err != nil {
			t.Fatal(err)
		}
		checkClose(t, "logits after changing the caller's and the returned mask", logits, want, 1e-5*(1+maxAbs(want)), 1e-5)
		if err := net.SetParametrization(name, nn.Dense{}); err != nil {
			t.Fatal(err)
		}
	})
}

// topK is the exact top-k mask of docs/methods/conventions.md#exact-top-k:
// the k largest scores, ties to the lower index.
func topK(s []float32, k int) []float32 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	m := make([]float32, len(s))
	for _, i := range idx[:k] {
		m[i] = 1
	}
	return m
}

// checkScored checks the rest of the scored contract (nn/scored.go) on a net
// whose parameter name has Scored{scores, keep}: Parametrization returns a
// copy of the scores; Grad is the dense gradient ∂L/∂W at W = θ ⊙ m; θ is
// never masked, so new scores move the mask over the same θ; and a State
// carries the scores to a fresh net.
func checkScored(t *testing.T, b nn.Backend, net nn.Net, name string, scores []float32, keep int) {
	t.Helper()
	arch := net.Arch()
	batch := RandomBatch(arch, 8, NewRand(85))
	got, ok := net.Parametrization(name).(nn.Scored)
	if !ok || !reflect.DeepEqual(got.Scores, scores) || got.Keep != keep {
		t.Fatalf("Parametrization(%s) = %v, want the scores and keep that were set", name, net.Parametrization(name))
	}
	got.Scores[0] += 100 // the returned scores must be a copy
	if again := net.Parametrization(name).(nn.Scored); again.Scores[0] != scores[0] {
		t.Errorf("changing the scores Parametrization returned changed the net's")
	}

	// The dense gradient at W = θ ⊙ topk(s).
	ref, err := newRef(net, map[string][]float32{name: topK(scores, keep)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, wantGrads := ref.mlpGrads(batch.X, batch.Y, 8)
	mustGradients(t, net, batch)
	checkClose(t, "gradient of "+name+" under a scored parametrization", grad(net.Param(name)), wantGrads[name], 1e-5, 1e-4)

	// New scores: a new mask over the same θ.
	theta := values(net.Param(name))
	flipped := make([]float32, len(scores))
	for i, v := range scores {
		flipped[i] = -v
	}
	if err := net.SetParametrization(name, nn.Scored{Scores: flipped, Keep: keep}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values(net.Param(name)), theta) {
		t.Errorf("setting new scores changed θ of %s", name)
	}
	ref, err = newRef(net, map[string][]float32{name: topK(flipped, keep)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.logits(batch.X, 8, false)
	logits := make([]float32, 8*arch.Classes)
	if err := net.Logits(logits, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits after new scores", logits, want, 1e-5*(1+maxAbs(want)), 1e-5)

	// A State carries the scores.
	st := mustState(t, net)
	if _, ok := st.Tensors["scores/"+name]; !ok {
		t.Fatalf("State has no tensor scores/%s", name)
	}
	fresh := build(t, b, arch, 8, 0, 0)
	if err := fresh.SetState(st); err != nil {
		t.Fatalf("SetState of a state with scores: %v", err)
	}
	if p, ok := fresh.Parametrization(name).(nn.Scored); !ok || !reflect.DeepEqual(p.Scores, flipped) || p.Keep != keep {
		t.Errorf("after SetState, %s is %v, want the saved scores", name, fresh.Parametrization(name))
	}
	restored := make([]float32, 8*arch.Classes)
	if err := fresh.Logits(restored, batch); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits after SetState with scores", restored, want, 1e-5*(1+maxAbs(want)), 1e-5)
}
