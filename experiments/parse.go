package experiments

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/viper"

	"github.com/prunebench/prunebench/internal/registry"
)

// ParseSpec is LoadSpec on bytes; name is used in error messages.
//
// The file and the overrides may set any key of any registered pipeline.
// The keys of the spec's pipeline fill its Config; a key that pipeline does
// not read is kept aside when its value is not the default, and Validate
// refuses it, naming the key and the pipelines that do read it. (A sweep
// first drops such keys from the points that do not read them, when they
// are set at every point; see ParseSweep.)
func ParseSpec(name string, yaml []byte, overrides []string) (Spec, error) {
	s, _, err := parseSpec(name, yaml, overrides)
	return s, err
}

// parseSpec parses a spec and also returns the keys it sets explicitly (in
// the file or by an override).
func parseSpec(name string, yaml []byte, overrides []string) (Spec, map[string]bool, error) {
	tab := specKeyTable()
	file := viper.New()
	file.SetConfigType("yaml")
	if err := file.ReadConfig(bytes.NewReader(yaml)); err != nil {
		return Spec{}, nil, fmt.Errorf("spec %s: not valid YAML: %w", name, err)
	}
	explicit := map[string]bool{}
	for _, k := range file.AllKeys() {
		if _, ok := tab.info[k]; ok {
			explicit[k] = true
			continue
		}
		if k == "sweep_mode" || strings.HasPrefix(k, "sweep.") {
			return Spec{}, nil, fmt.Errorf("spec %s has a sweep block: run it with `prunebench sweep %s`", name, name)
		}
		if sub := keysUnder(tab.keys, k); len(sub) > 0 {
			return Spec{}, nil, fmt.Errorf("spec %s: %s must be a mapping with keys %s", name, k, strings.Join(sub, ", "))
		}
		return Spec{}, nil, unknownKey("spec "+name, k, tab.keys)
	}

	v := viper.New()
	for _, k := range tab.keys {
		if d := reflect.ValueOf(tab.info[k].def); d.Kind() != reflect.Pointer || !d.IsNil() {
			v.SetDefault(k, tab.info[k].def)
		}
	}
	if err := v.MergeConfigMap(file.AllSettings()); err != nil {
		return Spec{}, nil, fmt.Errorf("spec %s: %w", name, err)
	}
	for _, o := range overrides {
		k, val, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return Spec{}, nil, fmt.Errorf("--set %q: want key=value, e.g. training.lr=0.01", o)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, known := tab.info[k]; !known {
			return Spec{}, nil, unknownKey("--set", k, tab.keys)
		}
		v.Set(k, val)
		explicit[k] = true
	}

	var s Spec
	if err := decodeFields(name, v, reflect.ValueOf(&s).Elem()); err != nil {
		return Spec{}, nil, err
	}
	// An inline model has no zoo name; the default name is dropped, one
	// the spec sets is refused (a spec written out by the runner sets
	// name: "" next to its layers).
	if s.Model.Inline() {
		if explicit["model.name"] && s.Model.Name != "" {
			return Spec{}, nil, fmt.Errorf("spec %s: model.name = %q and model.layers are both set: name a zoo model or list its layers, not both", name, s.Model.Name)
		}
		s.Model.Name = ""
	}
	// The pipeline's sections, over its defaults. An unknown pipeline
	// leaves Config nil: Validate names the accepted ones.
	if p, ok := pipelines.Lookup(s.Pipeline); ok {
		cfg := reflect.New(reflect.TypeOf(p)).Elem()
		cfg.Set(reflect.ValueOf(p))
		if err := decodeFields(name, v, cfg); err != nil {
			return Spec{}, nil, err
		}
		s.Config = cfg.Interface().(Pipeline)
	}
	for _, k := range tab.keys {
		info := tab.info[k]
		if !explicit[k] || info.reads(s.Pipeline) {
			continue
		}
		if val, err := decodeValue(k, v.Get(k), info.typ); err != nil || !sameValue(val.Interface(), info.def) {
			s.unread = append(s.unread, k)
		}
	}
	return s, explicit, nil
}

// unknownKey explains an unknown key, suggesting from every key of every
// pipeline: the keys of that name in other sections, else the closest known
// key when there is a plausible one (a small edit distance, or a shared
// start of the last segment, as "lr_rate" for "lr"), else the keys of its
// section.
func unknownKey(where, key string, keys []string) error {
	best, bestD := "", len(key)/4+2
	section, last := splitKey(key)
	// A key written in the wrong section ("imp_rate" at the top for
	// prune.imp_rate, "prune.lr" for training.lr) is found by its name.
	var moved []string
	for _, k := range keys {
		if ks, kl := splitKey(k); kl == last && ks != section {
			moved = append(moved, strconv.Quote(k))
		}
	}
	if len(moved) > 0 {
		return fmt.Errorf("%s: unknown key %q (did you mean %s?)", where, key, strings.Join(moved, " or "))
	}
	for _, k := range keys {
		d := registry.EditDistance(key, k)
		if ks, kl := splitKey(k); ks == section && len(kl) >= 2 && (strings.HasPrefix(last, kl) || strings.HasPrefix(kl, last)) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Errorf("%s: unknown key %q (did you mean %q?)", where, key, best)
	}
	if sub := keysUnder(keys, section); section != "" && len(sub) > 0 {
		return fmt.Errorf("%s: unknown key %q; the keys of %s are %s", where, key, section, strings.Join(sub, ", "))
	}
	var top []string
	for _, k := range keys {
		s, _, _ := strings.Cut(k, ".")
		if len(top) == 0 || top[len(top)-1] != s {
			top = append(top, s)
		}
	}
	return fmt.Errorf("%s: unknown key %q; the top-level keys and sections are %s", where, key, strings.Join(slices.Compact(top), ", "))
}

// decodeFields sets every key field of the struct dst (addressable) from
// v, which holds every key with its default.
func decodeFields(name string, v *viper.Viper, dst reflect.Value) error {
	for _, f := range fieldsOf(dst.Type()) {
		val, err := decodeValue(f.key, v.Get(f.key), f.typ)
		if err != nil {
			return fmt.Errorf("spec %s: %w", name, err)
		}
		f.value(dst).Set(val)
	}
	return nil
}
