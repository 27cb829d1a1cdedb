package share

import (
	"fmt"
	"math/rand/v2"
)

// HashPrime is P of the universal hash (docs/methods/rps.md#universal-hash;
// code: apd10/FakeRoast: Mapper_v2.py UHasher, P=2038074743). Every array
// size and hash range must be below it, which also makes every index fit an
// int32.
const HashPrime = 2038074743

// Hash arithmetic names (Config.HashArith).
const (
	// ArithWrap64 computes a_0·x + a_1·x² + a_2 in int64 with two's
	// complement wrap-around, as the reference's int64 tensors do, then
	// takes the floor modulo of P (PyTorch's % has the divisor's sign).
	ArithWrap64 = "wrap64"
	// ArithExact computes the same polynomial modulo P without overflow:
	// the textbook universal hash.
	ArithExact = "exact"
)

// Hasher is the universal hash of docs/methods/rps.md#universal-hash with its
// four odd constants. A is drawn by DrawHasher; a_3 is drawn and never used,
// as in the reference, so that the number of draws per hasher is the
// reference's.
//
// The zero value is not useful; tests build Hashers with hand-picked
// constants to check the formulas.
type Hasher struct {
	A [4]int64
	// Exact selects ArithExact; false is ArithWrap64 (the default).
	Exact bool
}

// DrawHasher draws the constants a_k = 2·r + 1 with r uniform on
// [1, floor(P/2) − 2], i.e. odd values in [3, P − 4] (the reference's
// torch.randint(low=1, high=int(P/2) − 1) has an exclusive upper bound).
// Four values are drawn from rng, in order a_0 … a_3.
func DrawHasher(rng *rand.Rand, exact bool) Hasher {
	h := Hasher{Exact: exact}
	const count = HashPrime/2 - 2 // r ∈ [1, count]
	for k := range h.A {
		h.A[k] = 2*(1+rng.Int64N(count)) + 1
	}
	return h
}

// Hash1 is hash1(x) = ((a_0·x + a_1·x² + a_2) mod P) mod M for 0 < M < P.
// With wrap64 arithmetic the products wrap in int64 first: for x above
// about 67,000 a_1·x² no longer fits (this is the reference's behaviour on
// global locations of every model larger than that).
func (h Hasher) Hash1(x, M int64) int64 {
	if h.Exact {
		// Every factor is reduced below P < 2³¹ first, so no product
		// exceeds P² < 2⁶² and the sum of three residues fits an int64.
		xp := modP(x)
		v := (modP(h.A[0])*xp%HashPrime + modP(h.A[1])*(xp*xp%HashPrime)%HashPrime + modP(h.A[2])) % HashPrime
		return modM(v, M)
	}
	v := h.A[0]*x + h.A[1]*(x*x) + h.A[2] // wraps in two's complement
	return modM(modP(v), M)
}

// Hash2 is hash2(x, y) = ((a_0·x + a_1·y + a_2) mod P) mod M for 0 < M < P,
// with the same arithmetic as Hash1.
func (h Hasher) Hash2(x, y, M int64) int64 {
	if h.Exact {
		v := (modP(h.A[0])*modP(x)%HashPrime + modP(h.A[1])*modP(y)%HashPrime + modP(h.A[2])) % HashPrime
		return modM(v, M)
	}
	v := h.A[0]*x + h.A[1]*y + h.A[2]
	return modM(modP(v), M)
}

// modP is the floor modulo of P: the result lies in [0, P) for negative v
// too (Go's % truncates toward zero; PyTorch's follows the divisor's sign).
func modP(v int64) int64 {
	r := v % HashPrime
	if r < 0 {
		r += HashPrime
	}
	return r
}

// modM is r mod M for r ∈ [0, P): a 32-bit division when M fits (it
// always does for M < P), about twice as fast as a 64-bit one on common
// CPUs.
func modM(r, M int64) int64 {
	if uint64(M) < 1<<32 {
		return int64(uint32(r) % uint32(M))
	}
	return r % M
}

// checkHashRange returns an error when M is not a valid hash range (the
// reference asserts target_size < P).
func checkHashRange(what string, M int64) error {
	if M < 1 || M >= HashPrime {
		return fmt.Errorf("%s: hash range %d, want 1 ≤ M < P = %d", what, M, HashPrime)
	}
	return nil
}
