package datasets

import (
	"slices"
	"testing"
)

func TestSplitIndices(t *testing.T) {
	const n, v = 1000, 100
	tr1, va1, err := splitIndices(n, v, 42)
	if err != nil {
		t.Fatal(err)
	}
	tr2, va2, _ := splitIndices(n, v, 42)
	_, va3, _ := splitIndices(n, v, 43)
	if !slices.Equal(va1, va2) || !slices.Equal(tr1, tr2) {
		t.Error("same seed gave different splits")
	}
	if slices.Equal(va1, va3) {
		t.Error("different seeds gave the same split")
	}
	if len(tr1) != n-v || len(va1) != v {
		t.Fatalf("sizes %d/%d, want %d/%d", len(tr1), len(va1), n-v, v)
	}
	seen := make([]int, n)
	for _, s := range [][]int{tr1, va1} {
		if !slices.IsSorted(s) {
			t.Error("split part not in ascending order")
		}
		for _, i := range s {
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("example %d is in %d parts, want exactly 1 (disjoint and covering)", i, c)
		}
	}
	// The validation set is spread over the file, not a block.
	if va1[0] > 100 || va1[v-1] < n-100 {
		t.Errorf("validation indices span [%d, %d]: not a random sample", va1[0], va1[v-1])
	}
	// A different size with the same seed nests: the first entries of the
	// same permutation.
	_, va4, _ := splitIndices(n, 2*v, 42)
	for _, i := range va1 {
		if _, ok := slices.BinarySearch(va4, i); !ok {
			t.Fatal("the validation set of size 100 is not inside that of size 200 for the same seed")
		}
	}
	for _, bad := range []int{-1, n, n + 1} {
		if _, _, err := splitIndices(n, bad, 1); err == nil {
			t.Errorf("valSize %d: no error", bad)
		}
	}
	if tr, va, err := splitIndices(n, 0, 1); err != nil || len(tr) != n || len(va) != 0 {
		t.Errorf("valSize 0: %d/%d, %v", len(tr), len(va), err)
	}
}

// TestSplitGolden pins the split rule: changing the RNG derivation changes
// every run's validation set and must be deliberate.
func TestSplitGolden(t *testing.T) {
	_, va, _ := splitIndices(20, 4, 7)
	if want := []int{4, 5, 15, 18}; !slices.Equal(va, want) {
		t.Errorf("splitIndices(20, 4, 7) val = %v, want %v", va, want)
	}
}
