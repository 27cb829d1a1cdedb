package experiments

import "testing"

// TestHashGolden pins run names. If this fails, a change renamed existing
// runs: their folders and results no longer match their specs. Give a new
// option a default that has no effect instead (OpenLTH's rule).
func TestHashGolden(t *testing.T) {
	lenet5 := Defaults()
	lenet5.Model.Name = "lenet5"
	lenet5.Training.Steps = "20ep"
	sgd := Defaults()
	sgd.Training.Optimizer, sgd.Training.LR, sgd.Training.Momentum = "sgd", 0.1, 0.9
	sgd.Training.Milestones = []string{"80ep", "120ep"}
	sgd.Seed = 3
	sgd.Output = "elsewhere" // not part of the identity
	sparse := Defaults()
	sparse.Prune.Sparsity = f(0.9)
	cases := []struct {
		name string
		s    Spec
		want string
	}{
		{"defaults", Defaults(), golden["defaults"]},
		{"lenet5", lenet5, golden["lenet5"]},
		{"sgd", sgd, golden["sgd"]},
		{"sparse", sparse, golden["sparse"]},
	}
	for _, c := range cases {
		if got := Hash(c.s); got != c.want {
			t.Errorf("Hash(%s) = %s, pinned %s (canonical form %v)", c.name, got, c.want, Canonical(c.s))
		}
	}
}

var golden = map[string]string{
	"defaults": "44136fa355b3",
	"lenet5":   "6556c57d8c39",
	"sgd":      "d68872da61ab",
	"sparse":   "61aa0f5dce4e",
}

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
