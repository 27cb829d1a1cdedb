package experiments

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// AmountSpec is the part of the prune section that says how much of the
// prunable set a pruning pipeline keeps, in one of the conventions of
// docs/methods/conventions.md, each under its own key so that a bare number
// is never ambiguous. Pipelines embed it in their prune section
// (`mapstructure:",squash"`), so every pruning pipeline reads the same keys
// and runs of different methods at one density share one setting. At most
// one may be set; the config layer converts it to a density d in (0, 1]
// once, and results record d, sparsity 1 − d and compression 1/d.
//
// Conversions are exact where they can be: the value is read back as the
// decimal the YAML wrote (its shortest representation) and the arithmetic is
// done on rationals, so sparsity 0.9 gives exactly density 0.1, not
// 0.09999999999999998.
type AmountSpec struct {
	Density     *float64 `mapstructure:"density" help:"kept fraction of the prunable weights, in (0, 1]"`
	Sparsity    *float64 `mapstructure:"sparsity" help:"removed fraction, in [0, 1) (jaxpruner, NNI, SparseML, the SNIP/GraSP/GraNet tables)"`
	Compression *float64 `mapstructure:"compression" help:"size / nonzero, ≥ 1 (ShrinkBench)"`
	// Log10Compression is the SynFlow family's --compression c: 10^−c kept.
	Log10Compression *float64 `mapstructure:"log10_compression" help:"−log10 of the kept fraction, ≥ 0 (SynFlow --compression)"`
	SynflowSparsity  *float64 `mapstructure:"synflow_sparsity" help:"the KEPT fraction that SynFlow-family code calls sparsity, in (0, 1]"`
	PmPercent        *float64 `mapstructure:"pm_percent" help:"percent of weights remaining, in (0, 100] (LTH paper Pm)"`
	BipK             *float64 `mapstructure:"bip_k" help:"kept fraction (BiP --k), in (0, 1]"`
	PruneRate        *float64 `mapstructure:"prune_rate" help:"removed fraction, in [0, 1) (Lottery Jackpots, Grokking Tickets)"`
	Percent          *float64 `mapstructure:"percent" help:"removed fraction, in [0, 1) (rethinking-network-pruning --percent)"`
	RendaPercent     *float64 `mapstructure:"renda_global_percent" help:"percent kept, in (0, 100] (Renda et al. prune_all_to_global_X)"`
	NNITotalSparsity *float64 `mapstructure:"nni_total_sparsity" help:"total removed fraction after all rounds, in [0, 1) (NNI LotteryTicketPruner)"`
	// IMPRate and IMPRounds together: p of the remaining weights removed per
	// round, n rounds: d = (1 − p)^n for one scope.
	IMPRate   *float64 `mapstructure:"imp_rate" help:"fraction of the remaining weights removed per round, in [0, 1) (with imp_rounds)"`
	IMPRounds *int     `mapstructure:"imp_rounds" help:"number of pruning rounds (with imp_rate)"`
}

// Amount is a resolved amount of pruning.
type Amount struct {
	// Convention is the key it was given in ("" when none was).
	Convention                     string
	Density, Sparsity, Compression float64
}

// Resolve converts the one convention that is set to a density. With none
// set it returns a zero Amount and ok = false.
func (a AmountSpec) Resolve() (am Amount, ok bool, err error) {
	type conv struct {
		key string
		v   *float64
		f   func(*big.Rat, float64) (*big.Rat, float64, error) // exact density, or NaN exact and a float
	}
	one := big.NewRat(1, 1)
	hundred := big.NewRat(100, 1)
	// kept fractions lie in (0, 1]; removed ones in [0, 1).
	kept := func(key string) func(*big.Rat, float64) (*big.Rat, float64, error) {
		return func(r *big.Rat, _ float64) (*big.Rat, float64, error) {
			return r, 0, inRange(key, r, new(big.Rat), true, one, false)
		}
	}
	removed := func(key string) func(*big.Rat, float64) (*big.Rat, float64, error) {
		return func(r *big.Rat, _ float64) (*big.Rat, float64, error) {
			if err := inRange(key, r, new(big.Rat), false, one, true); err != nil {
				return nil, 0, err
			}
			return new(big.Rat).Sub(one, r), 0, nil
		}
	}
	percentKept := func(key string) func(*big.Rat, float64) (*big.Rat, float64, error) {
		return func(r *big.Rat, _ float64) (*big.Rat, float64, error) {
			if err := inRange(key, r, new(big.Rat), true, hundred, false); err != nil {
				return nil, 0, err
			}
			return new(big.Rat).Quo(r, hundred), 0, nil
		}
	}
	convs := []conv{
		{"density", a.Density, kept("density")},
		{"sparsity", a.Sparsity, removed("sparsity")},
		{"compression", a.Compression, func(r *big.Rat, _ float64) (*big.Rat, float64, error) {
			if r.Cmp(one) < 0 {
				return nil, 0, fmt.Errorf("prune.compression = %s: want ≥ 1 (1 is dense)", r.FloatString(6))
			}
			return new(big.Rat).Inv(r), 0, nil
		}},
		{"log10_compression", a.Log10Compression, func(r *big.Rat, f float64) (*big.Rat, float64, error) {
			if r.Sign() < 0 {
				return nil, 0, fmt.Errorf("prune.log10_compression = %v: want ≥ 0 (0 is dense)", f)
			}
			return nil, math.Pow(10, -f), nil
		}},
		{"synflow_sparsity", a.SynflowSparsity, kept("synflow_sparsity")},
		{"pm_percent", a.PmPercent, percentKept("pm_percent")},
		{"bip_k", a.BipK, kept("bip_k")},
		{"prune_rate", a.PruneRate, removed("prune_rate")},
		{"percent", a.Percent, removed("percent")},
		{"renda_global_percent", a.RendaPercent, percentKept("renda_global_percent")},
		{"nni_total_sparsity", a.NNITotalSparsity, removed("nni_total_sparsity")},
	}
	var set []string
	var exact *big.Rat
	approx := math.NaN()
	for _, c := range convs {
		if c.v == nil {
			continue
		}
		set = append(set, c.key)
		r, err := decimalRat(c.key, *c.v)
		if err != nil {
			return Amount{}, false, err
		}
		if exact, approx, err = c.f(r, *c.v); err != nil {
			return Amount{}, false, err
		}
		am.Convention = c.key
	}
	if a.IMPRate != nil || a.IMPRounds != nil {
		set = append(set, "imp_rate/imp_rounds")
		if a.IMPRate == nil || a.IMPRounds == nil {
			return Amount{}, false, fmt.Errorf("prune.imp_rate and prune.imp_rounds go together: give both")
		}
		r, err := decimalRat("imp_rate", *a.IMPRate)
		if err != nil {
			return Amount{}, false, err
		}
		if err := inRange("imp_rate", r, new(big.Rat), false, one, true); err != nil {
			return Amount{}, false, err
		}
		if *a.IMPRounds < 0 {
			return Amount{}, false, fmt.Errorf("prune.imp_rounds = %d: want ≥ 0", *a.IMPRounds)
		}
		keep := new(big.Rat).Sub(one, r)
		exact = big.NewRat(1, 1)
		for i := 0; i < *a.IMPRounds; i++ {
			exact.Mul(exact, keep)
		}
		am.Convention = "imp_rate"
	}
	switch {
	case len(set) == 0:
		return Amount{}, false, nil
	case len(set) > 1:
		return Amount{}, false, fmt.Errorf("prune: %s are all set; give the amount of pruning in one convention", strings.Join(set, ", "))
	}
	if exact != nil {
		if exact.Sign() <= 0 {
			return Amount{}, false, fmt.Errorf("prune.%s leaves density 0: a model with nothing left", am.Convention)
		}
		am.Density, _ = exact.Float64()
		am.Sparsity, _ = new(big.Rat).Sub(one, exact).Float64()
		am.Compression, _ = new(big.Rat).Inv(exact).Float64()
	} else {
		if !(approx > 0) {
			return Amount{}, false, fmt.Errorf("prune.%s leaves density %v: want > 0", am.Convention, approx)
		}
		am.Density, am.Sparsity, am.Compression = approx, 1-approx, 1/approx
	}
	return am, true, nil
}

// decimalRat reads v as the decimal it was written as (its shortest
// representation), so 0.9 is 9/10 exactly.
func decimalRat(key string, v float64) (*big.Rat, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("prune.%s = %v: want a finite number", key, v)
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
	if !ok {
		return nil, fmt.Errorf("prune.%s = %v: not a number", key, v)
	}
	return r, nil
}

// inRange checks lo <(=) r <(=) hi, with open or closed ends.
func inRange(key string, r, lo *big.Rat, loOpen bool, hi *big.Rat, hiOpen bool) error {
	c1, c2 := r.Cmp(lo), r.Cmp(hi)
	if c1 < 0 || (loOpen && c1 == 0) || c2 > 0 || (hiOpen && c2 == 0) {
		l, h := "[", "]"
		if loOpen {
			l = "("
		}
		if hiOpen {
			h = ")"
		}
		v, _ := r.Float64()
		return fmt.Errorf("prune.%s = %v: want a value in %s%s, %s%s", key, v, l, lo.FloatString(0), hi.FloatString(0), h)
	}
	return nil
}
