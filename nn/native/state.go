package native

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// State returns a copy of everything needed to resume, named as nn.State
// describes:
//
//	param/<name>                  θ (θ ⊙ m under ZeroBeforeForward, whose θ
//	                              may hold moved pruned entries after a step)
//	buffer/<name>                 batch norm running statistics
//	mask/<name>                   the mask of each Masked parameter
//	opt/<slot>/<name>             the installed optimizer's buffers: slot
//	                              "momentum" (SGD with momentum) or
//	                              "exp_avg" and "exp_avg_sq" (Adam, AdamW)
//	counter step                  optimizer steps since SetOptimizer
//	counter mask_pattern/<name>   the nn.MaskPattern of each mask
//
// The State shares no memory with the net. The optimizer's name and
// hyperparameters are not part of it: they belong to the training
// configuration (see SetState).
func (n *Net) State() (*nn.State, error) {
	s := nn.NewState()
	for _, e := range n.entries {
		name := e.info.Name
		v := append([]float32(nil), e.p.value...)
		if e.mask != nil && e.pattern == nn.ZeroBeforeForward {
			mulMask(v, e.mask)
		}
		s.Tensors["param/"+name] = v
		if e.mask != nil {
			s.Tensors["mask/"+name] = append([]float32(nil), e.mask...)
			s.Counters["mask_pattern/"+name] = int64(e.pattern)
		}
		if n.opt != nil {
			for k, slot := range n.opt.slotNames() {
				s.Tensors["opt/"+slot+"/"+name] = append([]float32(nil), e.slot(k)...)
			}
		}
	}
	for _, b := range n.buffers {
		s.Tensors["buffer/"+b.name] = append([]float32(nil), b.data...)
	}
	s.Counters["step"] = n.step
	return s, nil
}

// slot returns optimizer buffer k (0: s1, 1: s2).
func (e *entry) slot(k int) []float32 {
	if k == 0 {
		return e.s1
	}
	return e.s2
}

// SetState restores a State taken from a net of the same architecture: θ,
// buffers, the parametrization of every parameter (Masked with the saved
// mask and pattern where the State has a mask, Dense elsewhere), the
// optimizer state and the step counter.
//
// The optimizer itself is not in a State: call SetOptimizer with the
// optimizer the State was saved with first (nn.Train does), then SetState.
// The State must then hold exactly the slots that optimizer keeps for every
// parameter; with no optimizer installed it must hold none.
//
// Every name and size is checked before anything changes; an error names
// the offending tensor or counter and leaves the net as it was. The data are
// copied.
func (n *Net) SetState(s *nn.State) error {
	if s == nil {
		return fmt.Errorf("native: set state of model %s: nil state", n.arch.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("native: set state of model %s: "+format, append([]any{n.arch.Name}, args...)...)
	}
	var slots []string
	if n.opt != nil {
		slots = n.opt.slotNames()
	}
	used := make(map[string]bool, len(s.Tensors))
	get := func(name string, size int) ([]float32, error) {
		t, err := s.Tensor(name, size)
		if err != nil {
			return nil, fail("%v", err)
		}
		used[name] = true
		return t, nil
	}
	type restore struct {
		e       *entry
		value   []float32
		mask    []float32
		pattern nn.MaskPattern
		opt     [2][]float32
	}
	rs := make([]restore, len(n.entries))
	usedCounters := map[string]bool{"step": true}
	for i, e := range n.entries {
		name, size := e.info.Name, len(e.p.value)
		r := restore{e: e}
		var err error
		if r.value, err = get("param/"+name, size); err != nil {
			return err
		}
		if m, ok := s.Tensors["mask/"+name]; ok {
			pat, ok := s.Counters["mask_pattern/"+name]
			if !ok {
				return fail("tensor mask/%s has no counter mask_pattern/%s", name, name)
			}
			if e.info.Kind != nn.Weight {
				return fail("tensor mask/%s: %s is a %s, only weights can be masked", name, name, e.info.Kind)
			}
			mk := nn.Masked{Mask: m, Pattern: nn.MaskPattern(pat)}
			if int64(mk.Pattern) != pat {
				return fail("counter mask_pattern/%s = %d: not a mask pattern", name, pat)
			}
			if err := mk.Validate("mask/"+name, size); err != nil {
				return fail("%v", err)
			}
			r.mask, r.pattern = m, mk.Pattern
			used["mask/"+name] = true
			usedCounters["mask_pattern/"+name] = true
		} else if _, ok := s.Counters["mask_pattern/"+name]; ok {
			return fail("counter mask_pattern/%s without tensor mask/%s", name, name)
		}
		for k, slot := range slots {
			if r.opt[k], err = get("opt/"+slot+"/"+name, size); err != nil {
				return err
			}
		}
		rs[i] = r
	}
	bufs := make([][]float32, len(n.buffers))
	for i, b := range n.buffers {
		var err error
		if bufs[i], err = get("buffer/"+b.name, len(b.data)); err != nil {
			return err
		}
	}
	step, ok := s.Counters["step"]
	if !ok {
		return fail("counter step is missing")
	}
	if step < 0 {
		return fail("counter step = %d, want ≥ 0", step)
	}
	if extra := unused(s.Tensors, used); extra != "" {
		if strings.HasPrefix(extra, "opt/") {
			if n.opt == nil {
				return fail("tensor %s: no optimizer is installed; call SetOptimizer with the optimizer the state was saved with before SetState", extra)
			}
			return fail("tensor %s: the installed optimizer (%s) keeps only %v", extra, n.opt.spec.Name, slots)
		}
		return fail("unknown tensor %s", extra)
	}
	if extra := unused(s.Counters, usedCounters); extra != "" {
		return fail("unknown counter %s", extra)
	}

	for _, r := range rs {
		e := r.e
		copy(e.p.value, r.value)
		if e.s1 != nil {
			copy(e.s1, r.opt[0])
		}
		if e.s2 != nil {
			copy(e.s2, r.opt[1])
		}
		if r.mask != nil {
			e.mask, e.pattern = nil, 0 // setMasked re-installs
			n.setMasked(e, append([]float32(nil), r.mask...), r.pattern)
		} else {
			e.mask, e.alive = nil, nil
			e.p.w = e.p.value
		}
	}
	n.relist()
	for i, b := range n.buffers {
		copy(b.data, bufs[i])
	}
	n.step = step
	return nil
}

// unused returns the first name of m (in sorted order) that is not in used,
// or "".
func unused[V any](m map[string]V, used map[string]bool) string {
	var extra []string
	for name := range m {
		if !used[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	sort.Strings(extra)
	return extra[0]
}
