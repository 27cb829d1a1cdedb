package export

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// LoadFile reads a file written by Write (either format) and loads it into
// net (Load). A file that is not safetensors is a *FormatError naming it.
func LoadFile(path string, net nn.Net) (*File, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return f, Load(net, f)
}

// Load loads f into net, a net built for the same architecture (on any
// engine): θ of every parameter, its mask and mask pattern, the buffers,
// and the shared parametrizations with their arrays. Every name, dtype and
// shape is checked against the net's architecture before the net is
// changed: a parameter or buffer the file lacks, a tensor the net has no
// place for, a dtype or shape that differs, a mask entry other than 0 and
// 1, and bitmask tensors that disagree are errors naming the tensor and the
// file. The net's optimizer, if one is installed, keeps its state.
//
// A masked weight is loaded with its mask (metadata "mask_patterns" gives
// the pattern; ZeroAfterStep when absent) and θ as stored: 0 at pruned
// entries. A weight without a mask is loaded dense, also when the net had
// a mask or scores on it; a shared one gets the file's parametrization.
func Load(net nn.Net, f *File) error {
	if err := load(net, f); err != nil {
		return fmt.Errorf("export: load %s into model %s: %w", f.name(), net.Arch().Name, err)
	}
	return nil
}

// loaded is a parameter as the file gives it.
type loaded struct {
	value   []float32 // nil when shared
	mask    []float32
	pattern nn.MaskPattern
}

func load(net nn.Net, f *File) error {
	arch := net.Arch()
	switch v, ok := f.Metadata[KeyFormat]; {
	case !ok, v == FormatDense, v == FormatBitmask:
	default:
		return fmt.Errorf("metadata %q is %q, want %q or %q", KeyFormat, v, FormatDense, FormatBitmask)
	}
	if m, ok := f.Metadata[KeyModel]; ok && m != arch.Name {
		return fmt.Errorf("the file holds model %s, the net is model %s", m, arch.Name)
	}
	patterns := map[string]string{}
	if raw, ok := f.Metadata[KeyPatterns]; ok {
		if err := json.Unmarshal([]byte(raw), &patterns); err != nil {
			return fmt.Errorf("metadata %q: %v", KeyPatterns, err)
		}
	}
	used := map[string]bool{}
	shared, arrays, err := readShared(f, arch, used)
	if err != nil {
		return err
	}
	isShared := map[string]bool{}
	for _, s := range shared {
		isShared[s.name] = true
	}
	params := map[string]loaded{}
	for _, p := range arch.Params() {
		if isShared[p.Name] {
			continue
		}
		var l loaded
		dense, hasDense := f.Tensor(p.Name)
		_, hasBitmask := f.Tensor(p.Name + BitmaskSuffix)
		switch {
		case hasDense && hasBitmask:
			return fmt.Errorf("tensors %s and %s: a weight is stored dense or in the bitmask layout, not both", p.Name, p.Name+BitmaskSuffix)
		case hasDense:
			if err := dense.check(F32, p.Shape); err != nil {
				return fmt.Errorf("%w (%s of model %s)", err, p.Name, arch.Name)
			}
			l.value, _ = dense.Float32s()
			used[p.Name] = true
			if mt, ok := f.Tensor(p.Name + MaskSuffix); ok {
				if l.mask, err = readMask(mt, p.Shape); err != nil {
					return err
				}
				used[mt.Name] = true
			}
		case hasBitmask:
			if l.value, l.mask, err = readBitmask(f, p.Name, p.Shape); err != nil {
				return err
			}
			for _, s := range []string{ShapeSuffix, CompressedSuffix, BitmaskSuffix, RowOffsetsSuffix} {
				used[p.Name+s] = true
			}
		default:
			return fmt.Errorf("tensor %s is missing: model %s has a parameter %s of shape %v", p.Name, arch.Name, p.Name, p.Shape)
		}
		if l.mask != nil {
			if p.Kind != nn.Weight {
				return fmt.Errorf("%s is masked: %s is a %s, only weights can be masked", p.Name, p.Name, p.Kind)
			}
			l.pattern = nn.ZeroAfterStep
			if s, ok := patterns[p.Name]; ok {
				if l.pattern, err = parsePattern(s); err != nil {
					return fmt.Errorf("metadata %q: %s: %w", KeyPatterns, p.Name, err)
				}
			}
		}
		params[p.Name] = l
	}
	for name := range patterns {
		if l, ok := params[name]; !ok || l.mask == nil {
			return fmt.Errorf("metadata %q names %s, which the file does not mask", KeyPatterns, name)
		}
	}
	st, err := net.State()
	if err != nil {
		return err
	}
	buffers := map[string][]float32{}
	for name, v := range st.Tensors {
		b, ok := strings.CutPrefix(name, "buffer/")
		if !ok {
			continue
		}
		t, ok := f.Tensor(b)
		if !ok {
			return fmt.Errorf("tensor %s is missing: model %s has a buffer %s of %d entries", b, arch.Name, b, len(v))
		}
		if err := t.check(F32, []int{len(v)}); err != nil {
			return fmt.Errorf("%w (buffer %s of model %s)", err, b, arch.Name)
		}
		buffers[b], _ = t.Float32s()
		used[b] = true
	}
	for _, t := range f.Tensors {
		if !used[t.Name] {
			return fmt.Errorf("tensor %s: model %s has no parameter, mask, buffer or shared array it belongs to", t.Name, arch.Name)
		}
	}

	// Everything is checked: change the net. Shared parametrizations
	// first (a State does not carry maps), then the State.
	for _, p := range arch.Params() {
		if _, ok := net.Parametrization(p.Name).(nn.Shared); ok && !isShared[p.Name] {
			if err := net.SetParametrization(p.Name, nn.Dense{}); err != nil {
				return err
			}
		}
	}
	for _, s := range shared {
		if err := net.SetParametrization(s.name, s.p); err != nil {
			return fmt.Errorf("sharing %s: %w", s.name, err)
		}
	}
	if st, err = net.State(); err != nil {
		return err
	}
	out := nn.NewState()
	for name, v := range st.Tensors {
		if strings.HasPrefix(name, "opt/") {
			out.Tensors[name] = v
		}
	}
	for name, c := range st.Counters {
		if name == "step" || strings.HasPrefix(name, "shared/") {
			out.Counters[name] = c
		}
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		l := params[name]
		out.Tensors["param/"+name] = l.value
		if l.mask != nil {
			out.Tensors["mask/"+name] = l.mask
			out.Counters["mask_pattern/"+name] = int64(l.pattern)
		}
	}
	for name, v := range buffers {
		out.Tensors["buffer/"+name] = v
	}
	for name, z := range arrays {
		out.Tensors["shared/"+name] = z
	}
	return net.SetState(out)
}

// parsePattern is the mask pattern whose String is s.
func parsePattern(s string) (nn.MaskPattern, error) {
	all := []nn.MaskPattern{nn.ZeroAfterStep, nn.MaskedForward, nn.ZeroBeforeForward}
	names := make([]string, len(all))
	for i, p := range all {
		if p.String() == s {
			return p, nil
		}
		names[i] = p.String()
	}
	return 0, fmt.Errorf("mask pattern %q: want one of %s", s, strings.Join(names, ", "))
}
