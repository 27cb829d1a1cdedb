package export

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
	"github.com/prunebench/prunebench/share"
)

var lenetOptions = zoo.Options{Input: []int{1, 28, 28}, Classes: 10}

// sharedNet builds LeNet-300-100 with its weights shared by the mapper of
// cfg (ρ and seed set here), the scales of the initializer, the gradient
// scaler's divisors, and a random z. With tables, the shared tensors read
// the mapper's materialized nn.TableMap instead of its on-the-fly map.
func sharedNet(t testing.TB, cfg share.Config, tables bool) (nn.Net, *share.Mapper) {
	t.Helper()
	net := buildNet(t, "lenet-300-100", lenetOptions, 1)
	cfg.Ratio, cfg.Seed = 0.1, 12345
	mp, err := share.Build(net.Arch(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	scales, err := mp.ScalesFromInit(zoo.DefaultInit("lenet-300-100"))
	if err != nil {
		t.Fatal(err)
	}
	div, err := mp.GradDivisors(scales)
	if err != nil {
		t.Fatal(err)
	}
	if tables {
		for l := range mp.NumLayers() {
			if err := net.SetParametrization(mp.Layer(l).Tensor.Param.Name, mp.Shared(l, float32(scales[l]))); err != nil {
				t.Fatal(err)
			}
		}
	} else if err := mp.Apply(net, scales, div); err != nil {
		t.Fatal(err)
	}
	sn := net.(nn.SharedNet)
	r := rand.New(rand.NewPCG(7, 7))
	for _, a := range mp.Arrays() {
		z := make([]float32, a.Size)
		for i := range z {
			z[i] = 0.08*r.Float32() - 0.04
		}
		sn.SharedArray(a.Name).SetValues(z)
	}
	return net, mp
}

// TestSharedRoundTrip exports shared LeNet-300-100s (ρ = 0.1) with each
// mapper, in global and local scope, and with table maps; loads each into
// a fresh dense net, which rebuilds the same virtual weights bit for bit
// and the same logits; and reports the file's size against the dense
// export of the same virtual weights (Materialize).
func TestSharedRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*share.Config)
		tables bool
		// maxRatio bounds the size against the materialized dense file
		// (0: no bound; tables cost more than the dense weights).
		maxRatio float64
	}{
		{"pareto global", func(*share.Config) {}, false, 0.11},
		{"pareto local", func(c *share.Config) { c.Scope = "local" }, false, 0.11},
		{"roast", func(c *share.Config) { c.Mapper = share.ROAST }, false, 0.11},
		{"hashednet", func(c *share.Config) { c.Mapper = share.HashedNet }, false, 0.11},
		{"table maps", func(*share.Config) {}, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := share.DefaultConfig()
			c.edit(&cfg)
			net, mp := sharedNet(t, cfg, c.tables)
			o := Options{Mapper: mp}
			if c.tables {
				o.Mapper = nil
			}
			sharedPath, densePath := tempFile(t, "rps.safetensors"), tempFile(t, "dense.safetensors")
			if err := Write(sharedPath, net, o); err != nil {
				t.Fatal(err)
			}
			if err := Write(densePath, net, Options{Materialize: true}); err != nil {
				t.Fatal(err)
			}
			ratio := float64(fileSize(t, sharedPath)) / float64(fileSize(t, densePath))
			t.Logf("%s: shared file %d bytes, dense file %d bytes: ratio %.4f (ρ = 0.1)", c.name, fileSize(t, sharedPath), fileSize(t, densePath), ratio)
			if c.maxRatio > 0 && ratio > c.maxRatio {
				t.Errorf("ratio %.4f, want at most %v", ratio, c.maxRatio)
			}
			b := randomBatch(net.Arch(), maxBatch, 9)
			for _, path := range []string{sharedPath, densePath} {
				fresh := buildNet(t, "lenet-300-100", lenetOptions, 2)
				if _, err := LoadFile(path, fresh); err != nil {
					t.Fatal(err)
				}
				for l := range mp.NumLayers() {
					name := mp.Layer(l).Tensor.Param.Name
					if i, ok := sameBits(fresh.Param(name).Values(), net.Param(name).Values()); !ok {
						t.Errorf("%s: virtual weight %d of %s differs", path, i, name)
					}
					_, shared := fresh.Parametrization(name).(nn.Shared)
					if shared != (path == sharedPath) {
						t.Errorf("%s: %s loaded shared = %v", path, name, shared)
					}
				}
				checkSameLogits(t, net, fresh, b)
			}
			// A shared file loads into a shared net, and a dense one
			// unshares it.
			again, _ := sharedNet(t, cfg, c.tables)
			if _, err := LoadFile(densePath, again); err != nil {
				t.Fatal(err)
			}
			if _, ok := again.Parametrization("fc1.weight").(nn.Shared); ok {
				t.Error("loading a dense file left fc1.weight shared")
			}
			checkSameLogits(t, net, again, b)
			if _, err := LoadFile(sharedPath, again); err != nil {
				t.Fatal(err)
			}
			checkSameLogits(t, net, again, b)
		})
	}
}

// TestSharedMetadata: the rps metadata names the mapper's seed and
// settings and each tensor's array and scale; the report marks shared
// tensors.
func TestSharedMetadata(t *testing.T) {
	net, mp := sharedNet(t, share.DefaultConfig(), false)
	f, err := Encode(net, Options{Mapper: mp, Format: Bitmask})
	if err != nil {
		t.Fatal(err)
	}
	var meta sharedMeta
	if err := json.Unmarshal([]byte(f.Metadata[KeyShared]), &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Mapper == nil || meta.Mapper.Seed != 12345 || meta.Mapper.Ratio != 0.1 || meta.Mapper.Mapper != share.Pareto || len(meta.Tensors) != 3 {
		t.Fatalf("rps metadata %s", f.Metadata[KeyShared])
	}
	for _, st := range meta.Tensors {
		if st.Array != "rps" || st.ArraySize != 26620 || st.Map != mapFromShare || st.Scale == 0 {
			t.Errorf("tensor %+v", st)
		}
	}
	if _, ok := f.Tensor("shared/rps"); !ok {
		t.Error("no tensor shared/rps")
	}
	rep, _ := f.Report()
	if rep.Tensors[0].Parametrization != "shared" || rep.Density != 1 {
		t.Errorf("report %+v", rep)
	}
}

// customMap is a SharedMap that is neither a table nor a mapper's.
type customMap struct{ nn.TableMap }

// TestSharedRefused: maps that cannot be written, a mapper that is not the
// net's, and shared metadata that does not fit are errors naming the
// tensor.
func TestSharedRefused(t *testing.T) {
	net, mp := sharedNet(t, share.DefaultConfig(), false)
	if _, err := Encode(net, Options{}); err == nil || !strings.Contains(err.Error(), "fc1.weight is shared through a map of type") || !strings.Contains(err.Error(), "Options.Mapper") {
		t.Errorf("a mapper's map without the mapper: %v", err)
	}
	cfg := share.DefaultConfig()
	cfg.Ratio, cfg.Seed = 0.1, 999
	other, err := share.Build(net.Arch(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Encode(net, Options{Mapper: other}); err == nil || !strings.Contains(err.Error(), "fc1.weight: the share.Mapper given maps virtual weight") {
		t.Errorf("another mapper: %v", err)
	}
	custom := buildNet(t, "lenet-300-100", lenetOptions, 1)
	sh := mp.Shared(0, 1)
	sh.Map = customMap{sh.Map.(nn.TableMap)}
	if err := custom.SetParametrization("fc1.weight", sh); err != nil {
		t.Fatal(err)
	}
	if _, err := Encode(custom, Options{}); err == nil || !strings.Contains(err.Error(), "fc1.weight is shared through a map of type export.customMap, which cannot be written") {
		t.Errorf("a custom map: %v", err)
	}

	f, err := Encode(net, Options{Mapper: mp})
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		name string
		edit func(m *sharedMeta)
		want string
	}{
		{"unknown tensor", func(m *sharedMeta) { m.Tensors[0].Name = "fc9.weight" }, "shared tensor fc9.weight: model lenet-300-100 has no such parameter"},
		{"bias", func(m *sharedMeta) { m.Tensors[0].Name = "fc1.bias" }, "shared tensor fc1.bias is a bias"},
		{"array size", func(m *sharedMeta) { m.Tensors[1].ArraySize = 7 }, `array "rps" has 7 entries for fc2.weight`},
		{"map", func(m *sharedMeta) { m.Tensors[0].Map = "magic" }, `fc1.weight has map "magic"`},
		{"ratio", func(m *sharedMeta) { m.Mapper.Ratio = 2 }, "rebuilding the mapper"},
		{"seed", func(m *sharedMeta) { m.Mapper.Seed++ }, "the map of fc1.weight rebuilt here has digest"},
		{"table missing", func(m *sharedMeta) { m.Tensors[2].Map = mapTable }, "tensor fc3.weight.rps_index is missing"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			var meta sharedMeta
			json.Unmarshal([]byte(f.Metadata[KeyShared]), &meta)
			e.edit(&meta)
			b, _ := json.Marshal(meta)
			g := *f
			g.Metadata = map[string]string{}
			for k, v := range f.Metadata {
				g.Metadata[k] = v
			}
			g.Metadata[KeyShared] = string(b)
			fresh := buildNet(t, "lenet-300-100", lenetOptions, 2)
			err := Load(fresh, &g)
			if err == nil || !strings.Contains(err.Error(), e.want) {
				t.Errorf("error %v, want %q", err, e.want)
			}
		})
	}
}
