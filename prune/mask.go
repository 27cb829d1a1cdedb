package prune

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"

	"github.com/prunebench/prunebench/nn"
)

// Masks holds one 0/1 mask per tensor of a prunable set.
//
// Names lists the masked tensors in canonical order (the order of
// Arch.Params, docs/methods/conventions.md#canonical-order); M maps each of
// them to its mask, one float32 per entry in the tensor's row-major order,
// 1 = kept. Tensors not in Names are not masked (dense). Every operation
// over "all masks" walks Names, never the map, so results never depend on
// map order. Validate checks the invariants against an architecture.
type Masks struct {
	Names []string
	M     map[string][]float32
}

// NewMasks returns all-ones masks for the given parameters, in the order
// given (pass them in canonical order, e.g. from ResolvePrunable).
func NewMasks(params []nn.ParamInfo) *Masks {
	m := &Masks{Names: make([]string, len(params)), M: make(map[string][]float32, len(params))}
	for i, p := range params {
		m.Names[i] = p.Name
		v := make([]float32, p.Size())
		for j := range v {
			v[j] = 1
		}
		m.M[p.Name] = v
	}
	return m
}

// Size is the number of entries of the masked set, N_P.
func (m *Masks) Size() int {
	n := 0
	for _, name := range m.Names {
		n += len(m.M[name])
	}
	return n
}

// Kept is the number of kept entries (ones) over the masked set.
func (m *Masks) Kept() int {
	k := 0
	for _, name := range m.Names {
		k += maskOnes(m.M[name])
	}
	return k
}

// KeptCounts returns the kept entries of every tensor, in Names order.
func (m *Masks) KeptCounts() []int {
	ks := make([]int, len(m.Names))
	for i, name := range m.Names {
		ks[i] = maskOnes(m.M[name])
	}
	return ks
}

// KeptOf returns the kept entries of one tensor (0 for a name not masked).
func (m *Masks) KeptOf(name string) int { return maskOnes(m.M[name]) }

// Density is kept / size over the masked set
// (docs/methods/conventions.md#density). An empty set has density 1: nothing
// was removed.
func (m *Masks) Density() float64 {
	n := m.Size()
	if n == 0 {
		return 1
	}
	return float64(m.Kept()) / float64(n)
}

// Clone returns a deep copy.
func (m *Masks) Clone() *Masks {
	c := &Masks{Names: slices.Clone(m.Names), M: make(map[string][]float32, len(m.M))}
	for k, v := range m.M {
		c.M[k] = slices.Clone(v)
	}
	return c
}

// Equal reports whether two mask sets mask the same tensors in the same
// order with the same values.
func (m *Masks) Equal(o *Masks) bool {
	if !slices.Equal(m.Names, o.Names) || len(m.M) != len(o.M) {
		return false
	}
	for _, name := range m.Names {
		if !slices.Equal(m.M[name], o.M[name]) {
			return false
		}
	}
	return true
}

// Within returns nil when every entry kept by m is kept by prev too (masks
// are monotone across IMP levels, docs/methods/imp.md#level-loop), and
// otherwise an error that names the first tensor and entry that was revived.
// Both must mask the same tensors.
func (m *Masks) Within(prev *Masks) error {
	if !slices.Equal(m.Names, prev.Names) {
		return fmt.Errorf("masks: comparing masks of %s with masks of %s", nameList(m.Names), nameList(prev.Names))
	}
	for _, name := range m.Names {
		a, b := m.M[name], prev.M[name]
		if len(a) != len(b) {
			return fmt.Errorf("masks: %s has %d entries here and %d in the previous mask", name, len(a), len(b))
		}
		for i := range a {
			if a[i] == 1 && b[i] != 1 {
				return fmt.Errorf("masks: %s entry %d is kept but was pruned before", name, i)
			}
		}
	}
	return nil
}

// Validate checks the masks against a model's parameters (all of them, in
// canonical order, as Arch.Params returns them): names are unique, known
// and in canonical order; M holds exactly the tensors of Names; each mask
// has the tensor's size and only 0 and 1 entries. Errors name the tensor.
func (m *Masks) Validate(params []nn.ParamInfo) error {
	pos := make(map[string]int, len(params))
	for i, p := range params {
		pos[p.Name] = i
	}
	last := -1
	seen := make(map[string]bool, len(m.Names))
	for _, name := range m.Names {
		if seen[name] {
			return fmt.Errorf("masks: %s is listed twice", name)
		}
		seen[name] = true
		i, ok := pos[name]
		if !ok {
			return fmt.Errorf("masks: the model has no parameter %q", name)
		}
		if i < last {
			return fmt.Errorf("masks: %s is out of canonical order (it comes before %s in the model)", name, params[last].Name)
		}
		last = i
		v, ok := m.M[name]
		if !ok {
			return fmt.Errorf("masks: no mask for %s", name)
		}
		if err := (nn.Masked{Mask: v}).Validate(name, params[i].Size()); err != nil {
			return fmt.Errorf("masks: %w", err)
		}
	}
	if len(m.M) != len(m.Names) {
		for k := range m.M {
			if !seen[k] {
				return fmt.Errorf("masks: mask for %s is not listed in Names", k)
			}
		}
	}
	return nil
}

// Apply installs the masks on a Net: for every tensor of Names,
// SetParametrization(name, nn.Masked{Mask, Pattern}). The masks are
// validated against the Net's architecture first, so a mismatch changes
// nothing; an engine error part way leaves the earlier tensors masked and
// is returned naming the tensor. Engines copy the mask (the native engine
// does), but Apply passes copies anyway so later edits of m never alias an
// engine's state.
func (m *Masks) Apply(net nn.Net, pattern nn.MaskPattern) error {
	if err := m.Validate(net.Arch().Params()); err != nil {
		return err
	}
	for _, name := range m.Names {
		p := nn.Masked{Mask: slices.Clone(m.M[name]), Pattern: pattern}
		if err := net.SetParametrization(name, p); err != nil {
			return fmt.Errorf("masks: apply to %s: %w", name, err)
		}
	}
	return nil
}

// MasksFromNet reads the masks currently installed on a Net for the named
// tensors. A tensor with a Dense parametrization reads as all ones; any
// other parametrization is an error.
func MasksFromNet(net nn.Net, names []string) (*Masks, error) {
	m := &Masks{Names: slices.Clone(names), M: make(map[string][]float32, len(names))}
	for _, name := range names {
		p := net.Param(name)
		if p == nil {
			return nil, fmt.Errorf("masks: the model has no parameter %q", name)
		}
		switch z := net.Parametrization(name).(type) {
		case nn.Masked:
			m.M[name] = slices.Clone(z.Mask)
		case *nn.Masked:
			m.M[name] = slices.Clone(z.Mask)
		case nil, nn.Dense, *nn.Dense:
			v := make([]float32, p.Info().Size())
			for i := range v {
				v[i] = 1
			}
			m.M[name] = v
		default:
			return nil, fmt.Errorf("masks: %s has a %s parametrization, not a mask", name, z.Describe())
		}
	}
	return m, nil
}

// The masks file format (version 1), all integers little-endian:
//
//	magic    8 bytes  "PBMASKS\x00"
//	version  uint32   1
//	count    uint32   number of tensors
//	then per tensor, in Names order:
//	  nameLen  uint32, then nameLen bytes of UTF-8 name
//	  size     uint64  entries
//	  kept     uint64  number of ones (a check)
//	  bits     ceil(size/8) bytes: entry i is bit i%8 (least significant
//	           first) of byte i/8; padding bits are 0
//
// Nothing follows the last tensor. Readers reject anything else (a bad
// magic, an unknown version, a kept count that disagrees with the bits,
// non-zero padding, trailing bytes), so a truncated or corrupt file is
// always an error, never a silently different mask.
const masksMagic = "PBMASKS\x00"

const (
	masksVersion = 1
	maxNameLen   = 1 << 12
	maxTensors   = 1 << 20
	maxEntries   = 1 << 40
)

// Save writes the masks to path in the masks file format, through a
// temporary file in the same directory renamed into place, so a crash
// never leaves a half-written file under path. Errors name the file.
func (m *Masks) Save(path string) error {
	var buf bytes.Buffer
	if err := m.write(&buf); err != nil {
		return fmt.Errorf("masks file %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("masks file %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(buf.Bytes())
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("masks file %s: %w", path, werr)
	}
	return nil
}

func (m *Masks) write(w io.Writer) error {
	if len(m.Names) > maxTensors {
		return fmt.Errorf("%d tensors, at most %d", len(m.Names), maxTensors)
	}
	var hdr [8]byte
	if _, err := io.WriteString(w, masksMagic); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(hdr[:4], masksVersion)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(m.Names)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for _, name := range m.Names {
		v, ok := m.M[name]
		if !ok {
			return fmt.Errorf("no mask for %s", name)
		}
		if len(name) == 0 || len(name) > maxNameLen {
			return fmt.Errorf("tensor name %q: want 1 … %d bytes", name, maxNameLen)
		}
		packed := make([]byte, (len(v)+7)/8)
		kept := 0
		for i, x := range v {
			switch x {
			case 1:
				packed[i/8] |= 1 << (i % 8)
				kept++
			case 0:
			default:
				return fmt.Errorf("mask for %s: entry %d is %v, want 0 or 1", name, i, x)
			}
		}
		var b [8]byte
		binary.LittleEndian.PutUint32(b[:4], uint32(len(name)))
		if _, err := w.Write(b[:4]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, name); err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(b[:], uint64(len(v)))
		if _, err := w.Write(b[:]); err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(b[:], uint64(kept))
		if _, err := w.Write(b[:]); err != nil {
			return err
		}
		if _, err := w.Write(packed); err != nil {
			return err
		}
	}
	return nil
}

// LoadMasks reads a file written by Save. Errors name the file. The result
// is checked for internal consistency only; check it against a model with
// Validate.
func LoadMasks(path string) (*Masks, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("masks file %s: %w", path, err)
	}
	defer f.Close()
	m, err := readMasks(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("masks file %s: %w", path, err)
	}
	return m, nil
}

var errTruncated = errors.New("truncated")

func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errTruncated
		}
		return err
	}
	return nil
}

func readMasks(r io.Reader) (*Masks, error) {
	var hdr [16]byte
	if err := readFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(hdr[:8]) != masksMagic {
		return nil, fmt.Errorf("not a prunebench masks file (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(hdr[8:12]); v != masksVersion {
		return nil, fmt.Errorf("version %d, this build reads version %d", v, masksVersion)
	}
	count := binary.LittleEndian.Uint32(hdr[12:16])
	if count > maxTensors {
		return nil, fmt.Errorf("%d tensors, at most %d", count, maxTensors)
	}
	m := &Masks{M: make(map[string][]float32, count)}
	var b [8]byte
	for t := range int(count) {
		if err := readFull(r, b[:4]); err != nil {
			return nil, fmt.Errorf("tensor %d: %w", t, err)
		}
		nl := binary.LittleEndian.Uint32(b[:4])
		if nl == 0 || nl > maxNameLen {
			return nil, fmt.Errorf("tensor %d: name of %d bytes, want 1 … %d", t, nl, maxNameLen)
		}
		nb := make([]byte, nl)
		if err := readFull(r, nb); err != nil {
			return nil, fmt.Errorf("tensor %d: %w", t, err)
		}
		name := string(nb)
		if _, dup := m.M[name]; dup {
			return nil, fmt.Errorf("tensor %s listed twice", name)
		}
		if err := readFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		size := binary.LittleEndian.Uint64(b[:])
		if size > maxEntries {
			return nil, fmt.Errorf("tensor %s: %d entries, at most %d", name, size, uint64(maxEntries))
		}
		if err := readFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		kept := binary.LittleEndian.Uint64(b[:])
		packed := make([]byte, (size+7)/8)
		if err := readFull(r, packed); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		ones := 0
		for _, x := range packed {
			ones += bits.OnesCount8(x)
		}
		if rem := size % 8; rem != 0 && packed[len(packed)-1]>>rem != 0 {
			return nil, fmt.Errorf("tensor %s: non-zero padding bits", name)
		}
		if uint64(ones) != kept {
			return nil, fmt.Errorf("tensor %s: %d ones in the bits, header says %d", name, ones, kept)
		}
		v := make([]float32, size)
		for i := range v {
			if packed[i/8]>>(i%8)&1 == 1 {
				v[i] = 1
			}
		}
		m.Names = append(m.Names, name)
		m.M[name] = v
	}
	var one [1]byte
	switch _, err := io.ReadFull(r, one[:]); err {
	case io.EOF:
	case nil:
		return nil, fmt.Errorf("trailing bytes after %d tensors", count)
	default:
		return nil, err
	}
	return m, nil
}

func maskOnes(v []float32) int {
	k := 0
	for _, x := range v {
		if x != 0 {
			k++
		}
	}
	return k
}
