package search

// Layer pruning, part 3: physical removal
// (docs/methods/layer.md#rebuild-and-weight-transfer).
//
// Rebuild edits the Arch instead of asking the zoo for a model with other
// block counts: it drops each removed nn.Residual together with the ReLU
// that follows it and renames the kept blocks of a stage to consecutive
// positions (layer1.3 → layer1.2 when layer1.1 is gone, and every layer
// inside it likewise). For the zoo's ResNets the result is exactly the
// zoo's ResNet with the new blocks per stage (ResNet-32 without the last
// two blocks of each stage is ResNet-20; tested), and it works for any
// model FindBlocks understands. Transfer then copies the kept weights by
// that name mapping (the stem, each stage's kept and downsampling blocks,
// the classifier), so nothing is matched by position.
//
// Equivalence (docs/methods/layer.md#rebuild-and-weight-transfer, tested): in
// evaluation mode the rebuilt network computes what the original computes
// with the removed blocks' residual branches zeroed, because a zeroed branch
// leaves ReLU(x + 0) = x for the non-negative x a post-activation block
// receives.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prunebench/prunebench/nn"
)

// Rebuilt is a smaller Arch and how it relates to the original.
type Rebuilt struct {
	Arch *nn.Arch
	// Removed are the removed block indices, sorted; Removed names them.
	Removed      []int
	RemovedNames []string
	// NewIndex maps every kept original block index to its index in the
	// rebuilt network (the mapping recorded with the run).
	NewIndex map[int]int
	// Renamed maps each renamed block's new name to its original name
	// (blocks that kept their position are not listed).
	Renamed map[string]string
	// PerStage is the number of blocks per stage after the removal.
	PerStage []int
}

// blockName is "<prefix>.<position>", the zoo's naming of blocks.
var blockName = regexp.MustCompile(`^(.*)\.(\d+)$`)

// Rebuild returns the Arch without the given blocks. Removing a block that
// does not exist, twice, or a downsampling block is an error (the caller
// selects with SelectRemoval, which never does).
func (bs *Blocks) Rebuild(remove []int) (*Rebuilt, error) {
	gone := map[int]bool{}
	for _, i := range remove {
		if i < 0 || i >= len(bs.Blocks) {
			return nil, fmt.Errorf("layer pruning: no block %d (the model has %d)", i, len(bs.Blocks))
		}
		if gone[i] {
			return nil, fmt.Errorf("layer pruning: block %s removed twice", bs.Blocks[i].Name)
		}
		if bs.Blocks[i].Downsampling {
			return nil, fmt.Errorf("layer pruning: block %s changes the shape and cannot be removed", bs.Blocks[i].Name)
		}
		gone[i] = true
	}
	r := &Rebuilt{NewIndex: map[int]int{}, Renamed: map[string]string{}, PerStage: make([]int, len(bs.Stages))}
	dropLayer := map[int]bool{}
	rename := map[int]string{} // layer index → new block name
	next := 0
	for _, b := range bs.Blocks {
		if gone[b.Index] {
			r.Removed = append(r.Removed, b.Index)
			dropLayer[b.Layer] = true
			if b.ReLU {
				dropLayer[b.Layer+1] = true
			}
			continue
		}
		r.NewIndex[b.Index] = next
		next++
		pos := r.PerStage[b.Stage]
		r.PerStage[b.Stage]++
		if m := blockName.FindStringSubmatch(b.Name); m != nil && m[2] == strconv.Itoa(b.Pos) && pos != b.Pos {
			n := m[1] + "." + strconv.Itoa(pos)
			rename[b.Layer] = n
			r.Renamed[n] = b.Name
		}
	}
	r.RemovedNames = bs.Names(r.Removed)
	a := bs.Arch
	out := &nn.Arch{Name: fmt.Sprintf("%s-%s", a.Name, perStageString(r.PerStage)), Input: slices.Clone(a.Input), Classes: a.Classes}
	for i, l := range a.Layers {
		if dropLayer[i] {
			continue
		}
		if n, ok := rename[i]; ok {
			res := l.(nn.Residual)
			l = renameResidual(res, res.Name, n)
		}
		out.Layers = append(out.Layers, l)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("layer pruning: the rebuilt model does not validate: %w", err)
	}
	r.Arch = out
	return r, nil
}

// perStageString is e.g. "5.4.3", the rebuilt model's name suffix.
func perStageString(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = strconv.Itoa(v)
	}
	return "blocks" + strings.Join(s, ".")
}

// renameResidual returns a copy of r named to with every layer name under
// from moved under to.
func renameResidual(r nn.Residual, from, to string) nn.Residual {
	mv := func(n string) string {
		if n == from {
			return to
		}
		if rest, ok := strings.CutPrefix(n, from+"."); ok {
			return to + "." + rest
		}
		return n
	}
	var sub func([]nn.Layer) []nn.Layer
	sub = func(ls []nn.Layer) []nn.Layer {
		out := make([]nn.Layer, len(ls))
		for i, l := range ls {
			switch l := l.(type) {
			case nn.Linear:
				l.Name = mv(l.Name)
				out[i] = l
			case nn.Conv2d:
				l.Name = mv(l.Name)
				out[i] = l
			case nn.BatchNorm:
				l.Name = mv(l.Name)
				out[i] = l
			case nn.Residual:
				out[i] = nn.Residual{Name: mv(l.Name), Body: sub(l.Body), Shortcut: sub(l.Shortcut)}
			default:
				out[i] = l
			}
		}
		return out
	}
	return nn.Residual{Name: to, Body: sub(r.Body), Shortcut: sub(r.Shortcut)}
}

// OldName returns the original name of a layer or tensor of the rebuilt
// network ("layer1.2.conv1.weight" → "layer1.3.conv1.weight"); names
// outside renamed blocks are unchanged.
func (r *Rebuilt) OldName(name string) string {
	for n, old := range r.Renamed {
		if name == n {
			return old
		}
		if rest, ok := strings.CutPrefix(name, n+"."); ok {
			return old + "." + rest
		}
	}
	return name
}

// Mapping returns original block name → new block name for every kept block,
// the record of docs/methods/layer.md#rebuild-and-weight-transfer.
func (r *Rebuilt) Mapping(bs *Blocks) map[string]string {
	m := map[string]string{}
	renamed := map[string]string{}
	for n, old := range r.Renamed {
		renamed[old] = n
	}
	for i := range r.NewIndex {
		name := bs.Blocks[i].Name
		m[name] = name
		if n, ok := renamed[name]; ok {
			m[name] = n
		}
	}
	return m
}

// Transfer sets dst, a Net of r.Arch, to the kept part of src, a State of
// the original network: θ of every parameter and the batch norm running
// statistics, each read under its original name. Masks and optimizer
// state are not transferred (the optimizer starts fresh,
// docs/methods/layer.md#rebuild-and-weight-transfer). A tensor missing from
// src is an error naming it.
func (r *Rebuilt) Transfer(dst nn.Net, src *nn.State) error {
	return copyState(dst, src, r.OldName)
}

// copyState sets every param/ and buffer/ tensor of dst from src under the
// name old(name), leaving dst's other state as it is.
func copyState(dst nn.Net, src *nn.State, old func(string) string) error {
	st, err := dst.State()
	if err != nil {
		return err
	}
	for key, t := range st.Tensors {
		kind, name, _ := strings.Cut(key, "/")
		if kind != "param" && kind != "buffer" {
			continue
		}
		v, err := src.Tensor(kind+"/"+old(name), len(t))
		if err != nil {
			return fmt.Errorf("layer pruning: copying weights: %w", err)
		}
		copy(t, v)
	}
	return dst.SetState(st)
}
