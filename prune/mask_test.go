package prune

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	_ "github.com/prunebench/prunebench/nn/native"
	"github.com/prunebench/prunebench/nn/zoo"
)

func TestMasksCounts(t *testing.T) {
	m := NewMasks(threeTensors())
	if m.Size() != 12 || m.Kept() != 12 || m.Density() != 1 {
		t.Fatalf("all ones: size %d kept %d density %v", m.Size(), m.Kept(), m.Density())
	}
	copy(m.M["b.weight"], []float32{0, 1, 0, 0, 1, 0})
	m.M["c.weight"][1] = 0
	if got := m.KeptCounts(); !slices.Equal(got, []int{4, 2, 1}) {
		t.Errorf("kept counts %v, want [4 2 1]", got)
	}
	if m.Kept() != 7 || m.KeptOf("b.weight") != 2 || m.KeptOf("nope") != 0 {
		t.Errorf("kept %d, kept of b %d", m.Kept(), m.KeptOf("b.weight"))
	}
	if d := m.Density(); d != 7.0/12 {
		t.Errorf("density %v, want 7/12", d)
	}
	if d := (&Masks{}).Density(); d != 1 {
		t.Errorf("empty set density %v, want 1", d)
	}

	c := m.Clone()
	if !c.Equal(m) {
		t.Fatal("clone differs")
	}
	c.M["a.weight"][0] = 0
	c.Names[0] = "x"
	if m.M["a.weight"][0] != 1 || m.Names[0] != "a.weight" {
		t.Error("clone shares memory with the original")
	}
	if c.Equal(m) {
		t.Error("Equal misses a change")
	}

	prev := m.Clone()
	next := m.Clone()
	next.M["b.weight"][1] = 0
	if err := next.Within(prev); err != nil {
		t.Errorf("pruning more: %v", err)
	}
	next.M["b.weight"][0] = 1
	if err := next.Within(prev); err == nil || !strings.Contains(err.Error(), "b.weight entry 0 is kept but was pruned before") {
		t.Errorf("revived entry: %v", err)
	}
}

func TestMasksValidate(t *testing.T) {
	params := pruneTestArch(t, "lenet-300-100", zoo.Options{}).Params()
	set, _ := ResolvePrunable(params, nil, nil)
	good := NewMasks(set)
	if err := good.Validate(params); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spoil func(m *Masks)
		want  string
	}{
		{"wrong size", func(m *Masks) { m.M["fc2.weight"] = m.M["fc2.weight"][1:] }, "fc2.weight: 29999 entries, want 30000"},
		{"not 0/1", func(m *Masks) { m.M["fc3.weight"][7] = 0.5 }, "fc3.weight: entry 7 is 0.5"},
		{"unknown tensor", func(m *Masks) { m.Names[1] = "fc9.weight" }, `no parameter "fc9.weight"`},
		{"out of order", func(m *Masks) { m.Names[0], m.Names[1] = m.Names[1], m.Names[0] }, "fc1.weight is out of canonical order"},
		{"listed twice", func(m *Masks) { m.Names[1] = "fc1.weight" }, "fc1.weight is listed twice"},
		{"missing mask", func(m *Masks) { delete(m.M, "fc3.weight") }, "no mask for fc3.weight"},
		{"unlisted mask", func(m *Masks) { m.M["fc1.bias"] = make([]float32, 300) }, "mask for fc1.bias is not listed"},
	}
	for _, tc := range tests {
		m := good.Clone()
		tc.spoil(m)
		if err := m.Validate(params); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestMasksSaveLoad(t *testing.T) {
	dir := t.TempDir()
	// Sizes that are not multiples of 8 exercise the padding.
	set := []nn.ParamInfo{
		{Name: "a.weight", Shape: []int{3, 3}, Kind: nn.Weight},
		{Name: "layer1.0.conv1.weight", Shape: []int{2, 1, 2, 2}, Kind: nn.Weight},
		{Name: "c.weight", Shape: []int{1, 1}, Kind: nn.Weight},
	}
	m := NewMasks(set)
	copy(m.M["a.weight"], []float32{1, 0, 1, 1, 0, 0, 1, 0, 1})
	m.M["layer1.0.conv1.weight"][6] = 0
	path := filepath.Join(dir, "masks.bin")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadMasks(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(m) {
		t.Errorf("round trip: got %v, want %v", got, m)
	}
	// Overwriting works and leaves no temporary files behind.
	m.M["c.weight"][0] = 0
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadMasks(path); !got.Equal(m) {
		t.Error("overwrite: reloaded masks differ")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d files after two saves, want 1", len(ents))
	}

	raw, _ := os.ReadFile(path)
	// Offsets in the file: 16 bytes of header, then a.weight: 4 + 8 name
	// bytes, 8 size, 8 kept, 2 bits bytes.
	const keptAt, bitsAt = 16 + 4 + 8 + 8, 16 + 4 + 8 + 8 + 8
	corrupt := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{"future version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 9); return b }, "version 9"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "truncated"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, "trailing bytes"},
		{"kept disagrees", func(b []byte) []byte { b[keptAt]++; return b }, "a.weight: 5 ones in the bits, header says 6"},
		{"padding bits", func(b []byte) []byte { b[bitsAt+1] |= 0x80; return b }, "a.weight: non-zero padding bits"},
	}
	for _, tc := range corrupt {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(p, tc.edit(slices.Clone(raw)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasks(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
	missing := filepath.Join(dir, "nope.bin")
	if _, err := LoadMasks(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	bad := m.Clone()
	bad.M["a.weight"][0] = 2
	if err := bad.Save(filepath.Join(dir, "bad.bin")); err == nil || !strings.Contains(err.Error(), "bad.bin") {
		t.Errorf("saving a non-0/1 mask: %v", err)
	}
	if err := m.Save(filepath.Join(dir, "no", "such", "dir.bin")); err == nil || !strings.Contains(err.Error(), "dir.bin") {
		t.Errorf("saving into a missing directory: %v", err)
	}
}

// fakeNet records the parametrizations set on it.
type fakeNet struct {
	nn.Net
	arch *nn.Arch
	set  map[string]nn.Parametrization
	fail string
}

func (f *fakeNet) Arch() *nn.Arch { return f.arch }

func (f *fakeNet) SetParametrization(name string, p nn.Parametrization) error {
	if name == f.fail {
		return errors.New("engine says no")
	}
	f.set[name] = p
	return nil
}

func TestMasksApplyFake(t *testing.T) {
	arch := pruneTestArch(t, "lenet-300-100", zoo.Options{})
	set, _ := ResolvePrunable(arch.Params(), nil, []string{"fc3.weight"})
	m := NewMasks(set)
	m.M["fc2.weight"][5] = 0
	net := &fakeNet{arch: arch, set: map[string]nn.Parametrization{}}
	if err := m.Apply(net, nn.ZeroBeforeForward); err != nil {
		t.Fatal(err)
	}
	if len(net.set) != 2 {
		t.Fatalf("set %d parametrizations, want 2", len(net.set))
	}
	p, ok := net.set["fc2.weight"].(nn.Masked)
	if !ok || p.Pattern != nn.ZeroBeforeForward || !slices.Equal(p.Mask, m.M["fc2.weight"]) {
		t.Fatalf("fc2.weight got %#v", net.set["fc2.weight"])
	}
	m.M["fc2.weight"][0] = 0
	if p.Mask[0] != 1 {
		t.Error("Apply passed the caller's slice; a later edit changed the engine's mask")
	}

	// A mask that does not fit changes nothing.
	net = &fakeNet{arch: arch, set: map[string]nn.Parametrization{}}
	bad := NewMasks(set)
	bad.M["fc2.weight"] = bad.M["fc2.weight"][:10]
	if err := bad.Apply(net, nn.ZeroAfterStep); err == nil || len(net.set) != 0 {
		t.Errorf("bad masks: error %v, %d parametrizations set", err, len(net.set))
	}
	net.fail = "fc2.weight"
	if err := NewMasks(set).Apply(net, nn.ZeroAfterStep); err == nil || !strings.Contains(err.Error(), "apply to fc2.weight: engine says no") {
		t.Errorf("engine error: %v", err)
	}
}

// TestMasksApplyNative checks Apply and MasksFromNet on the native engine:
// under ZeroAfterStep the pruned θ are zeroed at once, and the installed
// masks read back equal.
func TestMasksApplyNative(t *testing.T) {
	b, err := nn.GetBackend("native")
	if err != nil {
		t.Fatal(err)
	}
	arch := pruneTestArch(t, "mlp", zoo.Options{Input: []int{4}, Widths: []int{3}, Classes: 2})
	net, err := b.Build(nn.Config{Arch: arch, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		v := make([]float32, p.Info().Size())
		for i := range v {
			v[i] = float32(i + 1)
		}
		p.SetValues(v)
	}
	set, _ := ResolvePrunable(arch.Params(), nil, nil)
	// Before any mask is installed every tensor reads as all ones.
	back, err := MasksFromNet(net, infoNames(set))
	if err != nil || !back.Equal(NewMasks(set)) {
		t.Errorf("MasksFromNet of a dense net: %v, %v", back, err)
	}
	m := NewMasks(set)
	first := set[0].Name
	m.M[first][2] = 0
	if err := m.Apply(net, nn.ZeroAfterStep); err != nil {
		t.Fatal(err)
	}
	if v := net.Param(first).Values(); v[2] != 0 || v[1] != 2 {
		t.Errorf("%s after Apply: %v, want entry 2 zeroed and the rest kept", first, v)
	}
	back, err = MasksFromNet(net, m.Names)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(m) {
		t.Errorf("MasksFromNet: %v, want %v", back, m)
	}
	if _, err := MasksFromNet(net, []string{"fc9.weight"}); err == nil {
		t.Error("MasksFromNet of an unknown tensor: no error")
	}
}
