//go:build torch

package torch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/prunebench/prunebench/nn"
	lib "github.com/sugarme/gotch/libtch"
)

// Backend is the libtorch engine. The registered instance ("torch") reads
// its settings from the environment when it builds a net:
//
//	PRUNEBENCH_TORCH_DEVICE   cpu (default), cuda (cuda:0) or cuda:N
//	PRUNEBENCH_TORCH_THREADS  libtorch intra-op threads (default 1)
//
// One thread by default because a sweep runs one training run per core
// (ARCHITECTURE.md#engineering-conventions); libtorch's own default is one
// per core, which makes parallel runs fight. Each net runs its libtorch calls
// on a worker thread that holds its count (worker.go), so nets with different
// counts coexist; only OpenBLAS's pool, which serves the matrix products, is
// process-wide: the last Build sizes it.
type Backend struct {
	// Device and Threads override the environment when set.
	Device  string
	Threads int
}

func init() { nn.RegisterBackend("torch", Backend{}) }

// Name returns "torch".
func (Backend) Name() string { return "torch" }

// Build builds a Net for cfg with every parameter zero and no optimizer
// (as the native engine). Every layer type of nn.Arch is implemented; an
// unknown one is an error wrapping nn.ErrNotImplemented.
func (b Backend) Build(cfg nn.Config) (nn.Net, error) {
	if cfg.Arch == nil {
		return nil, fmt.Errorf("torch: build: no architecture")
	}
	if err := cfg.Arch.Validate(); err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	if cfg.MaxBatch < 1 {
		return nil, fmt.Errorf("torch: model %s: maximum batch %d, want at least 1", cfg.Arch.Name, cfg.MaxBatch)
	}
	temp := cfg.Temperature
	switch {
	case math.IsNaN(temp) || math.IsInf(temp, 0) || temp < 0:
		return nil, fmt.Errorf("torch: model %s: temperature %v, want a number > 0 (0 means 1)", cfg.Arch.Name, temp)
	case temp == 0:
		temp = 1
	}
	switch cfg.Sparse {
	case "", "auto", "off":
		// No sparse kernels here: masked layers run dense either way.
	default:
		return nil, fmt.Errorf("torch: model %s: sparse = %q: the torch engine has no sparse kernels (want auto or off)", cfg.Arch.Name, cfg.Sparse)
	}
	dev, err := b.device(cfg.Device)
	if err != nil {
		return nil, err
	}
	threads, err := b.threads()
	if err != nil {
		return nil, err
	}
	if dev == cpu {
		keepHeap()
	}
	n := &Net{arch: cfg.Arch, cfg: cfg, dev: dev, temp: temp, st: &store{}, w: startWorker(dev, threads)}
	// From here on, dropping n (a failed Build included) frees its tensors
	// and ends its worker.
	runtime.AddCleanup(n, func(c cleanup) { c.st.free(); c.w.stop() }, cleanup{n.st, n.w})
	n.cfg.Temperature = temp
	n.inSize = prodInt(cfg.Arch.Input)
	n.classes = cfg.Arch.Classes
	n.pcg = rand.NewPCG(cfg.DropoutSeed, 0)
	err = n.runErr(func(s *scope) {
		bl := &builder{s: s, maxBatch: cfg.MaxBatch, rng: rand.New(n.pcg)}
		// The tensors are the net's from the start: a failed build frees
		// them through the same cleanup.
		defer func() { n.st.entries, n.st.buffers = bl.entries, bl.buffers }()
		var lerr error
		n.layers, _, lerr = bl.layers(cfg.Arch.Layers, cfg.Arch.Input)
		if lerr != nil && s.err == nil {
			s.err = fmt.Errorf("torch: model %s: %w", cfg.Arch.Name, lerr)
		}
	})
	if err != nil {
		return nil, err
	}
	infos := cfg.Arch.Params()
	if len(infos) != len(n.st.entries) {
		return nil, fmt.Errorf("torch: model %s: built %d parameters, the architecture declares %d (engine bug)", cfg.Arch.Name, len(n.st.entries), len(infos))
	}
	n.byName = make(map[string]*entry, len(infos))
	for i, e := range n.st.entries {
		if e.info.Name != infos[i].Name || !slices.Equal(e.info.Shape, infos[i].Shape) {
			return nil, fmt.Errorf("torch: model %s: parameter %d is %s, the architecture declares %s (engine bug)", cfg.Arch.Name, i, e.info.Name, infos[i].Name)
		}
		e.info = infos[i]
		n.byName[e.info.Name] = e
		n.params = append(n.params, param{n: n, e: e})
	}
	return n, nil
}

// device parses the device setting into gotch's encoding and checks that
// libtorch can use it. The spec's device (nn.Config.Device) comes first,
// then Backend.Device, then PRUNEBENCH_TORCH_DEVICE.
func (b Backend) device(spec string) (int, error) {
	d := spec
	if d == "" {
		d = b.Device
	}
	if d == "" {
		d = os.Getenv("PRUNEBENCH_TORCH_DEVICE")
	}
	switch {
	case d == "" || d == "cpu":
		return cpu, nil
	case d == "cuda" || strings.HasPrefix(d, "cuda:"):
		idx := 0
		if d != "cuda" {
			var err error
			if idx, err = strconv.Atoi(d[len("cuda:"):]); err != nil || idx < 0 {
				return 0, fmt.Errorf("torch: device %q: want cpu, cuda or cuda:N", d)
			}
		}
		if !lib.AtcCudaIsAvailable() {
			return 0, fmt.Errorf("torch: device %q: this libtorch has no usable CUDA (build with scripts/torch/prepare.sh and LIBTORCH set to a CUDA libtorch, on a machine with a GPU)", d)
		}
		if cnt := int(lib.AtcCudaDeviceCount()); idx >= cnt {
			return 0, fmt.Errorf("torch: device %q: %d CUDA devices", d, cnt)
		}
		return idx, nil
	}
	return 0, fmt.Errorf("torch: device %q: want cpu, cuda or cuda:N (the spec's device, or PRUNEBENCH_TORCH_DEVICE)", d)
}

func (b Backend) threads() (int, error) {
	if b.Threads > 0 {
		return b.Threads, nil
	}
	v := os.Getenv("PRUNEBENCH_TORCH_THREADS")
	if v == "" {
		return 1, nil
	}
	t, err := strconv.Atoi(v)
	if err != nil || t < 1 {
		return 0, fmt.Errorf("torch: PRUNEBENCH_TORCH_THREADS=%q: want a whole number ≥ 1", v)
	}
	return t, nil
}

// Describe names the engine, the device and the thread count, for the
// provenance of runs.
func (b Backend) Describe() string {
	d := b.Device
	if d == "" {
		d = os.Getenv("PRUNEBENCH_TORCH_DEVICE")
	}
	if d == "" {
		d = "cpu"
	}
	t, err := b.threads()
	if err != nil {
		return fmt.Sprintf("torch (libtorch through gotch, %s, %v)", d, err)
	}
	return fmt.Sprintf("torch (libtorch through gotch, %s, %d intra-op threads)", d, t)
}

// cleanup is what a net's cleanup needs: it must not reference the Net.
type cleanup struct {
	st *store
	w  *worker
}

// store holds every libtorch tensor a net owns, for the cleanup that frees
// them when the net is garbage (it must not reference the Net).
type store struct {
	entries []*entry
	buffers []*buffer
	// arrays are the shared arrays by name, and arrayList the same sorted
	// by name (shared.go).
	arrays    map[string]*sharedArray
	arrayList []*sharedArray
}

func (st *store) free() {
	for _, e := range st.entries {
		free(e.theta, e.w, e.mask, e.grad, e.s1, e.s2)
	}
	for _, e := range st.entries {
		if e.sh != nil {
			free(e.sh.idx, e.sh.coef)
		}
	}
	for _, a := range st.arrayList {
		a.free()
	}
	for _, b := range st.buffers {
		free(b.t)
	}
}
