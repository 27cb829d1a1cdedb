package search

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/nn"
)

// installStructured installs filter or channel masks
// (docs/methods/bip.md#structured-variants): per convolution, the filters
// (output channels) or input channels are ranked by the L2 norm of their
// scores and the top KeptCount(mode, k, count) of them are kept, ties to the
// lower index. The mask is installed as a MaskedForward mask, not as
// nn.Scored: the scored parametrization ranks single entries, and a filter's
// entries share one score only up to ties that could split a channel.
func (b *BiP) installStructured(net nn.Net) error {
	b.masks = b.masks[:0]
	for i, info := range b.set {
		m, err := groupMask(info, b.scores[i], b.cfg.Structure, KeptCount(b.cfg.Mode, b.cfg.Density, groupCount(info, b.cfg.Structure)))
		if err != nil {
			return err
		}
		if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: nn.MaskedForward}); err != nil {
			return fmt.Errorf("bip: %w", err)
		}
		b.masks = append(b.masks, m)
	}
	return nil
}

// groupCount is the number of filters or input channels of a 4-d weight.
func groupCount(info nn.ParamInfo, structure string) int {
	if structure == "filter" {
		return info.Shape[0]
	}
	return info.Shape[1]
}

// groupMask keeps the keep groups of s (a [out, in, kh, kw] tensor) whose
// scores have the largest L2 norm.
func groupMask(info nn.ParamInfo, s []float32, structure string, keep int) ([]float32, error) {
	if len(info.Shape) != 4 {
		return nil, fmt.Errorf("bip.structure = %s: %s has no filters", structure, info.Name)
	}
	out, in, k := info.Shape[0], info.Shape[1], info.Shape[2]*info.Shape[3]
	count := groupCount(info, structure)
	norm := make([]float64, count)
	for o := range out {
		for c := range in {
			g := o
			if structure == "channel" {
				g = c
			}
			for _, v := range s[(o*in+c)*k : (o*in+c+1)*k] {
				norm[g] += float64(v) * float64(v)
			}
		}
	}
	ranks := make([]float32, count)
	for g, v := range norm {
		ranks[g] = float32(math.Sqrt(v))
	}
	kept := nn.TopKMask(ranks, keep)
	m := make([]float32, len(s))
	for o := range out {
		for c := range in {
			g := o
			if structure == "channel" {
				g = c
			}
			if kept[g] == 0 {
				continue
			}
			for j := (o*in + c) * k; j < (o*in+c+1)*k; j++ {
				m[j] = 1
			}
		}
	}
	return m, nil
}
