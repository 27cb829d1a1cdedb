package nn

import (
	"math"
	"strings"
	"testing"
)

func sharedTables(size, m int) (Shared, TableMap) {
	t := TableMap{Index: make([]int32, size), Sign: make([]float32, size)}
	for i := range size {
		t.Index[i] = int32(i * 7 % m)
		t.Sign[i] = float32(1 - 2*(i%3%2))
	}
	return Shared{Array: "z", ArraySize: m, Map: t, Scale: 0.5}, t
}

// Validate accepts a good parametrization and names what is wrong with a
// bad one.
func TestSharedValidate(t *testing.T) {
	good, tab := sharedTables(10, 4)
	if err := good.Validate("w", 10); err != nil {
		t.Fatalf("tables: %v", err)
	}
	withDiv := Shared{Array: "z", ArraySize: 4, Map: tab, Scale: 1, GradDivisor: []float32{1, 2, 3, 4}}
	if err := withDiv.Validate("w", 10); err != nil {
		t.Fatalf("divisors: %v", err)
	}
	// mod gives f a fresh good parametrization and its own tables, which
	// become its Map unless f removes the Map.
	mod := func(f func(s *Shared, tab *TableMap)) Shared {
		s, tab := sharedTables(10, 4)
		f(&s, &tab)
		if s.Map != nil {
			s.Map = tab
		}
		return s
	}
	for _, c := range []struct {
		s    Shared
		want string
	}{
		{mod(func(s *Shared, _ *TableMap) { s.Array = "" }), "no array name"},
		{mod(func(s *Shared, _ *TableMap) { s.ArraySize = 0 }), "0 entries"},
		{mod(func(s *Shared, _ *TableMap) { s.Map = nil }), "no Map"},
		{mod(func(_ *Shared, tab *TableMap) { tab.Sign = tab.Sign[:9] }), "9 signs"},
		{mod(func(_ *Shared, tab *TableMap) { tab.Index, tab.Sign = nil, nil }), "0 indices and 0 signs"},
		{mod(func(_ *Shared, tab *TableMap) { tab.Index[3] = 4 }), "virtual weight 3 reads index 4"},
		{mod(func(_ *Shared, tab *TableMap) { tab.Index[5] = -1 }), "reads index -1"},
		{mod(func(_ *Shared, tab *TableMap) { tab.Sign[2] = 0.5 }), "sign 0.5"},
		{mod(func(s *Shared, _ *TableMap) { s.Scale = float32(math.NaN()) }), "scale NaN"},
		{mod(func(s *Shared, _ *TableMap) { s.GradDivisor = []float32{1, 1, 1} }), "3 gradient divisors"},
		{mod(func(s *Shared, _ *TableMap) { s.GradDivisor = []float32{1, 1, -1, 1} }), "divisor 2 is -1"},
	} {
		err := c.s.Validate("w", 10)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "of w") {
			t.Errorf("%s: error %v, want one about w saying %q", c.s.Describe(), err, c.want)
		}
	}
}

// CheckArray wants the same size and the same divisors.
func TestSharedCheckArray(t *testing.T) {
	s := Shared{Array: "z", ArraySize: 3, GradDivisor: []float32{1, 2, 3}}
	if err := s.CheckArray(3, []float32{1, 2, 3}); err != nil {
		t.Error(err)
	}
	if err := s.CheckArray(4, []float32{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "4 entries") {
		t.Errorf("size: %v", err)
	}
	for _, d := range [][]float32{nil, {1, 2, 4}} {
		if err := s.CheckArray(3, d); err == nil || !strings.Contains(err.Error(), "divisors") {
			t.Errorf("divisors %v: %v", d, err)
		}
	}
	s.GradDivisor = nil
	if err := s.CheckArray(3, nil); err != nil {
		t.Error(err)
	}
}

// Weights is Scale·Sign·z[Index], across block boundaries.
func TestSharedWeights(t *testing.T) {
	s, tab := sharedTables(2*validateBlock+3, 11)
	z := make([]float32, 11)
	for j := range z {
		z[j] = float32(j) - 5
	}
	w := make([]float32, len(tab.Index))
	s.Weights(w, z)
	for i := range w {
		if want := s.Scale * tab.Sign[i] * z[tab.Index[i]]; w[i] != want {
			t.Fatalf("W[%d] = %v, want %v", i, w[i], want)
		}
	}
}
