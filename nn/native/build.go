package native

import (
	"fmt"
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn"
)

// buildLayers builds the native layers of arch for batches of at most
// maxBatch examples. It reserves scratch in ws (the caller allocates
// ws.data = make([]float32, ws.size) after building) and gives Dropout layers
// rng, which the net reseeds each step.
//
// The input of the net never needs a gradient, so the leading layers that
// have no trainable parameter before them are built without input gradient:
// their backward returns nil, and parameter-free ones among them do no work at
// all. The concatenation of the params of the returned layers is
// arch.Params(), in order.
func buildLayers(arch *nn.Arch, maxBatch int, ws *workspace, rng *rand.Rand) ([]layer, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	if maxBatch < 1 {
		return nil, fmt.Errorf("model %s: maximum batch %d, want at least 1", arch.Name, maxBatch)
	}
	b := &builder{maxBatch: maxBatch, ws: ws, rng: rng}
	ls, _, err := b.seq(arch.Layers, arch.Input, false)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", arch.Name, err)
	}
	return ls, nil
}

// builder carries what every layer constructor needs.
type builder struct {
	maxBatch int
	ws       *workspace
	rng      *rand.Rand
}

// seq builds a sequence of layers on per-example input shape in. needDx says
// whether the gradient with respect to the input of the sequence is needed;
// inside the sequence it is needed after the first layer with parameters.
func (b *builder) seq(specs []nn.Layer, in []int, needDx bool) ([]layer, []int, error) {
	ls := make([]layer, 0, len(specs))
	shape := in
	for _, s := range specs {
		l, out, err := b.one(s, shape, needDx)
		if err != nil {
			return nil, nil, err
		}
		ls = append(ls, l)
		if len(l.params()) > 0 {
			needDx = true
		}
		shape = out
	}
	return ls, shape, nil
}

// one builds one layer on per-example input shape in and returns it with its
// output shape.
func (b *builder) one(s nn.Layer, in []int, needDx bool) (layer, []int, error) {
	out, err := s.OutShape(in)
	if err != nil {
		return nil, nil, err
	}
	switch s := s.(type) {
	case nn.Linear:
		return newLinear(s, b.maxBatch, needDx), out, nil
	case nn.Conv2d:
		return newConv2d(s, in, b.maxBatch, b.ws, needDx), out, nil
	case nn.BatchNorm:
		return newBatchNorm(s, in, b.maxBatch, needDx), out, nil
	case nn.ReLU:
		return newReLU(shapeSize(in), b.maxBatch, needDx), out, nil
	case nn.Dropout:
		if s.P < 0 || s.P > 1 {
			return nil, nil, fmt.Errorf("dropout: probability %v, want 0 ≤ p ≤ 1", s.P)
		}
		return newDropout(s.P, shapeSize(in), b.maxBatch, b.rng, needDx), out, nil
	case nn.MaxPool2d:
		return newMaxPool2d(s, in, b.maxBatch, needDx), out, nil
	case nn.GlobalAvgPool:
		return newGlobalAvgPool(in, b.maxBatch, needDx), out, nil
	case nn.Flatten:
		return newFlatten(in, b.maxBatch, needDx), out, nil
	case nn.PadChannels:
		return newPadChannels(s, in, b.maxBatch, needDx), out, nil
	case nn.Residual:
		body, _, err := b.seq(s.Body, in, needDx)
		if err != nil {
			return nil, nil, fmt.Errorf("block %s: %w", s.Name, err)
		}
		short, _, err := b.seq(s.Shortcut, in, needDx)
		if err != nil {
			return nil, nil, fmt.Errorf("block %s shortcut: %w", s.Name, err)
		}
		return newResidual(body, short, shapeSize(in), shapeSize(out), b.maxBatch, needDx), out, nil
	}
	return nil, nil, fmt.Errorf("layer type %T: not supported by the native engine", s)
}

// shapeSize is the number of entries of one example of shape s.
func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
