package train_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// maskedState is a State with every kind of entry MasksDigest covers.
func maskedState() *nn.State {
	st := nn.NewState()
	st.Tensors["param/fc.weight"] = []float32{0.5, -1, 2, 3}
	st.Tensors["mask/fc.weight"] = []float32{1, 0, 1, 1}
	st.Tensors["scores/conv.weight"] = []float32{0.1, 0.2, 0.3}
	st.Tensors["shared/z0"] = []float32{4, 5}
	st.Tensors["opt/momentum/fc.weight"] = []float32{0, 0, 0, 0}
	st.Counters["step"] = 7
	st.Counters["mask_pattern/fc.weight"] = 0
	st.Counters["scores_keep/conv.weight"] = 2
	st.Counters["shared/emb.weight"] = 2
	return st
}

// identity0 is the identity the tests give checkpoints; headerSize is the
// size of a checkpoint header holding it (the layout in checkpoint.go).
const (
	identity0  = "0123abcd/replicate_0/level_1"
	headerSize = 96 + len(identity0) + 32
)

func writeMasked(t *testing.T, path string) *train.Checkpoint {
	t.Helper()
	ck := &train.Checkpoint{Identity: identity0, Iter: 42, Fingerprint: "fp", State: maskedState(),
		History: train.History{Points: []train.EvalPoint{{Iter: 40, TrainLoss: 1.5, ValLoss: 1.25}}, ItersPerEpoch: 10, Total: 100},
		LossSum: 3.5, LossN: 2}
	if err := train.SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	return ck
}

// wantBad checks an error about a checkpoint that exists: it names the
// file, says to delete it and wraps ErrBadCheckpoint.
func wantBad(t *testing.T, err error, path string, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one about %s", path)
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, train.ErrBadCheckpoint) {
		t.Errorf("error %v does not wrap ErrBadCheckpoint", err)
	}
	for _, w := range append([]string{path, "delete it"}, wants...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.gob")
	want := writeMasked(t, path)
	got, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want the checkpoint only (temporary files left behind)", len(entries))
	}
	// The header alone says the iteration and the unit.
	head, err := train.ReadCheckpointHead(path)
	if err != nil || head.Iter != want.Iter || head.Identity != want.Identity {
		t.Errorf("ReadCheckpointHead = %+v, %v; want iteration %d, identity %q", head, err, want.Iter, want.Identity)
	}
	// A missing file is os.ErrNotExist, not a bad checkpoint.
	_, err = train.LoadCheckpoint(filepath.Join(t.TempDir(), "none.gob"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, train.ErrBadCheckpoint) {
		t.Errorf("missing checkpoint: error %v, want os.ErrNotExist", err)
	}
}

// TestCheckpointFlippedByte: one flipped byte anywhere (each field of the
// header, the start, middle and end of the payload) is an error naming the
// file, and so is a truncated or extended file.
func TestCheckpointFlippedByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.gob")
	writeMasked(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) <= headerSize+10 {
		t.Fatalf("checkpoint of %d bytes, header of %d", len(good), headerSize)
	}
	offsets := map[string]int{
		"magic": 0, "magic end": 7, "version": 8, "iteration": 12, "masks digest": 20, "masks digest end": 51,
		"payload length": 52, "payload length high byte": 59, "payload sum": 60, "identity length": 92,
		"identity": 96, "identity end": 96 + len(identity0) - 1, "header sum": 96 + len(identity0),
		"header sum end": headerSize - 1, "payload start": headerSize,
		"payload middle": headerSize + (len(good)-headerSize)/2, "payload end": len(good) - 1,
	}
	for what, off := range offsets {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(good)
			b[off] ^= mask
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := train.LoadCheckpoint(path)
			if err == nil {
				t.Errorf("byte %d (%s) ^ %#x: no error", off, what, mask)
				continue
			}
			wantBad(t, err, path)
		}
	}
	for what, b := range map[string][]byte{
		"truncated payload": good[:len(good)-1], "truncated header": good[:headerSize-1],
		"magic only": good[:8], "extended": append(bytes.Clone(good), 0), "empty": nil,
		"text": []byte("not a checkpoint"),
	} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := train.LoadCheckpoint(path)
		if err == nil {
			t.Errorf("%s: no error", what)
			continue
		}
		wantBad(t, err, path)
	}
}

// TestCheckpointVersion1Refused: a checkpoint of format version 1 (a bare
// gob of Checkpoint) is refused with the same advice.
func TestCheckpointVersion1Refused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.gob")
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&train.Checkpoint{Version: 1, Iter: 3, Fingerprint: "fp", State: maskedState()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := train.LoadCheckpoint(path)
	wantBad(t, err, path, "format version 1", "older prunebench")
}

// interrupted trains f's config into a checkpoint at path with the given
// identity and stops after stopAt iterations.
func interrupted(t *testing.T, f fixture, path, identity string, stopAt int) {
	t.Helper()
	cfg := f.cfg
	cfg.Checkpoint, cfg.Identity = path, identity
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopper := train.At(stopAt, func(*train.Event) error { cancel(); return nil })
	if _, err := train.Run(ctx, f.net(t), f.data, cfg, stopper); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop at %d: error %v, want context.Canceled", stopAt, err)
	}
}

// counter counts the iterations a Run trains.
func counter(n *int) train.Callback {
	return func(e *train.Event) error {
		if e.Phase == train.AfterStep {
			*n++
		}
		return nil
	}
}

// TestCheckpointCorruptFollowAdvice: a corrupt checkpoint stops Run before
// it trains, with an error that says to delete the file; doing so and
// running again gives the uninterrupted result, bit for bit.
func TestCheckpointCorruptFollowAdvice(t *testing.T) {
	f := newFixture(t)
	ref := f.net(t)
	want, err := train.Run(context.Background(), ref, f.data, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		corrupt func(b []byte) []byte
		wants   []string
	}{
		{"flipped payload byte", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }, []string{"corrupt"}},
		{"flipped header byte", func(b []byte) []byte { b[96] ^= 0x01; return b }, []string{"corrupt"}},
		{"version 1", func([]byte) []byte {
			var buf bytes.Buffer
			gob.NewEncoder(&buf).Encode(&train.Checkpoint{Version: 1, Iter: 5, State: maskedState()})
			return buf.Bytes()
		}, []string{"format version 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.Checkpoint, cfg.Identity = filepath.Join(t.TempDir(), "level_1", "checkpoint.gob"), identity0
			interrupted(t, f, cfg.Checkpoint, identity0, 6)
			b, err := os.ReadFile(cfg.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg.Checkpoint, c.corrupt(b), 0o644); err != nil {
				t.Fatal(err)
			}
			var trained int
			_, err = train.Run(context.Background(), f.net(t), f.data, cfg, counter(&trained))
			wantBad(t, err, cfg.Checkpoint, c.wants...)
			if strings.Contains(err.Error(), "--rerun") {
				t.Errorf("Run resumes an unfinished level: the advice for a finished one does not apply: %v", err)
			}
			if trained != 0 {
				t.Errorf("Run trained %d iterations on a bad checkpoint, want 0", trained)
			}
			// Follow the advice: delete it and run again.
			if err := os.Remove(cfg.Checkpoint); err != nil {
				t.Fatal(err)
			}
			net := f.net(t)
			got, err := train.Run(context.Background(), net, f.data, cfg)
			if err != nil {
				t.Fatalf("after deleting the checkpoint: %v", err)
			}
			if got.Resumed != 0 {
				t.Errorf("History.Resumed = %d, want 0 (a fresh start)", got.Resumed)
			}
			if weightHash(t, net) != weightHash(t, ref) {
				t.Error("weights differ from the uninterrupted run")
			}
			if !samePoints(got.Points, want.Points) {
				t.Errorf("histories differ:\n%v\n%v", got.Points, want.Points)
			}
		})
	}
}

// TestCheckpointIdentity: Run writes Config.Identity into its checkpoints,
// refuses one of another identity without training, and resumes one of its
// own to the uninterrupted result.
func TestCheckpointIdentity(t *testing.T) {
	f := newFixture(t)
	ref := f.net(t)
	want, err := train.Run(context.Background(), ref, f.data, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	const level0, level1 = "0123abcd/replicate_0/level_0", "0123abcd/replicate_0/level_1"
	path := filepath.Join(t.TempDir(), "level_1", "checkpoint.gob")
	interrupted(t, f, path, level0, 5) // level 0's checkpoint, copied into level 1's folder
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Identity != level0 || ck.Iter != 5 {
		t.Fatalf("checkpoint identity %q at iteration %d, want %q at 5", ck.Identity, ck.Iter, level0)
	}
	before, _ := os.ReadFile(path)
	cfg := f.cfg
	cfg.Checkpoint, cfg.Identity = path, level1
	var trained int
	_, err = train.Run(context.Background(), f.net(t), f.data, cfg, counter(&trained))
	wantBad(t, err, path, level0, level1)
	if trained != 0 {
		t.Errorf("Run trained %d iterations on another unit's checkpoint, want 0", trained)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused checkpoint was rewritten")
	}
	// No identity set: no check (the caller opted out).
	cfg.Identity = ""
	if _, err := train.Run(context.Background(), f.net(t), f.data, cfg); err != nil {
		t.Errorf("resuming without an identity: %v", err)
	}

	// A checkpoint that names no unit is not this unit's either.
	anon := filepath.Join(t.TempDir(), "checkpoint.gob")
	interrupted(t, f, anon, "", 5)
	cfg.Checkpoint, cfg.Identity = anon, level1
	_, err = train.Run(context.Background(), f.net(t), f.data, cfg)
	wantBad(t, err, anon, "names no unit", level1)

	// Its own identity resumes, bit-identically.
	path = filepath.Join(t.TempDir(), "checkpoint.gob")
	interrupted(t, f, path, level1, 5)
	cfg.Checkpoint, cfg.Identity = path, level1
	net := f.net(t)
	got, err := train.Run(context.Background(), net, f.data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Resumed != 5 || weightHash(t, net) != weightHash(t, ref) || !samePoints(got.Points, want.Points) {
		t.Errorf("resumed from iteration %d to a result different from the uninterrupted run", got.Resumed)
	}
	if ck, err := train.LoadCheckpoint(path); err != nil || ck.Identity != level1 || ck.Iter != want.Total {
		t.Errorf("final checkpoint: %v, %v; want identity %q at iteration %d", ck, err, level1, want.Total)
	}
}
