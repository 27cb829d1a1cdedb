package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an idx file: magic, dimensions, data.
func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, dims)
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadIdx(t *testing.T) {
	images := bytes.Repeat([]byte{7}, 2*3*4)
	good := idxBytes(idxImagesMagic, []uint32{2, 3, 4}, images)
	truncatedGz := gzipBytes(good)
	truncatedGz = truncatedGz[:len(truncatedGz)-8]
	// A stream cut inside its data: incompressible bytes so that the cut
	// lands in the middle of the data.
	noisy := make([]byte, 4000)
	for i := range noisy {
		noisy[i] = byte(i*7919>>3 ^ i)
	}
	halfGz := gzipBytes(idxBytes(idxImagesMagic, []uint32{1, 40, 100}, noisy))
	halfGz = halfGz[:len(halfGz)/2]
	for _, tc := range []struct {
		name    string
		file    string
		content []byte
		magic   uint32
		dims    []int
		wantErr string // substring; "" = success
	}{
		{"good raw", "a-idx3-ubyte", good, idxImagesMagic, []int{2, 3, 4}, ""},
		{"good gz", "a-idx3-ubyte.gz", gzipBytes(good), idxImagesMagic, []int{2, 3, 4}, ""},
		{"good labels", "l.gz", gzipBytes(idxBytes(idxLabelsMagic, []uint32{3}, []byte{1, 2, 3})), idxLabelsMagic, []int{3}, ""},
		{"truncated data", "t.gz", gzipBytes(good[:len(good)-5]), idxImagesMagic, nil, "header declares 24 data bytes (dimensions [2 3 4]), file has 19"},
		{"truncated raw", "t-idx3-ubyte", good[:len(good)-1], idxImagesMagic, nil, "file has 23"},
		{"gzip trailer cut", "tz.gz", truncatedGz, idxImagesMagic, nil, "before its end-of-stream trailer"},
		{"gzip stream cut", "tc.gz", halfGz, idxImagesMagic, nil, "compressed stream ends after"},
		{"trailing data", "x.gz", gzipBytes(append(good, 0)), idxImagesMagic, nil, "longer than its header declares"},
		{"short header", "h.gz", gzipBytes(good[:9]), idxImagesMagic, nil, "reading idx header"},
		{"empty", "e.gz", gzipBytes(nil), idxImagesMagic, nil, "reading idx magic number: file too short"},
		{"bad magic", "m.gz", gzipBytes(idxBytes(0x00000903, []uint32{2, 3, 4}, images)), idxImagesMagic, nil, "bad idx magic number 0x00000903: want 0x00000803"},
		{"labels for images", "li.gz", gzipBytes(idxBytes(idxLabelsMagic, []uint32{3}, []byte{1, 2, 3})), idxImagesMagic, nil, "bad idx magic"},
		{"gzip garbage", "g.gz", []byte("this is not gzip at all"), idxImagesMagic, nil, "not a valid gzip file"},
		{"huge header", "u.gz", gzipBytes(idxBytes(idxImagesMagic, []uint32{1 << 30, 1 << 30, 4}, nil)), idxImagesMagic, nil, "corrupt header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.file)
			writeFile(t, p, tc.content)
			dims, data, err := readIdxFile(p, tc.magic)
			if tc.dims == nil {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %q: want it to name %s and contain %q", err, p, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dims, tc.dims) {
				t.Errorf("dims %v, want %v", dims, tc.dims)
			}
			n := 1
			for _, d := range tc.dims {
				n *= d
			}
			if len(data) != n {
				t.Errorf("%d data bytes, want %d", len(data), n)
			}
		})
	}
	if _, _, err := readIdxFile(filepath.Join(t.TempDir(), "missing.gz"), idxImagesMagic); err == nil {
		t.Error("missing file: no error")
	}
}
