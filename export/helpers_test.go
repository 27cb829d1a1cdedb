package export

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	_ "github.com/prunebench/prunebench/experiments/pipelines" // imp and rps for the tiny runs
	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/zoo"
)

// maxBatch is the batch of the nets built by hand.
const maxBatch = 8

// buildNet builds and initializes model on the native engine.
func buildNet(t testing.TB, model string, o zoo.Options, seed uint64) nn.Net {
	t.Helper()
	arch, err := zoo.Build(model, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: maxBatch})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Initialize(net, zoo.DefaultInit(model), nn.NewRand(seed)); err != nil {
		t.Fatal(err)
	}
	return net
}

// randomBatch is n examples of arch's input, uniform in [−1, 1).
func randomBatch(arch *nn.Arch, n int, seed uint64) nn.Batch {
	size := 1
	for _, d := range arch.Input {
		size *= d
	}
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*size)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return nn.Batch{X: x, Y: make([]int32, n), N: n}
}

// logitsOf runs b through net in evaluation mode.
func logitsOf(t testing.TB, net nn.Net, b nn.Batch) []float32 {
	t.Helper()
	out := make([]float32, b.N*net.Arch().Classes)
	if err := net.Logits(out, b); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameBits reports whether a and b are equal bit for bit, and the first
// index where they are not.
func sameBits(a, b []float32) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, true
}

// checkSameLogits fails unless the two nets give the same logits, bit for
// bit, on b.
func checkSameLogits(t testing.TB, want, got nn.Net, b nn.Batch) {
	t.Helper()
	w, g := logitsOf(t, want, b), logitsOf(t, got, b)
	if i, ok := sameBits(w, g); !ok {
		if i < 0 {
			t.Fatalf("%d logits, want %d", len(g), len(w))
		}
		t.Errorf("logit %d is %v (bits %08x), want %v (bits %08x)", i, g[i], math.Float32bits(g[i]), w[i], math.Float32bits(w[i]))
	}
}

// setMasks masks every weight of net, keeping round(density·n) random
// entries of each, with the given pattern.
func setMasks(t testing.TB, net nn.Net, density float64, pattern nn.MaskPattern, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for _, p := range net.Arch().Params() {
		if !p.Prunable() {
			continue
		}
		n := p.Size()
		keep := max(1, int(math.Round(density*float64(n))))
		m := make([]float32, n)
		for _, i := range r.Perm(n)[:keep] {
			m[i] = 1
		}
		if err := net.SetParametrization(p.Name, nn.Masked{Mask: m, Pattern: pattern}); err != nil {
			t.Fatal(err)
		}
	}
}

// tinyRun runs a small synthetic spec (an mlp 36-16-3) of a pipeline, with
// the extra YAML lines given, into a fresh output folder, and returns the
// folder and the run's hash.
func tinyRun(t testing.TB, extra string) (output, hash string) {
	t.Helper()
	output = t.TempDir()
	yaml := `dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 96, test_size: 48, val_size: 24}
model: {name: mlp, widths: [16]}
training: {steps: 3ep, batch_size: 12, lr: 0.01, eval_every: 5it}
output: ` + output + "\n" + extra
	s, err := experiments.ParseSpec("tiny.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiments.RunSpec(context.Background(), s, experiments.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	return output, experiments.Hash(s)
}

// fileSize is the size of a file in bytes.
func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// tempFile is a path in a fresh temporary folder.
func tempFile(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
