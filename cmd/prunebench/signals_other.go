//go:build !unix

package main

import (
	"os"
	"syscall"
)

// warningSignal: no Slurm warning signal on this system.
var warningSignal os.Signal

var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
