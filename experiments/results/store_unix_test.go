//go:build unix

package results

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestStorePermissions: a new store, and the WAL files next to it, get
// 0666 less the umask, like the other files of an output folder.
func TestStorePermissions(t *testing.T) {
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o002, 0o664}} {
		old := syscall.Umask(c.umask)
		path := filepath.Join(t.TempDir(), "results.db")
		s, err := Open(path)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, result("eeee00000000", 0, 0, ""))
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Error(err)
				continue
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("umask %#o: %s has mode %#o, want %#o", c.umask, filepath.Base(p), got, c.want)
			}
		}
		s.Close()
	}
}
