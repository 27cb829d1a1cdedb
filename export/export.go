package export

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/share"
)

// Format is how a file stores pruned weights.
type Format string

const (
	// Dense stores every tensor whole, pruned entries as 0, and each mask
	// as a U8 tensor "<name>.mask".
	Dense Format = "dense"
	// Bitmask stores each masked weight in the sparse-bitmask layout (the
	// kept values, a packed bitmask and row offsets), and the rest whole.
	Bitmask Format = "bitmask"
)

// Formats lists the formats, in the order messages show them.
var Formats = []Format{Dense, Bitmask}

// ParseFormat returns the format named s, or an error listing the formats.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("format %q: want %s", s, formatList())
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, " or ")
}

// Metadata keys every file written here holds.
const (
	// KeyFormat is "prunebench-dense" or "prunebench-bitmask".
	KeyFormat = "format"
	// KeySparsity is the sparsity Report as JSON.
	KeySparsity = "sparsity"
	// KeyPatterns is a JSON object from each masked weight's name to its
	// mask pattern (nn.MaskPattern's String), so that a loaded net enforces
	// its masks as the exported one did; absent when nothing is masked.
	KeyPatterns = "mask_patterns"
	// KeyShared describes the shared tensors (shared.go); absent when
	// nothing is shared.
	KeyShared = "rps"
	// KeyModel is the architecture's zoo name.
	KeyModel = "model"
)

// The values of KeyFormat.
const (
	FormatDense   = "prunebench-dense"
	FormatBitmask = "prunebench-bitmask"
)

// Options says how Encode writes a net.
type Options struct {
	// Format is Dense (the default when empty) or Bitmask.
	Format Format
	// Metadata is added to the file's metadata (the run, replicate, level
	// and branch, say). A key this package writes is an error.
	Metadata map[string]string
	// Mapper is the share.Mapper whose maps the net's shared tensors read
	// (share.Mapper.Apply). Its configuration and seed are written instead
	// of the O(n) index and sign tables, and the loader rebuilds it. It is
	// checked against the net's maps entry by entry. Nil: shared tensors
	// must read an nn.TableMap, whose tables are written.
	Mapper *share.Mapper
	// Materialize writes each shared tensor as its dense virtual weight
	// W = λ·g·z[h] instead of z and its map: a plain file any reader
	// loads, which loads back as a dense net with the same function.
	Materialize bool
}

// Encode makes the safetensors file of a net in the format o says: its
// parameters, buffers, masks and shared arrays, and the metadata (format,
// model, sparsity report, mask patterns, shared tensors, and o.Metadata).
// The net is read through State and Parametrization only, so it works on
// every engine; the optimizer state is not exported.
func Encode(net nn.Net, o Options) (*File, error) {
	format := o.Format
	if format == "" {
		format = Dense
	}
	if _, err := ParseFormat(string(format)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	s, err := snapshotOf(net, o.Materialize)
	if err != nil {
		return nil, err
	}
	f := &File{Metadata: map[string]string{KeyModel: net.Arch().Name}}
	switch format {
	case Dense:
		f.Metadata[KeyFormat] = FormatDense
	case Bitmask:
		f.Metadata[KeyFormat] = FormatBitmask
	}
	rep, err := json.Marshal(s.report())
	if err != nil {
		return nil, err
	}
	f.Metadata[KeySparsity] = string(rep)
	patterns := map[string]string{}
	for _, p := range s.params {
		switch {
		case p.shared != nil:
			continue // shared.go
		case p.mask == nil:
			f.Tensors = append(f.Tensors, Float32Tensor(p.info.Name, p.info.Shape, p.value))
		case format == Bitmask:
			patterns[p.info.Name] = p.pattern.String()
			f.Tensors = append(f.Tensors, bitmaskTensors(p.info.Name, p.info.Shape, p.value, p.mask)...)
		default:
			patterns[p.info.Name] = p.pattern.String()
			f.Tensors = append(f.Tensors, Float32Tensor(p.info.Name, p.info.Shape, p.value), maskTensor(p.info.Name, p.info.Shape, p.mask))
		}
	}
	if len(patterns) > 0 {
		b, _ := json.Marshal(patterns)
		f.Metadata[KeyPatterns] = string(b)
	}
	for _, b := range s.buffers {
		f.Tensors = append(f.Tensors, Float32Tensor(b.name, []int{len(b.value)}, b.value))
	}
	if err := s.encodeShared(f, o.Mapper); err != nil {
		return nil, err
	}
	for k, v := range o.Metadata {
		if _, ok := f.Metadata[k]; ok {
			return nil, fmt.Errorf("export: metadata key %q is written by the exporter; choose another", k)
		}
		f.Metadata[k] = v
	}
	if err := f.sorted(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return f, nil
}

// Write encodes net (Encode) and writes it to path atomically: a temporary
// file in the same folder, then a rename. The folder must exist.
func Write(path string, net nn.Net, o Options) error {
	if err := checkFolder(path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	f, err := Encode(net, o)
	if err != nil {
		return err
	}
	return f.WriteFile(path)
}

// snapshot is what a file holds of a net, taken from its State.
type snapshot struct {
	arch    *nn.Arch
	params  []paramSnap // canonical order
	buffers []bufferSnap
	arrays  map[string][]float32 // shared arrays z by name
}

type paramSnap struct {
	info nn.ParamInfo
	// value is θ with pruned entries set to 0: the effective weight
	// θ ⊙ m whatever the mask pattern kept in θ (nil when shared).
	value   []float32
	mask    []float32 // nil: not masked
	pattern nn.MaskPattern
	// scored: the mask is the top-k of a Scored parametrization; it is
	// exported as a mask with pattern MaskedForward (θ kept, forward
	// θ ⊙ m), the scored parametrization's own enforcement.
	scored bool
	shared *nn.Shared // nil: not shared
}

type bufferSnap struct {
	name  string
	value []float32
}

// snapshotOf reads net's State and parametrizations. With materialize,
// shared tensors become dense parameters holding their virtual weights.
func snapshotOf(net nn.Net, materialize bool) (*snapshot, error) {
	st, err := net.State()
	if err != nil {
		return nil, fmt.Errorf("export: state of model %s: %w", net.Arch().Name, err)
	}
	s := &snapshot{arch: net.Arch(), arrays: map[string][]float32{}}
	for _, info := range net.Arch().Params() {
		p := paramSnap{info: info}
		size := info.Size()
		if sh, ok := net.Parametrization(info.Name).(nn.Shared); ok {
			z, err := st.Tensor("shared/"+sh.Array, sh.ArraySize)
			if err != nil {
				return nil, fmt.Errorf("export: %s: %w", info.Name, err)
			}
			if materialize {
				p.value = make([]float32, size)
				sh.Weights(p.value, z)
			} else {
				p.shared = &sh
				s.arrays[sh.Array] = z
			}
			s.params = append(s.params, p)
			continue
		}
		theta, err := st.Tensor("param/"+info.Name, size)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		p.value = slices.Clone(theta)
		if sc, ok := st.Tensors["scores/"+info.Name]; ok {
			p.mask = nn.TopKMask(sc, int(st.Counters["scores_keep/"+info.Name]))
			p.pattern, p.scored = nn.MaskedForward, true
		} else if m, ok := st.Tensors["mask/"+info.Name]; ok {
			p.mask = slices.Clone(m)
			p.pattern = nn.MaskPattern(st.Counters["mask_pattern/"+info.Name])
		}
		if p.mask != nil {
			if len(p.mask) != size {
				return nil, fmt.Errorf("export: mask of %s has %d entries, want %d", info.Name, len(p.mask), size)
			}
			for i, m := range p.mask {
				if m == 0 {
					p.value[i] = 0
				}
			}
		}
		s.params = append(s.params, p)
	}
	var names []string
	for name := range st.Tensors {
		if b, ok := strings.CutPrefix(name, "buffer/"); ok {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	for _, b := range names {
		s.buffers = append(s.buffers, bufferSnap{name: b, value: st.Tensors["buffer/"+b]})
	}
	return s, nil
}

// Report is the sparsity of an exported net: every prunable tensor (the
// weights of Linear and Conv2d layers) with its kept entries, and the
// totals over them. It is the metadata entry "sparsity", as JSON.
type Report struct {
	Tensors []TensorReport `json:"tensors"`
	Kept    int64          `json:"kept"`
	Total   int64          `json:"total"`
	// Density is Kept/Total.
	Density float64 `json:"density"`
}

// TensorReport is one prunable tensor of a Report.
type TensorReport struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	// Parametrization is "masked", "scored" (exported as a mask),
	// "shared" (its virtual weights read a shared array; all are kept) or
	// "dense".
	Parametrization string  `json:"parametrization"`
	Kept            int64   `json:"kept"`
	Total           int64   `json:"total"`
	Density         float64 `json:"density"`
}

func (s *snapshot) report() Report {
	var r Report
	for _, p := range s.params {
		if !p.info.Prunable() {
			continue
		}
		t := TensorReport{Name: p.info.Name, Shape: p.info.Shape, Parametrization: "dense", Total: int64(p.info.Size())}
		t.Kept = t.Total
		switch {
		case p.shared != nil:
			t.Parametrization = "shared"
		case p.mask != nil:
			t.Parametrization = "masked"
			if p.scored {
				t.Parametrization = "scored"
			}
			t.Kept = 0
			for _, m := range p.mask {
				if m != 0 {
					t.Kept++
				}
			}
		}
		if t.Total > 0 {
			t.Density = float64(t.Kept) / float64(t.Total)
		}
		r.Tensors = append(r.Tensors, t)
		r.Kept += t.Kept
		r.Total += t.Total
	}
	if r.Total > 0 {
		r.Density = float64(r.Kept) / float64(r.Total)
	}
	return r
}

// Report decodes the file's sparsity report (metadata "sparsity").
func (f *File) Report() (Report, error) {
	var r Report
	s, ok := f.Metadata[KeySparsity]
	if !ok {
		return r, fmt.Errorf("%s has no %q metadata", f.name(), KeySparsity)
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("%s: metadata %q: %v", f.name(), KeySparsity, err)
	}
	return r, nil
}

// name is how errors call the file.
func (f *File) name() string {
	if f.Path == "" {
		return "the file"
	}
	return f.Path
}
