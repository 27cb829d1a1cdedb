package share

import (
	"math/big"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// Hand-computed values of the universal hash
// (docs/methods/rps.md#universal-hash).
func TestHashByHand(t *testing.T) {
	h := Hasher{A: [4]int64{3, 5, 7, 9}}
	for _, c := range []struct {
		name    string
		got     int64
		want    int64
		explain string
	}{
		{"hash1(2) mod 10", h.Hash1(2, 10), 3, "3·2 + 5·4 + 7 = 33; 33 mod 10"},
		{"hash1(0) mod 5", h.Hash1(0, 5), 2, "a_2 = 7; 7 mod 5"},
		{"hash2(1,2) mod 7", h.Hash2(1, 2, 7), 6, "3·1 + 5·2 + 7 = 20; 20 mod 7"},
		// x = 2³²: x² = 2⁶⁴ wraps to 0, so v = 3·2³² + 7 = 12,884,901,895
		// = 6·P + 656,453,437.
		{"hash1(2^32) wrap64", h.Hash1(1<<32, HashPrime-1), 656453437, "x² wraps to 0"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d (%s)", c.name, c.got, c.want, c.explain)
		}
	}
}

// A wrapped product that turns the polynomial negative: Go's truncating %
// would give a negative residue; the floor modulo of
// docs/methods/rps.md#universal-hash must not.
func TestHashWrapNegative(t *testing.T) {
	h := Hasher{A: [4]int64{3, 3, 7, 1}}
	// x = 2³¹: x² = 2⁶², a_1·x² = 3·2⁶² = 2⁶³ + 2⁶² wraps to −2⁶².
	// v = 3·2³¹ − 2⁶² + 7 = −4,611,686,011,984,936,953
	//   = −2,262,765,892·P + 1,822,128,803 (floor division).
	// Truncation would give 1,822,128,803 − P = −215,945,940.
	const x = int64(1) << 31
	if got, want := h.Hash1(x, HashPrime-1), int64(1822128803); got != want {
		t.Errorf("wrap64 hash1(2^31) = %d, want %d", got, want)
	}
	// Exact arithmetic: (3·2³¹ + 3·2⁶² + 7) mod P = 1,960,744,708 (no wrap).
	h.Exact = true
	if got, want := h.Hash1(x, HashPrime-1), int64(1960744708); got != want {
		t.Errorf("exact hash1(2^31) = %d, want %d", got, want)
	}
}

// Exact arithmetic equals big-integer arithmetic; wrap64 equals big-integer
// arithmetic on the value reduced to a signed 64-bit integer; both lie in
// [0, M).
func TestHashAgainstBig(t *testing.T) {
	rng := nn.NewRand(1)
	P := big.NewInt(HashPrime)
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	two63 := new(big.Int).Lsh(big.NewInt(1), 63)
	toInt64 := func(v *big.Int) *big.Int { // two's complement reduction
		r := new(big.Int).Mod(v, two64)
		if r.Cmp(two63) >= 0 {
			r.Sub(r, two64)
		}
		return r
	}
	floorMod := func(v, m *big.Int) int64 { return new(big.Int).Mod(v, m).Int64() } // big.Mod is Euclidean: ≥ 0
	for it := 0; it < 2000; it++ {
		h := DrawHasher(rng, false)
		x := rng.Int64N(1 << 40)
		y := rng.Int64N(1 << 40)
		M := 1 + rng.Int64N(HashPrime-1)
		a0, a1, a2 := big.NewInt(h.A[0]), big.NewInt(h.A[1]), big.NewInt(h.A[2])
		bx, by, bM := big.NewInt(x), big.NewInt(y), big.NewInt(M)
		poly1 := new(big.Int).Add(new(big.Int).Mul(a0, bx), new(big.Int).Mul(a1, new(big.Int).Mul(bx, bx)))
		poly1.Add(poly1, a2)
		poly2 := new(big.Int).Add(new(big.Int).Mul(a0, bx), new(big.Int).Mul(a1, by))
		poly2.Add(poly2, a2)

		wantW1 := floorMod(big.NewInt(floorMod(toInt64(poly1), P)), bM)
		wantW2 := floorMod(big.NewInt(floorMod(toInt64(poly2), P)), bM)
		wantE1 := floorMod(big.NewInt(floorMod(poly1, P)), bM)
		wantE2 := floorMod(big.NewInt(floorMod(poly2, P)), bM)
		if got := h.Hash1(x, M); got != wantW1 {
			t.Fatalf("wrap64 hash1(%d) mod %d with %v = %d, want %d", x, M, h.A, got, wantW1)
		}
		if got := h.Hash2(x, y, M); got != wantW2 {
			t.Fatalf("wrap64 hash2(%d,%d) mod %d = %d, want %d", x, y, M, got, wantW2)
		}
		h.Exact = true
		if got := h.Hash1(x, M); got != wantE1 {
			t.Fatalf("exact hash1(%d) mod %d with %v = %d, want %d", x, M, h.A, got, wantE1)
		}
		if got := h.Hash2(x, y, M); got != wantE2 {
			t.Fatalf("exact hash2(%d,%d) mod %d = %d, want %d", x, y, M, got, wantE2)
		}
	}
}

// For small x (fold chunk numbers, below about 67,000 for constants near
// 2·10⁹) the two arithmetics agree (docs/methods/rps.md#universal-hash).
func TestHashSmallXArithmeticsAgree(t *testing.T) {
	rng := nn.NewRand(2)
	for it := 0; it < 50; it++ {
		w := DrawHasher(rng, false)
		e := w
		e.Exact = true
		for x := int64(0); x < 67000; x += 97 {
			if a, b := w.Hash1(x, 1000003), e.Hash1(x, 1000003); a != b {
				t.Fatalf("hash1(%d): wrap64 %d, exact %d", x, a, b)
			}
		}
	}
}

// The constants are odd and in [3, P − 4]; a_3 is drawn too (four draws per
// hasher), and the same seed gives the same constants.
func TestDrawHasher(t *testing.T) {
	rng := nn.NewRand(3)
	for it := 0; it < 10000; it++ {
		h := DrawHasher(rng, false)
		for k, a := range h.A {
			if a%2 != 1 || a < 3 || a > HashPrime-4 {
				t.Fatalf("a_%d = %d: want odd in [3, P−4]", k, a)
			}
		}
	}
	a, b := DrawHasher(nn.NewRand(9), false), DrawHasher(nn.NewRand(9), false)
	if a != b {
		t.Errorf("same seed, different constants: %v, %v", a.A, b.A)
	}
	r := nn.NewRand(9)
	DrawHasher(r, false)
	if next := DrawHasher(r, false); next.A == a.A {
		t.Errorf("second hasher equals the first: %v", a.A)
	}
}
