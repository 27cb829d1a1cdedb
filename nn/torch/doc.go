// Package torch is the libtorch engine of prunebench, through
// github.com/sugarme/gotch, built only with the "torch" build tag. It passes
// the same conformance suite (nn/nntest) as the native engine.
package torch
