package share

import (
	"fmt"
	"testing"
)

// Benchmarks of the index function at three layer sizes (LeNet's fc3,
// fc1, and a 512-channel 3×3 convolution), per mapper: Index per element
// and Row per row of the native layout. ns/op is per element in both
// (b.N counts elements).
var benchLayers = []Tensor{lin("fc3", 10, 100), lin("fc1", 300, 784), conv("conv", 512, 512, 3)}

func benchMapper(b *testing.B, mapper string, t Tensor) *Mapper {
	mp, err := NewMapper([]Tensor{lin("first", 64, 64), t}, Config{Mapper: mapper, Ratio: 0.1, BlockK: 8, BlockN: 8, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return mp
}

func BenchmarkIndex(b *testing.B) {
	for _, mapper := range MapperNames() {
		for _, t := range benchLayers {
			b.Run(fmt.Sprintf("%s/%s-%d", mapper, t.Param.Layer, t.Size()), func(b *testing.B) {
				mp := benchMapper(b, mapper, t)
				size := t.Size()
				var sink int32
				var s float32
				i := 0
				for b.Loop() {
					j, g := mp.Index(1, i)
					sink += j
					s += g
					if i++; i == size {
						i = 0
					}
				}
				_, _ = sink, s
			})
		}
	}
}

func BenchmarkRow(b *testing.B) {
	for _, mapper := range MapperNames() {
		for _, t := range benchLayers {
			b.Run(fmt.Sprintf("%s/%s-%d", mapper, t.Param.Layer, t.Size()), func(b *testing.B) {
				mp := benchMapper(b, mapper, t)
				rl := mp.RowLen(1)
				rows := t.Size() / rl
				idx, sg := make([]int32, rl), make([]float32, rl)
				r := 0
				n := 0
				for b.Loop() {
					mp.Row(1, r, idx, sg)
					if r++; r == rows {
						r = 0
					}
					n++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*rl), "ns/elem")
			})
		}
	}
}

// BenchmarkIndexOnly is Row without signs: the cost of h alone.
func BenchmarkIndexOnly(b *testing.B) {
	for _, mapper := range MapperNames() {
		t := benchLayers[1]
		b.Run(fmt.Sprintf("%s/%s-%d", mapper, t.Param.Layer, t.Size()), func(b *testing.B) {
			mp := benchMapper(b, mapper, t)
			rl := mp.RowLen(1)
			idx := make([]int32, rl)
			r, n := 0, 0
			for b.Loop() {
				mp.Row(1, r, idx, nil)
				if r++; r == t.Size()/rl {
					r = 0
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*rl), "ns/elem")
		})
	}
}

func BenchmarkSlotStats(b *testing.B) {
	for _, t := range benchLayers {
		b.Run(fmt.Sprintf("%s-%d", t.Param.Layer, t.Size()), func(b *testing.B) {
			mp := benchMapper(b, Pareto, t)
			scales := []float64{1, 2}
			for b.Loop() {
				if _, err := mp.SlotStats(scales); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
