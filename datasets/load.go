package datasets

import "github.com/prunebench/prunebench/internal/registry"

// Options configure Load. The zero value loads a data set with its defaults.
// Fields a data set does not use are ignored.
type Options struct {
	// Dir is the data directory. CIFAR-10 requires it (or
	// $PRUNEBENCH_CIFAR10_DIR): the directory with the binary batches.
	// MNIST ignores it unless set, and then reads the idx files (gzipped or
	// not) from it instead of the GoMNIST module.
	Dir string
	// ValSize is the number of training examples carved off into Val:
	// 0 means the data set's default (MNIST 5,000, CIFAR-10 5,000, none for
	// synthetic and modular), -1 means none. It must be less than the
	// number of training examples.
	ValSize int
	// SplitSeed seeds the validation split (and the train/test split of
	// modular arithmetic); the same seed always gives the same split.
	SplitSeed uint64
	// NoNormalize keeps pixels scaled to [0, 1] without per-channel
	// normalization.
	NoNormalize bool
	// Mean and Std override the per-channel normalization of image data
	// sets (one value per channel), e.g. ImageNetMean/ImageNetStd to match
	// open_lth's CIFAR-10.
	Mean, Std []float64
	// AllowSubset accepts CIFAR-10 batch files with another number of
	// images than the 10,000 of the real ones (a subset on purpose, or
	// generated test data); without it such a folder is an error.
	AllowSubset bool
	// Augment switches training augmentation on or off; nil keeps the data
	// set's default (CIFAR-10 on, the others have none, and asking for it
	// is an error).
	Augment *bool

	// Synthetic: example shape (default [3 32 32]), classes (10), sizes
	// (1,024 train, 256 test), generator seed and noise standard deviation
	// (1.0).
	Shape               []int
	Classes             int
	TrainSize, TestSize int
	Seed                uint64
	Noise               float64

	// Modular arithmetic: modulus p (default 67), the fraction of pairs used
	// for training (default 0.4), and AllPairs to use all p² ordered pairs
	// instead of the pairs a ≤ b; Encoding is "concat" (the default) or
	// "sum" (see the modular loader).
	Modulus       int
	TrainFraction float64
	AllPairs      bool
	Encoding      string
}

// loaders are the data sets, one registry per extension point as in
// open_lth; each data set's file registers its loader from init.
var loaders = registry.New[func(Options) (*Splits, error)]("data set")

// Register makes a data set loadable by name. It panics when the name is
// empty or taken.
func Register(name string, load func(Options) (*Splits, error)) { loaders.Register(name, load) }

// Names returns the registered data set names, sorted.
func Names() []string { return loaders.Names() }

// Load loads the data set registered under name (see Names) with its train,
// validation and test splits and its training augmentation. Every bad input
// is an error that names the data set, file or option at fault; an unknown
// name is a *registry.UnknownError that lists the registered ones.
func Load(name string, o Options) (*Splits, error) {
	load, err := loaders.Get(name)
	if err != nil {
		return nil, err
	}
	return load(o)
}
