package datasets

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSyntheticDefaults(t *testing.T) {
	sp, err := Load("synthetic", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Len() != 1024 || sp.Test.Len() != 256 || sp.Val != nil || sp.Augment.On() {
		t.Fatalf("sizes %d/%v/%d augment %+v", sp.Train.Len(), sp.Val, sp.Test.Len(), sp.Augment)
	}
	if !slices.Equal(sp.Train.Shape, []int{3, 32, 32}) || sp.Train.Classes != 10 {
		t.Fatalf("shape %v classes %d", sp.Train.Shape, sp.Train.Classes)
	}
	for _, s := range []*Set{sp.Train, sp.Test} {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestSyntheticDeterminism(t *testing.T) {
	o := Options{Shape: []int{5}, Classes: 3, TrainSize: 30, TestSize: 9, Seed: 11}
	a, _ := Load("synthetic", o)
	b, _ := Load("synthetic", o)
	o2 := o
	o2.Seed = 12
	c, _ := Load("synthetic", o2)
	o3 := o
	o3.TestSize = 20
	d, _ := Load("synthetic", o3)
	if !slices.Equal(a.Train.X, b.Train.X) || !slices.Equal(a.Test.X, b.Test.X) || !slices.Equal(a.Train.Y, b.Train.Y) {
		t.Error("same seed gave different data")
	}
	if slices.Equal(a.Train.X, c.Train.X) {
		t.Error("different seeds gave the same data")
	}
	if !slices.Equal(a.Train.X, d.Train.X) || !slices.Equal(a.Test.X, d.Test.X[:len(a.Test.X)]) {
		t.Error("changing the test size changed the training set or the first test examples")
	}
	o4 := o
	o4.ValSize, o4.SplitSeed = 6, 2
	e, err := Load("synthetic", o4)
	if err != nil {
		t.Fatal(err)
	}
	if e.Train.Len() != 24 || e.Val.Len() != 6 || e.Train.Name != "synthetic/train" || e.Val.Name != "synthetic/val" {
		t.Errorf("validation split: %d/%d %q %q", e.Train.Len(), e.Val.Len(), e.Train.Name, e.Val.Name)
	}
}

// TestSyntheticLearnable checks that classes are separable: a nearest class
// mean classifier fit on train is right on most test examples.
func TestSyntheticLearnable(t *testing.T) {
	for _, o := range []Options{
		{Seed: 3, TrainSize: 512, TestSize: 200},
		{Shape: []int{20}, Classes: 4, TrainSize: 400, TestSize: 200, Seed: 4},
	} {
		sp, err := Load("synthetic", o)
		if err != nil {
			t.Fatal(err)
		}
		tr, d, k := sp.Train, sp.Train.ExampleSize(), sp.Train.Classes
		means := make([]float64, k*d)
		counts := make([]int, k)
		for i := range tr.Len() {
			c := int(tr.Y[i])
			counts[c]++
			for j := range d {
				means[c*d+j] += float64(tr.X[i*d+j])
			}
		}
		for c := range k {
			if counts[c] < tr.Len()/k-1 {
				t.Fatalf("class %d has %d of %d examples: not balanced", c, counts[c], tr.Len())
			}
			for j := range d {
				means[c*d+j] /= float64(counts[c])
			}
		}
		// Class means are far apart: distance² ≈ 2d for N(0,1) patterns.
		for a := range k {
			for b := a + 1; b < k; b++ {
				var d2 float64
				for j := range d {
					diff := means[a*d+j] - means[b*d+j]
					d2 += diff * diff
				}
				if d2 < 0.5*float64(d) {
					t.Errorf("class means %d and %d are %.2f apart, want about %.1f", a, b, math.Sqrt(d2), math.Sqrt(2*float64(d)))
				}
			}
		}
		te := sp.Test
		right := 0
		for i := range te.Len() {
			best, bestD := -1, math.Inf(1)
			for c := range k {
				var d2 float64
				for j := range d {
					diff := float64(te.X[i*d+j]) - means[c*d+j]
					d2 += diff * diff
				}
				if d2 < bestD {
					best, bestD = c, d2
				}
			}
			if best == int(te.Y[i]) {
				right++
			}
		}
		if acc := float64(right) / float64(te.Len()); acc < 0.8 {
			t.Errorf("shape %v: nearest class mean test accuracy %.2f, want ≥ 0.8", tr.Shape, acc)
		}
	}
}

func TestModular(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        Options
		p, pairs int
		nTrain   int
	}{
		{"default", Options{SplitSeed: 1}, 67, 67 * 68 / 2, 911},
		{"all pairs", Options{Modulus: 7, TrainFraction: 0.5, AllPairs: true, SplitSeed: 2}, 7, 49, 24},
		{"symmetric small", Options{Modulus: 5, TrainFraction: 0.3, SplitSeed: 3}, 5, 15, 4},
	} {
		sp, err := Load("modular", tc.o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := tc.p
		if sp.Train.Len() != tc.nTrain || sp.Test.Len() != tc.pairs-tc.nTrain || sp.Val != nil {
			t.Fatalf("%s: %d train %d test, want %d and %d", tc.name, sp.Train.Len(), sp.Test.Len(), tc.nTrain, tc.pairs-tc.nTrain)
		}
		if !slices.Equal(sp.Train.Shape, []int{2 * p}) || sp.Train.Classes != p {
			t.Fatalf("%s: shape %v classes %d", tc.name, sp.Train.Shape, sp.Train.Classes)
		}
		seen := make(map[[2]int]int)
		for _, s := range []*Set{sp.Train, sp.Test} {
			for i := range s.Len() {
				x := s.X[i*2*p : (i+1)*2*p]
				a, b, ones := -1, -1, 0
				for j, v := range x {
					switch {
					case v == 1 && j < p:
						a = j
						ones++
					case v == 1:
						b = j - p
						ones++
					case v != 0:
						t.Fatalf("%s: value %v in a one-hot input", tc.name, v)
					}
				}
				if ones != 2 || a < 0 || b < 0 {
					t.Fatalf("%s: example %d of %s is not two one-hots: %v", tc.name, i, s.Name, x)
				}
				if int(s.Y[i]) != (a+b)%p {
					t.Fatalf("%s: (%d + %d) mod %d labelled %d", tc.name, a, b, p, s.Y[i])
				}
				if !tc.o.AllPairs && a > b {
					t.Fatalf("%s: pair (%d, %d) with a > b in the symmetric task", tc.name, a, b)
				}
				seen[[2]int{a, b}]++
			}
		}
		if len(seen) != tc.pairs {
			t.Errorf("%s: %d distinct pairs, want %d", tc.name, len(seen), tc.pairs)
		}
		for pr, c := range seen {
			if c != 1 {
				t.Errorf("%s: pair %v appears %d times", tc.name, pr, c)
			}
		}
	}
	a, _ := Load("modular", Options{SplitSeed: 1})
	b, _ := Load("modular", Options{SplitSeed: 1})
	c, _ := Load("modular", Options{SplitSeed: 2})
	if !slices.Equal(a.Train.X, b.Train.X) || slices.Equal(a.Train.X, c.Train.X) {
		t.Error("the split is not a function of the split seed")
	}
}

// TestModularSum checks the sum encoding against the concatenated one on
// the Grokking Tickets task: 67·68/2 = 2,278 pairs, 911 for training
// (floor(0.4 · 2,278)) and 1,367 held out, the same pairs in the same order
// under both encodings, and each sum input one-hot(a) + one-hot(b).
func TestModularSum(t *testing.T) {
	cat, err := Load("modular", Options{SplitSeed: 5})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Load("modular", Options{SplitSeed: 5, Encoding: "sum"})
	if err != nil {
		t.Fatal(err)
	}
	const p = 67
	if sum.Train.Len() != 911 || sum.Test.Len() != 1367 || sum.Train.Len()+sum.Test.Len() != 2278 {
		t.Fatalf("%d train, %d test; want 911 and 1,367 of 2,278", sum.Train.Len(), sum.Test.Len())
	}
	if !slices.Equal(sum.Train.Shape, []int{p}) || sum.Train.Classes != p {
		t.Fatalf("shape %v, classes %d; want [67] and 67", sum.Train.Shape, sum.Train.Classes)
	}
	doubles := 0
	for _, pair := range [][2]*Set{{cat.Train, sum.Train}, {cat.Test, sum.Test}} {
		c, s := pair[0], pair[1]
		for i := range s.Len() {
			want := make([]float32, p)
			for j, v := range c.X[i*2*p : (i+1)*2*p] {
				want[j%p] += v
			}
			if got := s.X[i*p : (i+1)*p]; !slices.Equal(got, want) || s.Y[i] != c.Y[i] {
				t.Fatalf("%s example %d: %v label %d, want %v label %d", s.Name, i, got, s.Y[i], want, c.Y[i])
			}
			if slices.Contains(want, 2) {
				doubles++
			}
		}
	}
	if doubles != p { // the pairs (a, a)
		t.Errorf("%d inputs with a 2, want %d (one per pair a = b)", doubles, p)
	}
}

func TestLoadErrors(t *testing.T) {
	on := true
	for _, tc := range []struct {
		name, set string
		o         Options
		wantErr   string
	}{
		{"unknown", "imagenet", Options{}, `unknown data set "imagenet"; want one of cifar10, mnist, modular, synthetic`},
		{"syn shape", "synthetic", Options{Shape: []int{3, 0}}, "shape [3 0]"},
		{"syn classes", "synthetic", Options{Classes: 1}, "classes = 1"},
		{"syn negative size", "synthetic", Options{TrainSize: -5}, "train size = -5"},
		{"syn noise", "synthetic", Options{Noise: -1}, "noise = -1"},
		{"syn val", "synthetic", Options{TrainSize: 10, ValSize: 10}, "validation size 10"},
		{"syn augment", "synthetic", Options{Augment: &on}, "no augmentation"},
		{"mod modulus", "modular", Options{Modulus: 1}, "modulus = 1"},
		{"mod fraction", "modular", Options{TrainFraction: 1}, "train fraction = 1"},
		{"mod fraction tiny", "modular", Options{Modulus: 3, TrainFraction: 0.1}, "leaves 0 for training"},
		{"mod augment", "modular", Options{Augment: &on}, "no augmentation"},
		{"mod encoding", "modular", Options{Encoding: "onehot"}, `encoding = "onehot": want concat or sum`},
	} {
		if _, err := Load(tc.set, tc.o); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	if got := Names(); !slices.Equal(got, []string{"cifar10", "mnist", "modular", "synthetic"}) {
		t.Errorf("Names() = %v", got)
	}
}
