package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/share"
)

// TestOpenUnitRPS rebuilds a tiny rps run's shared net from its folder
// for each mapper: on the test split it scores exactly the loss and
// accuracy its result recorded (so the mapper, scales and z are the
// trained ones), and its export, loaded into a fresh net, gives the same
// logits.
func TestOpenUnitRPS(t *testing.T) {
	for _, mapper := range []string{share.Pareto, share.ROAST, share.HashedNet} {
		t.Run(mapper, func(t *testing.T) {
			output, hash := tinyRun(t, "pipeline: rps\nprune: {compression: 4}\nrps: {mapper: "+mapper+"}\n")
			u, err := OpenUnit(output, hash, 0, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if u.Mapper == nil {
				t.Fatal("no mapper for a shared unit")
			}
			p, err := experiments.Prepare(u.Spec)
			if err != nil {
				t.Fatal(err)
			}
			loss, acc, err := train.Evaluate(u.Net, p.Splits.Test, u.Spec.Training.BatchSize)
			if err != nil {
				t.Fatal(err)
			}
			if loss != u.Result.FinalTestLoss || acc != u.Result.FinalTestAcc {
				t.Errorf("rebuilt net: test loss %v accuracy %v, the result's %v %v", loss, acc, u.Result.FinalTestLoss, u.Result.FinalTestAcc)
			}
			path := tempFile(t, "rps.safetensors")
			if err := Write(path, u.Net, Options{Mapper: u.Mapper, Metadata: u.Metadata()}); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadFile(path, p.Net); err != nil {
				t.Fatal(err)
			}
			x, y := p.Splits.Test.Slice(0, u.Spec.Training.BatchSize)
			checkSameLogits(t, u.Net, p.Net, nn.Batch{X: x, Y: y, N: len(y)})
		})
	}
}

// TestOpenUnitRefused: what does not name a finished unit is an error
// naming the run, replicate, level or branch and what exists.
func TestOpenUnitRefused(t *testing.T) {
	output, hash := tinyRun(t, "pipeline: imp\nprune: {imp_rate: 0.5, imp_rounds: 1}\n")
	// An unfinished level: a folder without result.yaml.
	unfinished := filepath.Join(output, hash, "replicate_0", "level_2")
	if err := os.MkdirAll(unfinished, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two more runs whose names share a prefix, for ambiguity.
	for _, name := range []string{"zz00aa", "zz00bb"} {
		if err := os.MkdirAll(filepath.Join(output, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(output, name, "spec.yaml"), []byte("seed: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name      string
		output    string
		run       string
		rep, lvl  int
		branch    string
		wantParts []string
	}{
		{"unknown run", output, "nope", 0, 0, "", []string{`no run "nope" in ` + output}},
		{"ambiguous run", output, "zz00", 0, 0, "", []string{`run "zz00" is ambiguous`, "zz00aa, zz00bb"}},
		{"empty run", output, "", 0, 0, "", []string{"empty run name"}},
		{"missing output", filepath.Join(output, "nowhere"), hash, 0, 0, "", []string{"output folder", "does not exist"}},
		{"replicate", output, hash, 3, 0, "", []string{"has no replicate 3", "its replicates are 0"}},
		{"level", output, hash, 0, 7, "", []string{"replicate 0 has no level 7", "its levels are 0, 1, 2"}},
		{"branch", output, hash, 0, 1, "random", []string{`level 1 has no branch "random"`, "its branches are none"}},
		{"unfinished", output, hash[:4], 0, 2, "", []string{"level 2 has not finished", "has no result.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenUnit(c.output, c.run, c.rep, c.lvl, c.branch)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wantParts {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// A checkpoint copied from another level is refused.
	l0 := filepath.Join(output, hash, "replicate_0", "level_0", experiments.CheckpointFile)
	l1 := filepath.Join(output, hash, "replicate_0", "level_1", experiments.CheckpointFile)
	data, err := os.ReadFile(l0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l1, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenUnit(output, hash, 0, 1, ""); err == nil || !strings.Contains(err.Error(), "belongs to") {
		t.Errorf("a copied checkpoint: %v", err)
	}
	if _, err := results.ReadFile(filepath.Join(output, hash, "replicate_0", "level_1", results.FileName)); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRefused: files that are not safetensors, or do not fit the net,
// are errors naming the file and the tensor; the net is left as it was.
func TestLoadRefused(t *testing.T) {
	o := zoo.Options{Input: []int{1, 4, 4}, Classes: 3, Widths: []int{8}}
	net := buildNet(t, "mlp", o, 1)
	setMasks(t, net, 0.5, nn.ZeroAfterStep, 1)
	good, err := Encode(net, Options{})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(change func(f *File)) *File {
		f := &File{Path: "edited.safetensors", Metadata: map[string]string{}}
		for k, v := range good.Metadata {
			f.Metadata[k] = v
		}
		for _, x := range good.Tensors {
			x.Shape = append([]int(nil), x.Shape...)
			x.Data = append([]byte(nil), x.Data...)
			f.Tensors = append(f.Tensors, x)
		}
		change(f)
		if err := f.sorted(); err != nil {
			t.Fatal(err)
		}
		return f
	}
	replace := func(f *File, x Tensor) {
		for i := range f.Tensors {
			if f.Tensors[i].Name == x.Name {
				f.Tensors[i] = x
				return
			}
		}
		f.Tensors = append(f.Tensors, x)
	}
	drop := func(f *File, name string) {
		for i := range f.Tensors {
			if f.Tensors[i].Name == name {
				f.Tensors = append(f.Tensors[:i], f.Tensors[i+1:]...)
				return
			}
		}
	}
	cases := []struct {
		name string
		f    *File
		want string
	}{
		{"shape", edit(func(f *File) { replace(f, Float32Tensor("fc1.weight", []int{16, 8}, make([]float32, 128))) }), "tensor fc1.weight has shape [16 8], want [8 16] (fc1.weight of model mlp)"},
		{"dtype", edit(func(f *File) { replace(f, Int32Tensor("fc1.bias", []int{8}, make([]int32, 8))) }), "tensor fc1.bias has dtype I32, want F32"},
		{"missing", edit(func(f *File) { drop(f, "fc2.bias") }), "tensor fc2.bias is missing: model mlp has a parameter fc2.bias of shape [3]"},
		{"extra", edit(func(f *File) { replace(f, Float32Tensor("fc9.weight", []int{1}, []float32{1})) }), "tensor fc9.weight: model mlp has no parameter, mask, buffer or shared array it belongs to"},
		{"mask shape", edit(func(f *File) { replace(f, Uint8Tensor("fc1.weight.mask", []int{128}, make([]uint8, 128))) }), "tensor fc1.weight.mask has shape [128], want [8 16]"},
		{"mask value", edit(func(f *File) {
			m := make([]uint8, 128)
			m[5] = 2
			replace(f, Uint8Tensor("fc1.weight.mask", []int{8, 16}, m))
		}), "tensor fc1.weight.mask: entry 5 is 2, want 0 or 1"},
		{"bias mask", edit(func(f *File) { replace(f, Uint8Tensor("fc1.bias.mask", []int{8}, make([]uint8, 8))) }), "fc1.bias is masked: fc1.bias is a bias"},
		{"both layouts", edit(func(f *File) { replace(f, Uint8Tensor("fc1.weight.bitmask", []int{8, 2}, make([]uint8, 16))) }), "a weight is stored dense or in the bitmask layout, not both"},
		{"model", edit(func(f *File) { f.Metadata[KeyModel] = "lenet5" }), "the file holds model lenet5, the net is model mlp"},
		{"format", edit(func(f *File) { f.Metadata[KeyFormat] = "gguf" }), `metadata "format" is "gguf"`},
		{"pattern", edit(func(f *File) { f.Metadata[KeyPatterns] = `{"fc1.weight":"sometimes"}` }), `mask pattern "sometimes": want one of zero_after_step, masked_forward, zero_before_forward`},
		{"pattern of unmasked", edit(func(f *File) {
			f.Metadata[KeyPatterns] = `{"fc1.weight":"zero_after_step","fc2.bias":"zero_after_step"}`
		}), "names fc2.bias, which the file does not mask"},
	}
	before := logitsOf(t, net, randomBatch(net.Arch(), maxBatch, 1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Load(net, c.f)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "edited.safetensors") {
				t.Errorf("error %v, want it to name edited.safetensors and say %q", err, c.want)
			}
			if _, ok := sameBits(before, logitsOf(t, net, randomBatch(net.Arch(), maxBatch, 1))); !ok {
				t.Error("a refused file changed the net")
			}
		})
	}

	// Files that are not safetensors, and a missing folder on writing.
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("these are not the tensors you are looking for\n"), 0o644)
	if _, err := LoadFile(text, net); err == nil || !strings.Contains(err.Error(), text+" is not a safetensors file") {
		t.Errorf("a text file: %v", err)
	}
	trunc := filepath.Join(dir, "cut.safetensors")
	if err := good.WriteFile(trunc); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, data[:len(data)-3], 0o644)
	if _, err := LoadFile(trunc, net); err == nil || !strings.Contains(err.Error(), trunc+" is not a safetensors file") {
		t.Errorf("a truncated file: %v", err)
	}
	missing := filepath.Join(dir, "no", "net.safetensors")
	if err := Write(missing, net, Options{}); err == nil || !strings.Contains(err.Error(), "folder "+filepath.Join(dir, "no")+" does not exist") {
		t.Errorf("a missing folder: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "absent.safetensors"), net); err == nil || !strings.Contains(err.Error(), "absent.safetensors") {
		t.Errorf("a missing file: %v", err)
	}
}

// TestOpenUnitMatchesResult rebuilds the last unit of tiny runs of
// several pipelines (real masks from IMP and pruning at initialization,
// scored weights from BiP and the jackpots, a narrow model's solved
// width): on the test split each scores exactly the final loss and
// accuracy its result recorded, and its bitmask export loads into a fresh
// net with the same logits.
func TestOpenUnitMatchesResult(t *testing.T) {
	cases := []struct {
		name, yaml string
		level      int
	}{
		{"imp", "pipeline: imp\nprune: {imp_rate: 0.5, imp_rounds: 1}\n", 1},
		{"pai", "pipeline: pai\nprune: {density: 0.25, criterion: snip, data_examples: 40}\n", 0},
		{"bip", "pipeline: bip\nprune: {density: 0.25}\nbip: {steps: 2ep}\n", 1},
		{"jackpot", "pipeline: jackpot\nprune: {density: 0.25}\njackpot: {steps: 2ep, batch_size: 12, lr: 5}\n", 1},
		{"narrow", "pipeline: narrow\nprune: {compression: 4}\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			output, hash := tinyRun(t, c.yaml)
			u, err := OpenUnit(output, hash, 0, c.level, "")
			if err != nil {
				t.Fatal(err)
			}
			p, err := experiments.Prepare(u.Spec)
			if err != nil {
				t.Fatal(err)
			}
			loss, acc, err := train.Evaluate(u.Net, p.Splits.Test, u.Spec.Training.BatchSize)
			if err != nil {
				t.Fatal(err)
			}
			if loss != u.Result.FinalTestLoss || acc != u.Result.FinalTestAcc {
				t.Errorf("rebuilt net: test loss %v accuracy %v, the result's %v %v", loss, acc, u.Result.FinalTestLoss, u.Result.FinalTestAcc)
			}
			path := tempFile(t, "net.safetensors")
			if err := Write(path, u.Net, Options{Format: Bitmask, Metadata: u.Metadata()}); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadFile(path, p.Net); err != nil {
				t.Fatal(err)
			}
			x, y := p.Splits.Test.Slice(0, u.Spec.Training.BatchSize)
			checkSameLogits(t, u.Net, p.Net, nn.Batch{X: x, Y: y, N: len(y)})
		})
	}
}
