package results

import "math"

// Stat summarizes replicate values: Mean and the sample standard deviation
// Std (denominator N − 1) over the N values that are not NaN. Mean is NaN
// when N = 0, and Std is NaN when N < 2 (undefined), so that a single value
// is never reported as "± 0".
type Stat struct {
	Mean, Std float64
	N         int
}

// NewStat summarizes xs, skipping NaNs.
func NewStat(xs []float64) Stat {
	s := Stat{Mean: math.NaN(), Std: math.NaN()}
	var sum float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			sum += x
			s.N++
		}
	}
	if s.N == 0 {
		return s
	}
	s.Mean = sum / float64(s.N)
	if s.N < 2 {
		return s
	}
	var ss float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			d := x - s.Mean
			ss += d * d
		}
	}
	s.Std = math.Sqrt(ss / float64(s.N-1))
	return s
}
