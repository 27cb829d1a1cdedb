package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
)

// Canonical returns the spec's canonical form: the dotted keys that the
// spec's pipeline reads (the common sections and its own) whose values
// differ from their defaults, with their values. Output, which says where
// runs go and not what they compute, is left out, and so are keys the
// pipeline does not read. Because defaults are omitted, a new option whose
// default has no effect leaves every old canonical form (and so every run
// name) unchanged, as in OpenLTH.
func Canonical(s Spec) map[string]any {
	out := canonical(s, Defaults())
	delete(out, "output")
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

// Hash is the run name of a spec: the first 12 hex digits of the SHA-256 of
// its canonical form as JSON (keys sorted).
func Hash(s Spec) string { return hashCanonical(Canonical(s)) }

func hashCanonical(c map[string]any) string {
	b, err := json.Marshal(c)
	if err != nil {
		panic("experiments: canonical spec does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}
