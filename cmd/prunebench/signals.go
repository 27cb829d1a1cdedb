package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/prunebench/prunebench/internal/slurm"
	"github.com/prunebench/prunebench/internal/unitlock"
)

// stopContext is canceled by the signals that stop prunebench cleanly
// (stopSignals: Ctrl-C, SIGTERM, and the warning signal SIGUSR1 that a
// Slurm job asks for before its time limit). received says which came.
func stopContext() (ctx context.Context, received func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	var mu sync.Mutex
	var got os.Signal
	go func() {
		select {
		case s := <-ch:
			mu.Lock()
			got = s
			mu.Unlock()
			cancel()
		case <-ctx.Done():
		}
	}()
	received = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	return ctx, received, func() { signal.Stop(ch); cancel() }
}

// afterWarning is what a Slurm task does once it has checkpointed on the
// warning signal: it asks Slurm to requeue it, so that it runs again and
// resumes from its checkpoints (a time limit alone would end it). Outside
// Slurm the signal only stops prunebench, as SIGTERM does.
func afterWarning(w io.Writer, sig os.Signal) {
	if sig == nil || sig != warningSignal {
		return
	}
	job := unitlock.SlurmJob()
	if job == "" {
		return
	}
	if err := slurm.Requeue(job); err != nil {
		fmt.Fprintf(w, "prunebench: warned before the time limit (%v): checkpointed, but could not requeue the task: %v\n", sig, err)
		return
	}
	fmt.Fprintf(w, "prunebench: warned before the time limit (%v): checkpointed; requeued Slurm job %s, which resumes from the checkpoints\n", sig, job)
}
