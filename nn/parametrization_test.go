package nn

import (
	"reflect"
	"testing"
)

type otherParametrization struct{ Dense }

func TestConcreteParametrization(t *testing.T) {
	m := Masked{Mask: []float32{1, 0}, Pattern: MaskedForward}
	var nilMasked *Masked
	cases := []struct {
		in   Parametrization
		want Parametrization
		ok   bool
	}{
		{Dense{}, Dense{}, true},
		{&Dense{}, Dense{}, true},
		{m, m, true},
		{&m, m, true},
		{&Scored{}, Scored{}, true},
		{&Shared{}, Shared{}, true},
		{nilMasked, nil, false},
		{nil, nil, false},
		{otherParametrization{}, nil, false},
	}
	for i, c := range cases {
		got, err := ConcreteParametrization(c.in)
		if (err == nil) != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d (%T): %v, %v; want %v, ok %v", i, c.in, got, err, c.want, c.ok)
		}
	}
}
