package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Canonical returns the spec's canonical form: the dotted keys that the
// spec's pipeline reads (the common sections and its own) whose values
// differ from their defaults, with their values. Output and sparse, which
// say where runs go and how the engine computes, not what, are left out,
// and so are keys the pipeline does not read. Because defaults are omitted, a new option whose
// default has no effect leaves every old canonical form (and so every run
// name) unchanged, as in OpenLTH.
func Canonical(s Spec) map[string]any {
	out := canonical(s, Defaults())
	delete(out, "output")
	delete(out, "sparse") // how, not what: the same computation either way
	if def, ok := pipelines.Lookup(s.Pipeline); ok {
		cfg := s.Config
		if cfg == nil || reflect.TypeOf(cfg) != reflect.TypeOf(def) {
			cfg = def // Validate refuses a Config of another pipeline
		}
		for k, v := range canonical(cfg, def) {
			out[k] = v
		}
	}
	return out
}

// canonical is the keys of a section struct value s whose values differ
// from those in defaults, a value of the same type.
func canonical(s, defaults any) map[string]any {
	def := reflect.ValueOf(defaults)
	cur := reflect.ValueOf(s)
	out := map[string]any{}
	for _, f := range fieldsOf(cur.Type()) {
		if a := f.value(cur).Interface(); !sameValue(a, f.value(def).Interface()) {
			out[f.key] = a
		}
	}
	return out
}

// Experiment names a spec's experiment: the run without its seed and
// replicate count, whose results at one level and branch are replicates of
// one another. settings is the canonical form less those two keys as JSON
// (keys sorted) and name its hash, as Hash names a run.
func Experiment(s Spec) (name, settings string) {
	c := Canonical(s)
	delete(c, "seed")
	delete(c, "replicates")
	safe := make(map[string]any, len(c))
	for k, v := range c {
		safe[k] = jsonSafe(v)
	}
	b, err := json.Marshal(safe)
	if err != nil {
		panic("experiments: canonical spec does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12], string(b)
}

// Hash is the run name of a spec: the first 12 hex digits of the SHA-256 of
// its canonical form as JSON (keys sorted).
func Hash(s Spec) string { return hashCanonical(Canonical(s)) }

func hashCanonical(c map[string]any) string {
	safe := make(map[string]any, len(c))
	for k, v := range c {
		safe[k] = jsonSafe(v)
	}
	b, err := json.Marshal(safe)
	if err != nil {
		panic("experiments: canonical spec does not marshal: " + err.Error()) // every key type is handled
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// jsonSafe replaces the floats JSON cannot hold (NaN, ±Inf) by their names.
// A parsed spec never holds them (the parser refuses them), but a spec built
// in code may, and naming it must not panic. Finite values are unchanged,
// so no existing run name changes.
func jsonSafe(v any) any {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Float64:
		if f := r.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	case reflect.Pointer:
		if !r.IsNil() {
			return jsonSafe(r.Elem().Interface())
		}
	case reflect.Slice:
		out := make([]any, r.Len())
		for i := range out {
			out[i] = jsonSafe(r.Index(i).Interface())
		}
		return out
	}
	return v
}

// Settings is the canonical form as text: "key=value" pairs sorted by key,
// values as a spec writes them (a list as [a,b]). It is how messages and
// tables name a run by what it sets.
func Settings(s Spec) string {
	m := SettingValues(s)
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

// SettingValues is the canonical form with each value as text, as
// Settings writes it: what a table of several specs compares to show only
// the keys that set them apart.
func SettingValues(s Spec) map[string]string {
	c := Canonical(s)
	m := make(map[string]string, len(c))
	for k, v := range c {
		m[k] = settingText(reflect.ValueOf(v))
	}
	return m
}

// SweptSettings is each spec's settings as "key=value" pairs, sorted by
// key, limited to the keys whose values differ between the specs: what a sweep
// varied. The keys every spec shares say nothing in a table of them. A spec
// that leaves a key at its default shows the default, and "-" where
// its pipeline does not read the key. A single spec shows all its settings.
func SweptSettings(specs []Spec) []string {
	values := make([]map[string]string, len(specs))
	keys := map[string]bool{}
	for i, s := range specs {
		values[i] = SettingValues(s)
		for k := range values[i] {
			keys[k] = true
		}
	}
	var swept []string
	for k := range keys {
		for _, v := range values {
			if a, ok := v[k]; !ok || a != values[0][k] {
				swept = append(swept, k)
				break
			}
		}
	}
	if len(specs) == 1 {
		swept = slices.Collect(maps.Keys(keys))
	}
	slices.Sort(swept)
	info := map[string]KeyInfo{}
	for _, k := range Keys() {
		info[k.Key] = k
	}
	out := make([]string, len(specs))
	for i, v := range values {
		parts := make([]string, 0, len(swept))
		for _, k := range swept {
			a, ok := v[k]
			switch {
			case ok:
			case info[k].Pipelines == nil || slices.Contains(info[k].Pipelines, specs[i].Pipeline):
				a = info[k].Default
			default:
				a = "-" // its pipeline does not read the key
			}
			parts = append(parts, k+"="+a)
		}
		out[i] = strings.Join(parts, " ")
	}
	return out
}

// settingText writes a setting's value without Go's syntax for pointers
// and slices.
func settingText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Invalid:
		return "null"
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return settingText(v.Elem())
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = settingText(v.Index(i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}
