package zoo

// The Grokking Tickets MLP.
//
// Source: Minegishi, Iwasawa and Matsuo, "Grokking Tickets: Lottery Tickets
// Accelerate Grokking" (arXiv 2310.19470), and its code,
// gouki510/Grokking-Tickets: model.py OnlyMLP with config/config.py's
// d_emb = 500, d_model = 48, num_layers = 0, ReLU, no biases and no layer
// norm.
//
// The reference embeds each of the two tokens with W_E (d_emb × p), sums the
// two embeddings, applies the in-projection (d_model × d_emb), ReLU, the
// out-projection (d_emb × d_model) and the unembedding (p × d_emb, stored
// transposed). On the modular data set's sum encoding (one-hot(a) +
// one-hot(b), dataset.encoding: sum) a bias-free linear layer is exactly
// that embed-and-sum, so the net is four bias-free Linear layers:
//
//	embed     p      → d_emb     33,500 weights for p = 67
//	in_proj   d_emb  → d_model   24,000
//	ReLU
//	out_proj  d_model → d_emb    24,000
//	unembed   d_emb  → classes   33,500
//
// 115,000 parameters for p = 67, all of them prunable weights. Its default
// initializer is lecun_normal, N(0, 1/fan_in): the reference's weight_scale
// 1 draws each matrix from N(0, (1/√fan)²) with fan the input width (67
// for the embedding, 500 for the unembedding).
//
// model.widths sets [d_emb, d_model] (default [500, 48]). The reference's
// extra hidden layers (num_layers > 0) and other weight scales are not
// offered.

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

func init() {
	Register("grokking-mlp", Model{Build: buildGrokkingMLP, Input: []int{67}, Init: "lecun_normal"})
}

func buildGrokkingMLP(o Options) (*nn.Arch, error) {
	if o.Shortcut != "" {
		return nil, fmt.Errorf("shortcut %q: only resnets take a shortcut type", o.Shortcut)
	}
	if _, err := batchNormOption(o, false, false, true); err != nil {
		return nil, err
	}
	widths := o.Widths
	if len(widths) == 0 {
		widths = []int{500, 48}
	}
	if len(widths) != 2 || widths[0] < 1 || widths[1] < 1 {
		return nil, fmt.Errorf("widths %v: grokking-mlp takes two widths ≥ 1, [d_emb d_model] (default [500 48])", widths)
	}
	emb, hid := scaleWidth(widths[0], o.WidthMultiplier), scaleWidth(widths[1], o.WidthMultiplier)
	in := shapeSize(o.Input)
	return &nn.Arch{Layers: []nn.Layer{
		nn.Flatten{},
		nn.Linear{Name: "embed", In: in, Out: emb},
		nn.Linear{Name: "in_proj", In: emb, Out: hid},
		nn.ReLU{},
		nn.Linear{Name: "out_proj", In: hid, Out: emb},
		nn.Linear{Name: "unembed", In: emb, Out: o.Classes},
	}}, nil
}
