//go:build unix

package unitlock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processAlive says whether process pid exists and, when start is known
// (not 0), started at that time: a PID reused by another process is not
// the holder.
func processAlive(pid int, start uint64) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) { // EPERM: it exists, owned by another user
		return false
	}
	if start == 0 {
		return true
	}
	now := processStart(pid)
	return now == 0 || now == start
}

// processStart is the start time of process pid in clock ticks after boot
// (field 22 of /proc/PID/stat), 0 where /proc does not tell.
func processStart(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself: the fields after it follow the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	const startField = 22 - 3 // fields[0] is field 3 (state)
	if len(fields) <= startField {
		return 0
	}
	v, err := strconv.ParseUint(fields[startField], 10, 64)
	if err != nil {
		return 0
	}
	return v
}
