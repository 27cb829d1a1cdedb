package datasets

import "math/rand/v2"

// Random streams. Every random draw in this package comes from a PCG
// generator seeded from (seed, stream, counter):
//
//	a = mix64(seed ^ stream)
//	PCG.Seed(a, mix64(a ^ mix64(counter)))
//
// where mix64 is the SplitMix64 finalizer and stream is a fixed 64-bit
// constant per use below. Seeding from a counter instead of carrying
// generator state is what lets a run resume at any iteration and get the same
// data, and giving each use its own stream keeps, say, the validation split
// unchanged when the shuffling changes. This mirrors nn.Reseed but is written
// out here because datasets imports nothing of prunebench. Changing any of it
// changes every split, order and synthetic set: don't.
const (
	streamSplit    uint64 = 0x5d1b7c7a3c1f0e01 // validation split (counter 0)
	streamEpoch    uint64 = 0x9a4f2e6b81d3c502 // Loader permutation (counter = epoch)
	streamAugment  uint64 = 0x2c7e95b4f06a1d03 // Loader augmentation (counter = iteration)
	streamMeans    uint64 = 0xe3816d2a5b9f4c04 // synthetic class means
	streamSynTrain uint64 = 0x47b0c9e1d85a3f05 // synthetic train examples
	streamSynTest  uint64 = 0xb86a13f7c2e09d06 // synthetic test examples
	streamModSplit uint64 = 0x13d4e8a6f7b25c07 // modular arithmetic train/test split
)

// mix64 is the SplitMix64 finalizer (Steele, Lea and Flood 2014): a
// bijection on 64 bits whose outputs are statistically independent enough
// that nearby seeds give unrelated streams.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// reseed sets src to the stream (seed, stream, counter) without allocating.
func reseed(src *rand.PCG, seed, stream, counter uint64) {
	a := mix64(seed ^ stream)
	src.Seed(a, mix64(a^mix64(counter)))
}

// newRand returns a generator on the stream (seed, stream, counter).
func newRand(seed, stream, counter uint64) *rand.Rand {
	src := new(rand.PCG)
	reseed(src, seed, stream, counter)
	return rand.New(src)
}

// shuffle permutes p in place with the Fisher–Yates algorithm (from the last
// element down, j uniform in [0, i]). It is written out rather than using
// rand.Shuffle so that the Loader's hot path takes no closure.
func shuffle(r *rand.Rand, p []int) {
	for i := len(p) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// identity fills p with 0, 1, ..., len(p)-1.
func identity(p []int) {
	for i := range p {
		p[i] = i
	}
}

// permutation returns a permutation of [0, n) drawn from r.
func permutation(r *rand.Rand, n int) []int {
	p := make([]int, n)
	identity(p)
	shuffle(r, p)
	return p
}
