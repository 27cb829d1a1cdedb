package prune

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// ERKDensities is the Erdős–Rényi-Kernel allocation of
// docs/methods/gradual.md#erk (code: Shiweiliuiiiiiii/GraNet:
// CIFAR/sparselearning/core.py `init`, --sparse-init ERK). For tensor l with
// shape (n_1, …, n_k) and N_l entries,
// raw_l = (n_1 + … + n_k) / (n_1 · … · n_k), kernel dimensions included,
// power 1. With D the set of tensors forced dense (initially empty),
//
//	ε = ( d · Σ_{l∉D} N_l − (1 − d) · Σ_{l∈D} N_l ) / Σ_{l∉D} raw_l · N_l
//
// and while max_{l∉D} ε · raw_l > 1, every tensor with that maximal raw_l
// joins D and ε is solved again. The densities are p_l = ε · raw_l for
// l ∉ D and 1 for l ∈ D, so Σ p_l N_l = d · Σ N_l.
//
// d = 1 short-circuits to all ones. d ∉ (0, 1], no shapes and a shape with
// no entries are errors.
func ERKDensities(shapes [][]int, d float64) ([]float64, error) {
	if err := CheckDensity(d); err != nil {
		return nil, fmt.Errorf("erk: %w", err)
	}
	if len(shapes) == 0 {
		return nil, fmt.Errorf("erk: no tensors")
	}
	n := make([]float64, len(shapes))
	raw := make([]float64, len(shapes))
	for l, s := range shapes {
		prod, sum := 1, 0
		for _, x := range s {
			prod *= x
			sum += x
		}
		if len(s) == 0 || prod < 1 {
			return nil, fmt.Errorf("erk: tensor %d has shape %v and no entries", l, s)
		}
		n[l] = float64(prod)
		raw[l] = float64(sum) / float64(prod)
	}
	p := make([]float64, len(shapes))
	if d == 1 {
		for l := range p {
			p[l] = 1
		}
		return p, nil
	}
	dense := make([]bool, len(shapes))
	for {
		var sparseN, denseN, rawN, maxRaw float64
		left := 0
		for l := range shapes {
			if dense[l] {
				denseN += n[l]
				continue
			}
			left++
			sparseN += n[l]
			rawN += raw[l] * n[l]
			maxRaw = max(maxRaw, raw[l])
		}
		if left == 0 {
			// Only reachable through rounding at d close to 1: every
			// tensor is dense.
			break
		}
		eps := (d*sparseN - (1-d)*denseN) / rawN
		if eps*maxRaw <= 1 {
			for l := range shapes {
				if dense[l] {
					p[l] = 1
				} else {
					p[l] = eps * raw[l]
				}
			}
			return p, nil
		}
		for l := range shapes {
			if !dense[l] && raw[l] == maxRaw {
				dense[l] = true
			}
		}
	}
	for l := range p {
		p[l] = 1
	}
	return p, nil
}

// ERKPlan is the `clean` ERK allocation as a quota plan: tensor l keeps
// exactly KeepCount(p_l, N_l) entries (docs/methods/gradual.md#erk; GraNet's
// code draws i.i.d. Bernoulli(p_l) masks instead, which is a mask sampler,
// not an allocation). Which entries are kept is up to the scores given to
// Select: uniform random scores from the `mask` seed give the uniformly
// random ERK mask. A tensor rounded to zero kept entries is an error naming
// it.
func ERKPlan(set []nn.ParamInfo, d float64) (*Plan, error) {
	if err := checkSet(set); err != nil {
		return nil, err
	}
	shapes := make([][]int, len(set))
	for i, t := range set {
		shapes[i] = t.Shape
	}
	ps, err := ERKDensities(shapes, d)
	if err != nil {
		return nil, err
	}
	p := &Plan{Tensors: set}
	for i, t := range set {
		k := KeepCount(ps[i], t.Size())
		if k < 1 {
			return nil, fmt.Errorf("erk: density %v gives %s (shape %v) density %.3g, which rounds to no kept entry; raise the density or exclude the tensor", d, t.Name, t.Shape, ps[i])
		}
		p.Units = append(p.Units, Unit{Tensors: []int{i}, Keep: k})
	}
	return p, nil
}
