package train

import (
	"bufio"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"

	"github.com/prunebench/prunebench/nn"
)

// checkpointVersion is bumped when the Checkpoint layout changes
// incompatibly; older files are then refused with a clear error.
const checkpointVersion = 1

// Checkpoint is what Run saves to resume a run: the Net's State (θ, batch
// norm buffers, masks, optimizer state and its step counter), the number of
// iterations done and the history so far. Random streams are counter based
// (the data order and augmentation draw from (seed, iteration), dropout from
// (seed, step)), so the iteration count is their whole state.
type Checkpoint struct {
	Version     int
	Iter        int
	Fingerprint string
	State       *nn.State
	History     History
	// LossSum and LossN carry the running training-loss average between
	// evaluation points.
	LossSum float64
	LossN   int
}

// SaveCheckpoint writes c to path atomically (a temporary file in the same
// directory, synced, then renamed), so an interruption never leaves a
// truncated checkpoint behind.
func SaveCheckpoint(path string, c *Checkpoint) error {
	c.Version = checkpointVersion
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(c); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// LoadCheckpoint reads a checkpoint. A missing file gives an error that
// satisfies errors.Is(err, os.ErrNotExist).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c Checkpoint
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&c); err != nil {
		return nil, fmt.Errorf("checkpoint %s is unreadable (%v); delete it to start the run over", path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s has format version %d, this prunebench reads %d", path, c.Version, checkpointVersion)
	}
	if c.State == nil {
		return nil, fmt.Errorf("checkpoint %s has no network state", path)
	}
	return &c, nil
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
