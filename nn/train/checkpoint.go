package train

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
)

// checkpointVersion is bumped when the checkpoint file layout or the
// Checkpoint type changes incompatibly; older files are then refused with
// an error that says how to recover.
//
// Version 1 was a bare gob of Checkpoint. Version 2 is a header that
// verifies itself and the payload, then the gob (see SaveCheckpoint).
const checkpointVersion = 2

// checkpointMagic starts every checkpoint file of version 2 and later.
const checkpointMagic = "PBCKPT\x00\n"

// maxIdentity bounds the identity a header may carry, so that a corrupt
// length is refused before anything is allocated for it.
const maxIdentity = 1 << 16

// Checkpoint is what Run saves to resume a run: the Net's State (θ, batch
// norm buffers, masks, optimizer state and its step counter), the number of
// iterations done and the history so far. Random streams are counter based
// (the data order and augmentation draw from (seed, iteration), dropout from
// (seed, step)), so the iteration count is their whole state.
type Checkpoint struct {
	Version int
	// Identity names the unit the checkpoint belongs to (Config.Identity
	// of the Run that wrote it; "" when the caller set none).
	Identity    string
	Iter        int
	Fingerprint string
	State       *nn.State
	History     History
	// LossSum and LossN carry the running training-loss average between
	// evaluation points.
	LossSum float64
	LossN   int
}

// ErrBadCheckpoint is wrapped by every error about a checkpoint file that
// exists and cannot be used: corrupt, of another format version, of
// another unit or configuration. Deleting the file recovers (the error
// says what that costs).
var ErrBadCheckpoint = errors.New("unusable checkpoint")

// CheckpointError is the error of a checkpoint file that exists and cannot
// be used. Its message names the file, the problem and how to recover.
type CheckpointError struct {
	Path    string
	Problem string // what is wrong, e.g. "is corrupt: ..."
	Err     error  // the underlying error, if any
	// resuming: the error comes from Run resuming its own unit, which has
	// not finished (a finished unit is not trained again), so the advice
	// for a finished one does not apply.
	resuming bool
}

func (e *CheckpointError) Error() string {
	msg := "checkpoint " + e.Path + " " + e.Problem
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	msg += ": delete it and run again to train its level (or branch) again from the beginning; the run's other levels and branches are kept"
	if !e.resuming {
		msg += ". If that level had finished (its folder holds result.yaml), it is never trained again and later levels read this checkpoint: delete the level's whole folder instead and run again with --rerun"
	}
	return msg
}

// Is makes errors.Is(err, ErrBadCheckpoint) true.
func (e *CheckpointError) Is(target error) bool { return target == ErrBadCheckpoint }

// Unwrap returns the underlying error, if any.
func (e *CheckpointError) Unwrap() error { return e.Err }

func badCheckpoint(path, format string, args ...any) *CheckpointError {
	return &CheckpointError{Path: path, Problem: fmt.Sprintf(format, args...)}
}

// header is the start of a checkpoint file, all integers little endian:
//
//	magic          8 bytes  "PBCKPT\x00\n"
//	version        uint32   checkpointVersion
//	iteration      uint64   Checkpoint.Iter
//	masks digest   32 bytes MasksDigest(Checkpoint.State)
//	payload length uint64   bytes of the gob that follows the header
//	payload sum    32 bytes SHA-256 of those bytes
//	identity len   uint32
//	identity       bytes    Checkpoint.Identity
//	header sum     32 bytes SHA-256 of every header byte before it
//
// then the payload, a gob of Checkpoint, which repeats the iteration and
// the identity.
type header struct {
	version    uint32
	iter       uint64
	masks      [32]byte
	payloadLen uint64
	payloadSum [32]byte
	identity   string
}

// headerFixed is the size of the header up to the identity's bytes.
const headerFixed = 8 + 4 + 8 + 32 + 8 + 32 + 4

func (h *header) size() int { return headerFixed + len(h.identity) + sha256.Size }

func (h *header) marshal() []byte {
	b := make([]byte, 0, h.size())
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint32(b, h.version)
	b = binary.LittleEndian.AppendUint64(b, h.iter)
	b = append(b, h.masks[:]...)
	b = binary.LittleEndian.AppendUint64(b, h.payloadLen)
	b = append(b, h.payloadSum[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.identity)))
	b = append(b, h.identity...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// SaveCheckpoint writes c to path atomically (a temporary file in the same
// directory, synced, then renamed), so an interruption never leaves a
// truncated checkpoint behind. The file is a header (format version,
// identity, iteration, the digest of the State's masks, the payload's
// length and SHA-256, and the header's own SHA-256) then the gob of c;
// LoadCheckpoint verifies all of it. The file gets the umask's permissions.
func SaveCheckpoint(path string, c *Checkpoint) error {
	c.Version = checkpointVersion
	if len(c.Identity) > maxIdentity {
		return fmt.Errorf("checkpoint %s: identity of %d bytes, at most %d", path, len(c.Identity), maxIdentity)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	h := header{version: checkpointVersion, iter: uint64(c.Iter), masks: MasksDigest(c.State), identity: c.Identity}
	err := atomicfile.Write(path, func(f *os.File) error {
		// The header's sums are known after the payload: write room for
		// it, the payload, then the header in its place.
		if _, err := f.Write(make([]byte, h.size())); err != nil {
			return err
		}
		sum := sha256.New()
		cw := &countWriter{w: io.MultiWriter(f, sum)}
		w := bufio.NewWriterSize(cw, 1<<16)
		if err := gob.NewEncoder(w).Encode(c); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		h.payloadLen = uint64(cw.n)
		copy(h.payloadSum[:], sum.Sum(nil))
		_, err := f.WriteAt(h.marshal(), 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// LoadCheckpoint reads a checkpoint and verifies it: the header's own
// checksum, the format version, the payload's length and SHA-256, and that
// the decoded checkpoint's iteration, identity and masks are those the
// header records. A missing file gives an error that satisfies
// errors.Is(err, os.ErrNotExist); every other error names the file, says how
// to recover and satisfies errors.Is(err, ErrBadCheckpoint) when the file
// itself is at fault.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	h, err := readHeader(f, path)
	if err != nil {
		return nil, err
	}
	start := int64(h.size()) // readHeader read that much
	if uint64(fi.Size()-start) != h.payloadLen {
		return nil, badCheckpoint(path, "is corrupt: %d bytes, its header says %d (truncated or extended)", fi.Size(), start+int64(h.payloadLen))
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(f, start, int64(h.payloadLen))); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if !bytes.Equal(sum.Sum(nil), h.payloadSum[:]) {
		return nil, badCheckpoint(path, "is corrupt: its content does not match its checksum")
	}
	var c Checkpoint
	if err := gob.NewDecoder(bufio.NewReader(io.NewSectionReader(f, start, int64(h.payloadLen)))).Decode(&c); err != nil {
		return nil, &CheckpointError{Path: path, Problem: "is unreadable although its checksum matches", Err: err}
	}
	switch {
	case c.Version != checkpointVersion || uint64(c.Iter) != h.iter || c.Identity != h.identity:
		return nil, badCheckpoint(path, "is inconsistent: its header says version %d, iteration %d, identity %q and its content version %d, iteration %d, identity %q",
			h.version, h.iter, h.identity, c.Version, c.Iter, c.Identity)
	case c.State == nil:
		return nil, badCheckpoint(path, "has no network state")
	case MasksDigest(c.State) != h.masks:
		return nil, badCheckpoint(path, "is inconsistent: its masks (and scores, shared sizes) are not those its header records")
	}
	return &c, nil
}

// CheckpointHead is what a checkpoint's header says, read without its
// payload: cheap enough for a status display over thousands of units.
type CheckpointHead struct {
	// Iter is the iteration the checkpoint was taken at.
	Iter int
	// Identity names its unit (Config.Identity).
	Identity string
}

// ReadCheckpointHead reads and verifies a checkpoint's header only; the
// payload is not read, so a damaged payload shows only on LoadCheckpoint.
func ReadCheckpointHead(path string) (CheckpointHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return CheckpointHead{}, err
	}
	defer f.Close()
	h, err := readHeader(f, path)
	if err != nil {
		return CheckpointHead{}, err
	}
	return CheckpointHead{Iter: int(h.iter), Identity: h.identity}, nil
}

// readHeader reads and verifies the header at the start of f.
func readHeader(f *os.File, path string) (*header, error) {
	r := bufio.NewReader(f)
	fixed := make([]byte, headerFixed)
	if n, err := io.ReadFull(r, fixed); err != nil {
		if n >= len(checkpointMagic) && string(fixed[:len(checkpointMagic)]) == checkpointMagic {
			return nil, badCheckpoint(path, "is corrupt: truncated in its header")
		}
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	if string(fixed[:len(checkpointMagic)]) != checkpointMagic {
		return nil, unknownFormat(f, path)
	}
	h := &header{}
	b := fixed[len(checkpointMagic):]
	h.version = binary.LittleEndian.Uint32(b)
	h.iter = binary.LittleEndian.Uint64(b[4:])
	copy(h.masks[:], b[12:])
	h.payloadLen = binary.LittleEndian.Uint64(b[44:])
	copy(h.payloadSum[:], b[52:])
	idLen := binary.LittleEndian.Uint32(b[84:])
	if h.version != checkpointVersion {
		return nil, badCheckpoint(path, "has format version %d, which this prunebench cannot read (it reads version %d): written by another prunebench, or corrupt", h.version, checkpointVersion)
	}
	if idLen > maxIdentity {
		return nil, badCheckpoint(path, "is corrupt: its header gives an identity of %d bytes", idLen)
	}
	rest := make([]byte, int(idLen)+sha256.Size)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, badCheckpoint(path, "is corrupt: truncated in its header")
	}
	h.identity = string(rest[:idLen])
	sum := sha256.New()
	sum.Write(fixed)
	sum.Write(rest[:idLen])
	if !bytes.Equal(sum.Sum(nil), rest[idLen:]) {
		return nil, badCheckpoint(path, "is corrupt: its header does not match its checksum")
	}
	return h, nil
}

// unknownFormat explains a file that does not start with the magic: a
// version 1 checkpoint (a bare gob of Checkpoint, which carried Version),
// or something else.
func unknownFormat(f *os.File, path string) error {
	var v1 struct{ Version int }
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&v1); err == nil && v1.Version > 0 && v1.Version < checkpointVersion {
			return badCheckpoint(path, "has format version %d, written by an older prunebench; this one reads version %d, which carries a checksum", v1.Version, checkpointVersion)
		}
	}
	return badCheckpoint(path, "is not a prunebench checkpoint (corrupt, or another kind of file)")
}

// Prefixes of the State entries that MasksDigest covers.
var (
	maskTensorPrefixes  = []string{"mask/", "scores/"}
	maskCounterPrefixes = []string{"mask_pattern/", "scores_keep/", "shared/"}
)

// MasksDigest is the SHA-256 of the parametrization entries of a State: the
// tensors mask/<name> and scores/<name>, and the counters
// mask_pattern/<name>, scores_keep/<name> and shared/<name> (the size of the
// array a shared parameter reads), in name order. A State without any (a
// dense net) has the digest of nothing; so has a nil State.
func MasksDigest(st *nn.State) [32]byte {
	h := sha256.New()
	if st != nil {
		var b [8]byte
		for _, name := range sortedWithPrefix(st.Tensors, maskTensorPrefixes) {
			t := st.Tensors[name]
			writeName(h, 'T', name)
			binary.LittleEndian.PutUint64(b[:], uint64(len(t)))
			h.Write(b[:])
			buf := make([]byte, 0, 4*min(len(t), 1<<12))
			for i, v := range t {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) || i == len(t)-1 {
					h.Write(buf)
					buf = buf[:0]
				}
			}
		}
		for _, name := range sortedWithPrefix(st.Counters, maskCounterPrefixes) {
			writeName(h, 'C', name)
			binary.LittleEndian.PutUint64(b[:], uint64(st.Counters[name]))
			h.Write(b[:])
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func writeName(h hash.Hash, kind byte, name string) {
	h.Write([]byte{kind})
	h.Write([]byte(name))
	h.Write([]byte{0})
}

func sortedWithPrefix[V any](m map[string]V, prefixes []string) []string {
	var names []string
	for name := range m {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// hasher builds short content fingerprints.
type hasher struct{ h hash.Hash }

func newHasher() *hasher { return &hasher{h: sha256.New()} }

func (h *hasher) add(vs ...any) {
	for _, v := range vs {
		fmt.Fprintf(h.h, "%v\x00", v)
	}
}

func (h *hasher) sum() string {
	return hex.EncodeToString(h.h.Sum(nil))[:16]
}
