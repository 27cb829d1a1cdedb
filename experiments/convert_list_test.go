package experiments

import "testing"

// TestSetListForms: --set gives a list key as comma-separated values or as
// a YAML flow list in brackets; both name the same setting (and the same
// run), and "[]" is the empty list, the default.
func TestSetListForms(t *testing.T) {
	base := []byte("pipeline: pai\nprune: {criterion: snip, density: 0.1}\n")
	for _, c := range []struct{ set, want string }{
		{"prune.branches=random_reinit,random_prune", "[random_reinit,random_prune]"},
		{"prune.branches=[random_reinit, random_prune]", "[random_reinit,random_prune]"},
		{"prune.branches=[random_reinit]", "[random_reinit]"},
		{"prune.branches=[]", ""},
	} {
		s, err := ParseSpec("s.yaml", base, []string{c.set})
		if err != nil {
			t.Errorf("--set %s: %v", c.set, err)
			continue
		}
		if got := SettingValues(s)["prune.branches"]; got != c.want {
			t.Errorf("--set %s: prune.branches %q, want %q", c.set, got, c.want)
		}
	}
}
