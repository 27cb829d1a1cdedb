package export

import (
	"slices"
	"strings"
	"testing"
)

// maskOf is a 0/1 mask of n entries with ones at kept.
func maskOf(n int, kept ...int) []float32 {
	m := make([]float32, n)
	for _, i := range kept {
		m[i] = 1
	}
	return m
}

// TestBitmaskByHand packs a 2×10 weight by hand: row 0 keeps columns 0, 3
// and 9 (bytes 0b00001001, 0b00000010), row 1 keeps column 8 (bytes 0,
// 0b00000001): entry j is bit j%8 of byte j/8 (little-endian bit order).
func TestBitmaskByHand(t *testing.T) {
	value := make([]float32, 20)
	for i := range value {
		value[i] = float32(i + 1)
	}
	mask := maskOf(20, 0, 3, 9, 18)
	ts := bitmaskTensors("fc.weight", []int{2, 10}, value, mask)
	got := map[string]Tensor{}
	for _, x := range ts {
		got[x.Name] = x
	}
	shape, _ := got["fc.weight.shape"].Int64s()
	vals, _ := got["fc.weight.compressed"].Float32s()
	offsets, _ := got["fc.weight.row_offsets"].Int64s()
	bm := got["fc.weight.bitmask"]
	if !slices.Equal(shape, []int64{2, 10}) {
		t.Errorf("shape %v", shape)
	}
	if !slices.Equal(vals, []float32{1, 4, 10, 19}) {
		t.Errorf("compressed %v, want 1 4 10 19", vals)
	}
	if !slices.Equal(bm.Shape, []int{2, 2}) || !slices.Equal(bm.Data, []byte{0b00001001, 0b00000010, 0, 0b00000001}) {
		t.Errorf("bitmask %v of shape %v", bm.Data, bm.Shape)
	}
	if !slices.Equal(offsets, []int64{0, 3}) {
		t.Errorf("row_offsets %v, want 0 3", offsets)
	}
	f := &File{Tensors: ts}
	if err := f.sorted(); err != nil {
		t.Fatal(err)
	}
	v, m, err := readBitmask(f, "fc.weight", []int{2, 10})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 20)
	for _, i := range []int{0, 3, 9, 18} {
		want[i] = value[i]
	}
	if !slices.Equal(v, want) || !slices.Equal(m, mask) {
		t.Errorf("decoded %v %v", v, m)
	}
}

// TestBitmaskConv views a conv weight [out, in, kh, kw] as out rows of
// in·kh·kw columns: a [2, 3, 2, 2] weight has rows of 12 entries, 2 bytes
// each.
func TestBitmaskConv(t *testing.T) {
	value := make([]float32, 24)
	for i := range value {
		value[i] = float32(-i)
	}
	mask := maskOf(24, 1, 11, 12, 23)
	ts := bitmaskTensors("conv.weight", []int{2, 3, 2, 2}, value, mask)
	f := &File{Tensors: ts}
	f.sorted()
	bm, _ := f.Tensor("conv.weight.bitmask")
	if !slices.Equal(bm.Shape, []int{2, 2}) || !slices.Equal(bm.Data, []byte{0b00000010, 0b00001000, 0b00000001, 0b00001000}) {
		t.Errorf("bitmask %08b of shape %v", bm.Data, bm.Shape)
	}
	v, m, err := readBitmask(f, "conv.weight", []int{2, 3, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m, mask) || v[23] != -23 || v[0] != 0 {
		t.Errorf("decoded %v %v", v, m)
	}
}

// TestBitmaskRefused: tensors that disagree are errors naming the tensor.
func TestBitmaskRefused(t *testing.T) {
	value := make([]float32, 20)
	for i := range value {
		value[i] = 1
	}
	mask := maskOf(20, 0, 3, 9, 18)
	cases := []struct {
		name  string
		edit  func(map[string]*Tensor)
		shape []int
		want  string
	}{
		{"shape", func(map[string]*Tensor) {}, []int{4, 5}, "tensor w.shape is [2 10]: w has shape [4 5] in this net"},
		{"missing", func(ts map[string]*Tensor) { ts["w.row_offsets"].Name = "w.offsets" }, nil, "tensor w.row_offsets is missing"},
		{"count", func(ts map[string]*Tensor) { ts["w.bitmask"].Data[3] = 0b11 }, nil, "w.bitmask has 5 bits set and w.compressed 4 values"},
		{"padding", func(ts map[string]*Tensor) { ts["w.bitmask"].Data[1] = 0b110; ts["w.bitmask"].Data[3] = 0 }, nil, "row 0 has bits set past column 10"},
		{"offsets", func(ts map[string]*Tensor) {
			*ts["w.row_offsets"] = Int64Tensor("w.row_offsets", []int{2}, []int64{0, 2})
		}, nil, "row 1 starts at value 2, the bitmask says 3"},
		{"dtype", func(ts map[string]*Tensor) { ts["w.bitmask"].DType = I8 }, nil, "w.bitmask has dtype I8, want U8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := bitmaskTensors("w", []int{2, 10}, value, mask)
			byName := map[string]*Tensor{}
			for i := range ts {
				byName[ts[i].Name] = &ts[i]
			}
			c.edit(byName)
			f := &File{Tensors: ts}
			if err := f.sorted(); err != nil {
				t.Fatal(err)
			}
			shape := c.shape
			if shape == nil {
				shape = []int{2, 10}
			}
			_, _, err := readBitmask(f, "w", shape)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
