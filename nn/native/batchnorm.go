package native

import (
	"math"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/native/internal/vec"
)

// batchNorm is PyTorch's BatchNorm2d on CNHW feature maps (statistics per
// channel over n·H·W entries, each channel contiguous) or BatchNorm1d on N×C
// vectors (statistics per feature over n rows), with affine parameters
// weight (γ) and bias (β) and buffers running_mean and running_var.
//
// Training normalizes with the batch mean and the biased batch variance and
// updates running = (1−momentum)·running + momentum·batch, with the unbiased
// variance for running_var (with one value per channel, where PyTorch refuses
// to train, the biased one, 0, is used). Evaluation normalizes with the
// running statistics.
//
// Precision: values are float32, but every sum (mean, variance, and the two
// sums of backward) is accumulated in float64 in a fixed order, and the
// per-channel statistics are kept in float64. This costs little (the sums are
// a small part of the work next to the convolutions) and keeps the variance
// of large, offset channels accurate. On feature maps the per-channel loops
// are internal/vec's (AVX2 where the CPU has it): their sums keep 16 (or 8)
// partial sums, one per position in a block, combined in a fixed tree, an
// order that depends only on the channel's size, and give the same bits in
// assembly and in Go.
type batchNorm struct {
	c      int
	hw     int  // spatial size; 1 for vectors
	vector bool // N×C layout (BatchNorm1d)
	eps    float64
	mom    float64
	needDx bool

	weight, bias *param
	runMean      []float32
	runVar       []float32

	train  bool      // mode of the last forward
	m      int       // values per channel in the last forward
	mean   []float64 // per channel, scratch
	bvar   []float64 // per channel, biased batch variance, scratch
	invStd []float64 // per channel, of the last forward
	sdy    []float64 // backward scratch: Σ dy
	sdyx   []float64 // backward scratch: Σ dy·x̂
	xhat   []float32 // normalized input of the last forward
	y, dx  []float32
	ps     []*param
	bufs   []buffer
}

// newBatchNorm builds a batch norm on per-example input shape in ([C] or
// [C, H, W]). A zero Eps or Momentum in s means PyTorch's default (1e-5,
// 0.1).
func newBatchNorm(s nn.BatchNorm, in []int, maxBatch int, needDx bool) *batchNorm {
	size := shapeSize(in)
	l := &batchNorm{c: s.C, hw: size / s.C, vector: len(in) == 1, eps: s.Eps, mom: s.Momentum, needDx: needDx}
	if l.eps == 0 {
		l.eps = 1e-5
	}
	if l.mom == 0 {
		l.mom = 0.1
	}
	l.weight = newParam(nn.ParamInfo{Name: s.Name + ".weight", Layer: s.Name, Shape: []int{s.C}, Kind: nn.NormScale, FanIn: s.C, FanOut: s.C})
	l.bias = newParam(nn.ParamInfo{Name: s.Name + ".bias", Layer: s.Name, Shape: []int{s.C}, Kind: nn.NormShift, FanIn: s.C, FanOut: s.C})
	l.ps = []*param{l.weight, l.bias}
	l.runMean = make([]float32, s.C)
	l.runVar = make([]float32, s.C)
	for i := range l.runVar {
		l.runVar[i] = 1
	}
	l.bufs = []buffer{{name: s.Name + ".running_mean", data: l.runMean}, {name: s.Name + ".running_var", data: l.runVar}}
	l.mean = make([]float64, s.C)
	l.bvar = make([]float64, s.C)
	l.invStd = make([]float64, s.C)
	l.sdy = make([]float64, s.C)
	l.sdyx = make([]float64, s.C)
	l.xhat = make([]float32, maxBatch*size)
	l.y = make([]float32, maxBatch*size)
	if needDx {
		l.dx = make([]float32, maxBatch*size)
	}
	return l
}

func (l *batchNorm) forward(x []float32, n int, train bool) []float32 {
	size := n * l.c * l.hw
	x = x[:size]
	l.train = train
	l.m = n * l.hw
	if train {
		l.batchStats(x, n)
		m := float64(l.m)
		for c := range l.c {
			v := l.bvar[c]
			if l.m > 1 {
				v *= m / (m - 1)
			}
			l.runMean[c] = float32((1-l.mom)*float64(l.runMean[c]) + l.mom*l.mean[c])
			l.runVar[c] = float32((1-l.mom)*float64(l.runVar[c]) + l.mom*v)
		}
	} else {
		for c := range l.c {
			l.mean[c] = float64(l.runMean[c])
			l.invStd[c] = 1 / math.Sqrt(float64(l.runVar[c])+l.eps)
		}
	}
	xhat := l.xhat[:size]
	y := l.y[:size]
	g, b := l.weight.w, l.bias.w
	if l.vector {
		for i := 0; i < n; i++ {
			for c := range l.c {
				j := i*l.c + c
				xh := float32((float64(x[j]) - l.mean[c]) * l.invStd[c])
				xhat[j] = xh
				y[j] = g[c]*xh + b[c]
			}
		}
		return y
	}
	for c := range l.c {
		lo, hi := c*l.m, (c+1)*l.m
		// x̂ = float32((x − mean)·invstd), y = γ·x̂ + β
		vec.NormAffine(xhat[lo:hi], y[lo:hi], x[lo:hi], l.mean[c], l.invStd[c], g[c], b[c])
	}
	return y
}

// batchStats sets l.mean, l.bvar and l.invStd from the batch: mean, then the biased
// variance of the centred values (two passes, float64 sums in a fixed order).
func (l *batchNorm) batchStats(x []float32, n int) {
	m := float64(l.m)
	vr := l.bvar
	if l.vector {
		clear(l.mean)
		clear(vr)
		for i := 0; i < n; i++ {
			for c, v := range x[i*l.c : (i+1)*l.c] {
				l.mean[c] += float64(v)
			}
		}
		for c := range l.mean {
			l.mean[c] /= m
		}
		for i := 0; i < n; i++ {
			for c, v := range x[i*l.c : (i+1)*l.c] {
				d := float64(v) - l.mean[c]
				vr[c] += d * d
			}
		}
	} else {
		for c := range l.c {
			xs := x[c*l.m : (c+1)*l.m]
			mean := vec.Sum(xs) / m
			l.mean[c], vr[c] = mean, vec.SumSquaredDev(xs, mean)
		}
	}
	for c := range l.c {
		vr[c] /= m
		l.invStd[c] = 1 / math.Sqrt(vr[c]+l.eps)
	}
}

// backward: with x̂ the normalized input and m values per channel,
//
//	dβ = Σ dy, dγ = Σ dy·x̂,
//	dx = γ·invstd·(dy − dβ/m − x̂·dγ/m)   (training: batch statistics)
//	dx = γ·invstd·dy                     (evaluation: running statistics)
func (l *batchNorm) backward(dy []float32, n int) []float32 {
	size := n * l.c * l.hw
	dy = dy[:size]
	xhat := l.xhat[:size]
	sdy, sdyx := l.sdy, l.sdyx
	if l.vector {
		clear(sdy)
		clear(sdyx)
		for i := 0; i < n; i++ {
			row := i * l.c
			for c, g := range dy[row : row+l.c] {
				sdy[c] += float64(g)
				sdyx[c] += float64(g) * float64(xhat[row+c])
			}
		}
	} else {
		for c := range l.c {
			lo, hi := c*l.m, (c+1)*l.m
			sdy[c], sdyx[c] = vec.SumAndDot(dy[lo:hi], xhat[lo:hi])
		}
	}
	for c := range l.c {
		l.bias.grad[c] = float32(sdy[c])
		l.weight.grad[c] = float32(sdyx[c])
	}
	if !l.needDx {
		return nil
	}
	dx := l.dx[:size]
	gam := l.weight.w
	m := float64(l.m)
	if l.vector {
		for i := 0; i < n; i++ {
			for c := range l.c {
				j := i*l.c + c
				k := float64(gam[c]) * l.invStd[c]
				if l.train {
					dx[j] = float32(k * (float64(dy[j]) - sdy[c]/m - float64(xhat[j])*sdyx[c]/m))
				} else {
					dx[j] = float32(k * float64(dy[j]))
				}
			}
		}
		return dx
	}
	for c := range l.c {
		lo, hi := c*l.m, (c+1)*l.m
		k := float32(float64(gam[c]) * l.invStd[c])
		dxs, dys, xh := dx[lo:hi], dy[lo:hi], xhat[lo:hi]
		if !l.train {
			for j, g := range dys {
				dxs[j] = k * g
			}
			continue
		}
		a := float32(sdy[c] / m)
		b := float32(sdyx[c] / m)
		vec.NormGrad(dxs, dys, xh, k, a, b) // k·((dy − a) − x̂·b)
	}
	return dx
}

func (l *batchNorm) params() []*param  { return l.ps }
func (l *batchNorm) buffers() []buffer { return l.bufs }
