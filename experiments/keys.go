package experiments

import (
	"io"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/prune"
	"github.com/prunebench/prunebench/share"
)

// KeyInfo describes one spec key for `prunebench config --defaults`.
type KeyInfo struct {
	Key, Default, Help string
	// Pipelines lists the pipelines that read the key; nil for a common
	// key, which every pipeline reads.
	Pipelines []string
}

// Keys lists every spec key of every registered pipeline, in sorted order,
// with its default and meaning.
func Keys() []KeyInfo {
	tab := specKeyTable()
	out := make([]KeyInfo, 0, len(tab.keys))
	for _, k := range tab.keys {
		info := tab.info[k]
		d := ""
		if f := reflect.ValueOf(info.def); !(f.Kind() == reflect.Pointer && f.IsNil()) && !(f.Kind() == reflect.Slice && f.Len() == 0) {
			d = settingText(f)
		}
		out = append(out, KeyInfo{Key: k, Default: d, Help: expandHelp(info.help), Pipelines: info.readers})
	}
	return out
}

// KeyDefaults maps every spec key to its default as Settings writes values
// ("" where the default is unset): what boards and tables show for a key a
// run leaves at its default.
func KeyDefaults() map[string]string {
	keys := Keys()
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k.Key] = k.Default
	}
	return m
}

var (
	nameListsMu sync.Mutex
	// nameLists are the registries whose names help texts list: a help
	// tag says "{models}" and Keys prints the registered models, so that
	// no list of names in a help text is written by hand.
	nameLists = map[string]func() []string{
		"pipelines":  PipelineNames,
		"backends":   nn.BackendNames,
		"datasets":   datasets.Names,
		"models":     zoo.Names,
		"layertypes": func() []string { return zoo.LayerTypes },
		"criteria":   prune.CriterionNames,
		"mappers":    share.MapperNames,
		"inits":      func() []string { return nn.InitNames },
		"schedules":  func() []string { return train.ScheduleNames },
	}
	placeholder = regexp.MustCompile(`\{[a-z_]+\}`)
)

// RegisterNameList makes "{name}" in help tags expand to names(), for a
// registry that lives in a package above this one (the control branches of
// experiments/pipelines).
func RegisterNameList(name string, names func() []string) {
	nameListsMu.Lock()
	defer nameListsMu.Unlock()
	if _, ok := nameLists[name]; ok {
		panic("experiments: name list " + name + " registered twice")
	}
	nameLists[name] = names
}

// expandHelp replaces each "{list}" of a help text by the registered names
// of that list ("a, b or c").
func expandHelp(help string) string {
	nameListsMu.Lock()
	defer nameListsMu.Unlock()
	return placeholder.ReplaceAllStringFunc(help, func(p string) string {
		if names, ok := nameLists[strings.Trim(p, "{}")]; ok {
			return orList(names())
		}
		return p
	})
}

// setting is one key of a spec with its value.
type setting struct {
	key   string
	value reflect.Value
}

// settings lists every key that the spec's pipeline reads, with its value,
// sorted by key: the common keys and those of Config.
func (s Spec) settings() []setting {
	var out []setting
	v := reflect.ValueOf(s)
	for _, f := range fieldsOf(v.Type()) {
		out = append(out, setting{f.key, f.value(v)})
	}
	if cfg, err := s.pipeline(); err == nil {
		c := reflect.ValueOf(cfg)
		for _, f := range fieldsOf(c.Type()) {
			out = append(out, setting{f.key, f.value(c)})
		}
	}
	return out
}

// lookup is the value of a key that the spec's pipeline reads.
func (s Spec) lookup(key string) (reflect.Value, bool) {
	for _, st := range s.settings() {
		if st.key == key {
			return st.value, true
		}
	}
	return reflect.Value{}, false
}

// WriteSpecYAML writes every key that the spec's pipeline reads (defaults
// included) as YAML, nested by section, in the form ParseSpec reads back to
// the same spec and hash.
func WriteSpecYAML(w io.Writer, s Spec) error {
	root := map[string]any{}
	for _, st := range s.settings() {
		f := st.value
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		m := root
		parts := strings.Split(st.key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = f.Interface()
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	return enc.Encode(root)
}
