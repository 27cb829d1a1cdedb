package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/gemm"
)

// Backend is the native engine. It is registered with nn.RegisterBackend
// under the name "native" when the package is imported.
type Backend struct{}

func init() { nn.RegisterBackend("native", Backend{}) }

// Name returns "native".
func (Backend) Name() string { return "native" }

// Build builds a Net for cfg with every parameter zero (initialize it with
// nn.Initialize or Param.SetValues) and no optimizer installed (call
// SetOptimizer before the first Step).
//
// Everything a training step touches is allocated here, for batches of at
// most cfg.MaxBatch examples: the layers' outputs and input gradients, the
// shared im2col workspace, the NCHW → CNHW input buffer and the gradient of
// the loss with respect to the logits.
func (Backend) Build(cfg nn.Config) (nn.Net, error) {
	if cfg.Arch == nil {
		return nil, fmt.Errorf("native: build: no architecture")
	}
	if err := cfg.Arch.Validate(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	if cfg.MaxBatch < 1 {
		return nil, fmt.Errorf("native: model %s: maximum batch %d, want at least 1", cfg.Arch.Name, cfg.MaxBatch)
	}
	if cfg.Device != "" && cfg.Device != "cpu" {
		return nil, fmt.Errorf("native: device %q: the native engine runs on the CPU only; use backend: torch (make torch) with a CUDA libtorch", cfg.Device)
	}
	temp := cfg.Temperature
	switch {
	case math.IsNaN(temp) || math.IsInf(temp, 0) || temp < 0:
		return nil, fmt.Errorf("native: model %s: temperature %v, want a number > 0 (0 means 1)", cfg.Arch.Name, temp)
	case temp == 0:
		temp = 1
	}
	sparse, err := parseSparseMode(cfg.Sparse)
	if err != nil {
		return nil, fmt.Errorf("native: model %s: %w", cfg.Arch.Name, err)
	}
	pcg := rand.NewPCG(cfg.DropoutSeed, 0)
	n := &Net{
		arch:   cfg.Arch,
		cfg:    cfg,
		ws:     &workspace{},
		pcg:    pcg,
		temp:   float32(temp),
		sparse: sparse,
	}
	n.cfg.Temperature = temp
	layers, err := buildLayers(cfg.Arch, cfg.MaxBatch, n.ws, rand.New(pcg))
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	n.layers = layers
	n.ws.data = make([]float32, n.ws.size)

	n.inSize = shapeSize(cfg.Arch.Input)
	if len(cfg.Arch.Input) > 1 {
		// Feature maps are CNHW inside the engine; the caller's batch is
		// NCHW. A [C, L] input is converted the same way, since Flatten
		// converts back from channel-major.
		// With one channel the two layouts coincide and the batch is
		// used as it is.
		n.channels = cfg.Arch.Input[0]
		if n.channels > 1 {
			n.input = make([]float32, cfg.MaxBatch*n.inSize)
		}
	}
	n.classes = cfg.Arch.Classes
	n.dlogits = make([]float32, cfg.MaxBatch*n.classes)

	if err := n.collect(); err != nil {
		return nil, err
	}
	return n, nil
}

// collect gathers the parameters and buffers of the built layers and checks
// them against the canonical order of the architecture.
func (n *Net) collect() error {
	var ps []*param
	for _, l := range n.layers {
		ps = append(ps, l.params()...)
		n.buffers = append(n.buffers, l.buffers()...)
	}
	infos := n.arch.Params()
	if len(ps) != len(infos) {
		return fmt.Errorf("native: model %s: built %d parameters, the architecture declares %d (engine bug)", n.arch.Name, len(ps), len(infos))
	}
	n.entries = make([]*entry, len(ps))
	n.params = make([]nn.Param, len(ps))
	n.byName = make(map[string]*entry, len(ps))
	for i, p := range ps {
		info := infos[i]
		if p.info.Name != info.Name || !slices.Equal(p.info.Shape, info.Shape) || len(p.value) != info.Size() {
			return fmt.Errorf("native: model %s: parameter %d is %s %v, the architecture declares %s %v (engine bug)", n.arch.Name, i, p.info.Name, p.info.Shape, info.Name, info.Shape)
		}
		e := &entry{p: p, info: info, index: i}
		n.entries[i] = e
		n.params[i] = &netParam{e: e}
		n.byName[info.Name] = e
	}
	seen := make(map[string]bool, len(n.buffers))
	for _, b := range n.buffers {
		if seen[b.name] {
			return fmt.Errorf("native: model %s: two buffers named %q", n.arch.Name, b.name)
		}
		seen[b.name] = true
	}
	return nil
}

// Describe names the engine and the GEMM it was built with, for the
// provenance of runs.
func (Backend) Describe() string { return "native (gemm: " + gemm.Impl + ")" }
