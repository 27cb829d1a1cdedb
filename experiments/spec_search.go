package experiments

// BipSpec is the `bip:` section of a spec: the BiP pipeline (specs/bip.md;
// pipeline_bip.go). The density k is the prune amount (prune.density, ...).
// The θ-step trains with SGD at bip.lr on the spec's batch size; the
// defaults are the clean mode's choices of specs/bip.md §4 (α = 0.01 and
// β = 0.1 as the paper states, momentum 0.9 and weight decay 1e-4 for both
// levels, c_IG = 1e-4).
type BipSpec struct {
	Mode             string  `mapstructure:"mode" help:"clean (the paper's formulation) or reference (what OPTML-results.Group/BiP computes; search/bip.go lists the quirks it reproduces and those it does not)"`
	Pretrained       string  `mapstructure:"pretrained" help:"checkpoint of a pretrained dense model ({replicate} is replaced by the replicate index); empty: level 0 pretrains it with the training section"`
	Steps            string  `mapstructure:"steps" help:"length of the search (a step: 20ep, 5000it); empty: training.steps"`
	LR               float64 `mapstructure:"lr" help:"θ-step learning rate α (SGD)"`
	Schedule         string  `mapstructure:"schedule" help:"θ-step learning rate schedule: constant, cosine or linear"`
	Momentum         float64 `mapstructure:"momentum" help:"θ-step SGD momentum"`
	WeightDecay      float64 `mapstructure:"weight_decay" help:"θ-step L2 coefficient wd_θ"`
	ScoreLR          float64 `mapstructure:"score_lr" help:"score learning rate β (clean: ×0.1 at 75% and ×0.01 at 90% of the search; reference: the code's bugged schedule from bip.lr)"`
	ScoreMomentum    float64 `mapstructure:"score_momentum" help:"score SGD momentum μ_s"`
	ScoreWeightDecay float64 `mapstructure:"score_weight_decay" help:"score L2 coefficient wd_s"`
	IGCoef           float64 `mapstructure:"ig_coef" help:"implicit-gradient coefficient c_IG (clean: 1/γ; reference: the code's lr2)"`
	Accelerate       bool    `mapstructure:"accelerate" help:"drop the implicit-gradient term (the code's --accelerate)"`
	Structure        string  `mapstructure:"structure" help:"unstructured, filter or channel (convolutions only: exclude linear layers with prune.exclude)"`
}

// defaultBipSpec is BipSpec's defaults.
func defaultBipSpec() BipSpec {
	return BipSpec{Mode: "clean", LR: 0.01, Schedule: "cosine", Momentum: 0.9, WeightDecay: 1e-4,
		ScoreLR: 0.1, ScoreMomentum: 0.9, ScoreWeightDecay: 1e-4, IGCoef: 1e-4, Structure: "unstructured"}
}

// JackpotSpec is the `jackpot:` section of a spec: the Lottery Jackpots
// pipeline (specs/baselines.md §2; pipeline_jackpot.go).
type JackpotSpec struct {
	Pretrained string  `mapstructure:"pretrained" help:"checkpoint of the pretrained dense model ({replicate} is replaced by the replicate index); empty: level 0 trains it with the training section"`
	Steps      string  `mapstructure:"steps" help:"search length (the reference searches 30ep or 160ep)"`
	BatchSize  int     `mapstructure:"batch_size" help:"search minibatch size (the reference's 256)"`
	LR         float64 `mapstructure:"lr" help:"score learning rate, cosine-annealed to 0 over the search, stepped per epoch (reference 0.1)"`
	Momentum   float64 `mapstructure:"momentum" help:"score SGD momentum (reference 0.9)"`
	// WeightDecay acts on the scores (the weights are frozen).
	WeightDecay      float64 `mapstructure:"weight_decay" help:"weight decay on the scores (reference 5e-4)"`
	ShortRestriction string  `mapstructure:"short_restriction" help:"decay4: swap ceil(q·(1−e/E)^4) of the q crossing pairs at epoch e of E (the paper's short restriction as intended); off: swap every crossing pair (what the reference code computes)"`
	SearchOutput     bool    `mapstructure:"search_output" help:"search the output layer's weights too (the reference keeps the classifier dense)"`
}

// defaultJackpotSpec is JackpotSpec's defaults.
func defaultJackpotSpec() JackpotSpec {
	return JackpotSpec{Steps: "30ep", BatchSize: 256, LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, ShortRestriction: "decay4"}
}
