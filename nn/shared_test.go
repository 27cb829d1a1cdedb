package nn

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func sharedTables(size, m int) Shared {
	s := Shared{Array: "z", ArraySize: m, Index: make([]int32, size), Sign: make([]float32, size), Scale: 0.5}
	for i := range size {
		s.Index[i] = int32(i * 7 % m)
		s.Sign[i] = float32(1 - 2*(i%3%2))
	}
	return s
}

// Validate accepts a good parametrization in either form and names what is
// wrong with a bad one.
func TestSharedValidate(t *testing.T) {
	good := sharedTables(10, 4)
	if err := good.Validate("w", 10); err != nil {
		t.Fatalf("tables: %v", err)
	}
	viaMap := Shared{Array: "z", ArraySize: 4, Map: TableMap{Index: good.Index, Sign: good.Sign}, Scale: 1, GradDivisor: []float32{1, 2, 3, 4}}
	if err := viaMap.Validate("w", 10); err != nil {
		t.Fatalf("map: %v", err)
	}
	mod := func(f func(s *Shared)) Shared {
		s := sharedTables(10, 4)
		s.Index, s.Sign = slices.Clone(s.Index), slices.Clone(s.Sign)
		f(&s)
		return s
	}
	for _, c := range []struct {
		s    Shared
		want string
	}{
		{mod(func(s *Shared) { s.Array = "" }), "no array name"},
		{mod(func(s *Shared) { s.ArraySize = 0 }), "0 entries"},
		{mod(func(s *Shared) { s.Map = TableMap{} }), "both"},
		{mod(func(s *Shared) { s.Index, s.Sign = nil, nil }), "no Map"},
		{mod(func(s *Shared) { s.Sign = s.Sign[:9] }), "9 signs"},
		{mod(func(s *Shared) { s.Index[3] = 4 }), "virtual weight 3 reads index 4"},
		{mod(func(s *Shared) { s.Index[5] = -1 }), "reads index -1"},
		{mod(func(s *Shared) { s.Sign[2] = 0.5 }), "sign 0.5"},
		{mod(func(s *Shared) { s.Scale = float32(math.NaN()) }), "scale NaN"},
		{mod(func(s *Shared) { s.GradDivisor = []float32{1, 1, 1} }), "3 gradient divisors"},
		{mod(func(s *Shared) { s.GradDivisor = []float32{1, 1, -1, 1} }), "divisor 2 is -1"},
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
	s := sharedTables(2*validateBlock+3, 11)
	z := make([]float32, 11)
	for j := range z {
		z[j] = float32(j) - 5
	}
	w := make([]float32, len(s.Index))
	s.Weights(w, z)
	for i := range w {
		if want := s.Scale * s.Sign[i] * z[s.Index[i]]; w[i] != want {
			t.Fatalf("W[%d] = %v, want %v", i, w[i], want)
		}
	}
	if s.Mapping().(TableMap).Index == nil {
		t.Errorf("Mapping of tables is not a TableMap over them")
	}
}
