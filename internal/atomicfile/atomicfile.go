// Package atomicfile writes files that readers never see half written: the
// result files, checkpoints' companions and resolved specs of run folders,
// which a run that is killed at any moment must leave either whole or
// absent.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes path through a temporary file in the same folder, synced to
// disk, and a rename, so that path holds either its old content or all of
// the new one.
func Write(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
