package nn

import (
	"fmt"

	"github.com/prunebench/prunebench/internal/registry"
)

// Batch is a minibatch: N examples in X (NCHW row-major, or N×D) and their
// class labels in Y. X and Y may be longer than N examples; only the first N
// are used.
type Batch struct {
	X []float32
	Y []int32
	N int
}

// Config is what a Backend needs to build a Net.
type Config struct {
	Arch *Arch
	// MaxBatch is the largest batch the Net will see; engines allocate
	// their buffers for it once.
	MaxBatch int
	// Temperature divides the logits before the softmax cross-entropy
	// (1 when zero).
	Temperature float64
	// DropoutSeed seeds the dropout stream; masks of step t are drawn from
	// (DropoutSeed, t), so resuming reproduces them.
	DropoutSeed uint64
	// Device is where the Net computes: "" (the engine's default), "cpu",
	// "cuda" or "cuda:N". An engine that cannot use the device returns an
	// error from Build, never a Net on another device.
	Device string
	// Sparse selects sparse execution of masked layers: "" or "auto" (the
	// engine decides per layer by density, where it has sparse kernels),
	// "off" (dense always), "on" (sparse for every masked layer, for
	// tests). The results are the same computation either way, summed in
	// another order. An engine without sparse kernels treats "auto" and
	// "off" alike and refuses "on".
	Sparse string
}

// Backend builds Nets. Backends register themselves with RegisterBackend.
type Backend interface {
	Name() string
	// Build creates a Net with all parameters zero; initialize it with
	// Initialize.
	Build(cfg Config) (Net, error)
}

// Net is a built network on one engine.
//
// A training step is Gradients (forward and backward in training mode; the
// dense gradient of every parameter is then readable) followed by Step
// (optimizer update and mask enforcement). Methods that need the gradient
// before the update (GraNet regrowth) run between the two.
type Net interface {
	Arch() *Arch
	// Params returns the parameters in canonical order.
	Params() []Param
	// Param returns the parameter with the given name, or nil.
	Param(name string) Param
	// SetParametrization sets how the effective weight of a prunable
	// parameter is produced. Setting a Masked parametrization with pattern
	// ZeroAfterStep zeroes θ and the optimizer state at pruned positions at
	// once.
	SetParametrization(param string, p Parametrization) error
	// Parametrization returns the current parametrization of a parameter.
	Parametrization(param string) Parametrization
	// SetOptimizer installs an optimizer with fresh (zero) state.
	SetOptimizer(o Optimizer) error
	// Gradients runs forward and backward on b in training mode and returns
	// the mean loss.
	Gradients(b Batch) (loss float64, err error)
	// Backward runs b forward and backpropagates dLogits, the gradient of an
	// objective with respect to the N×Classes logits (row-major, before any
	// temperature: the values Logits writes). With train it runs in training
	// mode exactly as Gradients does (batch statistics, running statistics
	// updated, dropout masks drawn from (DropoutSeed, steps taken)); without
	// it in evaluation mode as Logits does (running statistics, left
	// unchanged; dropout is the identity). Afterwards every Param's Grad
	// holds the dense gradient of the objective with respect to its
	// effective weight, overwritten as by Gradients. Labels are not read and
	// dLogits is not modified.
	//
	// Gradients only differentiates the training loss in training mode.
	// Pruning at initialization needs other objectives and the other mode
	// (docs/methods/pai.md#scoring-mode): SynFlow backpropagates the sum of
	// the logits (dLogits all ones) in evaluation mode, and SNIP and GraSP
	// score in evaluation mode by default, with the cross-entropy gradient
	// computed by the caller from Logits. One entry point taking the logit
	// gradient serves all of them without putting criteria into the engines.
	Backward(b Batch, train bool, dLogits []float32) error
	// Step applies one optimizer update with learning rate lr to every
	// parameter, then enforces the masks.
	Step(lr float64)
	// Evaluate runs b in evaluation mode and returns the summed loss and
	// the number of correct top-1 predictions.
	Evaluate(b Batch) (lossSum float64, correct int, err error)
	// Logits runs b in evaluation mode and writes N×Classes logits to dst.
	Logits(dst []float32, b Batch) error
	// State returns a copy of everything needed to resume: θ, buffers (batch
	// norm running statistics), masks, optimizer state and the step counter.
	State() (*State, error)
	// SetState restores a State taken from a Net of the same Arch.
	SetState(s *State) error
}

// backends are the engines, registered by their packages' init functions.
var backends = registry.New[Backend]("backend")

// RegisterBackend makes a backend available under name, normally b.Name();
// an engine's package calls it from an init function. It panics when the
// name is empty or taken.
func RegisterBackend(name string, b Backend) { backends.Register(name, b) }

// BackendNames lists the registered backends, sorted.
func BackendNames() []string { return backends.Names() }

// GetBackend returns the backend registered under name. An unknown name is
// an error wrapping a *registry.UnknownError, which lists the registered
// backends; while the torch engine is not among them, the error also says
// that it needs the build tag "torch".
func GetBackend(name string) (Backend, error) {
	b, err := backends.Get(name)
	if err != nil {
		if _, ok := backends.Lookup("torch"); !ok {
			return nil, fmt.Errorf("%w (the torch engine needs the build tag \"torch\")", err)
		}
		return nil, err
	}
	return b, nil
}
