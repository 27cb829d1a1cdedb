package datasets

import (
	"fmt"
	"testing"
)

// BenchmarkLoaderBatch measures one Batch call: MNIST-shaped without
// augmentation and CIFAR-shaped with and without pad-crop/flip, at the batch
// sizes of the reference recipes.
func BenchmarkLoaderBatch(b *testing.B) {
	for _, bc := range []struct {
		name  string
		shape []int
		n     int
		batch int
		aug   Augment
	}{
		{"mnist", []int{1, 28, 28}, 6000, 60, Augment{}},
		{"mnist", []int{1, 28, 28}, 6000, 1000, Augment{}},
		{"cifar", []int{3, 32, 32}, 5000, 128, Augment{}},
		{"cifar-aug", []int{3, 32, 32}, 5000, 128, CIFAR10Augment},
		{"cifar-aug", []int{3, 32, 32}, 5000, 512, CIFAR10Augment},
	} {
		b.Run(fmt.Sprintf("%s/B=%d", bc.name, bc.batch), func(b *testing.B) {
			s := indexSet(bc.n, bc.shape, 10)
			s.Mean, s.Std = make([]float64, bc.shape[0]), make([]float64, bc.shape[0])
			for c := range s.Std {
				s.Std[c] = 1
			}
			l, err := NewLoader(s, bc.batch, 1, bc.aug, false)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, bc.batch*s.ExampleSize())
			y := make([]int32, bc.batch)
			b.SetBytes(int64(4 * bc.batch * s.ExampleSize()))
			b.ReportAllocs()
			it := 0
			for b.Loop() {
				l.Batch(it, x, y)
				it++
			}
		})
	}
}
