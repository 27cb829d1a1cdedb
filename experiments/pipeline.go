package experiments

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/registry"
)

// Pipeline turns a spec into levels and branches (OpenLTH's runner
// registry): pipelines register by name, and the spec's `pipeline` key picks
// one.
//
// A pipeline owns its configuration. Its value is a struct whose exported
// fields are the spec sections it reads besides the common ones (dataset,
// model, training, seed, replicates, backend, device, output), each tagged
// with its section name (`mapstructure:"bip"`); an embedded struct tagged
// `mapstructure:",squash"` adds its fields to the enclosing section, which
// is how several pipelines share keys such as the prune amount. The value
// given to RegisterPipeline holds the defaults; a spec's Config holds a copy
// with the spec's values, so the methods read their hyperparameters from
// their receiver. The keys a pipeline reads are derived from its type: a
// spec that sets a key of another pipeline to a value other than its
// default is refused by Validate, and the run name covers exactly the keys
// the pipeline reads.
type Pipeline interface {
	// Validate checks the pipeline's own fields and what it needs of the
	// common sections, before anything is trained. s.Config is the
	// receiver.
	Validate(s Spec) error
	// Run runs one replicate. It calls r.Unit for every level and branch
	// in order; Unit skips what finished before and records results.
	// r.Spec.Config is the receiver.
	Run(ctx context.Context, r *Replicate) error
}

// Prechecker is implemented by a pipeline that checks, before anything of
// a run exists (folders, spec.yaml, store rows), what Validate cannot see
// without the data and the model: a rewind step past the budget in
// iterations, a tensor that a layer-wise density leaves empty, a model
// without the blocks asked for. RunSpec calls it on replicate 0.
type Prechecker interface {
	Precheck(r *Replicate) error
}

var (
	pipelines = registry.New[Pipeline]("pipeline")

	tableMu sync.Mutex
	table   *keyTable // nil until built, and after every registration
)

// RegisterPipeline makes a pipeline available by name, with p's fields as
// its sections and their values as the defaults. It panics (a programmer
// error) when the name is taken, when p is not a struct, or when p declares
// a key that is a common key or that another pipeline declares with another
// type or default: a key means one thing in every pipeline.
func RegisterPipeline(name string, p Pipeline) {
	if t := reflect.TypeOf(p); t == nil || t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("experiments: pipeline %s is a %T; register a struct value (its fields are its sections)", name, p))
	}
	pipelines.Register(name, p)
	tableMu.Lock()
	defer tableMu.Unlock()
	table = nil
	if _, err := buildKeyTable(); err != nil {
		panic("experiments: pipeline " + name + ": " + err.Error())
	}
}

// PipelineNames lists the registered pipelines, sorted.
func PipelineNames() []string { return pipelines.Names() }

// PipelineDefaults returns the registered value of a pipeline: its
// configuration at its defaults.
func PipelineDefaults(name string) (Pipeline, error) {
	p, err := pipelines.Get(name)
	if err != nil {
		return nil, fmt.Errorf("pipeline = %q: %w", name, err)
	}
	return p, nil
}

// DefaultsFor is Defaults with the named pipeline at its defaults.
func DefaultsFor(pipeline string) (Spec, error) {
	p, err := PipelineDefaults(pipeline)
	if err != nil {
		return Spec{}, err
	}
	s := Defaults()
	s.Pipeline, s.Config = pipeline, p
	return s, nil
}

// keyInfo is one spec key: its field, default, and the pipelines that read
// it (every pipeline reads the common keys).
type keyInfo struct {
	specField
	def     any
	common  bool
	readers []string // sorted; empty for common keys
}

// reads reports whether the named pipeline reads the key.
func (k *keyInfo) reads(pipeline string) bool {
	return k.common || slices.Contains(k.readers, pipeline)
}

// keyTable is every key of every registered pipeline and of the common
// sections: what a spec file may say.
type keyTable struct {
	keys []string // sorted
	info map[string]*keyInfo
}

// specKeyTable returns the key table of the registered pipelines.
func specKeyTable() *keyTable {
	tableMu.Lock()
	defer tableMu.Unlock()
	t, err := buildKeyTable()
	if err != nil {
		panic("experiments: " + err.Error()) // RegisterPipeline checked it
	}
	return t
}

// buildKeyTable builds table when it is nil; tableMu is held.
func buildKeyTable() (*keyTable, error) {
	if table != nil {
		return table, nil
	}
	def := reflect.ValueOf(Defaults())
	t := &keyTable{info: map[string]*keyInfo{}}
	for _, f := range fieldsOf(def.Type()) {
		t.info[f.key] = &keyInfo{specField: f, def: f.value(def).Interface(), common: true}
	}
	for _, name := range pipelines.Names() {
		p, _ := pipelines.Lookup(name)
		pv := reflect.ValueOf(p)
		for _, f := range fieldsOf(pv.Type()) {
			d := f.value(pv).Interface()
			k, ok := t.info[f.key]
			switch {
			case !ok:
				t.info[f.key] = &keyInfo{specField: f, def: d, readers: []string{name}}
			case k.common:
				return nil, fmt.Errorf("%s is a common key (every pipeline reads it); a pipeline cannot declare it", f.key)
			case k.typ != f.typ || !sameValue(k.def, d):
				return nil, fmt.Errorf("key %s: pipeline %s declares it as %v with default %v, pipeline %s as %v with default %v; a key means one thing in every pipeline",
					f.key, k.readers[0], k.typ, k.def, name, f.typ, d)
			default:
				k.readers = append(k.readers, name)
			}
		}
	}
	for k := range t.info {
		t.keys = append(t.keys, k)
	}
	slices.Sort(t.keys)
	table = t
	return t, nil
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// trainPipeline is dense training (pipeline "train", the default): one
// level, level 0, no pruning, and no keys besides the common ones. It lives
// here, with the defaults, because it is the default pipeline.
type trainPipeline struct{}

func init() { RegisterPipeline("train", trainPipeline{}) }

func (trainPipeline) Validate(Spec) error { return nil }

func (trainPipeline) Run(ctx context.Context, r *Replicate) error {
	_, err := r.Unit(ctx, 0, "", func(ctx context.Context, dir string, cbs []Callback) (results.Result, error) {
		p, h, err := r.Train(ctx, r.Spec, dir, cbs...)
		if err != nil {
			return results.Result{}, err
		}
		return Measure(p, h, "dense", 1), nil
	})
	return err
}
