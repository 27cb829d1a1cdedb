package datasets

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// indexSet returns a set of n examples of the given shape whose values are
// example*1000 + position, with label example mod classes, so that any value
// tells where it came from.
func indexSet(n int, shape []int, classes int) *Set {
	s := (&Set{Name: "index", Shape: shape, Classes: classes}).empty("index", n)
	sz := s.ExampleSize()
	for i := range n {
		for j := range sz {
			s.X[i*sz+j] = float32(i*1000 + j)
		}
		s.Y[i] = int32(i % classes)
	}
	return s
}

// batchExamples returns the example indices of a batch of an indexSet.
func batchExamples(x []float32, n, sz int) []int {
	ids := make([]int, n)
	for k := range n {
		ids[k] = int(x[k*sz]) / 1000
	}
	return ids
}

func TestLoaderEpochs(t *testing.T) {
	for _, tc := range []struct {
		n, b      int
		dropLast  bool
		iters     int
		lastBatch int
	}{
		{103, 10, false, 11, 3},
		{103, 10, true, 10, 10},
		{100, 10, false, 10, 10},
		{7, 20, false, 1, 7},
		{5, 1, true, 5, 1},
	} {
		s := indexSet(tc.n, []int{2}, 3)
		l, err := NewLoader(s, tc.b, 99, Augment{}, tc.dropLast)
		if err != nil {
			t.Fatal(err)
		}
		if l.ItersPerEpoch() != tc.iters {
			t.Fatalf("n=%d b=%d dropLast=%v: %d iterations per epoch, want %d", tc.n, tc.b, tc.dropLast, l.ItersPerEpoch(), tc.iters)
		}
		x := make([]float32, tc.b*2)
		y := make([]int32, tc.b)
		var orders [][]int
		for e := range 3 {
			var order []int
			for j := range tc.iters {
				n := l.Batch(e*tc.iters+j, x, y)
				want := tc.b
				if j == tc.iters-1 {
					want = tc.lastBatch
				}
				if n != want {
					t.Fatalf("n=%d b=%d: batch %d of epoch %d has %d examples, want %d", tc.n, tc.b, j, e, n, want)
				}
				ids := batchExamples(x, n, 2)
				for k, i := range ids {
					if y[k] != int32(i%3) || x[2*k+1] != float32(i*1000+1) {
						t.Fatalf("example %d copied wrong: label %d, values %v", i, y[k], x[2*k:2*k+2])
					}
				}
				order = append(order, ids...)
			}
			seen := make(map[int]bool)
			for _, i := range order {
				if seen[i] {
					t.Fatalf("n=%d b=%d: example %d twice in epoch %d", tc.n, tc.b, i, e)
				}
				seen[i] = true
			}
			if wantN := tc.iters * tc.b; tc.dropLast && len(order) != wantN || !tc.dropLast && len(order) != tc.n {
				t.Fatalf("n=%d b=%d: epoch %d has %d examples", tc.n, tc.b, e, len(order))
			}
			orders = append(orders, order)
		}
		if tc.n > 5 && (slices.Equal(orders[0], orders[1]) || slices.Equal(orders[1], orders[2])) {
			t.Errorf("n=%d b=%d: consecutive epochs have the same order", tc.n, tc.b)
		}
		if tc.n > 5 && slices.IsSorted(orders[0]) {
			t.Errorf("n=%d: epoch 0 is not shuffled", tc.n)
		}
	}
}

// TestLoaderCounterBased checks that Batch(it) depends on (seed, it) only:
// the same on a second call, in any call order, on a fresh loader.
func TestLoaderCounterBased(t *testing.T) {
	s := indexSet(53, []int{3, 4, 4}, 5)
	aug := Augment{PadCrop: 2, Flip: true}
	const b, its = 8, 30 // 7 iterations per epoch: 4+ epochs
	ref, _ := NewLoader(s, b, 7, aug, false)
	want := make([][]float32, its)
	for it := range its {
		x := make([]float32, b*s.ExampleSize())
		n := ref.Batch(it, x, make([]int32, b))
		want[it] = x[:n*s.ExampleSize()]
	}
	fresh, _ := NewLoader(s, b, 7, aug, false)
	x := make([]float32, b*s.ExampleSize())
	y := make([]int32, b)
	r := rand.New(rand.NewPCG(1, 2))
	for _, l := range []*Loader{ref, fresh} {
		for _, it := range r.Perm(its) {
			n := l.Batch(it, x, y)
			if !slices.Equal(x[:n*s.ExampleSize()], want[it]) {
				t.Fatalf("batch %d differs when called out of order", it)
			}
		}
	}
	other, _ := NewLoader(s, b, 8, aug, false)
	n := other.Batch(0, x, y)
	if slices.Equal(x[:n*s.ExampleSize()], want[0]) {
		t.Error("seeds 7 and 8 gave the same first batch")
	}
}

func TestLoaderOrderGolden(t *testing.T) {
	l, _ := NewLoader(indexSet(10, []int{1}, 2), 10, 1, Augment{}, false)
	x := make([]float32, 10)
	l.Batch(0, x, make([]int32, 10))
	if got, want := batchExamples(x, 10, 1), []int{6, 4, 1, 8, 5, 7, 2, 0, 3, 9}; !slices.Equal(got, want) {
		t.Errorf("epoch 0 order for seed 1: %v, want %v (changing the RNG derivation changes every run)", got, want)
	}
}

func TestCropFlip(t *testing.T) {
	// One 3×4 channel holding 1..12 and a second holding -1..-12.
	src := make([]float32, 24)
	for i := range 12 {
		src[i], src[12+i] = float32(i+1), -float32(i+1)
	}
	const f, g = 100, 200 // fill values of the two channels
	for _, tc := range []struct {
		name         string
		pad, oy, ox  int
		flip         bool
		want0, want1 []float32 // channel 0; channel 1 is -want0 with g for fill
	}{
		{"identity", 1, 1, 1, false, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, nil},
		{"down 1", 1, 0, 1, false, []float32{f, f, f, f, 1, 2, 3, 4, 5, 6, 7, 8}, nil},
		{"up 1", 1, 2, 1, false, []float32{5, 6, 7, 8, 9, 10, 11, 12, f, f, f, f}, nil},
		{"left 1", 1, 1, 2, false, []float32{2, 3, 4, f, 6, 7, 8, f, 10, 11, 12, f}, nil},
		{"right 1 down 1", 1, 0, 0, false, []float32{f, f, f, f, f, 1, 2, 3, f, 5, 6, 7}, nil},
		{"flip", 1, 1, 1, true, []float32{4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9}, nil},
		{"flip then right 1", 1, 1, 0, true, []float32{f, 4, 3, 2, f, 8, 7, 6, f, 12, 11, 10}, nil},
		{"flip then left 1 up 1", 1, 2, 2, true, []float32{7, 6, 5, f, 11, 10, 9, f, f, f, f, f}, nil},
		{"pad 2, up 2 left 2", 2, 4, 4, false, []float32{11, 12, f, f, f, f, f, f, f, f, f, f}, nil},
		{"pad 5, all out", 5, 0, 10, false, []float32{f, f, f, f, f, f, f, f, f, f, f, f}, nil},
	} {
		dst := make([]float32, 24)
		cropFlip(dst, src, 2, 3, 4, tc.pad, tc.oy, tc.ox, tc.flip, []float32{f, g})
		want := append([]float32(nil), tc.want0...)
		for _, v := range tc.want0 {
			if v == f {
				want = append(want, g)
			} else {
				want = append(want, -v)
			}
		}
		if !slices.Equal(dst, want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, dst, want)
		}
	}
}

// TestLoaderAugment reconstructs each augmented example from the draws the
// documented rule makes, and checks the draws' spread and the padding value.
func TestLoaderAugment(t *testing.T) {
	s := indexSet(40, []int{3, 8, 8}, 10)
	s.Mean, s.Std = []float64{0.5, 0.25, 0}, []float64{0.5, 0.125, 2}
	wantPad := []float32{-1, -2, 0}
	if got := padValues(s); !slices.Equal(got, wantPad) {
		t.Fatalf("pad values %v, want %v", got, wantPad)
	}
	const b, seed = 16, 3
	l, err := NewLoader(s, b, seed, CIFAR10Augment, false)
	if err != nil {
		t.Fatal(err)
	}
	sz := s.ExampleSize()
	x := make([]float32, b*sz)
	y := make([]int32, b)
	want := make([]float32, sz)
	var flips, total int
	var offsets [9]int
	src := new(rand.PCG)
	r := rand.New(src)
	for it := range 12 {
		n := l.Batch(it, x, y)
		reseed(src, seed, streamAugment, uint64(it))
		for k := range n {
			flip := r.Uint64()>>63 == 1
			oy, ox := r.IntN(9), r.IntN(9)
			// Which example: the loader's permutation of this epoch
			// (order itself is tested in TestLoaderEpochs).
			i := l.perm[(it%l.ItersPerEpoch())*b+k]
			cropFlip(want, s.X[i*sz:(i+1)*sz], 3, 8, 8, 4, oy, ox, flip, wantPad)
			if !slices.Equal(x[k*sz:(k+1)*sz], want) {
				t.Fatalf("batch %d example %d (set index %d, flip %v, offset %d,%d): augmented image differs", it, k, i, flip, oy, ox)
			}
			if y[k] != s.Y[i] {
				t.Fatalf("label %d, want %d", y[k], s.Y[i])
			}
			if flip {
				flips++
			}
			offsets[oy]++
			offsets[ox]++
			total++
		}
	}
	if f := float64(flips) / float64(total); f < 0.35 || f > 0.65 {
		t.Errorf("flip fraction %.2f over %d examples, want about 0.5", f, total)
	}
	for o, c := range offsets {
		if c == 0 {
			t.Errorf("crop offset %d never drawn in %d draws", o, 2*total)
		}
	}
	// Augmentation off: examples are copied unchanged.
	l, _ = NewLoader(s, b, seed, Augment{}, false)
	n := l.Batch(0, x, y)
	for k, i := range batchExamples(x, n, sz) {
		if !slices.Equal(x[k*sz:(k+1)*sz], s.X[i*sz:(i+1)*sz]) {
			t.Fatal("unaugmented example differs from the set")
		}
	}
}

func TestLoaderAllocs(t *testing.T) {
	for _, aug := range []Augment{{}, CIFAR10Augment} {
		s := indexSet(10, []int{3, 6, 6}, 4)
		l, err := NewLoader(s, 4, 1, aug, false) // 3 iterations per epoch
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 4*s.ExampleSize())
		y := make([]int32, 4)
		it := 0
		allocs := testing.AllocsPerRun(20, func() {
			for range 5 { // crosses an epoch boundary every call
				l.Batch(it, x, y)
				it++
			}
		})
		if allocs != 0 {
			t.Errorf("augment %+v: %v allocations per 5 batches, want 0", aug, allocs)
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	img := indexSet(10, []int{1, 4, 4}, 2)
	vec := indexSet(10, []int{16}, 2)
	bad := indexSet(10, []int{16}, 2)
	bad.Y[3] = 7
	for _, tc := range []struct {
		name     string
		s        *Set
		b        int
		aug      Augment
		dropLast bool
		wantErr  string
	}{
		{"nil set", nil, 4, Augment{}, false, "empty data set"},
		{"empty set", indexSet(0, []int{2}, 2), 4, Augment{}, false, "empty data set"},
		{"batch 0", img, 0, Augment{}, false, "batch size 0"},
		{"no full batch", img, 11, Augment{}, true, "no full batch"},
		{"augment vector", vec, 4, CIFAR10Augment, false, "needs CHW images"},
		{"negative pad", img, 4, Augment{PadCrop: -1}, false, "padding -1"},
		{"invalid set", bad, 4, Augment{}, false, "label 7"},
	} {
		if _, err := NewLoader(tc.s, tc.b, 1, tc.aug, tc.dropLast); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	l, _ := NewLoader(img, 4, 1, Augment{}, false)
	for name, f := range map[string]func(){
		"short dstX":         func() { l.Batch(0, make([]float32, 4*16-1), make([]int32, 4)) },
		"short dstY":         func() { l.Batch(0, make([]float32, 4*16), make([]int32, 3)) },
		"short last batch X": func() { l.Batch(2, make([]float32, 2*16), make([]int32, 4)) },
		"negative it":        func() { l.Batch(-1, make([]float32, 4*16), make([]int32, 4)) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestSetSliceSubset(t *testing.T) {
	s := indexSet(10, []int{2}, 3)
	for _, tc := range []struct{ start, n, want int }{{0, 4, 4}, {8, 4, 2}, {10, 4, 0}, {12, 1, 0}, {3, 0, 0}} {
		x, y := s.Slice(tc.start, tc.n)
		if len(y) != tc.want || len(x) != 2*tc.want {
			t.Errorf("Slice(%d, %d): %d examples, want %d", tc.start, tc.n, len(y), tc.want)
		}
		if tc.want > 0 && (x[0] != float32(tc.start*1000) || &x[0] != &s.X[2*tc.start]) {
			t.Errorf("Slice(%d, %d) is not a view of example %d", tc.start, tc.n, tc.start)
		}
	}
	if !panics(func() { s.Slice(-1, 2) }) {
		t.Error("Slice(-1, 2): no panic")
	}
	sub := s.Subset([]int{7, 2, 7})
	if sub.Len() != 3 || sub.X[0] != 7000 || sub.X[3] != 2001 || sub.Y[1] != 2 || sub.Classes != 3 {
		t.Errorf("Subset: %v %v", sub.X, sub.Y)
	}
	sub.X[0] = -1
	if s.X[14] != 7000 {
		t.Error("Subset shares memory with the set")
	}
}
