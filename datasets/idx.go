package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The idx format (LeCun's MNIST files): a big-endian uint32 magic number
// 0x0000TTDD, where TT is the element type (0x08 = unsigned byte, the only
// one MNIST uses) and DD the number of dimensions, then DD big-endian uint32
// dimensions, then the elements in row-major order.
const (
	idxImagesMagic = 0x00000803 // ubyte, 3 dims: count, rows, cols
	idxLabelsMagic = 0x00000801 // ubyte, 1 dim: count
)

// maxIdxBytes bounds what a header may declare, so that a corrupt header
// gets an error instead of an attempt to read gigabytes.
const maxIdxBytes = 1 << 32

// readIdxFile reads an idx file of unsigned bytes with magic want. A name
// ending in .gz is gunzipped. It returns the dimensions and the elements;
// errors name the file.
func readIdxFile(path string, want uint32) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not a valid gzip file: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	dims, data, err = readIdx(r, want)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// readIdx reads an idx stream with magic want and checks that it holds
// exactly the number of elements its header declares.
func readIdx(r io.Reader, want uint32) (dims []int, data []byte, err error) {
	var magic uint32
	if err := binary.Read(r, binary.BigEndian, &magic); err != nil {
		return nil, nil, fmt.Errorf("reading idx magic number: %w", noEOF(err))
	}
	if magic != want {
		return nil, nil, fmt.Errorf("bad idx magic number 0x%08x: want 0x%08x (unsigned bytes, %d dimensions)", magic, want, want&0xff)
	}
	raw := make([]uint32, want&0xff)
	if err := binary.Read(r, binary.BigEndian, raw); err != nil {
		return nil, nil, fmt.Errorf("reading idx header (%d dimensions): %w", len(raw), noEOF(err))
	}
	size := int64(1)
	dims = make([]int, len(raw))
	for i, d := range raw {
		dims[i] = int(d)
		size *= int64(d)
		if size > maxIdxBytes {
			return nil, nil, fmt.Errorf("idx header declares dimensions %v: more than %d bytes, corrupt header?", raw, int64(maxIdxBytes))
		}
	}
	// Read one byte more than declared to detect trailing data; never
	// preallocate more than 64 MiB on the header's word alone.
	var buf bytes.Buffer
	buf.Grow(int(min(size+1, 64<<20)))
	_, err = buf.ReadFrom(io.LimitReader(r, size+1))
	got := int64(buf.Len())
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) && got >= size:
		return nil, nil, fmt.Errorf("truncated: compressed stream ends before its end-of-stream trailer")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("truncated: compressed stream ends after %d of the %d data bytes the header declares (dimensions %v)", got, size, dims)
	case err != nil:
		return nil, nil, fmt.Errorf("reading idx data: %w", err)
	case got < size:
		return nil, nil, fmt.Errorf("truncated: header declares %d data bytes (dimensions %v), file has %d", size, dims, got)
	case got > size:
		return nil, nil, fmt.Errorf("longer than its header declares: more than %d data bytes (dimensions %v)", size, dims)
	}
	return dims, buf.Bytes(), nil
}

// noEOF reports a stream that ends inside a header as truncation.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file too short (truncated)")
	}
	return err
}
