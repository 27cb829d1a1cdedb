package zoo

// Inline architectures: a spec lists its layers under model.layers instead
// of naming a zoo model. This file holds the layer list's Go form and its
// parsing from the YAML value; layers_build.go turns a list into an
// nn.Arch on a data set's shape.
//
// A LayerSpec is normalized when parsed: a key at its default (conv2d
// stride 1, pad 0, bias true; maxpool stride = kernel) and the optional
// `in` check are dropped, so that two lists that build the same network are
// the same value, and so the same run name. Only sizes are stored; input
// sizes come from the data set and the previous layer.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LayerSpec is one layer of an inline architecture. The JSON form (keys
// sorted by encoding/json, defaults omitted) is its part of the run's
// canonical form; do not rename the tags, which would rename runs.
type LayerSpec struct {
	// Type is one of LayerTypes.
	Type string `json:"type"`
	// Out is the output channels (conv2d) or features (linear).
	Out int `json:"out,omitempty"`
	// Kernel is the square kernel of conv2d and maxpool.
	Kernel int `json:"kernel,omitempty"`
	// Stride is conv2d's or maxpool's stride; 0 means the default (1 for
	// conv2d, the kernel for maxpool).
	Stride int `json:"stride,omitempty"`
	// Pad is conv2d's zero padding on each side.
	Pad int `json:"pad,omitempty"`
	// NoBias is `bias: false` on conv2d or linear (the default has a bias).
	NoBias bool `json:"no_bias,omitempty"`
	// In is the optional `in` of conv2d and linear: the input channels or
	// features the user expects, checked by BuildLayers against what the
	// previous layer gives. It is not part of the run's identity (the
	// network is the same with or without it).
	In int `json:"-"`
	// P is dropout's drop probability.
	P float64 `json:"p,omitempty"`
	// Body and Shortcut are a residual block's two branches; an empty
	// Shortcut is the identity.
	Body     []LayerSpec `json:"body,omitempty"`
	Shortcut []LayerSpec `json:"shortcut,omitempty"`
}

// layerKeys are the keys each layer type accepts besides "type".
var layerKeys = map[string][]string{
	"conv2d":    {"out", "kernel", "stride", "pad", "bias", "in"},
	"linear":    {"out", "bias", "in"},
	"batchnorm": {},
	"relu":      {},
	"maxpool":   {"kernel", "stride"},
	"avgpool":   {},
	"flatten":   {},
	"dropout":   {"p"},
	"residual":  {"body", "shortcut"},
}

// LayerTypes lists the accepted layer types, sorted.
var LayerTypes = slices.Sorted(maps.Keys(layerKeys))

// ParseLayers reads a list of layer mappings as YAML gives it ([]any of
// map[string]any). path is the list's name in errors ("model.layers"); an
// error names the layer as path[i] (path[i].body[j] inside a block).
// Sizes are checked for range here; whether they fit the input is checked
// by BuildLayers.
func ParseLayers(path string, raw any) ([]LayerSpec, error) {
	items, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list of layer mappings such as {type: linear, out: 10}", path)
	}
	out := make([]LayerSpec, len(items))
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a mapping with a type (%s), such as {type: relu}", p, strings.Join(LayerTypes, ", "))
		}
		l, err := parseLayer(p, m)
		if err != nil {
			return nil, err
		}
		out[i] = l
	}
	return out, nil
}

func parseLayer(p string, m map[string]any) (LayerSpec, error) {
	t, _ := m["type"].(string)
	keys, ok := layerKeys[t]
	if !ok {
		if _, has := m["type"]; !has {
			return LayerSpec{}, fmt.Errorf("%s: no type; want one of %s", p, strings.Join(LayerTypes, ", "))
		}
		return LayerSpec{}, fmt.Errorf("%s: unknown type %v; want one of %s", p, m["type"], strings.Join(LayerTypes, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "type" && !slices.Contains(keys, k) {
			accepted := "none besides type"
			if len(keys) > 0 {
				accepted = strings.Join(keys, ", ")
			}
			return LayerSpec{}, fmt.Errorf("%s: unknown key %q for %s; its keys are %s", p, k, t, accepted)
		}
	}
	r := layerReader{path: p, m: m}
	l := LayerSpec{Type: t}
	switch t {
	case "conv2d":
		l.Out = r.int("out", 0, 1)
		l.Kernel = r.int("kernel", 0, 1)
		l.Stride = r.int("stride", 1, 1)
		l.Pad = r.int("pad", 0, 0)
		l.NoBias = !r.bool("bias", true)
		l.In = r.optional("in") // checked against the input by BuildLayers
		if l.Stride == 1 {
			l.Stride = 0
		}
	case "linear":
		l.Out = r.int("out", 0, 1)
		l.NoBias = !r.bool("bias", true)
		l.In = r.optional("in")
	case "maxpool":
		l.Kernel = r.int("kernel", 0, 1)
		l.Stride = r.int("stride", l.Kernel, 1)
		if l.Stride == l.Kernel {
			l.Stride = 0
		}
	case "dropout":
		l.P = r.prob("p")
	case "residual":
		if _, ok := m["body"]; !ok {
			r.err = fmt.Errorf("%s: a residual block needs a body (a list of layers)", p)
			break
		}
		var err error
		if l.Body, err = ParseLayers(p+".body", m["body"]); err != nil {
			return LayerSpec{}, err
		}
		if len(l.Body) == 0 {
			return LayerSpec{}, fmt.Errorf("%s.body: empty; a residual block needs at least one layer", p)
		}
		if sc, ok := m["shortcut"]; ok && sc != nil {
			if l.Shortcut, err = ParseLayers(p+".shortcut", sc); err != nil {
				return LayerSpec{}, err
			}
		}
	}
	return l, r.err
}

// layerReader reads typed values of one layer mapping, keeping the first
// error.
type layerReader struct {
	path string
	m    map[string]any
	err  error
}

// int reads a whole number ≥ lo; a missing key is def, or an error when
// def is 0 (the key is required).
func (r *layerReader) int(key string, def, lo int) int {
	raw, ok := r.m[key]
	if r.err != nil {
		return 0
	}
	if !ok {
		if def == 0 && lo > 0 {
			r.err = fmt.Errorf("%s: %s needs %s", r.path, r.m["type"], key)
		}
		return def
	}
	var n int
	switch x := raw.(type) {
	case int:
		n = x
	case int64:
		n = int(x)
	case uint64:
		n = int(min(x, math.MaxInt32))
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			r.err = fmt.Errorf("%s: %s = %v: want a whole number", r.path, key, x)
			return 0
		}
		n = int(x)
	default:
		r.err = fmt.Errorf("%s: %s = %v: want a whole number", r.path, key, raw)
		return 0
	}
	if n < lo {
		r.err = fmt.Errorf("%s: %s = %d: want ≥ %d", r.path, key, n, lo)
	}
	return n
}

// optional reads a whole number ≥ 1 that may be missing (0).
func (r *layerReader) optional(key string) int {
	if _, ok := r.m[key]; !ok {
		return 0
	}
	return r.int(key, 0, 1)
}

func (r *layerReader) bool(key string, def bool) bool {
	raw, ok := r.m[key]
	if !ok || r.err != nil {
		return def
	}
	b, isBool := raw.(bool)
	if !isBool {
		r.err = fmt.Errorf("%s: %s = %v: want true or false", r.path, key, raw)
	}
	return b
}

// prob reads a required probability in [0, 1).
func (r *layerReader) prob(key string) float64 {
	raw, ok := r.m[key]
	if r.err != nil {
		return 0
	}
	var p float64
	switch x := raw.(type) {
	case float64:
		p = x
	case int:
		p = float64(x)
	default:
		if !ok {
			r.err = fmt.Errorf("%s: %s needs %s", r.path, r.m["type"], key)
		} else {
			r.err = fmt.Errorf("%s: %s = %v: want a number", r.path, key, raw)
		}
		return 0
	}
	if !(p >= 0 && p < 1) {
		r.err = fmt.Errorf("%s: %s = %v: want 0 ≤ p < 1", r.path, key, raw)
	}
	return p
}

// fields are the layer's keys at non-default values, in a fixed order, as
// a spec writes them.
func (l LayerSpec) fields() [][2]string {
	f := [][2]string{{"type", l.Type}}
	add := func(k string, v int) {
		if v != 0 {
			f = append(f, [2]string{k, strconv.Itoa(v)})
		}
	}
	add("out", l.Out)
	add("kernel", l.Kernel)
	add("stride", l.Stride)
	add("pad", l.Pad)
	if l.NoBias {
		f = append(f, [2]string{"bias", "false"})
	}
	if l.Type == "dropout" {
		f = append(f, [2]string{"p", strconv.FormatFloat(l.P, 'g', -1, 64)})
	}
	return f
}

// String writes the layer without spaces, as run settings show it:
// conv2d(out=20,kernel=5), residual(body=[...],shortcut=[...]).
func (l LayerSpec) String() string {
	var parts []string
	for _, kv := range l.fields()[1:] {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	list := func(ls []LayerSpec) string {
		s := make([]string, len(ls))
		for i, x := range ls {
			s[i] = x.String()
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	if l.Type == "residual" {
		parts = append(parts, "body="+list(l.Body))
		if len(l.Shortcut) > 0 {
			parts = append(parts, "shortcut="+list(l.Shortcut))
		}
	}
	if len(parts) == 0 {
		return l.Type
	}
	return l.Type + "(" + strings.Join(parts, ",") + ")"
}

// MarshalYAML writes the layer as the mapping ParseLayers reads back to the
// same value (a spec written out by the runner reads back to the same run).
func (l LayerSpec) MarshalYAML() (any, error) {
	m := map[string]any{"type": l.Type}
	for _, kv := range l.fields()[1:] {
		switch kv[0] {
		case "bias":
			m["bias"] = false
		case "p":
			m["p"] = l.P
		default:
			n, _ := strconv.Atoi(kv[1])
			m[kv[0]] = n
		}
	}
	if l.In > 0 {
		m["in"] = l.In
	}
	if l.Type == "residual" {
		m["body"] = l.Body
		if len(l.Shortcut) > 0 {
			m["shortcut"] = l.Shortcut
		}
	}
	return m, nil
}
