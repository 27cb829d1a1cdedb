package pipelines

// LayerSpec is the `layer:` section of a spec: the layer-pruning pipeline
// (docs/methods/layer.md). A field at its default is left out of the run
// identity, so adding a key here never renames old runs. Which algorithm
// runs follows from the criterion (layer.when may say it explicitly): the
// pruning criteria that score weights on data (prune.Needs.Data: grasp,
// snip) run Algorithm 2 (score θ0, remove, train once); the after-training
// criteria run Algorithm 1 (train dense, score θ_n, remove, rewind,
// retrain). random runs either way (after training by default).
type LayerSpec struct {
	Blocks          int    `mapstructure:"blocks" help:"p, the number of residual blocks to remove (≥ 1); more than the model's removable maximum is an error before training"`
	Criterion       string `mapstructure:"criterion" help:"block importance: {layer_init_criteria} at initialization; {layer_trained_criteria} after training"`
	When            string `mapstructure:"when" help:"init (Algorithm 2) or trained (Algorithm 1); empty: init for the criteria that score weights on data, trained for the others (random may take either)"`
	Agg             string `mapstructure:"agg" help:"init criteria: sum or mean (per weight) of the weight scores over a block's two weight tensors"`
	Removable       string `mapstructure:"removable" help:"utility (the authors' rule: equal-shape blocks except the first, ≥ 2 blocks kept per stage) or strict (also not the block after a downsampling block)"`
	Rewind          string `mapstructure:"rewind" help:"after training: weights_and_lr (Algorithm 1: kept blocks back to θ_i, schedule from i) or lr_only (trained weights, schedule replayed from i)"`
	RewindStep      string `mapstructure:"rewind_step" help:"after training: the rewind point i (a step: 0ep is θ0, 25ep, 500it)"`
	SamplesPerClass int    `mapstructure:"samples_per_class" help:"after training: class-balanced training subsample for kl, cka, hrank and expected_abs (examples per class)"`
	TimingSteps     string `mapstructure:"timing_steps" help:"training steps timed on the dense and on the rebuilt network, three times each, for the step-time ratio in layer.yaml (a step: 20it)"`
}

// defaultLayerSpec is LayerSpec's defaults: GraSP at initialization with sum
// aggregation (GraSP is the paper's default; the paper does not say how to
// aggregate, docs/methods/layer.md#aggregation), the authors' removability
// rule, Algorithm 1 as written (weights and schedule rewound, to θ0), the
// reference's 500 images per class. blocks has no default: the pipeline asks
// for it.
func defaultLayerSpec() LayerSpec {
	return LayerSpec{
		Criterion: "grasp", Agg: "sum", Removable: "utility", Rewind: "weights_and_lr",
		RewindStep: "0ep", SamplesPerClass: 500, TimingSteps: "20it",
	}
}
