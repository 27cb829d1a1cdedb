package prune

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// NaNScoreError reports a NaN score, which is always a scoring bug
// (docs/methods/conventions.md#exact-top-k). SelectTop leaves Tensor empty
// and Index is the offset in the scores it was given; the scope helpers
// (SelectTopGlobal, Plan.Select) fill in the tensor name and the offset
// within that tensor.
type NaNScoreError struct {
	Tensor string
	Index  int
}

func (e *NaNScoreError) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("score %d is NaN (a scoring bug)", e.Index)
	}
	return fmt.Sprintf("%s: score %d is NaN (a scoring bug)", e.Tensor, e.Index)
}

// SelectTop is the exact-count top-k of
// docs/methods/conventions.md#exact-top-k, the only way a mask is computed
// from scores. It returns a new 0/1 mask of len(scores):
//
//   - the candidates are the entries with eligible[i] true (eligible nil:
//     every entry);
//   - exactly keep candidates get 1: candidates ordered by score descending,
//     ties broken by the lower index first, the first keep selected. The
//     result is a deterministic function of (scores, eligible, keep);
//   - every ineligible entry keeps current[i] (current nil: 0, which is
//     what an IMP round wants: the dead entries stay dead).
//
// ±Inf are ordinary values and −0 equals +0 (Go's float comparison). A NaN
// anywhere in scores, eligible or not, is a *NaNScoreError; callers wrap it
// with the tensor name. keep outside [0, number of candidates], slices of
// different lengths and a current value other than 0 or 1 are errors.
//
// Removal is the same primitive: to remove r of a alive entries, keep the
// top a − r of them. Selecting the lowest scores is SelectTop on negated
// scores, with the same index tie-break.
//
// The top keep candidates are found with introselect on (score, index)
// pairs (quickselect with a median-of-three pivot, falling back to a full
// sort past a depth limit), linear time on average.
func SelectTop(scores []float32, eligible []bool, keep int, current []float32) ([]float32, error) {
	dst := make([]float32, len(scores))
	if err := selectTopTo(dst, scores, eligible, keep, current); err != nil {
		return nil, err
	}
	return dst, nil
}

// selectTopTo is SelectTop writing into dst (len(scores)).
func selectTopTo(dst, scores []float32, eligible []bool, keep int, current []float32) error {
	n := len(scores)
	if eligible != nil && len(eligible) != n {
		return fmt.Errorf("select top: %d eligibility flags for %d scores", len(eligible), n)
	}
	if current != nil && len(current) != n {
		return fmt.Errorf("select top: current mask has %d entries for %d scores", len(current), n)
	}
	cand := 0
	for i, s := range scores {
		if s != s {
			return &NaNScoreError{Index: i}
		}
		if current != nil && current[i] != 0 && current[i] != 1 {
			return fmt.Errorf("select top: current mask entry %d is %v, want 0 or 1", i, current[i])
		}
		if eligible == nil || eligible[i] {
			cand++
		}
	}
	if keep < 0 || keep > cand {
		return fmt.Errorf("select top: keep %d of %d candidates, want 0 … %d", keep, cand, cand)
	}
	for i := range dst {
		switch {
		case eligible == nil || eligible[i]:
			dst[i] = 0
		case current != nil:
			dst[i] = current[i]
		default:
			dst[i] = 0
		}
	}
	switch keep {
	case 0:
		return nil
	case cand:
		for i := range dst {
			if eligible == nil || eligible[i] {
				dst[i] = 1
			}
		}
		return nil
	}
	es := make([]topEntry, 0, cand)
	for i, s := range scores {
		if eligible == nil || eligible[i] {
			es = append(es, topEntry{s, i})
		}
	}
	selectFirst(es, keep)
	for _, e := range es[:keep] {
		dst[e.i] = 1
	}
	return nil
}

// topEntry is one candidate: its score and its index (the tie-break).
type topEntry struct {
	s float32
	i int
}

// topBefore is the selection order: higher score first, then lower index.
// Indices are unique, so it is a strict total order on the candidates.
func topBefore(a, b topEntry) bool {
	return a.s > b.s || (a.s == b.s && a.i < b.i)
}

func cmpEntry(a, b topEntry) int {
	switch {
	case topBefore(a, b):
		return -1
	case topBefore(b, a):
		return 1
	}
	return 0
}

// selectFirst rearranges a so that a[:k] holds the first k entries in the
// order of before (in no particular order among themselves).
func selectFirst(a []topEntry, k int) {
	lo, hi := 0, len(a)
	depth := 2 * bits.Len(uint(len(a)))
	for lo < k && k < hi {
		if hi-lo <= 12 || depth == 0 {
			slices.SortFunc(a[lo:hi], cmpEntry)
			return
		}
		depth--
		// Median of three as the pivot, moved to hi−1.
		mid := lo + (hi-lo)/2
		if topBefore(a[mid], a[lo]) {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if topBefore(a[hi-1], a[lo]) {
			a[hi-1], a[lo] = a[lo], a[hi-1]
		}
		if topBefore(a[mid], a[hi-1]) {
			a[mid], a[hi-1] = a[hi-1], a[mid]
		}
		p := a[hi-1]
		store := lo
		for i := lo; i < hi-1; i++ {
			if topBefore(a[i], p) {
				a[i], a[store] = a[store], a[i]
				store++
			}
		}
		a[store], a[hi-1] = a[hi-1], a[store]
		// a[lo:store] precede the pivot at store, a[store+1:hi] follow it.
		switch {
		case k <= store:
			hi = store
		default:
			lo = store + 1
		}
	}
}

// SelectTopGlobal is the global scope (docs/methods/conventions.md#scopes):
// one SelectTop over the concatenation of the tensors in the order given,
// which must be canonical order
// (docs/methods/conventions.md#canonical-order), so that the index tie-break
// is the global index. eligible and current are per tensor like scores; a nil
// outer slice or a nil tensor entry means "all eligible" and "0"
// respectively. The result is split back into one mask per tensor. A NaN
// score is reported as a *NaNScoreError naming the tensor and the offset
// within it.
func SelectTopGlobal(names []string, scores [][]float32, eligible [][]bool, keep int, current [][]float32) ([][]float32, error) {
	if len(scores) != len(names) {
		return nil, fmt.Errorf("select top (global): %d score tensors for %d names", len(scores), len(names))
	}
	if eligible != nil && len(eligible) != len(names) {
		return nil, fmt.Errorf("select top (global): %d eligibility tensors for %d names", len(eligible), len(names))
	}
	if current != nil && len(current) != len(names) {
		return nil, fmt.Errorf("select top (global): %d current masks for %d names", len(current), len(names))
	}
	total := 0
	anyElig, anyCur := false, false
	for t, s := range scores {
		if eligible != nil && eligible[t] != nil {
			if len(eligible[t]) != len(s) {
				return nil, fmt.Errorf("select top (global): %s: %d eligibility flags for %d scores", names[t], len(eligible[t]), len(s))
			}
			anyElig = true
		}
		if current != nil && current[t] != nil {
			if len(current[t]) != len(s) {
				return nil, fmt.Errorf("select top (global): %s: current mask has %d entries for %d scores", names[t], len(current[t]), len(s))
			}
			anyCur = true
		}
		total += len(s)
	}
	cs := make([]float32, 0, total)
	var ce []bool
	var cc []float32
	if anyElig {
		ce = make([]bool, 0, total)
	}
	if anyCur {
		cc = make([]float32, 0, total)
	}
	for t, s := range scores {
		cs = append(cs, s...)
		if anyElig {
			if eligible[t] != nil {
				ce = append(ce, eligible[t]...)
			} else {
				ce = appendBools(ce, true, len(s))
			}
		}
		if anyCur {
			if current[t] != nil {
				cc = append(cc, current[t]...)
			} else {
				cc = append(cc, make([]float32, len(s))...)
			}
		}
	}
	m, err := SelectTop(cs, ce, keep, cc)
	if err != nil {
		return nil, locateError(err, names, scores, "select top (global)")
	}
	return splitLike(m, scores), nil
}

// locateError turns an error about an offset in a concatenation into one
// that names the tensor.
func locateError(err error, names []string, parts [][]float32, ctx string) error {
	if ne, ok := err.(*NaNScoreError); ok {
		t, off := locate(ne.Index, parts)
		return &NaNScoreError{Tensor: names[t], Index: off}
	}
	return fmt.Errorf("%s over %s: %w", ctx, nameList(names), err)
}

// locate maps an offset in the concatenation of parts to (part, offset).
func locate(i int, parts [][]float32) (int, int) {
	for t, p := range parts {
		if i < len(p) {
			return t, i
		}
		i -= len(p)
	}
	return len(parts) - 1, i
}

func splitLike(m []float32, parts [][]float32) [][]float32 {
	out := make([][]float32, len(parts))
	off := 0
	for t, p := range parts {
		out[t] = m[off : off+len(p) : off+len(p)]
		off += len(p)
	}
	return out
}

func appendBools(b []bool, v bool, n int) []bool {
	for range n {
		b = append(b, v)
	}
	return b
}

// isNaN32 reports whether v is NaN.
func isNaN32(v float32) bool { return math.IsNaN(float64(v)) }
