package nn

import (
	"fmt"
	"sort"
	"strings"
)

// StateLayout is what a net restores from a State: its parameters in
// canonical order, its buffers, and the slots of the installed optimizer.
// Engines pass it to State.Unpack, so that every engine accepts and rejects
// the same States with the same messages.
type StateLayout struct {
	Params []ParamInfo
	// Shared[i] is the array that Params[i] reads under a Shared
	// parametrization, "" when it is not shared; nil when no parameter is.
	// Arrays lists those arrays (each once) with their sizes.
	Shared  []string
	Arrays  []BufferInfo
	Buffers []BufferInfo
	// Optimizer names the installed optimizer ("" when none is) and Slots
	// its per-parameter state ("opt/<slot>/<param>").
	Optimizer string
	Slots     []string
}

// BufferInfo names a buffer (batch norm running statistics) and its size.
type BufferInfo struct {
	Name string
	Size int
}

// UnpackedState is a State checked against a StateLayout, in the layout's
// order. Its slices alias the State's: copy what you keep.
type UnpackedState struct {
	Params []UnpackedParam
	// Arrays are the layout's shared arrays, in its order.
	Arrays  []UnpackedArray
	Buffers [][]float32
	Step    int64
}

// UnpackedArray is one shared array's share of a State: z and one slice per
// optimizer slot.
type UnpackedArray struct {
	Value []float32
	Opt   [][]float32
}

// UnpackedParam is one parameter's share of a State: θ, its mask and
// pattern (Mask nil: not masked), its scores (Scored.Scores nil: not
// scored), and one slice per optimizer slot. A shared parameter has none of
// these: Array names the array it reads (in UnpackedState.Arrays), and its
// parametrization is the net's own (a State does not carry the map).
type UnpackedParam struct {
	Array   string
	Value   []float32
	Mask    []float32
	Pattern MaskPattern
	Scored  Scored
	Opt     [][]float32
}

// Parametrization is the parametrization the State gives the parameter:
// Scored, Masked or Dense; nil for a shared parameter, whose Shared
// parametrization (the map) is not in the State and stays as the net has it.
func (r UnpackedParam) Parametrization() Parametrization {
	switch {
	case r.Array != "":
		return nil
	case r.Scored.Scores != nil:
		return r.Scored
	case r.Mask != nil:
		return Masked{Mask: r.Mask, Pattern: r.Pattern}
	}
	return Dense{}
}

// Unpack checks every name, size and counter of s against l before
// anything is restored: θ of every parameter, a mask only on weights and
// always with its mask_pattern counter, exactly the installed optimizer's
// slots, every buffer, a step counter ≥ 0, and nothing else. A parameter
// that l says is shared has instead a counter shared/<name> equal to its
// array's size and no θ, mask, scores or slots of its own; each of l's
// arrays has shared/<array> and its optimizer slots
// opt/<slot>/shared/<array>. A State taken with another set of shared
// parameters is refused with a message saying to set the parametrizations
// the State was saved with first. An error names the offending tensor or
// counter.
func (s *State) Unpack(l StateLayout) (*UnpackedState, error) {
	if s == nil {
		return nil, fmt.Errorf("nil state")
	}
	used := make(map[string]bool, len(s.Tensors))
	get := func(name string, size int) ([]float32, error) {
		t, err := s.Tensor(name, size)
		if err != nil {
			return nil, err
		}
		used[name] = true
		return t, nil
	}
	out := &UnpackedState{Params: make([]UnpackedParam, len(l.Params)), Buffers: make([][]float32, len(l.Buffers))}
	usedCounters := map[string]bool{"step": true}
	if l.Shared != nil && len(l.Shared) != len(l.Params) {
		return nil, fmt.Errorf("state layout: %d shared entries for %d parameters (engine bug)", len(l.Shared), len(l.Params))
	}
	arraySize := make(map[string]int, len(l.Arrays))
	for _, a := range l.Arrays {
		arraySize[a.Name] = a.Size
	}
	for i, p := range l.Params {
		name, size := p.Name, p.Size()
		r := &out.Params[i]
		var err error
		if l.Shared != nil && l.Shared[i] != "" {
			if err := unpackShared(s, name, l.Shared[i], arraySize, l.Slots); err != nil {
				return nil, err
			}
			r.Array = l.Shared[i]
			usedCounters["shared/"+name] = true
			continue
		}
		if m, ok := s.Counters["shared/"+name]; ok {
			return nil, fmt.Errorf("counter shared/%s: %s read a shared array of %d entries when the state was saved and is not shared in this net; set the shared parametrizations the state was saved with before SetState", name, name, m)
		}
		if r.Value, err = get("param/"+name, size); err != nil {
			return nil, err
		}
		if m, ok := s.Tensors["mask/"+name]; ok {
			pat, ok := s.Counters["mask_pattern/"+name]
			if !ok {
				return nil, fmt.Errorf("tensor mask/%s has no counter mask_pattern/%s", name, name)
			}
			if p.Kind != Weight {
				return nil, fmt.Errorf("tensor mask/%s: %s is a %s, only weights can be masked", name, name, p.Kind)
			}
			mk := Masked{Mask: m, Pattern: MaskPattern(pat)}
			if int64(mk.Pattern) != pat {
				return nil, fmt.Errorf("counter mask_pattern/%s = %d: not a mask pattern", name, pat)
			}
			if err := mk.Validate("mask/"+name, size); err != nil {
				return nil, err
			}
			r.Mask, r.Pattern = m, mk.Pattern
			used["mask/"+name] = true
			usedCounters["mask_pattern/"+name] = true
		} else if _, ok := s.Counters["mask_pattern/"+name]; ok {
			return nil, fmt.Errorf("counter mask_pattern/%s without tensor mask/%s", name, name)
		}
		if sc, ok := s.Tensors["scores/"+name]; ok {
			keep, ok := s.Counters["scores_keep/"+name]
			if !ok {
				return nil, fmt.Errorf("tensor scores/%s has no counter scores_keep/%s", name, name)
			}
			if p.Kind != Weight {
				return nil, fmt.Errorf("tensor scores/%s: %s is a %s, only weights can be scored", name, name, p.Kind)
			}
			if r.Mask != nil {
				return nil, fmt.Errorf("tensors mask/%s and scores/%s: a parameter is masked or scored, not both", name, name)
			}
			r.Scored = Scored{Scores: sc, Keep: int(keep)}
			if err := r.Scored.Validate("scores/"+name, size); err != nil {
				return nil, err
			}
			used["scores/"+name] = true
			usedCounters["scores_keep/"+name] = true
		} else if _, ok := s.Counters["scores_keep/"+name]; ok {
			return nil, fmt.Errorf("counter scores_keep/%s without tensor scores/%s", name, name)
		}
		r.Opt = make([][]float32, len(l.Slots))
		for k, slot := range l.Slots {
			if r.Opt[k], err = get("opt/"+slot+"/"+name, size); err != nil {
				return nil, err
			}
		}
	}
	out.Arrays = make([]UnpackedArray, len(l.Arrays))
	for i, a := range l.Arrays {
		r := &out.Arrays[i]
		var err error
		if r.Value, err = get("shared/"+a.Name, a.Size); err != nil {
			return nil, err
		}
		r.Opt = make([][]float32, len(l.Slots))
		for k, slot := range l.Slots {
			if r.Opt[k], err = get("opt/"+slot+"/shared/"+a.Name, a.Size); err != nil {
				return nil, err
			}
		}
	}
	for i, b := range l.Buffers {
		var err error
		if out.Buffers[i], err = get("buffer/"+b.Name, b.Size); err != nil {
			return nil, err
		}
	}
	step, ok := s.Counters["step"]
	if !ok {
		return nil, fmt.Errorf("counter step is missing")
	}
	if step < 0 {
		return nil, fmt.Errorf("counter step = %d, want ≥ 0", step)
	}
	out.Step = step
	if extra := firstUnused(s.Tensors, used); extra != "" {
		if strings.HasPrefix(extra, "opt/") {
			if l.Optimizer == "" {
				return nil, fmt.Errorf("tensor %s: no optimizer is installed; call SetOptimizer with the optimizer the state was saved with before SetState", extra)
			}
			return nil, fmt.Errorf("tensor %s: the installed optimizer (%s) keeps only %v", extra, l.Optimizer, l.Slots)
		}
		if a, ok := strings.CutPrefix(extra, "shared/"); ok {
			return nil, fmt.Errorf("tensor %s: no parameter of this net reads shared array %q; set the shared parametrizations the state was saved with before SetState", extra, a)
		}
		return nil, fmt.Errorf("unknown tensor %s", extra)
	}
	if extra := firstUnused(s.Counters, usedCounters); extra != "" {
		return nil, fmt.Errorf("unknown counter %s", extra)
	}
	return out, nil
}

// unpackShared checks the share of a State of parameter name, which the
// layout says reads array: a counter shared/<name> equal to the array's
// size, and no θ, mask, scores or optimizer slots of its own.
func unpackShared(s *State, name, array string, arraySize map[string]int, slots []string) error {
	size, ok := arraySize[array]
	if !ok {
		return fmt.Errorf("state layout: %s reads shared array %q, which the layout does not list (engine bug)", name, array)
	}
	if _, ok := s.Tensors["param/"+name]; ok {
		return fmt.Errorf("tensor param/%s: %s is shared (array %q) in this net, and the state holds it as a dense parameter; set the parametrization the state was saved with before SetState", name, name, array)
	}
	m, ok := s.Counters["shared/"+name]
	if !ok {
		return fmt.Errorf("counter shared/%s is missing: %s is shared (array %q) in this net, and the state does not say it was", name, name, array)
	}
	if m != int64(size) {
		return fmt.Errorf("counter shared/%s = %d: %s read an array of %d entries when the state was saved, here array %q has %d", name, m, name, m, array, size)
	}
	for _, kind := range []string{"mask", "scores"} {
		if _, ok := s.Tensors[kind+"/"+name]; ok {
			return fmt.Errorf("tensor %s/%s: %s is shared; a shared parameter has no %s", kind, name, name, kind)
		}
	}
	for _, slot := range slots {
		if _, ok := s.Tensors["opt/"+slot+"/"+name]; ok {
			return fmt.Errorf("tensor opt/%s/%s: %s is shared; its optimizer state is opt/%s/shared/%s", slot, name, name, slot, array)
		}
	}
	return nil
}

// firstUnused returns the first name of m (in sorted order) that is not in
// used, or "".
func firstUnused[V any](m map[string]V, used map[string]bool) string {
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
