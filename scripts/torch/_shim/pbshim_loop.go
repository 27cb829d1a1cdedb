//go:build pbshim_loop

package pbshim

// With the build tag pbshim_loop the shim steps one op per tensor, as it
// does on a libtorch older than 1.7, so that scripts/test.sh can hold that
// path to the conformance and cross-engine suites on a newer libtorch.

// #cgo CXXFLAGS: -DPB_FOREACH=0
import "C"
