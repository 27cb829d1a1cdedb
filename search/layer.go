package search

// Layer pruning, part 1: what a block is
// (docs/methods/layer.md#blocks-and-stages).
//
// A block in the paper's sense is one residual block: an nn.Residual at the
// top level of an Arch, normally followed by a ReLU (post-activation
// blocks: the CIFAR ResNets and resmlp). Blocks are discovered from the
// Arch alone, so the rules hold for every model the zoo expresses with
// nn.Residual, not only for models whose names we know.
//
// Stages are maximal runs of blocks: a new stage starts at every
// downsampling block (one whose output shape differs from its input shape,
// or whose shortcut is not the identity: a projection) and after any layer
// other than the ReLU that follows a block. So ResNet-32 is [5 5 5] with
// layer2.0 and layer3.0 downsampling, and resmlp is [5 5 5] with its
// projection blocks layer2.0 and layer3.0.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/prunebench/prunebench/nn"
)

// Block is one residual block of an Arch.
type Block struct {
	// Index is the block's position among the network's blocks, from 0,
	// in layer order; Layer its index in Arch.Layers.
	Index, Layer int
	// Name is the nn.Residual's name, e.g. "layer2.3".
	Name string
	// Stage (from 0) and Pos (from 0, within the stage) place the block.
	Stage, Pos int
	// Downsampling blocks change the shape or have a non-identity
	// shortcut; they are never removed.
	Downsampling bool
	// In and Out are the per-example shapes around the block.
	In, Out []int
	// Weights are the names of the body's Linear and Conv2d weight
	// tensors, in canonical order (two for a basic block). Norm
	// parameters, biases and the shortcut are not part of a block's
	// score (docs/methods/layer.md#blocks-and-stages).
	Weights []string
	// Norm2 is the name of the body's last BatchNorm layer, the one the
	// KL and CKA criteria zero to turn the residual branch off ("" when
	// the body has none).
	Norm2 string
	// ReLU says that the next top-level layer is a ReLU, removed with the
	// block by Rebuild.
	ReLU bool
}

// Blocks is the block structure of an Arch.
type Blocks struct {
	Arch   *nn.Arch
	Blocks []Block
	// Stages lists each stage's block indices in order.
	Stages [][]int
}

// ErrNoBlocks is returned by FindBlocks for a model without residual
// blocks.
var ErrNoBlocks = errors.New("layer pruning removes residual blocks, and the model has none")

// FindBlocks discovers the blocks and stages of a validated Arch. A model
// without top-level nn.Residual layers is an error wrapping ErrNoBlocks
// that names the model.
func FindBlocks(a *nn.Arch) (*Blocks, error) {
	bs := &Blocks{Arch: a}
	shape := a.Input
	newStage := true
	for i, l := range a.Layers {
		out, err := l.OutShape(shape)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", a.Name, err)
		}
		r, ok := l.(nn.Residual)
		switch {
		case ok:
			b := Block{Index: len(bs.Blocks), Layer: i, Name: r.Name, In: shape, Out: out,
				Downsampling: !slices.Equal(shape, out) || len(r.Shortcut) > 0}
			if i+1 < len(a.Layers) {
				_, b.ReLU = a.Layers[i+1].(nn.ReLU)
			}
			for _, sub := range r.Body {
				switch sub := sub.(type) {
				case nn.Linear:
					b.Weights = append(b.Weights, sub.Name+".weight")
				case nn.Conv2d:
					b.Weights = append(b.Weights, sub.Name+".weight")
				case nn.BatchNorm:
					b.Norm2 = sub.Name
				}
			}
			if newStage || (b.Downsampling && len(bs.Stages[len(bs.Stages)-1]) > 0) {
				bs.Stages = append(bs.Stages, nil)
				newStage = false
			}
			b.Stage = len(bs.Stages) - 1
			b.Pos = len(bs.Stages[b.Stage])
			bs.Stages[b.Stage] = append(bs.Stages[b.Stage], b.Index)
			bs.Blocks = append(bs.Blocks, b)
		case isReLU(l) && i > 0 && isResidual(a.Layers[i-1]):
			// the block's own activation: the stage goes on
		default:
			newStage = true
		}
		shape = out
	}
	if len(bs.Blocks) == 0 {
		return nil, fmt.Errorf("model %s: %w", a.Name, ErrNoBlocks)
	}
	return bs, nil
}

func isReLU(l nn.Layer) bool     { _, ok := l.(nn.ReLU); return ok }
func isResidual(l nn.Layer) bool { _, ok := l.(nn.Residual); return ok }

// PerStage returns the number of blocks of each stage.
func (bs *Blocks) PerStage() []int {
	n := make([]int, len(bs.Stages))
	for s, st := range bs.Stages {
		n[s] = len(st)
	}
	return n
}

// Names returns the names of the given blocks.
func (bs *Blocks) Names(idx []int) []string {
	out := make([]string, len(idx))
	for i, b := range idx {
		out[i] = bs.Blocks[b].Name
	}
	return out
}
