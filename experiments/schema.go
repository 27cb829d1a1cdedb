package experiments

import (
	"reflect"
	"slices"
	"sort"
	"strings"
)

// A spec key is a leaf field of a section struct. The sections of a spec are
// struct fields tagged with the section's name (`mapstructure:"training"`);
// a key is the dotted path of mapstructure names down to a field that is not
// a struct ("training.lr"). An embedded struct tagged `mapstructure:",squash"`
// adds its fields to the enclosing section, so that pipelines can compose a
// section from shared parts (the prune amount, the control branches) and a
// key declared once reads the same everywhere. Fields tagged "-" and
// unexported fields are not keys. The `help` tag is the key's meaning, as
// `prunebench config --defaults` prints it.
type specField struct {
	key   string
	index []int // the field's index path from the root struct
	typ   reflect.Type
	help  string
}

// fieldsOf lists the keys of struct type t, sorted by key.
func fieldsOf(t reflect.Type) []specField {
	var out []specField
	walkFields(t, "", nil, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func walkFields(t reflect.Type, prefix string, index []int, out *[]specField) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		idx := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct {
			sub := prefix + name + "."
			if strings.Contains(opts, "squash") {
				sub = prefix
			}
			walkFields(f.Type, sub, idx, out)
			continue
		}
		if name == "" {
			panic("experiments: spec field " + t.String() + "." + f.Name + " has no mapstructure name")
		}
		*out = append(*out, specField{key: prefix + name, index: idx, typ: f.Type, help: f.Tag.Get("help")})
	}
}

// value is the field in v, a value of the struct type the field was listed
// from.
func (f specField) value(v reflect.Value) reflect.Value { return v.FieldByIndex(f.index) }

// sameValue reports whether two values of a key are the same setting: equal,
// or both empty lists (so `widths: []` and an omitted key name one run).
func sameValue(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func isEmpty(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Slice && r.Len() == 0
}

// keysUnder lists the keys of a section ("prune" → prune.density, ...).
func keysUnder(keys []string, section string) []string {
	var sub []string
	for _, k := range keys {
		if strings.HasPrefix(k, section+".") {
			sub = append(sub, k)
		}
	}
	return sub
}

func splitKey(k string) (section, last string) {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}
