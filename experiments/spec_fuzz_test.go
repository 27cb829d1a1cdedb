package experiments_test

import (
	"bytes"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// FuzzParseSpec feeds arbitrary YAML and overrides to the spec parser. It
// must never panic, and every spec it accepts must survive the round trip
// through the resolved YAML written into run folders with the same run name.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte("model:\n  name: lenet5\ntraining:\n  lr: 0.01\n"), "seed=3")
	f.Add([]byte("dataset: {name: synthetic, shape: [3, 8, 8]}\n"), "training.milestones=1ep,2ep")
	f.Add([]byte("prune:\n  sparsity: 0.9\n"), "prune.imp_rounds=2")
	f.Add([]byte("training: [\n"), "")
	f.Add([]byte("dataset: mnist\n"), "=")
	f.Add([]byte("sweep:\n  seed: [1, 2]\n"), "training.lr=x")
	f.Fuzz(func(t *testing.T, yaml []byte, override string) {
		s, err := experiments.ParseSpec("fuzz.yaml", yaml, []string{override})
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := experiments.WriteSpecYAML(&buf, s); err != nil {
			t.Fatalf("WriteSpecYAML: %v", err)
		}
		back, err := experiments.ParseSpec("resolved.yaml", buf.Bytes(), nil)
		if err != nil {
			t.Fatalf("the resolved spec does not parse: %v\n%s", err, buf.String())
		}
		if experiments.Hash(back) != experiments.Hash(s) {
			t.Fatalf("round trip changed the run name: %v → %v", experiments.Canonical(s), experiments.Canonical(back))
		}
	})
}
