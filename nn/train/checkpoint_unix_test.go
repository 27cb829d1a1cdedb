//go:build unix

package train_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckpointPermissions: a checkpoint gets 0666 less the umask, like
// the other files of a run folder.
func TestCheckpointPermissions(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "checkpoint.gob")
	writeMasked(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("checkpoint mode %#o, want 0644 under umask 022", got)
	}
}
