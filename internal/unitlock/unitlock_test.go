package unitlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeHolder writes a lock file as holder h would have.
func writeHolder(t *testing.T, path string, h Holder) {
	t.Helper()
	data, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to start:", err)
	}
	return cmd.Process.Pid
}

func TestAcquireRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Read(path)
	if err != nil || h.PID != os.Getpid() || h.Token != l.Holder().Token {
		t.Fatalf("lock file says %+v (%v), want this process", h, err)
	}
	// A second holder in this very process is refused: the first is alive.
	_, err = Acquire(path, Options{})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.Token != h.Token || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Acquire: %v, want a HeldError naming the holder", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Release: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

// The rules of staleness, case by case.
func TestStaleness(t *testing.T) {
	me := Self()
	t.Setenv("SLURM_ARRAY_JOB_ID", "")
	t.Setenv("SLURM_ARRAY_TASK_ID", "")
	t.Setenv("SLURM_JOB_ID", "")
	ended := func(job string) (bool, error) { return job == "running_1", nil }
	cases := []struct {
		name   string
		holder Holder
		env    string // this process's SLURM_JOB_ID
		opts   Options
		stale  bool
		why    string
	}{
		{"this host, dead pid", Holder{Host: me.Host, PID: deadPID(t), Token: "a"}, "", Options{}, true, "is gone"},
		{"this host, live pid", Holder{Host: me.Host, PID: os.Getpid(), Start: me.Start, Token: "a"}, "", Options{}, false, ""},
		{"this host, pid reused", Holder{Host: me.Host, PID: os.Getpid(), Start: me.Start + 1, Token: "a"}, "", Options{}, me.Start != 0, "is gone"},
		{"other host, no job", Holder{Host: "elsewhere", PID: 1, Token: "a"}, "", Options{JobRunning: ended}, false, ""},
		{"other host, job ended", Holder{Host: "elsewhere", PID: 1, Job: "77_3", Token: "a"}, "", Options{JobRunning: ended}, true, "Slurm job 77_3 has ended"},
		{"other host, job running", Holder{Host: "elsewhere", PID: 1, Job: "running_1", Token: "a"}, "", Options{JobRunning: ended}, false, ""},
		{"other host, Slurm unknown", Holder{Host: "elsewhere", PID: 1, Job: "77_3", Token: "a"}, "", Options{}, false, ""},
		{"other host, Slurm failing", Holder{Host: "elsewhere", PID: 1, Job: "77_3", Token: "a"}, "", Options{JobRunning: func(string) (bool, error) { return false, errors.New("squeue: timeout") }}, false, ""},
		{"our own job, requeued", Holder{Host: "elsewhere", PID: 1, Job: "4242", Token: "a"}, "4242", Options{}, true, "earlier run of this Slurm job"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SLURM_JOB_ID", c.env)
			path := filepath.Join(t.TempDir(), "lock")
			writeHolder(t, path, c.holder)
			var tookWhy string
			c.opts.TookOver = func(h Holder, why string) { tookWhy = why }
			l, err := Acquire(path, c.opts)
			if !c.stale {
				var held *HeldError
				if !errors.As(err, &held) {
					t.Fatalf("Acquire: %v, want held", err)
				}
				if held.Unchecked != (c.holder.Host != me.Host && c.name != "other host, job running") {
					t.Errorf("Unchecked = %v", held.Unchecked)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire of a stale lock: %v", err)
			}
			if !strings.Contains(tookWhy, c.why) {
				t.Errorf("taken over because %q, want %q", tookWhy, c.why)
			}
			if h, _ := Read(path); h.Token != l.Holder().Token {
				t.Errorf("the lock file names %+v after the takeover", h)
			}
		})
	}
}

// Many takers of one stale lock: exactly one wins, and the others see it
// as the live holder.
func TestTakeOverRace(t *testing.T) {
	dead := deadPID(t)
	host, _ := os.Hostname()
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "lock")
		writeHolder(t, path, Holder{Host: host, PID: dead, Token: "stale"})
		var mu sync.Mutex
		var won []*Lock
		var held int
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := Acquire(path, Options{})
				mu.Lock()
				defer mu.Unlock()
				var he *HeldError
				switch {
				case err == nil:
					won = append(won, l)
				case errors.As(err, &he):
					held++
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 || held != 15 {
			t.Fatalf("round %d: %d winners, %d refused; want 1 and 15", round, len(won), held)
		}
		if h, _ := Read(path); h.Token != won[0].Holder().Token {
			t.Fatalf("round %d: the file names %s, not the winner", round, h.Token)
		}
		if leftovers, _ := filepath.Glob(path + ".*"); len(leftovers) != 0 {
			t.Fatalf("round %d: left %v", round, leftovers)
		}
	}
}

// A lock taken over from under its holder is not removed by that holder's
// Release, which says what happened.
func TestReleaseAfterTakeOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := Self()
	other.Token = "someone-else"
	writeHolder(t, path, other)
	if err := l.Release(); err == nil || !strings.Contains(err.Error(), "taken over") {
		t.Errorf("Release: %v", err)
	}
	if h, _ := Read(path); h.Token != "someone-else" {
		t.Errorf("Release removed the new holder's lock")
	}
}

// A lock file that is not one (cut short, or foreign) is an error, and one
// cut short long ago is cleared.
func TestBadLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	os.WriteFile(path, []byte("pid: "), 0o644)
	if _, err := Acquire(path, Options{}); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("fresh cut-short lock: %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(path, old, old)
	l, err := Acquire(path, Options{})
	if err != nil {
		t.Fatalf("old cut-short lock: %v", err)
	}
	l.Release()
}

func TestHolderString(t *testing.T) {
	h := Holder{Host: "n1", PID: 12, Job: "5_2"}
	if got := h.String(); got != "pid 12 on n1, Slurm job 5_2" {
		t.Errorf("String() = %q", got)
	}
}

func TestSlurmJob(t *testing.T) {
	t.Setenv("SLURM_JOB_ID", "99")
	t.Setenv("SLURM_ARRAY_JOB_ID", "")
	t.Setenv("SLURM_ARRAY_TASK_ID", "")
	if got := SlurmJob(); got != "99" {
		t.Errorf("plain job: %q", got)
	}
	t.Setenv("SLURM_ARRAY_JOB_ID", "98")
	t.Setenv("SLURM_ARRAY_TASK_ID", "3")
	if got := SlurmJob(); got != "98_3" {
		t.Errorf("array task: %q", got)
	}
}

func TestProcessStart(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	a, b := processStart(os.Getpid()), processStart(os.Getpid())
	if a == 0 || a != b {
		t.Errorf("processStart = %d then %d", a, b)
	}
	if !processAlive(os.Getpid(), a) || processAlive(os.Getpid(), a+1) || processAlive(deadPID(t), 0) {
		t.Error("processAlive disagrees with the facts")
	}
}
