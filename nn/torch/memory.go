//go:build torch

package torch

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

// The free and total memory of CUDA device dev, from the CUDA runtime that
// libtorch_cuda loaded (looked up at run time: a CPU libtorch has none).
// Returns 0 on success, -1 without a CUDA runtime, else the CUDA error.
static int pb_cuda_memory(int dev, size_t *free_bytes, size_t *total_bytes) {
	int (*set_device)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "cudaSetDevice");
	int (*mem_get_info)(size_t *, size_t *) = (int (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "cudaMemGetInfo");
	if (set_device == NULL || mem_get_info == NULL) return -1;
	int err = set_device(dev);
	if (err != 0) return err;
	return mem_get_info(free_bytes, total_bytes);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// DeviceMemory reports the free and total memory of a CUDA device
// (nn.MemoryReporter), as cudaMemGetInfo sees it: memory that libtorch's
// caching allocator holds for this process counts as used, so the report
// errs on the side of less free. ok is false for the CPU.
func (b Backend) DeviceMemory(device string) (free, total int64, ok bool, err error) {
	dev, err := b.device(device)
	if err != nil || dev == cpu {
		return 0, 0, false, err
	}
	// cudaSetDevice sets the calling thread's device: a thread of our own
	// for the call, never a net's worker.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var f, t C.size_t
	switch rc := C.pb_cuda_memory(C.int(dev), &f, &t); rc {
	case 0:
		return int64(f), int64(t), true, nil
	case -1:
		return 0, 0, false, nil
	default:
		return 0, 0, false, fmt.Errorf("torch: cudaMemGetInfo on cuda:%d: CUDA error %d", dev, int(rc))
	}
}

// outOfMemory marks libtorch's out-of-memory errors (CUDA's "CUDA out of
// memory. Tried to allocate …", the CPU allocator's "can't allocate
// memory" and "not enough memory") as
// nn.ErrOutOfMemory, so that a sweep runs the unit again later.
func outOfMemory(err error) error {
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "out of memory") || strings.Contains(msg, "can't allocate memory") || strings.Contains(msg, "not enough memory") {
		return fmt.Errorf("%w: %w", nn.ErrOutOfMemory, err)
	}
	return err
}
