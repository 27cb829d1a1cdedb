package native

import (
	"math"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
)

func TestBuildConfig(t *testing.T) {
	if (Backend{}).Name() != "native" {
		t.Errorf("Name() = %q", Backend{}.Name())
	}
	n, err := Backend{}.Build(nn.Config{Arch: nntest.MLP(), MaxBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	net := n.(*Net)
	if net.temp != 1 || net.cfg.Temperature != 1 {
		t.Errorf("temperature %v (config %v), want 1 for 0", net.temp, net.cfg.Temperature)
	}
	if len(net.dlogits) != 3*4 || net.input != nil {
		t.Errorf("buffers: dlogits %d, input %v", len(net.dlogits), net.input != nil)
	}
	for _, c := range []struct {
		cfg     nn.Config
		mention string
	}{
		{nn.Config{Arch: nntest.MLP(), MaxBatch: 3, Temperature: math.NaN()}, "temperature"},
		{nn.Config{Arch: nntest.MLP(), MaxBatch: 3, Temperature: -2}, "temperature"},
		{nn.Config{Arch: nntest.MLP(), MaxBatch: -1}, "maximum batch"},
		{nn.Config{Arch: &nn.Arch{Name: "drop", Input: []int{4}, Classes: 4, Layers: []nn.Layer{nn.Dropout{P: 1.5}}}, MaxBatch: 1}, "dropout"},
	} {
		_, err := Backend{}.Build(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("Build(%+v): error %v, want one mentioning %q", c.cfg, err, c.mention)
		}
	}
}
