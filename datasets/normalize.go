package datasets

import "fmt"

// Normalization statistics. Pixels are first scaled to [0, 1] (p/255), then
// normalized per channel: x = (p/255 - mean[c]) / std[c].
var (
	// MNISTMean and MNISTStd are the usual MNIST training-set statistics, the
	// values open_lth (datasets/mnist.py) and the PyTorch examples use.
	MNISTMean = []float64{0.1307}
	MNISTStd  = []float64{0.3081}

	// CIFAR10Mean and CIFAR10Std are the per-channel statistics of the
	// CIFAR-10 training set (the values commonly quoted, e.g. in
	// kuangliu/pytorch-cifar issue 19). They are the default. Note that
	// open_lth (datasets/cifar10.py) normalizes CIFAR-10 with the ImageNet
	// statistics below instead; pass those in Options.Mean/Std to match it.
	CIFAR10Mean = []float64{0.4914, 0.4822, 0.4465}
	CIFAR10Std  = []float64{0.2470, 0.2435, 0.2616}

	// ImageNetMean and ImageNetStd are the ImageNet statistics open_lth uses
	// for CIFAR-10.
	ImageNetMean = []float64{0.485, 0.456, 0.406}
	ImageNetStd  = []float64{0.229, 0.224, 0.225}
)

// normStats picks the statistics for a data set of c channels: none with
// NoNormalize, Options.Mean/Std when given, else the defaults.
func normStats(o Options, c int, defMean, defStd []float64) (mean, std []float64, err error) {
	if o.NoNormalize {
		if o.Mean != nil || o.Std != nil {
			return nil, nil, fmt.Errorf("NoNormalize with Mean/Std given: choose one")
		}
		return nil, nil, nil
	}
	mean, std = defMean, defStd
	if o.Mean != nil || o.Std != nil {
		mean, std = o.Mean, o.Std
	}
	if len(mean) != c || len(std) != c {
		return nil, nil, fmt.Errorf("normalization: %d means and %d stds: want one per channel (%d)", len(mean), len(std), c)
	}
	for i, s := range std {
		if !(s > 0) {
			return nil, nil, fmt.Errorf("normalization: Std[%d] = %v: want > 0", i, s)
		}
	}
	return append([]float64(nil), mean...), append([]float64(nil), std...), nil
}

// pixelTables returns, per channel, the float32 value of each byte value
// 0..255 after scaling and normalization (mean/std nil: scaling only).
// Looking values up keeps conversion exact and identical everywhere,
// including the Loader's padding value, which is table[c][0].
func pixelTables(c int, mean, std []float64) [][256]float32 {
	t := make([][256]float32, c)
	for ch := range t {
		for p := range 256 {
			v := float64(p) / 255
			if mean != nil {
				v = (v - mean[ch]) / std[ch]
			}
			t[ch][p] = float32(v)
		}
	}
	return t
}

// padValues returns per channel the value of a zero (black) pixel after the
// set's normalization: (0 - mean) / std, or 0 for an unnormalized set. This is
// what torchvision's zero padding becomes, because it pads the uint8 image
// before ToTensor and Normalize.
func padValues(s *Set) []float32 {
	v := make([]float32, s.Shape[0])
	if s.Mean != nil {
		t := pixelTables(len(v), s.Mean, s.Std)
		for c := range v {
			v[c] = t[c][0]
		}
	}
	return v
}

// imageSet converts the chosen records of raw CHW byte images into a Set.
// pix(i) returns the bytes of image i, label(i) its label.
func imageSet(name string, idx []int, shape []int, classes int, mean, std []float64,
	pix func(i int) []byte, label func(i int) int32) *Set {
	s := &Set{Name: name, Shape: shape, Classes: classes, Mean: mean, Std: std}
	sz := s.ExampleSize()
	plane := sz / shape[0]
	tables := pixelTables(shape[0], mean, std)
	s.X = make([]float32, len(idx)*sz)
	s.Y = make([]int32, len(idx))
	for k, i := range idx {
		dst := s.X[k*sz : (k+1)*sz]
		src := pix(i)
		for c := range tables {
			t := &tables[c]
			d, p := dst[c*plane:(c+1)*plane], src[c*plane:(c+1)*plane]
			for j, b := range p {
				d[j] = t[b]
			}
		}
		s.Y[k] = label(i)
	}
	return s
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	p := make([]int, n)
	identity(p)
	return p
}
