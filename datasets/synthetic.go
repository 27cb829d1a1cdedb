package datasets

import (
	"errors"
	"fmt"
)

// Defaults of the synthetic set: CIFAR-shaped so that the CIFAR models run
// on it, small so that a smoke test takes seconds.
var (
	synDefaultShape = []int{3, 32, 32}
)

const (
	synDefaultClasses = 10
	synDefaultTrain   = 1024
	synDefaultTest    = 256
	synDefaultNoise   = 1.0
)

func init() { Register("synthetic", loadSynthetic) }

// loadSynthetic generates a seeded classification set: class c has a mean
// pattern mu_c with independent N(0, 1) entries, and an example of class c is
// mu_c plus independent N(0, Noise²) noise per value. Labels cycle through the
// classes (example i has class i mod Classes), so classes are balanced. It is
// learnable by construction (a nearest-class-mean classifier is near perfect
// at the defaults) and deterministic from Seed: the means, the training
// examples and the test examples come from three separate streams, so
// changing TestSize does not change the training set. No normalization and no
// augmentation; a validation split only when ValSize > 0.
func loadSynthetic(o Options) (*Splits, error) {
	if o.Augment != nil && *o.Augment {
		return nil, errors.New("synthetic: no augmentation is defined for synthetic data")
	}
	shape := o.Shape
	if len(shape) == 0 {
		shape = synDefaultShape
	}
	for _, d := range shape {
		if d < 1 {
			return nil, fmt.Errorf("synthetic: shape %v: want positive dimensions", shape)
		}
	}
	classes, err := positive("synthetic: classes", o.Classes, synDefaultClasses)
	if err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("synthetic: classes = %d: want at least 2", classes)
	}
	nTrain, err := positive("synthetic: train size", o.TrainSize, synDefaultTrain)
	if err != nil {
		return nil, err
	}
	nTest, err := positive("synthetic: test size", o.TestSize, synDefaultTest)
	if err != nil {
		return nil, err
	}
	noise := o.Noise
	if noise == 0 {
		noise = synDefaultNoise
	}
	if !(noise > 0) {
		return nil, fmt.Errorf("synthetic: noise = %v: want > 0", noise)
	}
	valSize, err := resolveValSize(o.ValSize, 0)
	if err != nil {
		return nil, fmt.Errorf("synthetic: %w", err)
	}
	proto := &Set{Shape: append([]int(nil), shape...), Classes: classes}
	d := proto.ExampleSize()
	means := make([]float64, classes*d)
	r := newRand(o.Seed, streamMeans, 0)
	for i := range means {
		means[i] = r.NormFloat64()
	}
	gen := func(name string, n int, stream uint64) *Set {
		s := proto.empty(name, n)
		r := newRand(o.Seed, stream, 0)
		for i := range n {
			c := i % classes
			s.Y[i] = int32(c)
			mu, x := means[c*d:(c+1)*d], s.X[i*d:(i+1)*d]
			for j := range x {
				x[j] = float32(mu[j] + noise*r.NormFloat64())
			}
		}
		return s
	}
	sp := &Splits{Test: gen("synthetic/test", nTest, streamSynTest)}
	sp.Train, sp.Val, err = splitSet(gen("synthetic/train", nTrain, streamSynTrain), "synthetic", valSize, o.SplitSeed)
	if err != nil {
		return nil, err
	}
	return sp, nil
}

// positive returns v, or def when v is 0; negative v is an error.
func positive(what string, v, def int) (int, error) {
	if v < 0 {
		return 0, fmt.Errorf("%s = %d: want a positive number (0 for the default %d)", what, v, def)
	}
	if v == 0 {
		return def, nil
	}
	return v, nil
}
