package train

import (
	"fmt"
	"regexp"
	"strconv"
)

// Step is a point in training or a training length written as epochs plus
// iterations, as in OpenLTH: "160ep", "500it", "2ep100it". One iteration is
// one optimizer step on one minibatch. A Step is converted to a count of
// iterations with the number of iterations per epoch of the data it refers to.
type Step struct {
	Epochs     int
	Iterations int
}

var stepPattern = regexp.MustCompile(`^(?:(\d+)ep)?(?:(\d+)it)?$`)

// The largest parts a Step may have: far beyond any training run, and small
// enough that Iters cannot overflow (10⁶ epochs of 10⁶ iterations plus
// 10¹² iterations is about 2·10¹²).
const (
	MaxStepEpochs     = 1_000_000
	MaxStepIterations = 1_000_000_000_000
)

// ParseStep parses a Step string. The empty string and strings without a unit
// are errors: "100" could mean epochs or iterations.
func ParseStep(s string) (Step, error) {
	m := stepPattern.FindStringSubmatch(s)
	if s == "" || m == nil {
		return Step{}, fmt.Errorf("step %q: want a number of epochs and/or iterations such as \"160ep\", \"500it\" or \"2ep100it\"", s)
	}
	var st Step
	var err error
	if m[1] != "" {
		if st.Epochs, err = strconv.Atoi(m[1]); err != nil || st.Epochs > MaxStepEpochs {
			return Step{}, fmt.Errorf("step %q: at most %d epochs", s, MaxStepEpochs)
		}
	}
	if m[2] != "" {
		if st.Iterations, err = strconv.Atoi(m[2]); err != nil || st.Iterations > MaxStepIterations {
			return Step{}, fmt.Errorf("step %q: at most %d iterations", s, MaxStepIterations)
		}
	}
	return st, nil
}

// MustParseStep is ParseStep for constants in code; it panics on error.
func MustParseStep(s string) Step {
	st, err := ParseStep(s)
	if err != nil {
		panic("train: " + err.Error())
	}
	return st
}

// Iters returns the step as a count of iterations, given the iterations per
// epoch of the training data.
func (s Step) Iters(itersPerEpoch int) int {
	return s.Epochs*itersPerEpoch + s.Iterations
}

// IsZero reports whether the step is the start of training.
func (s Step) IsZero() bool { return s.Epochs == 0 && s.Iterations == 0 }

// String writes the step in the form ParseStep reads, omitting a zero part
// ("0it" for the zero step).
func (s Step) String() string {
	switch {
	case s.Epochs != 0 && s.Iterations != 0:
		return fmt.Sprintf("%dep%dit", s.Epochs, s.Iterations)
	case s.Epochs != 0:
		return fmt.Sprintf("%dep", s.Epochs)
	default:
		return fmt.Sprintf("%dit", s.Iterations)
	}
}
