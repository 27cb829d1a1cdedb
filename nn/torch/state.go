//go:build torch

package torch

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// State returns a copy of everything needed to resume, named as nn.State
// describes and as the native engine writes it (so states move between the
// engines): param/ (θ ⊙ m under ZeroBeforeForward), buffer/, mask/,
// scores/, shared/ (arrays), opt/ (opt/<slot>/shared/<array> for arrays),
// and the counters step, mask_pattern/, scores_keep/ and shared/ (the array
// size of each shared parameter, which has no param/ or opt/ of its own).
func (n *Net) State() (*nn.State, error) {
	st := nn.NewState()
	err := n.runErr(func(s *scope) {
		for _, e := range n.st.entries {
			name, size := e.info.Name, e.info.Size()
			if e.sh != nil {
				st.Counters["shared/"+name] = int64(e.sh.arr.size())
				continue
			}
			v := make([]float32, size)
			s.download(v, e.theta)
			if e.masked(nn.ZeroBeforeForward) {
				for i, k := range e.maskHost {
					v[i] *= k
				}
			}
			st.Tensors["param/"+name] = v
			if e.scores != nil {
				st.Tensors["scores/"+name] = append([]float32(nil), e.scores...)
				st.Counters["scores_keep/"+name] = int64(e.keep)
			} else if e.mask != nil {
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
		for _, a := range n.st.arrayList {
			z := make([]float32, a.size())
			s.download(z, a.e.theta)
			st.Tensors["shared/"+a.name()] = z
			if n.opt != nil {
				for k, slot := range n.opt.slots {
					x := make([]float32, a.size())
					s.download(x, [2]ct{a.e.s1, a.e.s2}[k])
					st.Tensors["opt/"+slot+"/shared/"+a.name()] = x
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
	l := nn.StateLayout{Params: make([]nn.ParamInfo, len(n.st.entries)), Buffers: make([]nn.BufferInfo, len(n.st.buffers))}
	for i, e := range n.st.entries {
		l.Params[i] = e.info
		if e.sh != nil {
			if l.Shared == nil {
				l.Shared = make([]string, len(n.st.entries))
			}
			l.Shared[i] = e.sh.arr.name()
		}
	}
	for _, a := range n.st.arrayList {
		l.Arrays = append(l.Arrays, nn.BufferInfo{Name: a.name(), Size: a.size()})
	}
	for i, b := range n.st.buffers {
		l.Buffers[i] = nn.BufferInfo{Name: b.name, Size: b.size}
	}
	if n.opt != nil {
		l.Optimizer, l.Slots = n.opt.spec.Name, n.opt.slots
	}
	u, err := s.Unpack(l)
	if err != nil {
		return fmt.Errorf("torch: set state of model %s: %w", n.arch.Name, err)
	}

	err = n.runErr(func(sc *scope) {
		for i, a := range n.st.arrayList {
			r := u.Arrays[i]
			sc.set(a.e.theta, r.Value, a.e.shape)
			if a.e.s1 != nil {
				sc.set(a.e.s1, r.Opt[0], a.e.shape)
			}
			if a.e.s2 != nil {
				sc.set(a.e.s2, r.Opt[1], a.e.shape)
			}
		}
		for i, e := range n.st.entries {
			r := u.Params[i]
			if r.Array != "" {
				continue // restored with its array
			}
			sc.set(e.theta, r.Value, e.shape)
			if e.s1 != nil {
				sc.set(e.s1, r.Opt[0], e.shape)
			}
			if e.s2 != nil {
				sc.set(e.s2, r.Opt[1], e.shape)
			}
			if r.Scored.Scores != nil {
				n.setScored(sc, e, append([]float32(nil), r.Scored.Scores...), r.Scored.Keep)
				continue
			}
			var mask []float32
			if r.Mask != nil {
				mask = append([]float32(nil), r.Mask...)
			}
			n.setMask(sc, e, mask, r.Pattern)
		}
		for i, b := range n.st.buffers {
			sc.set(b.t, u.Buffers[i], []int64{int64(b.size)})
		}
	})
	if err != nil {
		return fmt.Errorf("torch: set state of model %s: %w", n.arch.Name, err)
	}
	n.step = u.Step
	return nil
}
