package nn

// Internals for the external tests in models_test.go, which run on zoo
// architectures: package nn cannot import nn/zoo (nn/zoo imports nn), so
// those tests are in package nn_test.

type FakeNet = fakeNet

var (
	NewFakeNet  = newFakeNet
	EqualCounts = equalCounts
	Normal      = normal
)
