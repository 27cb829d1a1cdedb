//go:build torch

package torch

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// State returns a copy of everything needed to resume, named as nn.State
// describes and as the native engine writes it (so states move between the
// engines): param/ (θ ⊙ m under ZeroBeforeForward), buffer/, mask/, opt/,
// and the counters step and mask_pattern/.
func (n *Net) State() (*nn.State, error) {
	st := nn.NewState()
	err := n.runErr(func(s *scope) {
		for _, e := range n.st.entries {
			name, size := e.info.Name, e.info.Size()
			v := make([]float32, size)
			s.download(v, e.theta)
			if e.masked(nn.ZeroBeforeForward) {
				for i, k := range e.maskHost {
					v[i] *= k
				}
			}
			st.Tensors["param/"+name] = v
			if e.mask != nil {
				st.Tensors["mask/"+name] = append([]float32(nil), e.maskHost...)
				st.Counters["mask_pattern/"+name] = int64(e.pattern)
			}
			if n.opt != nil {
				for k, slot := range n.opt.slots {
					x := make([]float32, size)
					s.download(x, [2]ct{e.s1, e.s2}[k])
					st.Tensors["opt/"+slot+"/"+name] = x
				}
			}
		}
		for _, b := range n.st.buffers {
			v := make([]float32, b.size)
			s.download(v, b.t)
			st.Tensors["buffer/"+b.name] = v
		}
	})
	if err != nil {
		return nil, err
	}
	st.Counters["step"] = n.step
	return st, nil
}

// SetState restores a State taken from a net of the same architecture (on
// either engine): θ, buffers, every parameter's parametrization (Masked
// where the State has a mask, Dense elsewhere), optimizer state and the
// step counter. Call SetOptimizer with the optimizer the State was saved
// with first. Every name and size is checked before anything changes; an
// error names the offending tensor or counter.
func (n *Net) SetState(s *nn.State) error {
	if s == nil {
		return fmt.Errorf("torch: set state of model %s: nil state", n.arch.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("torch: set state of model %s: "+format, append([]any{n.arch.Name}, args...)...)
	}
	var slots []string
	if n.opt != nil {
		slots = n.opt.slots
	}
	used := map[string]bool{}
	get := func(name string, size int) ([]float32, error) {
		t, err := s.Tensor(name, size)
		if err != nil {
			return nil, fail("%v", err)
		}
		used[name] = true
		return t, nil
	}
	type restore struct {
		value, mask []float32
		pattern     nn.MaskPattern
		opt         [2][]float32
	}
	rs := make([]restore, len(n.st.entries))
	usedCounters := map[string]bool{"step": true}
	for i, e := range n.st.entries {
		name, size := e.info.Name, e.info.Size()
		r := &rs[i]
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
			r.mask, r.pattern = append([]float32(nil), m...), mk.Pattern
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
	}
	bufs := make([][]float32, len(n.st.buffers))
	for i, b := range n.st.buffers {
		var err error
		if bufs[i], err = get("buffer/"+b.name, b.size); err != nil {
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

	err := n.runErr(func(sc *scope) {
		for i, e := range n.st.entries {
			r := rs[i]
			sc.set(e.theta, r.value, e.shape)
			if e.s1 != nil {
				sc.set(e.s1, r.opt[0], e.shape)
			}
			if e.s2 != nil {
				sc.set(e.s2, r.opt[1], e.shape)
			}
			n.setMask(sc, e, r.mask, r.pattern)
		}
		for i, b := range n.st.buffers {
			sc.set(b.t, bufs[i], []int64{int64(b.size)})
		}
	})
	if err != nil {
		return fmt.Errorf("torch: set state of model %s: %w", n.arch.Name, err)
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
