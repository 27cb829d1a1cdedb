// Package unitlock keeps two processes from training the same unit of work
// at once, on one machine or on the nodes of a cluster that share the
// output folder.
//
// A lock is a small file that appears whole by a hard link, which fails if
// the lock exists and is atomic on local file systems and on NFS alike. It records its holder: host,
// PID, the process's start time, the Slurm job, and a random token. Kernel
// locks (flock, fcntl) would free themselves when a process dies, but they
// are not coherent across the nodes of every cluster file system, so the
// file's content decides instead, by these rules:
//
//   - a holder on this host is alive while its PID exists and started when
//     the lock says (a PID reused by another process does not count);
//   - a holder on another host is alive while Slurm says its job runs; a
//     holder with the same Slurm job as ours is an earlier run of this very
//     task (requeued) and therefore gone;
//   - a holder on another host without a Slurm job cannot be checked and
//     counts as alive: the error says which file to delete if it is not.
//
// A lock whose holder is gone is stale and is taken over, and the caller is
// told (Options.TookOver). Taking over is a compare-and-swap: the taker
// first hard-links the lock file to a name made of the stale token, which
// only one taker can create, checks that the file it linked is the stale
// one, and only then replaces the lock.
package unitlock

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

	"go.yaml.in/yaml/v3"
)

// Holder describes the process that holds a lock.
type Holder struct {
	Host string `yaml:"host"`
	PID  int    `yaml:"pid"`
	// Start is the process's start time in clock ticks after boot (Linux:
	// field 22 of /proc/PID/stat), 0 where unknown; with the PID it names
	// one process even after the PID is reused.
	Start uint64 `yaml:"start"`
	// Job is the holder's Slurm job: "ARRAYJOB_TASK" for an array task
	// (what squeue -j takes), the job id otherwise, "" outside Slurm.
	Job   string    `yaml:"job,omitempty"`
	Since time.Time `yaml:"since"`
	// Token tells two holders apart, also two in one process.
	Token string `yaml:"token"`
}

// String is the holder in words, for messages.
func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on %s", h.PID, h.Host)
	if h.Job != "" {
		s += ", Slurm job " + h.Job
	}
	if !h.Since.IsZero() {
		s += ", since " + h.Since.Local().Format("2006-01-02 15:04:05")
	}
	return s
}

// Self describes this process as a new holder, with a fresh token.
func Self() Holder {
	host, _ := os.Hostname()
	return Holder{Host: host, PID: os.Getpid(), Start: processStart(os.Getpid()), Job: SlurmJob(), Since: time.Now().UTC().Truncate(time.Second), Token: newToken()}
}

// SlurmJob is this process's Slurm job as squeue -j names it: "A_T" in an
// array job (SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID), else SLURM_JOB_ID;
// "" outside Slurm.
func SlurmJob() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// HeldError is the error of a lock that a live holder has.
type HeldError struct {
	Path   string
	Holder Holder
	// Unchecked says that whether the holder is alive could not be told
	// (another host, no Slurm job or Slurm not answering).
	Unchecked bool
}

func (e *HeldError) Error() string {
	msg := fmt.Sprintf("%s is held by %s", e.Path, e.Holder)
	if e.Unchecked {
		msg += " (on another host, which cannot be checked from here: if that process is gone, delete " + e.Path + ")"
	}
	return msg
}

// Options are the checks and reports of Acquire.
type Options struct {
	// JobRunning says whether a Slurm job (as Holder.Job names it) still
	// runs. Nil, or an error, means it cannot be told: a holder on another
	// host then counts as alive.
	JobRunning func(job string) (bool, error)
	// TookOver is told when a stale lock is taken over: its holder and why
	// it was stale.
	TookOver func(stale Holder, why string)
}

// Lock is a held lock.
type Lock struct {
	path   string
	holder Holder
}

// Holder is what the lock file says of its holder: this process.
func (l *Lock) Holder() Holder { return l.holder }

// Acquire takes the lock at path (its folder must exist) for this process.
// A lock held by a live holder is a *HeldError; a stale one is taken over.
func Acquire(path string, o Options) (*Lock, error) {
	me := Self()
	data, err := yaml.Marshal(me)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		if try > 100 {
			return nil, fmt.Errorf("lock %s: it keeps changing hands; try again", path)
		}
		err := createExcl(path, data)
		if err == nil {
			return &Lock{path: path, holder: me}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		h, err := Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			// A lock file cut short: its writer died while writing it,
			// between the create and the write (a few bytes' window).
			if info, serr := os.Stat(path); serr == nil && time.Since(info.ModTime()) > time.Minute {
				os.Remove(path)
				continue
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		stale, why, checked := isStale(h, me, o)
		if !stale {
			return nil, &HeldError{Path: path, Holder: h, Unchecked: !checked}
		}
		ok, err := takeOver(path, h, data)
		if err != nil {
			return nil, err
		}
		if ok {
			if o.TookOver != nil {
				o.TookOver(h, why)
			}
			return &Lock{path: path, holder: me}, nil
		}
		time.Sleep(time.Duration(1+try) * time.Millisecond) // another taker won: look again
	}
}

// Read reads a lock file's holder.
func Read(path string) (Holder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	if err := yaml.Unmarshal(data, &h); err != nil || h.Token == "" || h.PID <= 0 {
		return Holder{}, fmt.Errorf("lock %s is not a lock file of prunebench (or was cut short)", path)
	}
	return h, nil
}

// Alive says whether a lock's holder is alive, as Acquire judges it from
// this process: what status displays show as "running". why explains a
// holder that is gone.
func Alive(h Holder, o Options) (alive bool, why string) {
	stale, why, _ := isStale(h, Self(), o)
	return !stale, why
}

// isStale applies the package's rules; checked is false when the holder's
// liveness could not be told.
func isStale(h, me Holder, o Options) (stale bool, why string, checked bool) {
	if h.Host == me.Host {
		if !processAlive(h.PID, h.Start) {
			return true, fmt.Sprintf("process %d on %s is gone", h.PID, h.Host), true
		}
		return false, "", true
	}
	if h.Job == "" {
		return false, "", false
	}
	if h.Job == me.Job {
		return true, fmt.Sprintf("it is an earlier run of this Slurm job (%s), requeued", h.Job), true
	}
	if o.JobRunning == nil {
		return false, "", false
	}
	running, err := o.JobRunning(h.Job)
	if err != nil {
		return false, "", false
	}
	if !running {
		return true, fmt.Sprintf("Slurm job %s has ended", h.Job), true
	}
	return false, "", true
}

// takeOver replaces the stale lock of holder h at path by data; false when
// another taker got there first.
func takeOver(path string, h Holder, data []byte) (bool, error) {
	claim := path + ".stale-" + h.Token
	if err := os.Link(path, claim); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another taker is at it; a claim its taker left behind
			// when it died is cleared after a minute.
			if info, serr := os.Lstat(claim); serr == nil && time.Since(info.ModTime()) > time.Minute {
				os.Remove(claim)
			}
			return false, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("lock %s: taking over a stale lock: %w", path, err)
	}
	defer os.Remove(claim)
	if got, err := Read(claim); err != nil || got.Token != h.Token {
		return false, nil // the lock changed hands between the read and the link
	}
	tmp := path + ".new-" + newToken()
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	return true, nil
}

// createExcl creates path with data, or fails with fs.ErrExist. The data
// goes to a file of its own first, which is then hard-linked to path: the
// link appears whole or not at all (a reader never sees a lock half
// written), and link is atomic on NFS too, where it is the classic way to
// take a lock.
func createExcl(path string, data []byte) error {
	tmp := path + ".new-" + newToken()
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

// Release gives the lock up, if the file still names this holder.
func (l *Lock) Release() error {
	h, err := Read(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if h.Token != l.holder.Token {
		return fmt.Errorf("lock %s: taken over by %s while this process held it", l.path, h)
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Clean removes what takers that died left next to a lock (its .new-*
// files, and .stale-* claims older than a minute).
func Clean(path string) {
	matches, _ := filepath.Glob(path + ".*")
	for _, m := range matches {
		rest := strings.TrimPrefix(m, path)
		info, err := os.Lstat(m)
		if err != nil || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		if strings.HasPrefix(rest, ".new-") || strings.HasPrefix(rest, ".stale-") {
			os.Remove(m)
		}
	}
}
