//go:build unix

package main

import (
	"os"
	"syscall"
)

// warningSignal is the signal a Slurm job script asks for before the time
// limit (#SBATCH --signal=B:USR1@120).
var warningSignal os.Signal = syscall.SIGUSR1

var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1}
