package experiments

import (
	"strings"
	"testing"
)

// TestNewOptionKeepsHashes shows the rule the golden test relies on: adding
// a field whose default is left unset leaves every old canonical form, and so
// every old hash, unchanged.
func TestNewOptionKeepsHashes(t *testing.T) {
	type v1 struct {
		Model string  `mapstructure:"model"`
		LR    float64 `mapstructure:"lr"`
	}
	type v2 struct {
		Model string  `mapstructure:"model"`
		LR    float64 `mapstructure:"lr"`
		Mixup bool    `mapstructure:"mixup"` // new, default false: no effect
	}
	def1, def2 := v1{"mlp", 0.1}, v2{"mlp", 0.1, false}
	old := hashCanonical(canonical(v1{"lenet5", 0.1}, def1))
	if now := hashCanonical(canonical(v2{"lenet5", 0.1, false}, def2)); now != old {
		t.Errorf("adding a no-op option changed the hash: %s → %s", old, now)
	}
	if on := hashCanonical(canonical(v2{"lenet5", 0.1, true}, def2)); on == old {
		t.Error("setting the new option did not change the hash")
	}
}

// sparse says how the engine computes, not what: it is no part of the run
// name, and only auto and off are accepted.
func TestSparseKeyOutOfIdentity(t *testing.T) {
	auto, err := ParseSpec("t.yaml", []byte("pipeline: imp\nprune: {density: 0.1}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	off, err := ParseSpec("t.yaml", []byte("pipeline: imp\nprune: {density: 0.1}\nsparse: off\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if Hash(auto) != Hash(off) {
		t.Errorf("sparse: off renames the run: %s against %s", Hash(off), Hash(auto))
	}
	if _, err := Validate(off); err != nil {
		t.Errorf("sparse: off: %v", err)
	}
	bad, err := ParseSpec("t.yaml", []byte("sparse: sometimes\n"), nil)
	if err == nil {
		_, err = Validate(bad)
	}
	if err == nil || !strings.Contains(err.Error(), `sparse = "sometimes": want auto or off`) {
		t.Errorf("sparse: sometimes: %v", err)
	}
}
