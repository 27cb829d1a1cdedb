package train

import (
	"strings"
	"testing"
)

func TestParseStep(t *testing.T) {
	cases := []struct {
		in    string
		want  Step
		iters int // at 100 iterations per epoch
	}{
		{"160ep", Step{Epochs: 160}, 16000},
		{"500it", Step{Iterations: 500}, 500},
		{"2ep100it", Step{Epochs: 2, Iterations: 100}, 300},
		{"0it", Step{}, 0},
	}
	for _, c := range cases {
		got, err := ParseStep(c.in)
		if err != nil {
			t.Fatalf("ParseStep(%q): %v", c.in, err)
		}
		if got != c.want || got.Iters(100) != c.iters {
			t.Errorf("ParseStep(%q) = %+v (%d it), want %+v (%d it)", c.in, got, got.Iters(100), c.want, c.iters)
		}
		if again, _ := ParseStep(got.String()); again != got {
			t.Errorf("%q does not round-trip through String (%q)", c.in, got.String())
		}
	}
	for _, bad := range []string{"", "100", "ep", "1.5ep", "-3it", "3it2ep", "3 ep", "10epochs", "it"} {
		if _, err := ParseStep(bad); err == nil || !strings.Contains(err.Error(), "160ep") {
			t.Errorf("ParseStep(%q): error %v, want one with an example", bad, err)
		}
	}
}

// Steps are bounded so that a count of iterations never overflows.
func TestParseStepBounds(t *testing.T) {
	for _, s := range []string{"1000000ep", "1000000000000it", "1000000ep1000000000000it"} {
		if _, err := ParseStep(s); err != nil {
			t.Errorf("ParseStep(%q): %v", s, err)
		}
	}
	for _, s := range []string{"1000001ep", "9999999999999999ep", "1000000000001it", "99999999999999999999999it"} {
		if _, err := ParseStep(s); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("ParseStep(%q): error %v, want a bound", s, err)
		}
	}
	if n := (Step{Epochs: MaxStepEpochs, Iterations: MaxStepIterations}).Iters(1_000_000); n <= 0 {
		t.Errorf("the largest step overflows: %d", n)
	}
}
