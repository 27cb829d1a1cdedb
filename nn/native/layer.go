package native

import "github.com/prunebench/prunebench/nn"

// layer is one layer of the native engine. A layer owns its output and input
// gradient buffers, sized once for the largest batch, and returns views of
// them; callers must not keep those views across calls.
type layer interface {
	// forward computes the output for n examples of x (layout in the
	// package comment). train selects batch statistics and dropout.
	forward(x []float32, n int, train bool) []float32
	// backward takes the gradient of the loss with respect to the output
	// of the last forward and returns the gradient with respect to its
	// input. It overwrites (does not accumulate) the grad of every param.
	backward(dy []float32, n int) []float32
	// params returns the layer's parameters in canonical order.
	params() []*param
	// buffers returns non-trained state (batch norm running statistics).
	buffers() []buffer
}

// param is one parameter tensor.
type param struct {
	info nn.ParamInfo
	// value is θ, what the optimizer trains.
	value []float32
	// w is the effective weight that forward and backward read. It aliases
	// value except under the MaskedForward pattern, where the net writes
	// θ ⊙ m into it before each forward.
	w []float32
	// grad is the dense gradient with respect to w, overwritten by backward.
	grad []float32
	// sh is the shared parametrization (shared.go), nil when the tensor is
	// not shared. While it is set value, w and grad are nil and the layer
	// gathers W from the array block by block.
	sh *sharedWeight
	// sp is the index of a masked weight's kept entries when its layer
	// runs the sparse kernels (sparse.go); nil for the dense path.
	sp *sparseIndex
	// pending, after a sparse backward, computes the dense gradient the
	// backward left out (nil when grad is complete); see sparse.go.
	pending func()
	// scatter, after a sparse backward, says that the kept entries'
	// gradient is in sp.grad only, not yet in grad: the optimizer reads it
	// there, and anything else that reads grad scatters it first
	// (scatterKept).
	scatter bool
	// sparsable describes the layer's products for the sparse path: the
	// weight as rows × cols and the length of its input rows per call.
	// Zero for a parameter that has no sparse path (biases, norms).
	sparsable sparseShape
}

func newParam(info nn.ParamInfo) *param {
	v := make([]float32, info.Size())
	return &param{info: info, value: v, w: v, grad: make([]float32, info.Size())}
}

// buffer is a named non-trained tensor, e.g. "bn1.running_mean".
type buffer struct {
	name string
	data []float32
}

// workspace is scratch memory shared by all layers of a net (im2col columns):
// layers reserve a size while the net is built, and slice ws.data at run
// time. One training run is sequential, so one buffer serves every layer.
type workspace struct {
	size int
	data []float32
}

func (ws *workspace) reserve(n int) {
	if n > ws.size {
		ws.size = n
	}
}

// scratch returns the first n entries of the workspace. It panics if n was
// not reserved, which is a bug in a layer.
func (ws *workspace) scratch(n int) []float32 {
	if n > len(ws.data) {
		panic("native: workspace too small: a layer did not reserve its scratch")
	}
	return ws.data[:n]
}
