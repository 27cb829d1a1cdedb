package experiments

import (
	"fmt"
	"os"
	"slices"

	"github.com/prunebench/prunebench/datasets"
	"github.com/prunebench/prunebench/internal/registry"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// Spec is an experiment as written in YAML. The mapstructure tags are the
// YAML keys and the --set paths (e.g. --set training.lr=0.01); the help tags
// are what `prunebench config --defaults` prints. The sections here are the
// common ones, which every pipeline reads; the pipeline named by Pipeline
// owns the others (Config). Every field has a default (Defaults, and the
// registered pipeline's value) that a spec may omit, and a field at its
// default is left out of the run's identity (Canonical), so a new option
// whose default has no effect never renames old runs.
type Spec struct {
	Dataset  DatasetSpec  `mapstructure:"dataset"`
	Model    ModelSpec    `mapstructure:"model"`
	Training TrainingSpec `mapstructure:"training"`
	Pipeline string       `mapstructure:"pipeline" help:"what to run: {pipelines}"`
	// Seed is the master seed of replicate 0; replicate r uses Seed + r,
	// and every random stream derives from that by namespace (nn.SeedFor).
	Seed       uint64 `mapstructure:"seed" help:"master seed of replicate 0 (replicate r uses seed + r)"`
	Replicates int    `mapstructure:"replicates" help:"number of replicates (seeds) to run"`
	Backend    string `mapstructure:"backend" help:"engine: {backends} (torch needs the build tag torch)"`
	Device     string `mapstructure:"device" help:"where the engine computes: cpu, cuda or cuda:N (torch with a CUDA libtorch); empty: the engine's default (torch: PRUNEBENCH_TORCH_DEVICE, else cpu)"`
	Output     string `mapstructure:"output" help:"root folder of runs and of results.db"`
	// Sparse says how the engine runs masked layers. It is not part of
	// the run's identity: the sparse kernels compute the same products as
	// the dense GEMM, summed in another order.
	Sparse string `mapstructure:"sparse" help:"masked layers: auto (sparse kernels where a layer's density is below its measured crossover, native engine) or off (dense always); not part of the run name"`

	// Config is the pipeline's own configuration: the value registered
	// for Pipeline, with the sections it reads set from the spec
	// (RegisterPipeline). Nil means the registered defaults.
	Config Pipeline `mapstructure:"-"`

	// unread are the keys the spec set to a value other than their
	// default that Pipeline does not read, sorted; Validate refuses them.
	unread []string
}

// DatasetSpec names the data and how it is split.
type DatasetSpec struct {
	Name          string  `mapstructure:"name" help:"data set: {datasets}"`
	Dir           string  `mapstructure:"dir" help:"data directory (CIFAR-10 binary batches; MNIST: the GoMNIST module when empty)"`
	ValSize       int     `mapstructure:"val_size" help:"validation examples carved from train with a seeded split; 0: the data set's default, -1: none"`
	Augment       string  `mapstructure:"augment" help:"default, on or off (CIFAR-10 default: pad-4 crop and flip)"`
	Shape         []int   `mapstructure:"shape" help:"synthetic: per-example input shape"`
	Classes       int     `mapstructure:"classes" help:"synthetic: number of classes"`
	TrainSize     int     `mapstructure:"train_size" help:"synthetic: training examples"`
	TestSize      int     `mapstructure:"test_size" help:"synthetic: test examples"`
	Modulus       int     `mapstructure:"modulus" help:"modular: p of a + b mod p"`
	TrainFraction float64 `mapstructure:"train_fraction" help:"modular: fraction of the pairs used for training"`
	Encoding      string  `mapstructure:"encoding" help:"modular: concat (two one-hot blocks: an untied embedding per token) or sum (one-hot(a) + one-hot(b): one embedding shared by both tokens, the Grokking Tickets MLP)"`
	AllowSubset   bool    `mapstructure:"allow_subset" help:"cifar10: accept batch files with another number of images than CIFAR-10's 10,000 (a subset on purpose)"`
}

// ModelSpec names the architecture.
type ModelSpec struct {
	Name            string  `mapstructure:"name" help:"architecture: {models}"`
	Init            string  `mapstructure:"init" help:"initializer: {inits}; empty: the model's default"`
	Widths          []int   `mapstructure:"widths" help:"mlp: hidden widths; resmlp: stage widths"`
	WidthMultiplier float64 `mapstructure:"width_multiplier" help:"scales channels and hidden widths"`
	Shortcut        string  `mapstructure:"shortcut" help:"resnet shortcut: A (zero padding, the default) or B (1x1 conv + BN)"`
	// Layers is an inline architecture, in place of Name: a spec file
	// lists its layers (nn/zoo/layers.go) and sets no model.name.
	Layers []zoo.LayerSpec `mapstructure:"layers" help:"inline architecture instead of model.name: a list of layer mappings, each a type ({layertypes}) and its sizes; in the spec file only, not --set"`
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
	Schedule    string   `mapstructure:"schedule" help:"learning rate schedule: {schedules}"`
	Milestones  []string `mapstructure:"milestones" help:"step schedule: steps at which the rate is multiplied by gamma"`
	Gamma       float64  `mapstructure:"gamma" help:"step schedule: factor at each milestone"`
	Warmup      string   `mapstructure:"warmup" help:"linear warmup length (a step), on top of the schedule"`
	MinLR       float64  `mapstructure:"min_lr" help:"cosine and linear schedules: the final rate"`
	EvalEvery   string   `mapstructure:"eval_every" help:"evaluation interval (validation, and test for reporting); the end is always evaluated"`
	EvalTrain   bool     `mapstructure:"eval_train" help:"also evaluate the whole training split at each evaluation (train accuracy in the learning curve; one more pass over the training data each time)"`
	Temperature float64  `mapstructure:"temperature" help:"softmax temperature of the cross-entropy loss"`
}

// Defaults returns the spec every file is laid over: LeNet-300-100 on MNIST
// with the LTH paper's Adam 1.2e-3 and batch 60, trained dense.
func Defaults() Spec {
	return Spec{
		Dataset: DatasetSpec{Name: "mnist", Augment: "default"},
		Model:   ModelSpec{Name: "lenet-300-100", WidthMultiplier: 1},
		Training: TrainingSpec{
			Steps: "2ep", BatchSize: 60, Optimizer: "adam", LR: 1.2e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			Schedule: "constant", Gamma: 0.1, EvalEvery: "1ep", Temperature: 1,
		},
		Pipeline:   "train",
		Config:     trainPipeline{},
		Replicates: 1,
		Backend:    "native",
		Output:     "runs",
		Sparse:     "auto",
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

// validate checks the dataset section without loading data: the name
// against the registry and the keys every data set reads. What needs the
// files (a folder, a size) is checked when the data load, before the run's
// folder exists.
func (d DatasetSpec) validate() error {
	if names := datasets.Names(); !slices.Contains(names, d.Name) {
		return fmt.Errorf("dataset.name: %w", &registry.UnknownError{Kind: "data set", Name: d.Name, Known: names})
	}
	switch d.Augment {
	case "default", "", "on", "off":
	default:
		return fmt.Errorf("dataset.augment = %q: want default, on or off", d.Augment)
	}
	switch d.Encoding {
	case "", "concat", "sum":
	default:
		return fmt.Errorf("dataset.encoding = %q: want concat or sum (modular arithmetic)", d.Encoding)
	}
	if d.ValSize < -1 {
		return fmt.Errorf("dataset.val_size = %d: want a count, 0 for the data set's default or -1 for none", d.ValSize)
	}
	return nil
}

// validate checks the model section without building the model: the name
// against the registry (or, for an inline model, that no zoo option is
// set), the initializer, the width multiplier.
func (m ModelSpec) validate() error {
	if len(m.Layers) > 0 {
		if err := m.validateInline(); err != nil {
			return err
		}
	} else if names := zoo.Names(); !slices.Contains(names, m.Name) {
		return fmt.Errorf("model.name: %w", &registry.UnknownError{Kind: "model", Name: m.Name, Known: names})
	}
	if m.Init != "" && !slices.Contains(nn.InitNames, m.Init) {
		return fmt.Errorf("model.init = %q: want one of %s, or empty for the model's default", m.Init, orList(nn.InitNames))
	}
	if !(m.WidthMultiplier > 0) {
		return fmt.Errorf("model.width_multiplier = %v: want > 0", m.WidthMultiplier)
	}
	return nil
}
