package experiments_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// FuzzParseSpec feeds arbitrary YAML and overrides to the spec parser (the
// seeds include NaN, ±Inf, fractional and overflowing numbers). It must
// never panic nor accept a non-finite number, and every spec it accepts
// must survive the round trip through the resolved YAML written into run
// folders with the same run name.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte("model:\n  name: lenet5\ntraining:\n  lr: 0.01\n"), "seed=3")
	f.Add([]byte("dataset: {name: synthetic, shape: [3, 8, 8]}\n"), "training.milestones=1ep,2ep")
	f.Add([]byte("prune:\n  sparsity: 0.9\n"), "prune.imp_rounds=2")
	f.Add([]byte("training: [\n"), "")
	f.Add([]byte("dataset: mnist\n"), "=")
	f.Add([]byte("sweep:\n  seed: [1, 2]\n"), "training.lr=x")
	f.Add([]byte("training:\n  lr: .nan\n"), "training.momentum=-Inf")
	f.Add([]byte("training:\n  lr: .inf\n  batch_size: 60.5\n"), "seed=1e30")
	f.Add([]byte("training:\n  batch_size: 99999999999999999999\n"), "training.steps=9999999999999999ep")
	f.Add([]byte("pipeline: imp\nprune: {imp_rate: 0.2, imp_rounds: 2.5}\n"), "prune.density=NaN")
	f.Fuzz(func(t *testing.T, yaml []byte, override string) {
		s, err := experiments.ParseSpec("fuzz.yaml", yaml, []string{override})
		if err != nil {
			return
		}
		for k, v := range experiments.Canonical(s) {
			if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				t.Fatalf("accepted %s = %v", k, f)
			}
			if f, ok := v.(*float64); ok && f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
				t.Fatalf("accepted %s = %v", k, *f)
			}
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
