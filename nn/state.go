package nn

import "fmt"

// State is an engine-neutral snapshot of a Net: named tensors and counters.
// Tensor names follow a fixed scheme so that states move between engines:
//
//	param/<name>         θ of a parameter
//	buffer/<name>        non-trained state, e.g. "buffer/bn1.running_mean"
//	mask/<name>          the 0/1 mask of a Masked parameter
//	opt/<slot>/<name>    optimizer state, slot "momentum", "exp_avg" or "exp_avg_sq"
//	shared/<array>       a shared array z (nn/shared.go); a shared parameter has no param/<name>
//	opt/<slot>/shared/<array>  the optimizer state of a shared array
//
// Counters: "step" (optimizer steps taken; Adam's bias correction and the
// dropout stream use it), "mask_pattern/<name>", "scores_keep/<name>" and
// "shared/<name>" (the size of the array a shared parameter reads).
type State struct {
	Tensors  map[string][]float32
	Counters map[string]int64
}

// NewState returns an empty State.
func NewState() *State {
	return &State{Tensors: map[string][]float32{}, Counters: map[string]int64{}}
}

// Tensor returns a tensor of the state, or an error naming it and the
// expected size when it is missing or has the wrong size.
func (s *State) Tensor(name string, size int) ([]float32, error) {
	t, ok := s.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("state: tensor %s is missing", name)
	}
	if len(t) != size {
		return nil, fmt.Errorf("state: tensor %s has %d entries, want %d", name, len(t), size)
	}
	return t, nil
}
