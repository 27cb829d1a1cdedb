package datasets

import (
	"errors"
	"fmt"
	"math"
)

// Defaults of the modular arithmetic task, from the Grokking Tickets code
// (gouki510/Grokking-Tickets: config/config.py, p = 67 and
// frac_train = 0.4).
const (
	modDefaultP    = 67
	modDefaultFrac = 0.4
)

func init() { Register("modular", loadModular) }

// loadModular builds the grokking task (a + b) mod p.
//
// Examples: by default the pairs (a, b) with a ≤ b, p(p+1)/2 of them (2,278
// for p = 67), as the reference's is_symmetric_input does; with
// Options.AllPairs, all p² ordered pairs. They are enumerated with a outer
// and b inner, shuffled by a permutation drawn from SplitSeed (stream
// "modular split", rng.go), and the first floor(TrainFraction · N) form the
// training set (911 for the defaults), the rest the held-out "test" set, both
// in shuffled order.
//
// Encoding (Options.Encoding): "concat", the default, is the concatenation
// of two one-hot vectors of length p, x[a] = 1 and x[p+b] = 1, Shape [2p]: a
// linear first layer on it is a per-token embedding with separate (not
// tied) weights for the two positions. "sum" is one-hot(a) + one-hot(b),
// Shape [p] (x[a] = 2 when a = b): a linear first layer on it is one
// embedding shared by both tokens followed by the sum over tokens, which is
// what the Grokking Tickets MLP computes (OnlyMLP in gouki510/Grokking-Tickets
// model.py: embed each token with W_E, sum, then the in-projection), since
// the in-projection is linear. The label is (a+b) mod p, p classes. Seed is
// not used: nothing is random but the split. No validation split unless
// ValSize > 0 (nothing is selected on held-out pairs).
func loadModular(o Options) (*Splits, error) {
	if o.Augment != nil && *o.Augment {
		return nil, errors.New("modular: no augmentation is defined for modular arithmetic")
	}
	p := o.Modulus
	if p == 0 {
		p = modDefaultP
	}
	if p < 2 {
		return nil, fmt.Errorf("modular: modulus = %d: want at least 2", p)
	}
	frac := o.TrainFraction
	if frac == 0 {
		frac = modDefaultFrac
	}
	if !(frac > 0 && frac < 1) {
		return nil, fmt.Errorf("modular: train fraction = %v: want a fraction in (0, 1)", frac)
	}
	sum := false
	switch o.Encoding {
	case "", "concat":
	case "sum":
		sum = true
	default:
		return nil, fmt.Errorf("modular: encoding = %q: want concat or sum", o.Encoding)
	}
	valSize, err := resolveValSize(o.ValSize, 0)
	if err != nil {
		return nil, fmt.Errorf("modular: %w", err)
	}
	type pair struct{ a, b int }
	var pairs []pair
	for a := range p {
		b0 := a
		if o.AllPairs {
			b0 = 0
		}
		for b := b0; b < p; b++ {
			pairs = append(pairs, pair{a, b})
		}
	}
	nTrain := int(math.Floor(frac * float64(len(pairs))))
	if nTrain < 1 || nTrain >= len(pairs) {
		return nil, fmt.Errorf("modular: train fraction %v of %d pairs leaves %d for training: want both sets non-empty", frac, len(pairs), nTrain)
	}
	perm := permutation(newRand(o.SplitSeed, streamModSplit, 0), len(pairs))
	width := 2 * p
	if sum {
		width = p
	}
	proto := &Set{Shape: []int{width}, Classes: p}
	mk := func(name string, idx []int) *Set {
		s := proto.empty(name, len(idx))
		for k, i := range idx {
			pr := pairs[i]
			x := s.X[k*width : (k+1)*width]
			if sum {
				x[pr.a]++
				x[pr.b]++
			} else {
				x[pr.a], x[p+pr.b] = 1, 1
			}
			s.Y[k] = int32((pr.a + pr.b) % p)
		}
		return s
	}
	sp := &Splits{Test: mk("modular/test", perm[nTrain:])}
	sp.Train, sp.Val, err = splitSet(mk("modular/train", perm[:nTrain]), "modular", valSize, o.SplitSeed)
	if err != nil {
		return nil, err
	}
	return sp, nil
}
