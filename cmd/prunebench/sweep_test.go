package main

import (
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// TestCanonicalString: pointer fields (amount keys) print their values.
func TestCanonicalString(t *testing.T) {
	s, err := experiments.ParseSpec("t.yaml", []byte("pipeline: pai\nprune: {density: 0.05, criterion: snip}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := canonicalString(s)
	for _, want := range []string{"prune.density=0.05", "pipeline=pai"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
