package datasets

import "fmt"

// Set is an in-memory data set: Len() examples, each of shape Shape, stored
// as float32 in row-major order (images are CHW), with int32 labels in
// [0, Classes). Everything is in memory because every data set prunebench
// trains on fits (MNIST train is 188 MB as float32) and because training
// reads each example many times.
type Set struct {
	Name    string
	X       []float32 // Len() * ExampleSize() values
	Y       []int32   // one label per example
	Shape   []int     // per example, e.g. [1 28 28], [3 32 32], or [D]
	Classes int

	// Mean and Std are the per-channel statistics the pixels were normalized
	// with, x = (p/255 - Mean[c]) / Std[c]; both nil when the set is not
	// normalized. The Loader needs them to pad an image with the value a
	// black (zero) pixel has after normalization.
	Mean, Std []float64
}

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.Y) }

// ExampleSize returns the number of float32 values per example, the product
// of Shape.
func (s *Set) ExampleSize() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Validate reports whether the set is consistent: positive dimensions, a
// value slice that matches Len and Shape, labels in [0, Classes), and
// normalization statistics for every channel. Loaders return valid sets;
// Validate is for sets built by hand.
func (s *Set) Validate() error {
	if len(s.Shape) == 0 {
		return fmt.Errorf("data set %q: empty shape", s.Name)
	}
	for _, d := range s.Shape {
		if d < 1 {
			return fmt.Errorf("data set %q: shape %v: want positive dimensions", s.Name, s.Shape)
		}
	}
	if s.Classes < 1 {
		return fmt.Errorf("data set %q: %d classes: want at least 1", s.Name, s.Classes)
	}
	if want := s.Len() * s.ExampleSize(); len(s.X) != want {
		return fmt.Errorf("data set %q: %d values for %d examples of shape %v: want %d", s.Name, len(s.X), s.Len(), s.Shape, want)
	}
	for i, y := range s.Y {
		if y < 0 || int(y) >= s.Classes {
			return fmt.Errorf("data set %q: example %d has label %d: want [0, %d)", s.Name, i, y, s.Classes)
		}
	}
	if len(s.Mean) != len(s.Std) || (s.Mean != nil && len(s.Mean) != s.Shape[0]) {
		return fmt.Errorf("data set %q: %d means and %d stds for %d channels", s.Name, len(s.Mean), len(s.Std), s.Shape[0])
	}
	return nil
}

// Subset returns a copy of the examples idx, in that order. An index out of
// range panics: indices come from code, not from users.
func (s *Set) Subset(idx []int) *Set {
	sz := s.ExampleSize()
	out := s.empty(s.Name, len(idx))
	for k, i := range idx {
		copy(out.X[k*sz:(k+1)*sz], s.X[i*sz:(i+1)*sz])
		out.Y[k] = s.Y[i]
	}
	return out
}

// empty returns a set with the metadata of s and room for n examples.
func (s *Set) empty(name string, n int) *Set {
	return &Set{
		Name:    name,
		X:       make([]float32, n*s.ExampleSize()),
		Y:       make([]int32, n),
		Shape:   append([]int(nil), s.Shape...),
		Classes: s.Classes,
		Mean:    append([]float64(nil), s.Mean...),
		Std:     append([]float64(nil), s.Std...),
	}
}

// Slice returns views (not copies) of examples [start, start+n) for
// sequential evaluation: no shuffling, no augmentation. n is clipped at the
// end of the set, so the last slice may be short and a start at or past the
// end gives empty slices. A negative start or n panics (programmer error).
func (s *Set) Slice(start, n int) (x []float32, y []int32) {
	if start < 0 || n < 0 {
		panic(fmt.Sprintf("datasets: Slice(%d, %d): negative argument", start, n))
	}
	end := min(start+n, s.Len())
	start = min(start, end)
	sz := s.ExampleSize()
	return s.X[start*sz : end*sz : end*sz], s.Y[start:end:end]
}

// Splits is what a loader returns. Val is nil when the data set has no
// validation split (ValSize 0 for generated sets, or -1). Augment is the
// training-time augmentation the data set uses by default (or as Options
// asked); it applies to Train only.
type Splits struct {
	Train, Val, Test *Set
	Augment          Augment
}

// Augment is the training-time augmentation of a data set, applied by the
// Loader. The zero value is no augmentation.
type Augment struct {
	// PadCrop > 0 pads each side of a CHW image with PadCrop black pixels and
	// crops a random window of the original size (torchvision RandomCrop with
	// padding). CIFAR-10 uses 4.
	PadCrop int
	// Flip mirrors the image horizontally with probability 0.5.
	Flip bool
}

// On reports whether a does anything.
func (a Augment) On() bool { return a.PadCrop > 0 || a.Flip }
