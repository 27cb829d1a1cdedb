package nn

import (
	"fmt"
	"strings"
)

// Optimizer names one optimizer and its hyperparameters. Engines implement
// the update rules; the rules are those of PyTorch's torch.optim so that
// paper configurations transfer:
//
//	sgd:   g ← g + wd·θ; v ← μ·v + g; θ ← θ − lr·(nesterov ? g + μ·v : v)
//	adam:  g ← g + wd·θ; m ← β1·m + (1−β1)·g; s ← β2·s + (1−β2)·g²;
//	       θ ← θ − lr·(m/(1−β1ᵗ)) / (sqrt(s/(1−β2ᵗ)) + ε)
//	adamw: θ ← θ·(1 − lr·wd), then the adam update without the wd term
//
// With momentum 0, SGD keeps no buffer (v is g).
type Optimizer struct {
	// Name is "sgd", "adam" or "adamw".
	Name        string
	Momentum    float64 // sgd
	Nesterov    bool    // sgd
	WeightDecay float64
	Beta1       float64 // adam, adamw
	Beta2       float64 // adam, adamw
	Eps         float64 // adam, adamw
}

// OptimizerNames lists the accepted Optimizer.Name values.
var OptimizerNames = []string{"sgd", "adam", "adamw"}

// SGD returns plain SGD with the given momentum and weight decay.
func SGD(momentum, weightDecay float64) Optimizer {
	return Optimizer{Name: "sgd", Momentum: momentum, WeightDecay: weightDecay}
}

// Adam returns Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
func Adam(weightDecay float64) Optimizer {
	return Optimizer{Name: "adam", Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// AdamW returns AdamW with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
func AdamW(weightDecay float64) Optimizer {
	return Optimizer{Name: "adamw", Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Validate checks the name and the ranges of the hyperparameters. Messages
// start with the field name ("momentum = 1.5: ...") so callers can prefix
// the path of the field in their config.
func (o Optimizer) Validate() error {
	switch o.Name {
	case "sgd":
		if o.Momentum < 0 || o.Momentum >= 1 {
			return fmt.Errorf("momentum = %v: want 0 ≤ momentum < 1", o.Momentum)
		}
		if o.Nesterov && o.Momentum == 0 {
			return fmt.Errorf("nesterov needs momentum > 0")
		}
	case "adam", "adamw":
		if o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 {
			return fmt.Errorf("beta1, beta2 = %v, %v: want each in [0, 1)", o.Beta1, o.Beta2)
		}
		if o.Eps <= 0 {
			return fmt.Errorf("eps = %v: want > 0", o.Eps)
		}
	default:
		return fmt.Errorf("optimizer = %q: want one of %s", o.Name, strings.Join(OptimizerNames, ", "))
	}
	if o.WeightDecay < 0 {
		return fmt.Errorf("weight_decay = %v: want ≥ 0", o.WeightDecay)
	}
	return nil
}
