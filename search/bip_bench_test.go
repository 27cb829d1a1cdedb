package search

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// BenchmarkBiPScoreStep times BiP's upper level on LeNet-300-100 at batch
// 60: the upper batch's forward and backward plus ScoreStep (score
// gradient, SGD, global selection, installing the masks), at two densities.
func BenchmarkBiPScoreStep(b *testing.B) {
	for _, k := range []float64{0.2, 0.02} {
		b.Run(fmt.Sprint("k=", k), func(b *testing.B) {
			arch, err := zoo.Build("lenet-300-100", zoo.Options{})
			if err != nil {
				b.Fatal(err)
			}
			be, _ := nn.GetBackend("native")
			net, err := be.Build(nn.Config{Arch: arch, MaxBatch: 60})
			if err != nil {
				b.Fatal(err)
			}
			if err := nn.Initialize(net, "kaiming_normal", nn.NewRand(1)); err != nil {
				b.Fatal(err)
			}
			var set []nn.ParamInfo
			for _, p := range net.Params() {
				if p.Info().Prunable() {
					set = append(set, p.Info())
				}
			}
			c := bipConfig(k, 1000)
			bip, err := NewBiP(net, set, c)
			if err != nil {
				b.Fatal(err)
			}
			batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 60, 784, 10)
			b.ResetTimer()
			for it := 0; b.Loop(); it++ {
				if _, err := net.Gradients(batch); err != nil {
					b.Fatal(err)
				}
				if err := bip.ScoreStep(net, it%1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
