//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWritePermissions: the file gets 0666 less the umask, like any file a
// program creates, not os.CreateTemp's 0600.
func TestWritePermissions(t *testing.T) {
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o002, 0o664}, {0o077, 0o600}} {
		old := syscall.Umask(c.umask)
		path := filepath.Join(t.TempDir(), "result.yaml")
		err := Write(path, func(f *os.File) error { _, err := f.WriteString("x"); return err })
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("umask %#o: mode %#o, want %#o", c.umask, got, c.want)
		}
	}
}
