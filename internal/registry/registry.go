// Package registry is the one pattern behind every extension point of
// prunebench: engines (nn), models (nn/zoo), data sets (datasets), pruning
// criteria (prune), RPS mappers (share), pipelines (experiments) and
// control branches (experiments/pipelines). An extension registers itself
// by name from an init function; commands and help texts list Names, which
// are sorted, so no list of names is ever written by hand; an unknown name
// is an error that suggests the closest registered one.
//
// Registration happens at init time, before any lookup, so a duplicate or
// empty name is a programmer error and panics.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry maps names to values of one kind of extension.
type Registry[T any] struct {
	kind string // what a value is ("model", "pruning criterion"), for messages

	mu sync.RWMutex
	m  map[string]T
}

// New returns an empty registry of the given kind of extension; kind names
// it in messages ("unknown model \"x\"").
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, m: map[string]T{}}
}

// Register adds v under name. It panics when name is empty or taken.
func (r *Registry[T]) Register(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic("registry: " + r.kind + " registered without a name")
	}
	if _, ok := r.m[name]; ok {
		panic("registry: " + r.kind + " " + name + " registered twice")
	}
	r.m[name] = v
}

// Names lists the registered names in sorted order.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the value registered under name, if any.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Get returns the value registered under name, or an *UnknownError that
// lists the registered names and suggests the closest one.
func (r *Registry[T]) Get(name string) (T, error) {
	if v, ok := r.Lookup(name); ok {
		return v, nil
	}
	var zero T
	return zero, &UnknownError{Kind: r.kind, Name: name, Known: r.Names()}
}

// UnknownError is a name that no extension registered.
type UnknownError struct {
	Kind  string   // "model", "pruning criterion", ...
	Name  string   // what was asked for
	Known []string // the registered names, sorted
}

func (e *UnknownError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown %s %q", e.Kind, e.Name)
	if s := Closest(e.Name, e.Known); s != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", s)
	}
	if len(e.Known) == 0 {
		b.WriteString("; none is registered")
	} else {
		fmt.Fprintf(&b, "; want one of %s", strings.Join(e.Known, ", "))
	}
	return b.String()
}

// Closest returns the candidate nearest to name when one is plausibly
// meant: within an edit distance of about a quarter of name's length (at
// least 1), or a candidate that starts name or that name starts ("lenet"
// for "lenet5"). It returns "" when none is.
func Closest(name string, candidates []string) string {
	best, bestD := "", len(name)/4+2
	for _, c := range candidates {
		d := EditDistance(name, c)
		if len(c) >= 2 && len(name) >= 2 && (strings.HasPrefix(name, c) || strings.HasPrefix(c, name)) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
