package export

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/internal/atomicfile"
)

// DType is a safetensors element type, as the header spells it.
type DType string

// The element types this package writes. The reader accepts every type of
// the safetensors format (dtypeSize); the loader checks what it needs.
const (
	F32 DType = "F32"
	U8  DType = "U8"
	I8  DType = "I8"
	I32 DType = "I32"
	I64 DType = "I64"
)

// dtypeSize is the size in bytes of one element of each safetensors type.
var dtypeSize = map[DType]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Size is the size in bytes of one element, 0 for an unknown type.
func (d DType) Size() int { return dtypeSize[d] }

// metadataKey is the header entry that holds the metadata, not a tensor.
const metadataKey = "__metadata__"

// maxHeader bounds the header a reader accepts (the safetensors reference
// reader's limit), so that a corrupt length is refused before anything is
// allocated for it.
const maxHeader = 100 << 20

// Tensor is one named tensor of a safetensors file: its element type, its
// shape and its raw little-endian data (Numel·DType.Size() bytes).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Numel is the number of elements of the shape (1 for a scalar).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is the content of a safetensors file: string metadata and tensors.
// Files written by Write list the tensors sorted by name, and so does Parse.
type File struct {
	// Path is where the file was read from ("" for one built in memory);
	// errors name it.
	Path     string
	Metadata map[string]string
	Tensors  []Tensor
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := slices.BinarySearchFunc(f.Tensors, name, func(t Tensor, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Size is the number of bytes Encode writes.
func (f *File) Size() (int64, error) {
	b, err := f.header()
	if err != nil {
		return 0, err
	}
	n := int64(8 + len(b))
	for _, t := range f.Tensors {
		n += int64(len(t.Data))
	}
	return n, nil
}

// sorted sorts the tensors by name and checks them: unique non-empty names
// other than the metadata key, known element types, non-negative shapes
// and data of the size the shape and type give.
func (f *File) sorted() error {
	slices.SortFunc(f.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range f.Tensors {
		switch {
		case t.Name == "" || t.Name == metadataKey:
			return fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		case i > 0 && f.Tensors[i-1].Name == t.Name:
			return fmt.Errorf("safetensors: two tensors named %s", t.Name)
		case t.DType.Size() == 0:
			return fmt.Errorf("safetensors: tensor %s has unknown type %q", t.Name, t.DType)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %s has shape %v", t.Name, t.Shape)
			}
		}
		if want := t.Numel() * t.DType.Size(); len(t.Data) != want {
			return fmt.Errorf("safetensors: tensor %s of type %s and shape %v has %d bytes of data, want %d", t.Name, t.DType, t.Shape, len(t.Data), want)
		}
	}
	return nil
}

// header is the JSON header: the metadata first, then the tensors in name
// order with their data in the same order, padded with spaces to a
// multiple of 8 bytes.
func (f *File) header() ([]byte, error) {
	if err := f.sorted(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if len(f.Metadata) > 0 {
		m, err := json.Marshal(f.Metadata) // keys sorted
		if err != nil {
			return nil, err
		}
		b.WriteString(`"` + metadataKey + `":`)
		b.Write(m)
	}
	var off int64
	for i, t := range f.Tensors {
		if i > 0 || len(f.Metadata) > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		e, err := json.Marshal(headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(e)
		off += int64(len(t.Data))
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// headerEntry is one tensor's entry in the header.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// WriteTo writes the file in safetensors form: the header's length (8
// bytes, little endian), the header, the data.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	h, err := f.header()
	if err != nil {
		return 0, err
	}
	bw := &countWriter{w: w}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(h)))
	bw.Write(n[:])
	bw.Write(h)
	for _, t := range f.Tensors {
		bw.Write(t.Data)
	}
	return bw.n, bw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// WriteFile writes the file to path atomically: a temporary file in the
// same folder, then a rename, so that path is never seen half written. The
// folder must exist.
func (f *File) WriteFile(path string) error {
	if err := checkFolder(path); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w *os.File) error {
		_, err := f.WriteTo(w)
		return err
	})
}

// checkFolder refuses a path whose folder does not exist or is not a
// folder, naming it.
func checkFolder(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot write %s: folder %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("cannot write %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("cannot write %s: %s is not a folder", path, dir)
	}
	return nil
}

// FormatError is the error of a file that is not a well-formed safetensors
// file. Its message names the file and what is wrong.
type FormatError struct {
	Path    string
	Problem string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s is not a safetensors file: %s", e.Path, e.Problem)
}

// ReadFile reads and checks a safetensors file (Parse).
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a safetensors file from data; name (a path) is what errors
// call it. Everything is checked before a tensor is returned: the header's
// length and JSON, string metadata, every tensor's known type, shape and
// offsets, and data offsets that tile the data section exactly, in some
// order, without gaps or overlaps (as the reference reader demands). A
// malformed file is a *FormatError.
func Parse(name string, data []byte) (*File, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Path: name, Problem: fmt.Sprintf(format, args...)}
	}
	if len(data) < 8 {
		return nil, bad("%d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n < 2 || n > maxHeader || n > uint64(len(data)-8) {
		return nil, bad("header length %d does not fit a file of %d bytes", n, len(data))
	}
	hdr, body := data[8:8+n], data[8+n:]
	if hdr[0] != '{' {
		return nil, bad("the header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil {
		return nil, bad("header: %v", err)
	}
	f := &File{Path: name}
	seen := map[string]bool{}
	type span struct {
		begin, end int64
		name       string
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, bad("header: %q appears twice", key)
		}
		seen[key] = true
		if key == metadataKey {
			if err := dec.Decode(&f.Metadata); err != nil {
				return nil, bad("header: %s: %v (want an object of strings)", metadataKey, err)
			}
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return nil, bad("header: tensor %q: %v", key, err)
		}
		t := Tensor{Name: key, DType: e.DType, Shape: e.Shape}
		if key == "" {
			return nil, bad("header: a tensor with an empty name")
		}
		if t.DType.Size() == 0 {
			return nil, bad("tensor %s: unknown dtype %q", key, e.DType)
		}
		if e.Shape == nil {
			return nil, bad("tensor %s: no shape", key)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || numel > math.MaxInt64/int64(max(d, 1)) {
				return nil, bad("tensor %s: shape %v", key, e.Shape)
			}
			numel *= int64(d)
		}
		if len(e.DataOffsets) != 2 {
			return nil, bad("tensor %s: data_offsets %v, want [begin, end]", key, e.DataOffsets)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > int64(len(body)) {
			return nil, bad("tensor %s: data_offsets [%d, %d] outside the %d bytes of data", key, b, end, len(body))
		}
		if numel > math.MaxInt64/int64(t.DType.Size()) || end-b != numel*int64(t.DType.Size()) {
			return nil, bad("tensor %s: %d bytes of data for %s of shape %v", key, end-b, t.DType, e.Shape)
		}
		t.Data = body[b:end]
		spans = append(spans, span{b, end, key})
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("header: %v", err)
	}
	if rest := bytes.TrimRight(hdr[dec.InputOffset():], " "); len(rest) > 0 {
		return nil, bad("header: %d bytes after the JSON object", len(rest))
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			return int(a.begin - b.begin)
		}
		return int(a.end - b.end)
	})
	var at int64
	for _, s := range spans {
		if s.begin != at {
			return nil, bad("tensor %s: data starts at byte %d, want %d (offsets must tile the data without gaps or overlaps)", s.name, s.begin, at)
		}
		at = s.end
	}
	if at != int64(len(body)) {
		return nil, bad("the tensors cover %d of the %d bytes of data", at, len(body))
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return f, nil
}

// Float32Tensor is a F32 tensor holding v (of the shape's size).
func Float32Tensor(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: b}
}

// Uint8Tensor is a U8 tensor holding v.
func Uint8Tensor(name string, shape []int, v []uint8) Tensor {
	return Tensor{Name: name, DType: U8, Shape: slices.Clone(shape), Data: slices.Clone(v)}
}

// Int8Tensor is an I8 tensor holding v.
func Int8Tensor(name string, shape []int, v []int8) Tensor {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return Tensor{Name: name, DType: I8, Shape: slices.Clone(shape), Data: b}
}

// Int32Tensor is an I32 tensor holding v.
func Int32Tensor(name string, shape []int, v []int32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: I32, Shape: slices.Clone(shape), Data: b}
}

// Int64Tensor is an I64 tensor holding v.
func Int64Tensor(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: b}
}

// check returns an error naming the tensor unless it has the type and
// (when shape is not nil) the shape given.
func (t Tensor) check(d DType, shape []int) error {
	if t.DType != d {
		return fmt.Errorf("tensor %s has dtype %s, want %s", t.Name, t.DType, d)
	}
	if shape != nil && !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("tensor %s has shape %v, want %v", t.Name, t.Shape, shape)
	}
	return nil
}

// Float32s decodes a F32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(F32, nil); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Int8s decodes an I8 tensor.
func (t Tensor) Int8s() ([]int8, error) {
	if err := t.check(I8, nil); err != nil {
		return nil, err
	}
	v := make([]int8, len(t.Data))
	for i, b := range t.Data {
		v[i] = int8(b)
	}
	return v, nil
}

// Int32s decodes an I32 tensor.
func (t Tensor) Int32s() ([]int32, error) {
	if err := t.check(I32, nil); err != nil {
		return nil, err
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Int64s decodes an I64 tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(I64, nil); err != nil {
		return nil, err
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}
