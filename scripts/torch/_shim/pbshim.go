// Package pbshim is prunebench's C++ shim over libtorch (pbshim.h): the
// optimizer steps of nn/torch as one call from Go each. It is copied into
// the prepared gotch module (build/torch/gotch/pbshim) by
// scripts/torch/prepare.sh, which writes its cgo flags (flags.go) with
// gotch's, and is built only with the torch tag; this folder's leading
// underscore keeps it out of `./...`.
package pbshim

// #include <stdlib.h>
// #include "pbshim.h"
import "C"

import (
	"errors"
	"unsafe"
)

// Native says whether the steps use libtorch's _foreach_* multi-tensor ops.
func Native() bool { return C.pb_foreach_native() != 0 }

// TorchVersion is the libtorch whose headers the shim was compiled
// against, as major*100 + minor (211 for 2.11).
func TorchVersion() int { return int(C.pb_torch_version()) }

func ptr(ps []unsafe.Pointer) *unsafe.Pointer {
	if len(ps) == 0 {
		return nil
	}
	return &ps[0]
}

func result(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}

// SGD steps the n = len(theta) tensors (torch::Tensor handles) with
// pb_sgd_step; grad, gmask and tmask have n entries, nil where there is no
// gradient or mask, and buf n momentum buffers (ignored when momentum is 0).
func SGD(theta, grad, buf, gmask, tmask []unsafe.Pointer, lr, momentum, wd float64, nesterov bool) error {
	nest := 0
	if nesterov {
		nest = 1
	}
	return result(C.pb_sgd_step(ptr(theta), ptr(grad), ptr(buf), ptr(gmask), ptr(tmask), C.int(len(theta)),
		C.double(lr), C.double(momentum), C.double(wd), C.int(nest)))
}

// Adam steps the tensors with pb_adam_step (decoupled: AdamW's weight decay).
func Adam(theta, grad, m, v, gmask, tmask []unsafe.Pointer, lr, beta1, beta2, wd float64, decoupled bool, c1, c2 float64) error {
	dec := 0
	if decoupled {
		dec = 1
	}
	return result(C.pb_adam_step(ptr(theta), ptr(grad), ptr(m), ptr(v), ptr(gmask), ptr(tmask), C.int(len(theta)),
		C.double(lr), C.double(beta1), C.double(beta2), C.double(wd), C.int(dec), C.double(c1), C.double(c2)))
}
