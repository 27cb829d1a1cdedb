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

	"github.com/prunebench/prunebench/prune"
)

// Spec is an experiment as written in YAML. The mapstructure tags are the
// YAML keys and the --set paths (e.g. --set training.lr=0.01); the help tags
// are what `prunebench config --defaults` prints. Every field has a default
// (Defaults) that a spec may omit, and a field at its default is left out of
// the run's identity (Canonical), so a new option whose default has no
// effect never renames old runs.
type Spec struct {
	Dataset  DatasetSpec  `mapstructure:"dataset"`
	Model    ModelSpec    `mapstructure:"model"`
	Training TrainingSpec `mapstructure:"training"`
	Prune    AmountSpec   `mapstructure:"prune"`
	Granet   GraNetSpec   `mapstructure:"granet"`
	Bip      BipSpec      `mapstructure:"bip"`
	Jackpot  JackpotSpec  `mapstructure:"jackpot"`
	Layer    LayerSpec    `mapstructure:"layer"`
	RPS      RPSSpec      `mapstructure:"rps"`
	Pipeline string       `mapstructure:"pipeline" help:"what to run: train (dense); the pruning issues add theirs"`
	// Seed is the master seed of replicate 0; replicate r uses Seed + r,
	// and every random stream derives from that by namespace (nn.SeedFor).
	Seed       uint64 `mapstructure:"seed" help:"master seed of replicate 0 (replicate r uses seed + r)"`
	Replicates int    `mapstructure:"replicates" help:"number of replicates (seeds) to run"`
	Backend    string `mapstructure:"backend" help:"engine: native (pure Go) or torch (build tag torch)"`
	Device     string `mapstructure:"device" help:"where the engine computes: cpu, cuda or cuda:N (torch with a CUDA libtorch); empty: the engine's default (torch: PRUNEBENCH_TORCH_DEVICE, else cpu)"`
	Output     string `mapstructure:"output" help:"root folder of runs and of results.db"`
}

// DatasetSpec names the data and how it is split.
type DatasetSpec struct {
	Name          string  `mapstructure:"name" help:"mnist, cifar10, synthetic or modular"`
	Dir           string  `mapstructure:"dir" help:"data directory (CIFAR-10 binary batches; MNIST: the GoMNIST module when empty)"`
	ValSize       int     `mapstructure:"val_size" help:"validation examples carved from train with a seeded split; 0: the data set's default, -1: none"`
	Augment       string  `mapstructure:"augment" help:"default, on or off (CIFAR-10 default: pad-4 crop and flip)"`
	Shape         []int   `mapstructure:"shape" help:"synthetic: per-example input shape"`
	Classes       int     `mapstructure:"classes" help:"synthetic: number of classes"`
	TrainSize     int     `mapstructure:"train_size" help:"synthetic: training examples"`
	TestSize      int     `mapstructure:"test_size" help:"synthetic: test examples"`
	Modulus       int     `mapstructure:"modulus" help:"modular: p of a + b mod p"`
	TrainFraction float64 `mapstructure:"train_fraction" help:"modular: fraction of the pairs used for training"`
}

// ModelSpec names the architecture.
type ModelSpec struct {
	Name            string  `mapstructure:"name" help:"mlp, lenet-300-100, lenet5, conv2/4/6, vgg11/13/16/19, resnet20/32/44/56/110, resmlp"`
	Init            string  `mapstructure:"init" help:"kaiming_normal, kaiming_uniform, glorot_normal, glorot_uniform, torch_default; empty: the model's default"`
	Widths          []int   `mapstructure:"widths" help:"mlp: hidden widths; resmlp: stage widths"`
	WidthMultiplier float64 `mapstructure:"width_multiplier" help:"scales channels and hidden widths"`
	Shortcut        string  `mapstructure:"shortcut" help:"resnet shortcut: A (zero padding, the default) or B (1x1 conv + BN)"`
}

// TrainingSpec is the training loop's hyperparameters.
type TrainingSpec struct {
	Steps       string   `mapstructure:"steps" help:"training length: 160ep, 500it, 2ep100it"`
	BatchSize   int      `mapstructure:"batch_size" help:"minibatch size"`
	DropLast    bool     `mapstructure:"drop_last" help:"drop the last partial batch of each epoch"`
	Optimizer   string   `mapstructure:"optimizer" help:"sgd, adam or adamw"`
	LR          float64  `mapstructure:"lr" help:"base learning rate"`
	Momentum    float64  `mapstructure:"momentum" help:"sgd momentum"`
	Nesterov    bool     `mapstructure:"nesterov" help:"sgd Nesterov momentum"`
	WeightDecay float64  `mapstructure:"weight_decay" help:"L2 (sgd, adam) or decoupled (adamw) weight decay"`
	Beta1       float64  `mapstructure:"beta1" help:"adam β1"`
	Beta2       float64  `mapstructure:"beta2" help:"adam β2"`
	Eps         float64  `mapstructure:"eps" help:"adam ε"`
	Schedule    string   `mapstructure:"schedule" help:"learning rate schedule: constant, step, cosine or linear"`
	Milestones  []string `mapstructure:"milestones" help:"step schedule: steps at which the rate is multiplied by gamma"`
	Gamma       float64  `mapstructure:"gamma" help:"step schedule: factor at each milestone"`
	Warmup      string   `mapstructure:"warmup" help:"linear warmup length (a step), on top of the schedule"`
	MinLR       float64  `mapstructure:"min_lr" help:"cosine and linear schedules: the final rate"`
	EvalEvery   string   `mapstructure:"eval_every" help:"evaluation interval (validation, and test for reporting); the end is always evaluated"`
	Temperature float64  `mapstructure:"temperature" help:"softmax temperature of the cross-entropy loss"`
}

// GraNetSpec is the schedule of the gradual pipelines gmp, granet and dst
// (specs/granet.md; pipeline_gradual.go). The keys are GraNet's argparse
// flags with '-' written '_' (code: Shiweiliuiiiiiii/GraNet: CIFAR/main.py),
// so a paper command line translates key by key; points in training are
// steps ("80ep", "500it") instead of epoch counts. The defaults are
// GraNet's argparse defaults (prune.DefaultGradualSpec).
//
// The final density d_f is the prune amount (prune.density, prune.sparsity,
// ... in any convention), the one key every pruning pipeline reads, so that
// runs of different methods at one density share one setting.
// granet.final_density is GraNet's own name for the same number: it may be
// given instead, never together with a prune amount.
type GraNetSpec struct {
	InitDensity     *float64 `mapstructure:"init_density" help:"granet, gmp: density d_i the cubic schedule starts from (GraNet --init-density; 1 = dense start, s_i = 0); empty: 0.5 for granet (GraNet's default, ERK mask), 1 for gmp; dst trains at the prune amount and accepts only that value"`
	FinalDensity    *float64 `mapstructure:"final_density" help:"GraNet --final-density, the final density d_f; an alternative to the prune amount keys (prune.density, ...), not both"`
	InitPruneEpoch  string   `mapstructure:"init_prune_epoch" help:"granet, gmp: start e_i of the pruning window (a step: 0ep, 500it)"`
	FinalPruneEpoch string   `mapstructure:"final_prune_epoch" help:"granet, gmp: end e_f of the pruning window (a step: 80ep); must lie within training.steps"`
	UpdateFrequency int      `mapstructure:"update_frequency" help:"iterations ΔT between mask updates (GraNet --update-frequency)"`
	PruneRate       float64  `mapstructure:"prune_rate" help:"granet, dst: death rate r_0 of prune-and-regrow at t = 0, in [0, 1) (GraNet --prune-rate); not prune.prune_rate"`
	DeathRateMin    float64  `mapstructure:"death_rate_min" help:"granet, dst: death rate at the end of training, in [0, prune_rate] (GraNet's cosine decay fixes 0.005; RigL uses 0)"`
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
		Granet:     defaultGraNetSpec(),
		Bip:        defaultBipSpec(),
		Jackpot:    defaultJackpotSpec(),
		Layer:      defaultLayerSpec(),
		RPS:        defaultRPSSpec(),
		Pipeline:   "train",
		Replicates: 1,
		Backend:    "native",
		Output:     "runs",
	}
}

// defaultGraNetSpec is prune.DefaultGradualSpec as spec keys. init_density
// and final_density are left unset: their defaults depend on the pipeline
// and on the prune amount.
func defaultGraNetSpec() GraNetSpec {
	d := prune.DefaultGradualSpec()
	return GraNetSpec{
		InitPruneEpoch:  d.InitPruneEpoch,
		FinalPruneEpoch: d.FinalPruneEpoch,
		UpdateFrequency: d.UpdateFrequency,
		PruneRate:       d.PruneRate,
		DeathRateMin:    d.DeathRateMin,
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
		if f := fieldByKey(reflect.ValueOf(def), k); f.Kind() != reflect.Pointer || !f.IsNil() {
			v.SetDefault(k, f.Interface())
		}
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
		if k == "sweep_mode" || strings.HasPrefix(k, "sweep.") {
			return Spec{}, fmt.Errorf("spec %s has a sweep block: run it with `prunebench sweep %s`", name, name)
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

// KeyInfo describes one spec key for `prunebench config --defaults`.
type KeyInfo struct{ Key, Default, Help string }

// Keys lists every spec key in sorted order with its default and meaning.
func Keys() []KeyInfo {
	def := reflect.ValueOf(Defaults())
	var out []KeyInfo
	for _, k := range specKeys(def.Type(), "") {
		f := fieldByKey(def, k)
		d := ""
		switch {
		case f.Kind() == reflect.Pointer && f.IsNil(), f.Kind() == reflect.Slice && f.Len() == 0:
		default:
			d = fmt.Sprint(f.Interface())
		}
		out = append(out, KeyInfo{Key: k, Default: d, Help: helpOf(def.Type(), k)})
	}
	return out
}

func helpOf(t reflect.Type, key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		for j := 0; j < t.NumField(); j++ {
			if f := t.Field(j); f.Tag.Get("mapstructure") == p {
				if i == len(parts)-1 {
					return f.Tag.Get("help")
				}
				t = f.Type
				break
			}
		}
	}
	return ""
}
