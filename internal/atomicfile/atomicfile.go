// Package atomicfile writes files that readers never see half written: the
// result files, checkpoints and resolved specs of run folders, which a run
// that is killed at any moment must leave either whole or absent.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TempPrefix starts the name of every temporary file Write creates.
const TempPrefix = ".tmp-"

// stalePrefixes are the names of temporary files that Clean removes:
// Write's, and those of older checkpoint writers (".checkpoint-").
var stalePrefixes = []string{TempPrefix, ".checkpoint-"}

// Write writes path through a temporary file in the same folder, synced to
// disk, and a rename, so that path holds either its old content or all of
// the new one. The file is created with mode 0666 less the process's umask,
// like any file a program creates (0644 under the usual umask 022), not
// with os.CreateTemp's 0600. When write or any step after it fails, the
// temporary file is removed and path is unchanged.
func Write(path string, write func(*os.File) error) error {
	f, err := create(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// create makes a new temporary file in dir with a random name starting with
// TempPrefix, mode 0666 less the umask.
func create(dir string) (*os.File, error) {
	for try := 0; ; try++ {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// Clean removes the temporary files that a killed writer left in dir: the
// regular files whose names start with ".tmp-" (Write's) or ".checkpoint-"
// (older checkpoint writers'). Call it only on a folder the caller owns,
// before writing there: a temporary file of a writer still running in dir
// would be removed too. A missing dir is not an error; every other error
// names the file.
func Clean(dir string) error { return CleanOlder(dir, 0) }

// CleanOlder is Clean for a folder that writers share (a run's root, which
// every replicate and every process of a sweep writes spec.yaml into): it
// removes only the temporary files last modified more than age ago, which
// no writer still running can own, since a write takes far less.
func CleanOlder(dir string, age time.Duration) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTemp(e.Name()) {
			continue
		}
		if age > 0 {
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < age {
				continue
			}
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isTemp says whether name is the name of a temporary file Clean removes.
func isTemp(name string) bool {
	for _, p := range stalePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
