//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadingCommandsOnAStoreTheyMayNotWrite runs board, ls, show and plot
// as a separate process that may not write the output folder: as another
// user (nobody) when the test runs as root, which ignores file modes, and
// otherwise with the folder and store made read-only. Each must work, and
// the folder must be left as it was: no -wal or -shm file, the store's
// bytes and modification time unchanged.
func TestReadingCommandsOnAStoreTheyMayNotWrite(t *testing.T) {
	spec, out := writeSpec(t)
	if _, err := run(t, "run", spec, "-q"); err != nil {
		t.Fatal(err)
	}
	readWithoutWriting(t, out, "")
}

// The same on the result files of an array job's task and no store: the
// readers cannot collect them into a store, so they show them from their
// files, say so, and still leave the folder as it was.
func TestReadingCommandsOnFilesTheyMayNotCollect(t *testing.T) {
	spec, out := writeSpec(t)
	if _, err := run(t, "sweep", spec, "--task", "0", "--tasks", "1"); err != nil {
		t.Fatal(err)
	}
	readWithoutWriting(t, out, "cannot be written here")
}

// readWithoutWriting runs the reading commands on out as a process that
// may not write it, checks what they print (and that stderr has wantNote),
// and that the folder is unchanged.
func readWithoutWriting(t *testing.T, out, wantNote string) {
	t.Helper()
	specs, _ := filepath.Glob(filepath.Join(out, "*", "spec.yaml"))
	if len(specs) != 1 {
		t.Fatalf("%d runs in %s, want 1", len(specs), out)
	}
	hash := filepath.Base(filepath.Dir(specs[0]))
	// Everything the child reads must be reachable by it: the temporary
	// folders are private to the test's user.
	for d := out; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(filepath.Dir(out), "prunebench.test")
	copyFile(t, os.Args[0], bin, 0o755)
	plots := filepath.Join(filepath.Dir(out), "plots")
	if err := os.Mkdir(plots, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(plots, 0o777) // whatever the umask
	store := filepath.Join(out, storeFile)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody
	} else {
		if err := os.Chmod(store, 0o444); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.Chmod(out, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(out, 0o755) })
	}
	before := folderState(t, out)

	for _, c := range []struct {
		args []string
		want string // in stdout
	}{
		{[]string{"board", "--output", out}, "163"}, // the model's parameters
		{[]string{"board", "--output", out, "--by", "training.lr"}, "163"},
		{[]string{"ls", "--output", out}, hash},
		{[]string{"show", hash, "--output", out}, "163"},
		{[]string{"plot", "--output", out, "-o", filepath.Join(plots, "p.svg")}, ""},
	} {
		args := c.args
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PRUNEBENCH_RUN_MAIN=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			continue
		}
		if !strings.Contains(stderr.String(), wantNote) {
			t.Errorf("%s: stderr %q lacks %q", strings.Join(args, " "), stderr.String(), wantNote)
		}
		if !strings.Contains(stdout.String(), c.want) {
			t.Errorf("%s printed %q, want the run's results", strings.Join(args, " "), stdout.String())
		}
	}
	if after := folderState(t, out); after != before {
		t.Errorf("reading changed the output folder:\n%s\nwant\n%s", after, before)
	}
}

// folderState lists a folder's names with each file's size and
// modification time, and the store's bytes: what a reader must not
// change.
func folderState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(e.Name(), " ", info.Mode(), " ", info.ModTime().Format(time.RFC3339Nano), " ", info.Size()))
	}
	data, err := os.ReadFile(filepath.Join(dir, storeFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n" + string(data)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
