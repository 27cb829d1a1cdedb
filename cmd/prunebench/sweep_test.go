package main

import (
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// TestCanonicalString: pointer fields (amount keys) print their values.
func TestCanonicalString(t *testing.T) {
	s := experiments.Defaults()
	d := 0.05
	s.Prune.Density = &d
	s.Pipeline = "pai"
	got := canonicalString(s)
	for _, want := range []string{"prune.density=0.05", "pipeline=pai"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
