package native

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// State returns a copy of everything needed to resume, named as nn.State
// describes:
//
//	param/<name>                  θ (θ ⊙ m under ZeroBeforeForward, whose θ
//	                              may hold moved pruned entries after a step)
//	buffer/<name>                 batch norm running statistics
//	mask/<name>                   the mask of each Masked parameter
//	scores/<name>                 the scores of each Scored parameter (its
//	                              mask follows from them)
//	opt/<slot>/<name>             the installed optimizer's buffers: slot
//	                              "momentum" (SGD with momentum) or
//	                              "exp_avg" and "exp_avg_sq" (Adam, AdamW)
//	counter step                  optimizer steps since SetOptimizer
//	counter mask_pattern/<name>   the nn.MaskPattern of each mask
//	counter scores_keep/<name>    the Keep of each Scored parameter
//	shared/<array>                each shared array z
//	opt/<slot>/shared/<array>     its optimizer buffers
//	counter shared/<name>         the array size of each shared parameter,
//	                              which has no param/ and no opt/ tensor
//
// The State shares no memory with the net. The optimizer's name and
// hyperparameters are not part of it: they belong to the training
// configuration (see SetState).
func (n *Net) State() (*nn.State, error) {
	s := nn.NewState()
	for _, e := range n.entries {
		name := e.info.Name
		if sh := e.p.sh; sh != nil {
			s.Counters["shared/"+name] = int64(len(sh.arr.e.p.value))
			continue
		}
		v := append([]float32(nil), e.p.value...)
		if e.mask != nil && e.pattern == nn.ZeroBeforeForward {
			mulMask(v, e.mask)
		}
		s.Tensors["param/"+name] = v
		if e.scores != nil {
			s.Tensors["scores/"+name] = append([]float32(nil), e.scores...)
			s.Counters["scores_keep/"+name] = int64(e.keep)
		} else if e.mask != nil {
			s.Tensors["mask/"+name] = append([]float32(nil), e.mask...)
			s.Counters["mask_pattern/"+name] = int64(e.pattern)
		}
		if n.opt != nil {
			for k, slot := range n.opt.slotNames() {
				s.Tensors["opt/"+slot+"/"+name] = append([]float32(nil), e.slot(k)...)
			}
		}
	}
	for _, a := range n.arrayList {
		name := a.e.info.Name
		s.Tensors["shared/"+name] = append([]float32(nil), a.e.p.value...)
		if n.opt != nil {
			for k, slot := range n.opt.slotNames() {
				s.Tensors["opt/"+slot+"/shared/"+name] = append([]float32(nil), a.e.slot(k)...)
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
// Shared parameters are the exception: a State does not carry their maps,
// so the net must have the shared parametrizations the State was saved with
// (the same parameters on the same arrays) before SetState, which restores
// the arrays and their optimizer state and leaves the maps as they are.
//
// The optimizer itself is not in a State: call SetOptimizer with the
// optimizer the State was saved with first (train.Run does), then SetState.
// The State must then hold exactly the slots that optimizer keeps for every
// parameter; with no optimizer installed it must hold none.
//
// Every name and size is checked before anything changes; an error names
// the offending tensor or counter and leaves the net as it was. The data are
// copied.
func (n *Net) SetState(s *nn.State) error {
	l := nn.StateLayout{Params: make([]nn.ParamInfo, len(n.entries)), Buffers: make([]nn.BufferInfo, len(n.buffers))}
	for i, e := range n.entries {
		l.Params[i] = e.info
		if sh := e.p.sh; sh != nil {
			if l.Shared == nil {
				l.Shared = make([]string, len(n.entries))
			}
			l.Shared[i] = sh.arr.e.info.Name
		}
	}
	for _, a := range n.arrayList {
		l.Arrays = append(l.Arrays, nn.BufferInfo{Name: a.e.info.Name, Size: len(a.e.p.value)})
	}
	for i, b := range n.buffers {
		l.Buffers[i] = nn.BufferInfo{Name: b.name, Size: len(b.data)}
	}
	if n.opt != nil {
		l.Optimizer, l.Slots = n.opt.spec.Name, n.opt.slotNames()
	}
	u, err := s.Unpack(l)
	if err != nil {
		return fmt.Errorf("native: set state of model %s: %w", n.arch.Name, err)
	}

	for i, a := range n.arrayList {
		r := u.Arrays[i]
		copy(a.e.p.value, r.Value)
		if a.e.s1 != nil {
			copy(a.e.s1, r.Opt[0])
		}
		if a.e.s2 != nil {
			copy(a.e.s2, r.Opt[1])
		}
	}
	for i, e := range n.entries {
		r := u.Params[i]
		if r.Array != "" {
			continue // restored with its array
		}
		copy(e.p.value, r.Value)
		if e.s1 != nil {
			copy(e.s1, r.Opt[0])
		}
		if e.s2 != nil {
			copy(e.s2, r.Opt[1])
		}
		switch {
		case r.Scored.Scores != nil:
			e.mask, e.pattern = nil, 0 // setScored re-installs
			n.setScored(e, append([]float32(nil), r.Scored.Scores...), r.Scored.Keep)
		case r.Mask != nil:
			e.mask, e.pattern = nil, 0 // setMasked re-installs
			n.setMasked(e, append([]float32(nil), r.Mask...), r.Pattern)
		default:
			e.mask, e.alive, e.scores = nil, nil, nil
			e.p.w = e.p.value
		}
	}
	n.relist()
	for i, b := range n.buffers {
		copy(b.data, u.Buffers[i])
	}
	n.step = u.Step
	return nil
}
