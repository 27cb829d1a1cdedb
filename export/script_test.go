package export

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// checkScript is the independent reader, from this package's folder.
var checkScript = filepath.Join("..", "scripts", "check_safetensors.py")

// runCheck runs the reader on a file with the given arguments and returns
// its combined output and whether it passed.
func runCheck(t *testing.T, python, file string, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(python, append([]string{checkScript, file}, args...)...).CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running %s: %v", checkScript, err)
	}
	return string(out), err == nil
}

// TestIndependentReader has scripts/check_safetensors.py, which reads the
// format with Python's standard library only, check a dense export against
// a sidecar of every tensor's name, dtype and shape and a few values, and
// command-line expectations; it must pass on the file and fail on
// corrupted copies of it.
func TestIndependentReader(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("PRUNEBENCH_REQUIRE_PYTHON") == "1" { // scripts/test.sh installs it
			t.Fatal("python3 is not installed, and PRUNEBENCH_REQUIRE_PYTHON=1: the independent reader scripts/check_safetensors.py cannot run")
		}
		t.Skip("python3 is not installed: the independent reader scripts/check_safetensors.py is not run")
	}
	bn := true
	net := buildNet(t, "mlp", zoo.Options{Input: []int{1, 4, 4}, Classes: 3, Widths: []int{8}, BatchNorm: &bn}, 1)
	setMasks(t, net, 0.25, nn.ZeroAfterStep, 1)
	setBuffers(t, net, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "net.safetensors")
	if err := Write(path, net, Options{Metadata: map[string]string{"run": "abc123"}}); err != nil {
		t.Fatal(err)
	}

	// The sidecar: every tensor of the net, with values the net holds.
	type want struct {
		DType  DType              `json:"dtype"`
		Shape  []int              `json:"shape"`
		Values map[string]float64 `json:"values,omitempty"`
	}
	side := struct {
		Metadata map[string]string `json:"metadata"`
		Tensors  map[string]want   `json:"tensors"`
		Exact    bool              `json:"exact"`
	}{Metadata: map[string]string{"format": FormatDense, "run": "abc123", "model": "mlp"}, Tensors: map[string]want{}, Exact: true}
	for _, p := range net.Arch().Params() {
		v := net.Param(p.Name).Values()
		vals := map[string]float64{}
		for _, i := range []int{0, 1, len(v) / 2, len(v) - 1} {
			x := v[i]
			if m, ok := net.Parametrization(p.Name).(nn.Masked); ok && m.Mask[i] == 0 {
				x = 0
			}
			vals[strconv.Itoa(i)] = float64(x)
		}
		side.Tensors[p.Name] = want{F32, p.Shape, vals}
		if m, ok := net.Parametrization(p.Name).(nn.Masked); ok {
			side.Tensors[p.Name+MaskSuffix] = want{U8, p.Shape, map[string]float64{"0": float64(m.Mask[0]), "3": float64(m.Mask[3])}}
		}
	}
	st, _ := net.State()
	for name, v := range st.Tensors {
		if b, ok := strings.CutPrefix(name, "buffer/"); ok {
			side.Tensors[b] = want{F32, []int{len(v)}, map[string]float64{"1": float64(v[1])}}
		}
	}
	if len(side.Tensors) != 10 { // 6 parameters, 2 masks, 2 buffers
		t.Fatalf("sidecar lists %d tensors, want 10", len(side.Tensors))
	}
	sidecar := filepath.Join(dir, "expect.json")
	b, _ := json.MarshalIndent(side, "", "  ")
	if err := os.WriteFile(sidecar, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, ok := runCheck(t, python, path, "--expect", sidecar, "--tensor", "fc1.weight=F32[8,16]", "--value", "fc2.weight[0]="+strconv.FormatFloat(side.Tensors["fc2.weight"].Values["0"], 'g', -1, 64), "--metadata", "model=mlp"); !ok {
		t.Fatalf("the reader refuses a good export:\n%s", out)
	} else {
		t.Logf("reader: %s", strings.TrimSpace(out))
	}

	data, _ := os.ReadFile(path)
	hdr := 8 + int(binary.LittleEndian.Uint64(data))
	first := f32Offset(t, path, "bn1.bias") // a value the sidecar checks
	corrupt := []struct {
		name string
		edit func([]byte) []byte
		args []string
		want string
	}{
		{"a value", func(d []byte) []byte { d[hdr+first+3] ^= 0x40; return d }, []string{"--expect", sidecar}, "tensor bn1.bias: entry 0 is"},
		{"a mask", func(d []byte) []byte { d[len(d)-1] = 7; return d }, nil, "mask fc2.weight.mask: want U8 entries 0 or 1"},
		{"truncated", func(d []byte) []byte { return d[:len(d)-5] }, nil, "of data"},
		{"header", func(d []byte) []byte { d[8] = '#'; return d }, nil, "not JSON"},
		{"dtype", func(d []byte) []byte {
			s := strings.Replace(string(d[:hdr]), `"dtype":"F32"`, `"dtype":"I32"`, 1)
			return append([]byte(s), d[hdr:]...)
		}, []string{"--expect", sidecar}, "dtype I32, want F32"},
		{"wrong expectation", func(d []byte) []byte { return d }, []string{"--tensor", "fc1.weight=F32[16,8]"}, "shape [8, 16], want [16, 8]"},
		{"extra tensor expected", func(d []byte) []byte { return d }, []string{"--tensor", "fc7.weight=F32[1]"}, "tensor fc7.weight is missing"},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(bad, c.edit(append([]byte(nil), data...)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, ok := runCheck(t, python, bad, c.args...)
			if ok {
				t.Fatalf("the reader passes a corrupted file:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("reader output %q lacks %q", out, c.want)
			}
		})
	}
}

// f32Offset is where tensor name's data starts in the data section of the
// file at path.
func f32Offset(t *testing.T, path, name string) int {
	t.Helper()
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, x := range f.Tensors { // data is in name order
		if x.Name == name {
			return off
		}
		off += len(x.Data)
	}
	t.Fatalf("no tensor %s", name)
	return 0
}
