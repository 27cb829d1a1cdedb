package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
)

// Canonical returns the spec's canonical form: the dotted keys whose values
// differ from Defaults, with their values. Output, which says where runs go
// and not what they compute, is left out. Because defaults are omitted, a new
// option whose default has no effect leaves every old canonical form (and so
// every run name) unchanged, as in OpenLTH.
func Canonical(s Spec) map[string]any { return canonical(s, Defaults()) }

// canonical is Canonical for any spec-shaped struct type and its defaults.
func canonical(s, defaults any) map[string]any {
	def := reflect.ValueOf(defaults)
	cur := reflect.ValueOf(s)
	out := map[string]any{}
	for _, k := range specKeys(cur.Type(), "") {
		if k == "output" {
			continue
		}
		a, b := fieldByKey(cur, k).Interface(), fieldByKey(def, k).Interface()
		if isEmpty(a) && isEmpty(b) {
			continue
		}
		if !reflect.DeepEqual(a, b) {
			out[k] = a
		}
	}
	return out
}

// isEmpty treats nil and empty slices alike, so `widths: []` and an omitted
// key name the same run.
func isEmpty(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Slice && r.Len() == 0
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
