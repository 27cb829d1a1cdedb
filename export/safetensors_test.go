package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSafetensorsByHand pins the bytes of a small file: the header length,
// the header (metadata first, tensors by name, padded with spaces to a
// multiple of 8) and the data in header order.
func TestSafetensorsByHand(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"format": "x"},
		Tensors: []Tensor{
			Uint8Tensor("b", []int{3}, []uint8{7, 8, 9}),
			Float32Tensor("a", []int{2}, []float32{1, -2}),
		},
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"format":"x"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = append(want, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0) // 1, -2 as float32 little endian
	want = append(want, 7, 8, 9)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("bytes\n%q\nwant\n%q", buf.Bytes(), want)
	}
	if n, err := f.Size(); err != nil || n != int64(len(want)) {
		t.Errorf("Size = %d, %v; want %d", n, err, len(want))
	}
	g, err := Parse("hand.safetensors", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if g.Metadata["format"] != "x" || len(g.Tensors) != 2 {
		t.Fatalf("parsed %+v", g)
	}
	a, _ := g.Tensor("a")
	if v, err := a.Float32s(); err != nil || !slices.Equal(v, []float32{1, -2}) {
		t.Errorf("a = %v, %v", v, err)
	}
	if _, err := a.Int64s(); err == nil || !strings.Contains(err.Error(), "tensor a has dtype F32, want I64") {
		t.Errorf("Int64s of a F32 tensor: %v", err)
	}
}

// TestSafetensorsRoundTrip writes every dtype the package writes and reads
// it back; two encodings of one file are the same bytes.
func TestSafetensorsRoundTrip(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"k": "v", "other": `{"json": true}`},
		Tensors: []Tensor{
			Int64Tensor("i64", []int{2}, []int64{-1, 1 << 40}),
			Int32Tensor("i32", []int{2, 1}, []int32{-7, 7}),
			Int8Tensor("i8", []int{3}, []int8{-1, 0, 1}),
			Uint8Tensor("empty", []int{0}, nil),
			Float32Tensor("scalar", []int{}, []float32{3.5}),
		},
	}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); !bytes.Equal(first, second) {
		t.Error("two writes of one file differ")
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i64, _ := g.Tensor("i64")
	i32, _ := g.Tensor("i32")
	i8, _ := g.Tensor("i8")
	sc, _ := g.Tensor("scalar")
	v64, _ := i64.Int64s()
	v32, _ := i32.Int32s()
	v8, _ := i8.Int8s()
	vs, _ := sc.Float32s()
	if !slices.Equal(v64, []int64{-1, 1 << 40}) || !slices.Equal(v32, []int32{-7, 7}) || !slices.Equal(v8, []int8{-1, 0, 1}) || !slices.Equal(vs, []float32{3.5}) {
		t.Errorf("read back %v %v %v %v", v64, v32, v8, vs)
	}
	if !slices.Equal(i32.Shape, []int{2, 1}) || len(sc.Shape) != 0 {
		t.Errorf("shapes %v %v", i32.Shape, sc.Shape)
	}
	if e, ok := g.Tensor("empty"); !ok || e.Numel() != 0 {
		t.Errorf("empty tensor: %+v %v", e, ok)
	}
	if g.Metadata["other"] != `{"json": true}` {
		t.Errorf("metadata %v", g.Metadata)
	}
}

// TestSafetensorsRefused: malformed files are *FormatErrors naming the file
// and the problem; files that cannot be written say why.
func TestSafetensorsRefused(t *testing.T) {
	file := func(header string, data ...byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), data...)
	}
	ok := `{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`
	if _, err := Parse("ok", file(ok, 1, 2)); err != nil {
		t.Fatalf("a good file is refused: %v", err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"text", []byte("hello, world: not tensors at all"), "header length"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<62), "header length"},
		{"not json", file("[1, 2, 3]"), "does not start with '{'"},
		{"broken json", file(`{"a": {`), "header"},
		{"unknown dtype", file(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`, 1), `unknown dtype "Q7"`},
		{"unknown field", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), "unknown field"},
		{"no shape", file(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, 1), "no shape"},
		{"negative shape", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1), "shape [-1]"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 1, 2, 3, 4), "4 bytes of data for F32 of shape [2]"},
		{"offsets outside", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, 1), "outside the 1 bytes"},
		{"gap", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 1, 2), "starts at byte 1, want 0"},
		{"overlap", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 1, 2), "want 2"},
		{"uncovered data", file(ok, 1, 2, 3), "cover 2 of the 3 bytes"},
		{"duplicate", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`), `"a" appears twice`},
		{"metadata not strings", file(`{"__metadata__":{"k":1}}`), "want an object of strings"},
		{"trailing junk", file(ok+`xx`, 1, 2), "after the JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.safetensors", c.data)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FormatError", err)
			}
			if !strings.Contains(err.Error(), "bad.safetensors is not a safetensors file") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to name the file and say %q", err, c.want)
			}
		})
	}
	write := []struct {
		name string
		f    *File
		path string
		want string
	}{
		{"duplicate names", &File{Tensors: []Tensor{Uint8Tensor("a", []int{0}, nil), Uint8Tensor("a", []int{0}, nil)}}, "x.safetensors", "two tensors named a"},
		{"reserved name", &File{Tensors: []Tensor{Uint8Tensor(metadataKey, []int{0}, nil)}}, "x.safetensors", "reserved"},
		{"wrong size", &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}, "x.safetensors", "has 4 bytes of data, want 8"},
		{"missing folder", &File{}, filepath.Join("no", "such", "folder", "x.safetensors"), "folder " + filepath.Join("no", "such", "folder") + " does not exist"},
	}
	dir := t.TempDir()
	for _, c := range write {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if !strings.Contains(path, "no") {
				path = filepath.Join(dir, path)
			}
			err := c.f.WriteFile(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused writes left %v", entries)
	}
}
