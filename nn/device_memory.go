package nn

import "errors"

// ErrOutOfMemory is what an engine's error wraps when the device ran out of
// memory (CUDA's "out of memory"): a unit that fails with it did nothing
// wrong and can run again when memory is free, which a sweep that runs
// several units on one GPU does (experiments.RunSweep) instead of
// recording a failure.
var ErrOutOfMemory = errors.New("device out of memory")

// MemoryReporter is a Backend that can say how much memory a device has
// free: the torch engine on CUDA. A sweep checks it before starting a unit
// on that device (experiments.SweepOptions.MinFreeMemory); engines that
// compute in host memory do not implement it.
type MemoryReporter interface {
	// DeviceMemory returns the free and total bytes of device (a
	// Config.Device value), and ok = false for a device the engine cannot
	// report on (the CPU).
	DeviceMemory(device string) (free, total int64, ok bool, err error)
}
