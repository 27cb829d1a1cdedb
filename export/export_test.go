package export

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// TestRoundTripIMP exports levels of a tiny IMP run (masks from real
// pruning, 50% and 25% kept) in both formats, loads each file into a fresh
// net built from the run's spec, and gets the same logits bit for bit on
// the test split, the same masks, and the density the result recorded.
func TestRoundTripIMP(t *testing.T) {
	output, hash := tinyRun(t, "pipeline: imp\nprune: {imp_rate: 0.5, imp_rounds: 2}\n")
	for _, level := range []int{0, 1, 2} {
		u, err := OpenUnit(output, hash[:5], 0, level, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := experiments.Prepare(u.Spec)
		if err != nil {
			t.Fatal(err)
		}
		test := p.Splits.Test
		x, y := test.Slice(0, u.Spec.Training.BatchSize)
		batch := nn.Batch{X: x, Y: y, N: len(y)}
		for _, format := range Formats {
			t.Run(fmt.Sprintf("%s/level_%d", format, level), func(t *testing.T) {
				path := tempFile(t, "net.safetensors")
				if err := Write(path, u.Net, Options{Format: format, Metadata: u.Metadata()}); err != nil {
					t.Fatal(err)
				}
				fresh, err := experiments.Prepare(u.Spec)
				if err != nil {
					t.Fatal(err)
				}
				f, err := LoadFile(path, fresh.Net)
				if err != nil {
					t.Fatal(err)
				}
				checkSameLogits(t, u.Net, fresh.Net, batch)
				for _, q := range u.Net.Arch().Params() {
					want, _ := u.Net.Parametrization(q.Name).(nn.Masked)
					got, _ := fresh.Net.Parametrization(q.Name).(nn.Masked)
					if !slices.Equal(want.Mask, got.Mask) || want.Pattern != got.Pattern {
						t.Errorf("%s: loaded mask or pattern differs", q.Name)
					}
				}
				rep, err := f.Report()
				if err != nil {
					t.Fatal(err)
				}
				if rep.Density != u.Result.Density {
					t.Errorf("report density %v, the result's %v", rep.Density, u.Result.Density)
				}
				md := f.Metadata
				if md["run"] != u.Hash || md["level"] != strconv.Itoa(level) || md["replicate"] != "0" || md["model"] != "mlp" {
					t.Errorf("metadata %v", md)
				}
				if want := map[Format]string{Dense: FormatDense, Bitmask: FormatBitmask}[format]; md[KeyFormat] != want {
					t.Errorf("format %q, want %q", md[KeyFormat], want)
				}
			})
		}
	}
}

// TestRoundTripPatterns covers what a run does not: every mask pattern
// (masked_forward keeps pruned θ non-zero), a scored weight, and batch norm
// buffers. The loaded net gives the same logits bit for bit and the same
// masks and patterns; the file holds 0 at pruned entries.
func TestRoundTripPatterns(t *testing.T) {
	bn := true
	o := zoo.Options{Input: []int{1, 4, 4}, Classes: 5, Widths: []int{12, 10}, BatchNorm: &bn}
	type setup struct {
		name string
		set  func(t *testing.T, net nn.Net)
	}
	cases := []setup{
		{"dense", func(*testing.T, nn.Net) {}},
		{"zero_after_step", func(t *testing.T, net nn.Net) { setMasks(t, net, 0.3, nn.ZeroAfterStep, 1) }},
		{"masked_forward", func(t *testing.T, net nn.Net) { setMasks(t, net, 0.3, nn.MaskedForward, 2) }},
		{"zero_before_forward", func(t *testing.T, net nn.Net) { setMasks(t, net, 0.3, nn.ZeroBeforeForward, 3) }},
		{"scored", func(t *testing.T, net nn.Net) {
			r := rand.New(rand.NewPCG(4, 4))
			s := make([]float32, 12*16)
			for i := range s {
				s[i] = r.Float32()
			}
			if err := net.SetParametrization("fc1.weight", nn.Scored{Scores: s, Keep: 50}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		for _, format := range Formats {
			t.Run(c.name+"/"+string(format), func(t *testing.T) {
				net := buildNet(t, "mlp", o, 7)
				c.set(t, net)
				setBuffers(t, net, 8)
				path := tempFile(t, "net.safetensors")
				if err := Write(path, net, Options{Format: format}); err != nil {
					t.Fatal(err)
				}
				fresh := buildNet(t, "mlp", o, 99)
				f, err := LoadFile(path, fresh)
				if err != nil {
					t.Fatal(err)
				}
				checkSameLogits(t, net, fresh, randomBatch(net.Arch(), maxBatch, 5))
				for _, q := range net.Arch().Params() {
					var want nn.Masked
					switch p := net.Parametrization(q.Name).(type) {
					case nn.Masked:
						want = p
					case nn.Scored:
						want = nn.Masked{Mask: p.Mask(), Pattern: nn.MaskedForward}
					}
					got, _ := fresh.Parametrization(q.Name).(nn.Masked)
					if !slices.Equal(want.Mask, got.Mask) || want.Pattern != got.Pattern {
						t.Errorf("%s: loaded %v mask, want %v", q.Name, got.Pattern, want.Pattern)
					}
					if got.Mask == nil {
						continue
					}
					for i, v := range fresh.Param(q.Name).Values() {
						if got.Mask[i] == 0 && v != 0 {
							t.Fatalf("%s: pruned entry %d loaded as %v, want 0", q.Name, i, v)
						}
					}
				}
				st, _ := net.State()
				for name, v := range st.Tensors {
					if b, ok := strings.CutPrefix(name, "buffer/"); ok {
						tb, _ := f.Tensor(b)
						got, _ := tb.Float32s()
						if !slices.Equal(got, v) {
							t.Errorf("buffer %s differs", b)
						}
					}
				}
			})
		}
	}
}

// setBuffers gives every buffer of net random positive values (running
// means and variances), through its State.
func setBuffers(t testing.TB, net nn.Net, seed uint64) {
	t.Helper()
	st, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	n := 0
	for name, v := range st.Tensors {
		if strings.HasPrefix(name, "buffer/") {
			for i := range v {
				v[i] = 0.5 + r.Float32()
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("the net has no buffers")
	}
	if err := net.SetState(st); err != nil {
		t.Fatal(err)
	}
}

// TestSizeLeNet: a 98%-sparse LeNet-300-100 (2% of each weight kept, masks
// set directly) in the bitmask format is at most 6% of the dense file, and
// loads back to the same logits.
func TestSizeLeNet(t *testing.T) {
	net := buildNet(t, "lenet-300-100", zoo.Options{Input: []int{1, 28, 28}, Classes: 10}, 1)
	setMasks(t, net, 0.02, nn.ZeroAfterStep, 2)
	size := map[Format]int64{}
	paths := map[Format]string{}
	for _, format := range Formats {
		paths[format] = tempFile(t, "lenet.safetensors")
		if err := Write(paths[format], net, Options{Format: format}); err != nil {
			t.Fatal(err)
		}
		size[format] = fileSize(t, paths[format])
	}
	ratio := float64(size[Bitmask]) / float64(size[Dense])
	t.Logf("LeNet-300-100 at 98%% sparsity: dense %d bytes, bitmask %d bytes (%.2f%% of dense)", size[Dense], size[Bitmask], 100*ratio)
	// The dense file without its masks: the weights alone.
	plain, err := Encode(net, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain.Tensors = slices.DeleteFunc(plain.Tensors, func(x Tensor) bool { return strings.HasSuffix(x.Name, MaskSuffix) })
	if n, err := plain.Size(); err == nil {
		t.Logf("dense without masks %d bytes: bitmask is %.2f%% of it", n, 100*float64(size[Bitmask])/float64(n))
	}
	if ratio > 0.06 {
		t.Errorf("bitmask file is %.2f%% of the dense one, want at most 6%%", 100*ratio)
	}
	f, err := ReadFile(paths[Bitmask])
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.Report()
	if err != nil {
		t.Fatal(err)
	}
	// round(0.02·n) of 235200, 30000 and 1000 weights.
	if rep.Kept != 4704+600+20 || rep.Total != 266200 || len(rep.Tensors) != 3 {
		t.Errorf("report: kept %d of %d over %d tensors, want 5324 of 266200 over 3", rep.Kept, rep.Total, len(rep.Tensors))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[KeySparsity]), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tensors", "kept", "total", "density"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("sparsity report lacks %q: %v", k, f.Metadata[KeySparsity])
		}
	}
	fresh := buildNet(t, "lenet-300-100", zoo.Options{Input: []int{1, 28, 28}, Classes: 10}, 3)
	if err := Load(fresh, f); err != nil {
		t.Fatal(err)
	}
	checkSameLogits(t, net, fresh, randomBatch(net.Arch(), maxBatch, 4))
}

// TestReportByHand: the sparsity report of a small net with one masked
// weight, computed by hand.
func TestReportByHand(t *testing.T) {
	net := buildNet(t, "mlp", zoo.Options{Input: []int{4}, Classes: 2, Widths: []int{3}}, 1)
	m := maskOf(12, 0, 5, 6)
	if err := net.SetParametrization("fc1.weight", nn.Masked{Mask: m}); err != nil {
		t.Fatal(err)
	}
	f, err := Encode(net, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.Report()
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Tensors: []TensorReport{
			{Name: "fc1.weight", Shape: []int{3, 4}, Parametrization: "masked", Kept: 3, Total: 12, Density: 0.25},
			{Name: "fc2.weight", Shape: []int{2, 3}, Parametrization: "dense", Kept: 6, Total: 6, Density: 1},
		},
		Kept: 9, Total: 18, Density: 0.5,
	}
	got, _ := json.Marshal(rep)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("report\n%s\nwant\n%s", got, exp)
	}
	if f.Metadata[KeyPatterns] != `{"fc1.weight":"zero_after_step"}` {
		t.Errorf("mask_patterns %q", f.Metadata[KeyPatterns])
	}
	names := make([]string, len(f.Tensors))
	for i, x := range f.Tensors {
		names[i] = x.Name
	}
	if want := []string{"fc1.bias", "fc1.weight", "fc1.weight.mask", "fc2.bias", "fc2.weight"}; !slices.Equal(names, want) {
		t.Errorf("tensors %v, want %v", names, want)
	}
	if _, err := Encode(net, Options{Metadata: map[string]string{KeyFormat: "mine"}}); err == nil || !strings.Contains(err.Error(), `metadata key "format"`) {
		t.Errorf("a reserved metadata key: %v", err)
	}
	if _, err := Encode(net, Options{Format: "sparse"}); err == nil || !strings.Contains(err.Error(), `format "sparse": want dense or bitmask`) {
		t.Errorf("an unknown format: %v", err)
	}
	if math.IsNaN(rep.Density) {
		t.Error("NaN density")
	}
}

// TestLoadKeepsOptimizer: a net with an optimizer installed (its state
// taken by a step) loads a file, keeps its optimizer slots and step, and
// computes the exported function.
func TestLoadKeepsOptimizer(t *testing.T) {
	o := zoo.Options{Input: []int{1, 4, 4}, Classes: 3, Widths: []int{8}}
	src := buildNet(t, "mlp", o, 1)
	setMasks(t, src, 0.5, nn.MaskedForward, 1)
	path := tempFile(t, "net.safetensors")
	if err := Write(path, src, Options{Format: Bitmask}); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []nn.Optimizer{nn.SGD(0.9, 1e-4), nn.Adam(0)} {
		t.Run(opt.Name, func(t *testing.T) {
			net := buildNet(t, "mlp", o, 2)
			if err := net.SetOptimizer(opt); err != nil {
				t.Fatal(err)
			}
			b := randomBatch(net.Arch(), maxBatch, 3)
			if _, err := net.Gradients(b); err != nil {
				t.Fatal(err)
			}
			net.Step(0.1)
			if _, err := LoadFile(path, net); err != nil {
				t.Fatal(err)
			}
			checkSameLogits(t, src, net, b)
			st, _ := net.State()
			if st.Counters["step"] != 1 {
				t.Errorf("step %d, want 1", st.Counters["step"])
			}
			slots := 0
			for name := range st.Tensors {
				if strings.HasPrefix(name, "opt/") {
					slots++
				}
			}
			if slots == 0 {
				t.Error("the optimizer state is gone")
			}
		})
	}
}
