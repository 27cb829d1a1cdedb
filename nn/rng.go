package nn

import "math/rand/v2"

// Namespace names one independent random stream of a replicate
// (docs/methods/conventions.md#seeds-and-replicates). Changing the draws of
// one namespace never changes another's.
type Namespace string

// The namespaces of docs/methods/conventions.md#seeds-and-replicates,
// Dropout among them for the engine's dropout masks and UpperData for
// bi-level methods.
const (
	NSSplit       Namespace = "split"
	NSInit        Namespace = "init"
	NSDataOrder   Namespace = "data_order"
	NSMask        Namespace = "mask"
	NSHash        Namespace = "hash"
	NSPruneData   Namespace = "prune_data"
	NSControlInit Namespace = "control_init"
	NSDropout     Namespace = "dropout"
	// NSUpperData orders the second batch stream of bi-level methods (BiP's
	// upper-level batches, independent of the θ-step's data_order).
	NSUpperData Namespace = "upper_data"
)

// SeedFor derives the seed of namespace ns from a replicate's master seed:
// the namespace name is folded into a 64-bit constant with FNV-1a, xored into
// the master seed, and the result is passed through SplitMix64's finalizer.
// The derivation is fixed: changing it changes every run's weights.
func SeedFor(master uint64, ns Namespace) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ns); i++ {
		h ^= uint64(ns[i])
		h *= 1099511628211
	}
	return SplitMix64(master ^ h)
}

// SplitMix64 is the finalizer of the SplitMix64 generator (Steele, Lea and
// Flood, 2014): a bijective mix of 64 bits used to derive seeds.
func SplitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// NewRand returns a PCG generator for a seed. Streams that must be resumable
// mid-training are counter based instead: they reseed from (seed, counter)
// with Reseed, so a checkpoint only needs the counter.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, SplitMix64(seed)))
}

// Reseed resets src to the stream of (seed, counter) without allocating.
func Reseed(src *rand.PCG, seed, counter uint64) {
	src.Seed(seed, SplitMix64(seed^SplitMix64(counter)))
}
