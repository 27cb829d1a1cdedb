package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// writeRaw writes a checkpoint file of c whose header records masks as the
// masks digest, with correct checksums.
func writeRaw(t *testing.T, path string, c *Checkpoint, masks [32]byte) {
	t.Helper()
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		t.Fatal(err)
	}
	h := header{version: checkpointVersion, iter: uint64(c.Iter), masks: masks, identity: c.Identity,
		payloadLen: uint64(payload.Len()), payloadSum: sha256.Sum256(payload.Bytes())}
	if err := os.WriteFile(path, append(h.marshal(), payload.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointMasksDigestChecked: a checkpoint whose checksums match but
// whose masks are not those its header records is refused.
func TestCheckpointMasksDigestChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.gob")
	st := nn.NewState()
	st.Tensors["param/w"] = []float32{1, 2}
	st.Tensors["mask/w"] = []float32{1, 0}
	st.Counters["mask_pattern/w"] = 0
	st.Counters["step"] = 1
	c := &Checkpoint{Version: checkpointVersion, Identity: "x", Iter: 1, State: st}
	writeRaw(t, path, c, MasksDigest(st))
	if _, err := LoadCheckpoint(path); err != nil {
		t.Fatalf("a consistent hand-written checkpoint: %v", err)
	}
	other := nn.NewState()
	other.Tensors["mask/w"] = []float32{0, 1}
	other.Counters["mask_pattern/w"] = 0
	writeRaw(t, path, c, MasksDigest(other))
	_, err := LoadCheckpoint(path)
	if err == nil || !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "masks") || !strings.Contains(err.Error(), path) {
		t.Errorf("masks that differ from the header's digest: error %v", err)
	}
	// The header's identity and iteration must be the content's too.
	var payload bytes.Buffer
	gob.NewEncoder(&payload).Encode(c)
	hd := header{version: checkpointVersion, iter: 1, masks: MasksDigest(st), identity: "y",
		payloadLen: uint64(payload.Len()), payloadSum: sha256.Sum256(payload.Bytes())}
	os.WriteFile(path, append(hd.marshal(), payload.Bytes()...), 0o644)
	if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Errorf("header identity %q, content %q: error %v", "y", c.Identity, err)
	}
}

// TestMasksDigest: the digest changes with every mask, scores and shared
// entry, and with nothing else.
func TestMasksDigest(t *testing.T) {
	base := func() *nn.State {
		st := nn.NewState()
		st.Tensors["param/a"] = []float32{1, 2, 3}
		st.Tensors["mask/a"] = []float32{1, 0, 1}
		st.Tensors["scores/b"] = []float32{0.5, 0.25}
		st.Tensors["shared/z"] = []float32{7}
		st.Tensors["opt/momentum/a"] = []float32{0, 0, 0}
		st.Counters["step"] = 3
		st.Counters["mask_pattern/a"] = 0
		st.Counters["scores_keep/b"] = 1
		st.Counters["shared/c"] = 1
		return st
	}
	ref := MasksDigest(base())
	if MasksDigest(base()) != ref {
		t.Fatal("the digest of one state differs between calls")
	}
	if MasksDigest(nil) != MasksDigest(nn.NewState()) {
		t.Error("a nil state and an empty one have different digests")
	}
	for name, change := range map[string]func(*nn.State){
		"mask value":      func(s *nn.State) { s.Tensors["mask/a"][1] = 1 },
		"mask removed":    func(s *nn.State) { delete(s.Tensors, "mask/a") },
		"mask renamed":    func(s *nn.State) { s.Tensors["mask/a2"] = s.Tensors["mask/a"]; delete(s.Tensors, "mask/a") },
		"mask added":      func(s *nn.State) { s.Tensors["mask/d"] = []float32{1} },
		"scores value":    func(s *nn.State) { s.Tensors["scores/b"][0] = 0.75 },
		"mask pattern":    func(s *nn.State) { s.Counters["mask_pattern/a"] = 1 },
		"scores keep":     func(s *nn.State) { s.Counters["scores_keep/b"] = 2 },
		"shared size":     func(s *nn.State) { s.Counters["shared/c"] = 2 },
		"shared added":    func(s *nn.State) { s.Counters["shared/e"] = 1 },
		"mask lengthened": func(s *nn.State) { s.Tensors["mask/a"] = append(s.Tensors["mask/a"], 0) },
	} {
		st := base()
		change(st)
		if MasksDigest(st) == ref {
			t.Errorf("%s: digest unchanged", name)
		}
	}
	for name, change := range map[string]func(*nn.State){
		"param value":  func(s *nn.State) { s.Tensors["param/a"][0] = 9 },
		"shared array": func(s *nn.State) { s.Tensors["shared/z"][0] = 9 },
		"optimizer":    func(s *nn.State) { s.Tensors["opt/momentum/a"][0] = 9 },
		"step":         func(s *nn.State) { s.Counters["step"] = 4 },
	} {
		st := base()
		change(st)
		if MasksDigest(st) != ref {
			t.Errorf("%s: digest changed (it covers the parametrization only)", name)
		}
	}
}
