package export

import (
	"fmt"
	"math/bits"
	"slices"
)

// The bitmask format stores a masked weight of shape S as four tensors, the
// sparse-bitmask layout of the compressed-tensors library: the weight seen
// as an R×C matrix (a Linear weight [out, in] as it is, a Conv2d weight
// [out, in, kh, kw] as R = out, C = in·kh·kw),
//
//	<name>.shape        I64 [len(S)]      S
//	<name>.compressed   F32 [kept]        the kept values, row-major
//	<name>.bitmask      U8  [R, ⌈C/8⌉]    bit j%8 of byte j/8 of row r is
//	                                      set when entry (r, j) is kept
//	<name>.row_offsets  I64 [R]           the index in compressed of the
//	                                      first kept value of each row
//
// The bit order is little-endian within a byte (numpy.packbits with
// bitorder="little", what compressed-tensors packs and unpacks with);
// bits past C in a row's last byte are 0.

// The suffixes of the bitmask tensors.
const (
	ShapeSuffix      = ".shape"
	CompressedSuffix = ".compressed"
	BitmaskSuffix    = ".bitmask"
	RowOffsetsSuffix = ".row_offsets"
)

// matrixOf is the R×C view of a weight of the given shape.
func matrixOf(shape []int) (rows, cols int) {
	if len(shape) == 0 {
		return 1, 1
	}
	rows, cols = shape[0], 1
	for _, d := range shape[1:] {
		cols *= d
	}
	return rows, cols
}

// bitmaskTensors is the four tensors of a masked weight: value (θ ⊙ m) at
// the kept positions of mask.
func bitmaskTensors(name string, shape []int, value, mask []float32) []Tensor {
	rows, cols := matrixOf(shape)
	stride := (cols + 7) / 8
	packed := make([]uint8, rows*stride)
	offsets := make([]int64, rows)
	var kept []float32
	for r := range rows {
		offsets[r] = int64(len(kept))
		for j := range cols {
			i := r*cols + j
			if mask[i] != 0 {
				packed[r*stride+j/8] |= 1 << (j % 8)
				kept = append(kept, value[i])
			}
		}
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return []Tensor{
		Int64Tensor(name+ShapeSuffix, []int{len(shape)}, dims),
		Float32Tensor(name+CompressedSuffix, []int{len(kept)}, kept),
		Uint8Tensor(name+BitmaskSuffix, []int{rows, stride}, packed),
		Int64Tensor(name+RowOffsetsSuffix, []int{rows}, offsets),
	}
}

// readBitmask decodes the four tensors of weight name of the given shape
// from f into its dense values (0 where pruned) and its mask, checking
// that they agree: the recorded shape, the bitmask's size and zero padding,
// one value per set bit, and the row offsets.
func readBitmask(f *File, name string, shape []int) (value, mask []float32, err error) {
	get := func(suffix string) (Tensor, error) {
		t, ok := f.Tensor(name + suffix)
		if !ok {
			return t, fmt.Errorf("tensor %s is missing (%s is stored in the bitmask layout)", name+suffix, name)
		}
		return t, nil
	}
	var ts [4]Tensor
	for i, suffix := range []string{ShapeSuffix, CompressedSuffix, BitmaskSuffix, RowOffsetsSuffix} {
		if ts[i], err = get(suffix); err != nil {
			return nil, nil, err
		}
	}
	st, ct, bt, ot := ts[0], ts[1], ts[2], ts[3]
	dims, err := st.Int64s()
	if err != nil {
		return nil, nil, err
	}
	want := make([]int64, len(shape))
	for i, d := range shape {
		want[i] = int64(d)
	}
	if !slices.Equal(dims, want) {
		return nil, nil, fmt.Errorf("tensor %s is %v: %s has shape %v in this net", st.Name, dims, name, shape)
	}
	rows, cols := matrixOf(shape)
	stride := (cols + 7) / 8
	if err := bt.check(U8, []int{rows, stride}); err != nil {
		return nil, nil, err
	}
	if len(ct.Shape) != 1 {
		return nil, nil, fmt.Errorf("tensor %s has shape %v, want one dimension", ct.Name, ct.Shape)
	}
	vals, err := ct.Float32s()
	if err != nil {
		return nil, nil, err
	}
	if err := ot.check(I64, []int{rows}); err != nil {
		return nil, nil, err
	}
	offsets, _ := ot.Int64s()
	var set int
	for _, b := range bt.Data {
		set += bits.OnesCount8(b)
	}
	if set != len(vals) {
		return nil, nil, fmt.Errorf("tensor %s has %d bits set and %s %d values", bt.Name, set, ct.Name, len(vals))
	}
	n := rows * cols
	value, mask = make([]float32, n), make([]float32, n)
	k := 0
	for r := range rows {
		if offsets[r] != int64(k) {
			return nil, nil, fmt.Errorf("tensor %s: row %d starts at value %d, the bitmask says %d", ot.Name, r, offsets[r], k)
		}
		row := bt.Data[r*stride : (r+1)*stride]
		if pad := cols % 8; pad != 0 && row[stride-1]>>pad != 0 {
			return nil, nil, fmt.Errorf("tensor %s: row %d has bits set past column %d", bt.Name, r, cols)
		}
		for j := range cols {
			if row[j/8]&(1<<(j%8)) != 0 {
				mask[r*cols+j] = 1
				value[r*cols+j] = vals[k]
				k++
			}
		}
	}
	return value, mask, nil
}
