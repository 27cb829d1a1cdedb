package prune

import (
	"fmt"

	"github.com/prunebench/prunebench/nn"
)

// N:M masks (docs/methods/conventions.md#nm-masks): in every group of M
// consecutive weights along a tensor's input axis, keep the N with the
// highest scores.
//
// The groups follow NVIDIA apex ASP (apex/contrib/sparsity:
// sparse_masklib.py create_mask), which lays a tensor out as the matrix
// whose rows are cut into groups of M:
//
//   - Linear [out, in]: each row, groups of M consecutive entries along in;
//   - Conv2d [out, in, kh, kw]: for each output channel and kernel position
//     (kh, kw), groups of M consecutive input channels (ASP permutes
//     (K, C, R, S) to (R, S, K, C) and groups along C: the reduction
//     dimension of the convolution's GEMM in the channels-last layout that
//     sparse tensor cores use);
//   - any other rank ≥ 2 [d0, d1, rest...]: groups along d1 for each d0 and
//     position in rest; a 1-D tensor is one row.
//
// A fiber (the entries along the input axis at one position of the other
// axes) of length L is cut into floor(L / M) full groups, which keep N
// each, and, when M does not divide L, a last partial group of r = L mod M
// entries, which keeps ceil(N·r / M) (NM.GroupKeep): at least one, never
// more than N, so the partial group zero-padded to M entries (ASP's
// reshape_1d) is still an N:M group.

// NM is an N:M pattern: keep N of every M.
type NM struct {
	N, M int
}

// String is "N:M".
func (p NM) String() string { return fmt.Sprintf("%d:%d", p.N, p.M) }

// Check returns an error unless 1 ≤ N < M (so M ≥ 2).
func (p NM) Check() error {
	switch {
	case p.M < 2:
		return fmt.Errorf("n:m pattern %s: m = %d, want m ≥ 2", p, p.M)
	case p.N < 1:
		return fmt.Errorf("n:m pattern %s: n = %d, want n ≥ 1 (n = 0 keeps nothing)", p, p.N)
	case p.N >= p.M:
		return fmt.Errorf("n:m pattern %s: n = %d, want n < m = %d (n = m keeps everything)", p, p.N, p.M)
	}
	return nil
}

// Density is the nominal density N/M (the kept fraction of a tensor whose
// fibers are all multiples of M long).
func (p NM) Density() float64 { return float64(p.N) / float64(p.M) }

// GroupKeep is the number of entries a group of length entries keeps: N for
// a full group (length M), ceil(N·length/M) for a partial one (0 < length <
// M), computed in integers.
func (p NM) GroupKeep(length int) int { return (p.N*length + p.M - 1) / p.M }

// fibers is the layout of a tensor's input axis: outer × inner fibers of
// length entries, fiber (o, j) starting at o·length·inner + j with stride
// inner.
type fibers struct{ outer, length, inner int }

func inputFibers(shape []int) (fibers, error) {
	if len(shape) == 0 {
		return fibers{}, fmt.Errorf("n:m: a scalar has no input axis")
	}
	for _, d := range shape {
		if d < 1 {
			return fibers{}, fmt.Errorf("n:m: shape %v has no entries", shape)
		}
	}
	if len(shape) == 1 {
		return fibers{outer: 1, length: shape[0], inner: 1}, nil
	}
	inner := 1
	for _, d := range shape[2:] {
		inner *= d
	}
	return fibers{outer: shape[0], length: shape[1], inner: inner}, nil
}

func (f fibers) size() int { return f.outer * f.length * f.inner }

// groups calls fn for every group, in order of the outer index, then the
// inner one, then the position along the fiber, with the group's first
// entry, its stride and its length.
func (f fibers) groups(m int, fn func(start, stride, length int) error) error {
	for o := range f.outer {
		for j := range f.inner {
			base := o*f.length*f.inner + j
			for g := 0; g < f.length; g += m {
				if err := fn(base+g*f.inner, f.inner, min(m, f.length-g)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Kept is the number of entries an N:M mask keeps of a tensor of the given
// shape: for every fiber, N per full group plus GroupKeep of the partial
// one.
func (p NM) Kept(shape []int) (int, error) {
	if err := p.Check(); err != nil {
		return 0, err
	}
	f, err := inputFibers(shape)
	if err != nil {
		return 0, err
	}
	per := f.length/p.M*p.N + p.GroupKeep(f.length%p.M)
	return f.outer * f.inner * per, nil
}

// Select returns the N:M mask of one tensor of the given shape (row-major
// scores, one per entry): in every group, the GroupKeep(length) candidates
// with the highest scores, ties broken by the lower index first, the order
// of SelectTop (docs/methods/conventions.md#exact-top-k). Candidates are the
// alive entries of current (nil: every entry); pruned entries stay pruned,
// and a group with fewer alive entries than it keeps is an error. A NaN
// score is a *NaNScoreError with the offset in scores.
func (p NM) Select(shape []int, scores, current []float32) ([]float32, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	f, err := inputFibers(shape)
	if err != nil {
		return nil, err
	}
	if len(scores) != f.size() {
		return nil, fmt.Errorf("n:m: %d scores for shape %v (%d entries)", len(scores), shape, f.size())
	}
	if current != nil && len(current) != len(scores) {
		return nil, fmt.Errorf("n:m: current mask has %d entries for %d scores", len(current), len(scores))
	}
	for i, s := range scores {
		if s != s {
			return nil, &NaNScoreError{Index: i}
		}
		if current != nil && current[i] != 0 && current[i] != 1 {
			return nil, fmt.Errorf("n:m: current mask entry %d is %v, want 0 or 1", i, current[i])
		}
	}
	dst := make([]float32, len(scores))
	es := make([]topEntry, 0, p.M)
	err = f.groups(p.M, func(start, stride, length int) error {
		es = es[:0]
		for t := range length {
			i := start + t*stride
			if current == nil || current[i] == 1 {
				es = append(es, topEntry{scores[i], i})
			}
		}
		keep := p.GroupKeep(length)
		if len(es) < keep {
			return fmt.Errorf("n:m %s: the group of %d entries starting at entry %d has %d alive, fewer than the %d it keeps", p, length, start, len(es), keep)
		}
		selectFirst(es, keep)
		for _, e := range es[:keep] {
			dst[e.i] = 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// Verify returns nil when mask (0/1, row-major) is an N:M mask of a tensor
// of the given shape: every group keeps exactly GroupKeep(length) entries.
// Otherwise the error names the first group that does not.
func (p NM) Verify(shape []int, mask []float32) error {
	if err := p.Check(); err != nil {
		return err
	}
	f, err := inputFibers(shape)
	if err != nil {
		return err
	}
	if len(mask) != f.size() {
		return fmt.Errorf("n:m: mask of %d entries for shape %v (%d entries)", len(mask), shape, f.size())
	}
	return f.groups(p.M, func(start, stride, length int) error {
		k := 0
		for t := range length {
			switch mask[start+t*stride] {
			case 0:
			case 1:
				k++
			default:
				return fmt.Errorf("n:m: mask entry %d is %v, want 0 or 1", start+t*stride, mask[start+t*stride])
			}
		}
		if want := p.GroupKeep(length); k != want {
			return fmt.Errorf("n:m %s: the group of %d entries starting at entry %d (stride %d) keeps %d, want %d", p, length, start, stride, k, want)
		}
		return nil
	})
}

// NMMasks is the N:M selection over a prunable set (in canonical order):
// NM.Select for every tensor, with scores one slice per tensor of set and
// current nil (every entry a candidate) or masks of exactly the set. Errors
// name the tensor; a NaN score is a *NaNScoreError naming the tensor and the
// offset within it.
func NMMasks(set []nn.ParamInfo, p NM, scores [][]float32, current *Masks) (*Masks, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if err := checkSet(set); err != nil {
		return nil, err
	}
	if len(scores) != len(set) {
		return nil, fmt.Errorf("n:m: %d score tensors for a prunable set of %d (%s)", len(scores), len(set), nameList(infoNames(set)))
	}
	if _, err := aliveCounts(set, current); err != nil {
		return nil, err
	}
	out := &Masks{Names: infoNames(set), M: make(map[string][]float32, len(set))}
	for i, t := range set {
		var cur []float32
		if current != nil {
			cur = current.M[t.Name]
		}
		m, err := p.Select(t.Shape, scores[i], cur)
		if err != nil {
			if ne, ok := err.(*NaNScoreError); ok {
				return nil, &NaNScoreError{Tensor: t.Name, Index: ne.Index}
			}
			return nil, fmt.Errorf("%s %v: %w", t.Name, t.Shape, err)
		}
		out.M[t.Name] = m
	}
	return out, nil
}

// VerifyMasks checks every tensor of set with Verify; the error names the
// tensor.
func (p NM) VerifyMasks(set []nn.ParamInfo, m *Masks) error {
	for _, t := range set {
		v, ok := m.M[t.Name]
		if !ok {
			return fmt.Errorf("n:m: no mask for %s", t.Name)
		}
		if err := p.Verify(t.Shape, v); err != nil {
			return fmt.Errorf("%s %v: %w", t.Name, t.Shape, err)
		}
	}
	return nil
}
