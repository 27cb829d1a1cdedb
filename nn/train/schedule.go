package train

// Learning-rate schedules, as functions of the global iteration
// (docs/methods/conventions.md#learning-rate-schedules): iteration it
// (counted from 0) trains with lr(it), and resuming or rewinding to step k
// evaluates the schedule at k.
//
// Sources: open_lth's get_lr_schedule (code: facebookresearch/open_lth:
// training/optimizers.py, tested in training/test/test_lr_scheduler.py) for
// step and warmup, PyTorch's CosineAnnealingLR and LinearLR
// (torch/optim/lr_scheduler.py) stepped once per iteration for cosine and
// linear. With T the total iterations and m the floor MinLR:
//
//	constant  lr(it) = base
//	step      lr(it) = base · gamma^(number of milestones ≤ it)     (open_lth: gamma ** bisect.bisect(milestones, it))
//	cosine    lr(it) = m + (base − m) · ½ · (1 + cos(π · it / T))    (CosineAnnealingLR, T_max = T, eta_min = m)
//	linear    lr(it) = m + (base − m) · (1 − it / T)                 (LinearLR from factor 1 to 0 over T when m = 0)
//
// cosine and linear hold m for it ≥ T. A warmup of W iterations multiplies
// any of them by min(1, it / W), open_lth's warmup factor: the first
// iteration trains with lr 0, iteration W onwards with the plain schedule,
// and the schedule underneath is not shifted.

import (
	"fmt"
	"math"
	"strings"
)

// ScheduleNames lists the accepted Schedule.Name values; "" means constant.
var ScheduleNames = []string{"constant", "step", "cosine", "linear"}

// Schedule is a learning-rate schedule specification. Points in training are
// Steps, resolved with the iterations per epoch when the schedule is turned
// into a function.
type Schedule struct {
	// Name is one of ScheduleNames; "" means "constant".
	Name string
	// Milestones and Gamma define "step": the rate is multiplied by Gamma at
	// every milestone. Milestones must be strictly increasing once resolved
	// to iterations.
	Milestones []Step
	Gamma      float64
	// Warmup is the length of the linear warmup, applied on top of any
	// schedule; zero means none.
	Warmup Step
	// MinLR is the floor of "cosine" and "linear" (default 0).
	MinLR float64
}

func (s Schedule) name() string {
	if s.Name == "" {
		return "constant"
	}
	return s.Name
}

// Validate checks what can be checked without the iterations per epoch: the
// name, gamma and milestones of a step schedule (milestones whose order does
// not depend on the epoch length must increase), a non-negative warmup and
// floor, and that no field is set that the schedule ignores.
func (s Schedule) Validate() error {
	switch s.name() {
	case "constant", "step", "cosine", "linear":
	default:
		return fmt.Errorf("schedule.name = %q: want one of %s", s.Name, strings.Join(ScheduleNames, ", "))
	}
	if s.name() == "step" {
		if len(s.Milestones) == 0 {
			return fmt.Errorf("schedule %q needs schedule.milestones", s.Name)
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			return fmt.Errorf("schedule.gamma = %v: want a finite value > 0", s.Gamma)
		}
		for i, m := range s.Milestones {
			if m.Epochs < 0 || m.Iterations < 0 {
				return fmt.Errorf("schedule.milestones[%d] = %v: negative", i, m)
			}
			if i > 0 {
				p := s.Milestones[i-1]
				if p.Epochs >= m.Epochs && p.Iterations >= m.Iterations {
					return fmt.Errorf("schedule.milestones %v: %v does not come after %v; want strictly increasing milestones", s.Milestones, m, p)
				}
			}
		}
	} else {
		if len(s.Milestones) > 0 {
			return fmt.Errorf("schedule.milestones are only used by the step schedule, not %q", s.name())
		}
		if s.Gamma != 0 {
			return fmt.Errorf("schedule.gamma is only used by the step schedule, not %q", s.name())
		}
	}
	if s.MinLR != 0 {
		if s.name() != "cosine" && s.name() != "linear" {
			return fmt.Errorf("schedule.min_lr is only used by the cosine and linear schedules, not %q", s.name())
		}
		if !(s.MinLR > 0) || math.IsInf(s.MinLR, 0) {
			return fmt.Errorf("schedule.min_lr = %v: want a finite value ≥ 0", s.MinLR)
		}
	}
	if s.Warmup.Epochs < 0 || s.Warmup.Iterations < 0 {
		return fmt.Errorf("schedule.warmup = %v: negative", s.Warmup)
	}
	return nil
}

// Func resolves the schedule's steps with the iterations per epoch and
// returns lr(it) for a base rate and a training length of totalIters
// iterations. It returns an error for an invalid schedule, a base rate that
// is negative or not finite, a floor above the base rate, milestones that
// do not increase or lie beyond the training length, or a warmup longer
// than training. Negative iterations evaluate as 0.
func (s Schedule) Func(base float64, itersPerEpoch, totalIters int) (func(it int) float64, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if !(base >= 0) || math.IsInf(base, 0) {
		return nil, fmt.Errorf("learning rate %v: want a finite value ≥ 0", base)
	}
	if itersPerEpoch < 1 {
		return nil, fmt.Errorf("schedule: %d iterations per epoch, want ≥ 1", itersPerEpoch)
	}
	if totalIters < 1 {
		return nil, fmt.Errorf("schedule: training length of %d iterations, want ≥ 1", totalIters)
	}
	if s.MinLR > base {
		return nil, fmt.Errorf("schedule.min_lr = %v is above the learning rate %v", s.MinLR, base)
	}
	warm := s.Warmup.Iters(itersPerEpoch)
	if warm > totalIters {
		return nil, fmt.Errorf("schedule.warmup = %v is %d iterations, longer than training (%d)", s.Warmup, warm, totalIters)
	}
	var ms []int
	for i, m := range s.Milestones {
		it := m.Iters(itersPerEpoch)
		if i > 0 && it <= ms[i-1] {
			return nil, fmt.Errorf("schedule.milestones %v: %v (iteration %d) does not come after %v (iteration %d) at %d iterations per epoch", s.Milestones, m, it, s.Milestones[i-1], ms[i-1], itersPerEpoch)
		}
		if it > totalIters {
			return nil, fmt.Errorf("schedule.milestones: %v (iteration %d) is beyond the end of training (%d iterations)", m, it, totalIters)
		}
		ms = append(ms, it)
	}
	var plain func(it int) float64
	total := float64(totalIters)
	floor := s.MinLR
	switch s.name() {
	case "constant":
		plain = func(int) float64 { return base }
	case "step":
		gamma := s.Gamma
		plain = func(it int) float64 {
			k := 0
			for k < len(ms) && ms[k] <= it {
				k++
			}
			return base * math.Pow(gamma, float64(k))
		}
	case "cosine":
		plain = func(it int) float64 {
			if it >= totalIters {
				return floor
			}
			return floor + (base-floor)*0.5*(1+math.Cos(math.Pi*float64(it)/total))
		}
	case "linear":
		plain = func(it int) float64 {
			if it >= totalIters {
				return floor
			}
			return floor + (base-floor)*(1-float64(it)/total)
		}
	}
	return func(it int) float64 {
		it = max(it, 0)
		lr := plain(it)
		if warm > 0 && it < warm {
			lr *= float64(it) / float64(warm)
		}
		return lr
	}, nil
}
