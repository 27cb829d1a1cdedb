//go:build torch

package torch

import (
	"fmt"
	"math/rand/v2"

	"github.com/prunebench/prunebench/nn"
)

// layer is one layer of a built net: a forward on NCHW (or N×D) tensors;
// autograd provides the backward.
type layer interface {
	forward(s *scope, x ct, n int, train bool) ct
}

type linear struct{ w, b *entry }

func (l linear) forward(s *scope, x ct, _ int, _ bool) ct {
	return s.linear(x, l.w.leaf(), leafOrNil(l.b))
}

type conv struct {
	w, b        *entry
	stride, pad int
}

func (l conv) forward(s *scope, x ct, _ int, _ bool) ct {
	return s.conv2d(x, l.w.leaf(), leafOrNil(l.b), l.stride, l.pad)
}

func leafOrNil(e *entry) ct {
	if e == nil {
		return nil
	}
	return e.leaf()
}

// batchNorm is libtorch's batch_norm: batch statistics and a running update
// (unbiased variance) in training, running statistics in evaluation.
type batchNorm struct {
	w, b          *entry
	mean, vari    *buffer
	momentum, eps float64
}

func (l batchNorm) forward(s *scope, x ct, _ int, train bool) ct {
	return s.batchNorm(x, l.w.leaf(), l.b.leaf(), l.mean.t, l.vari.t, train, l.momentum, l.eps)
}

type relu struct{}

func (relu) forward(s *scope, x ct, _ int, _ bool) ct { return s.relu(x) }

type maxPool struct{ kernel, stride int }

func (l maxPool) forward(s *scope, x ct, _ int, _ bool) ct {
	return s.maxPool2d(x, l.kernel, l.stride)
}

type globalAvgPool struct{}

func (globalAvgPool) forward(s *scope, x ct, _ int, _ bool) ct { return s.meanDims(x, 2, 3) }

type flatten struct{ size int }

func (l flatten) forward(s *scope, x ct, n int, _ bool) ct {
	return s.reshape(x, int64(n), int64(l.size))
}

// dropout draws its masks on the host from the net's dropout stream, exactly
// as the native engine does (one Float32 per entry in the native engine's
// storage order, dropped when < p), so both engines drop the same units for
// the same DropoutSeed and step. The native engine stores feature maps
// channel-major (C, N, H, W); image masks are drawn in that order and
// permuted to NCHW.
type dropout struct {
	p     float64
	shape []int // per example
	rng   *rand.Rand
	buf   []float32
}

func (l *dropout) forward(s *scope, x ct, n int, train bool) ct {
	if !train || l.p == 0 {
		return x
	}
	var scale float32
	if l.p < 1 {
		scale = float32(1 / (1 - l.p))
	}
	p := float32(l.p)
	size := prodInt(l.shape)
	m := l.buf[:n*size]
	for i := range m {
		if l.rng.Float32() < p {
			m[i] = 0
		} else {
			m[i] = scale
		}
	}
	var mask ct
	if len(l.shape) == 3 {
		c, h, w := int64(l.shape[0]), int64(l.shape[1]), int64(l.shape[2])
		mask = s.permute(s.upload(m, c, int64(n), h, w), 1, 0, 2, 3)
	} else {
		mask = s.upload(m, shapeOf(n, l.shape)...)
	}
	return s.mul(x, mask)
}

type residual struct{ body, short []layer }

func (l residual) forward(s *scope, x ct, n int, train bool) ct {
	return s.add(forwardAll(s, l.body, x, n, train), forwardAll(s, l.short, x, n, train))
}

// padChannels is the option-A shortcut: x[:, :, ::stride, ::stride] with
// (out−in)/2 zero channels before and the rest after.
type padChannels struct{ in, out, stride int }

func (l padChannels) forward(s *scope, x ct, _ int, _ bool) ct {
	if l.stride > 1 {
		x = s.every(s.every(x, 2, l.stride), 3, l.stride)
	}
	before := int64((l.out - l.in) / 2)
	after := int64(l.out-l.in) - before
	if before == 0 && after == 0 {
		return x
	}
	return s.pad(x, 0, 0, 0, 0, before, after)
}

func forwardAll(s *scope, ls []layer, x ct, n int, train bool) ct {
	for _, l := range ls {
		x = l.forward(s, x, n, train)
	}
	return x
}

// builder turns Arch layers into layers, creating the parameters (in
// canonical order) and buffers on the way.
type builder struct {
	s        *scope
	maxBatch int
	rng      *rand.Rand
	entries  []*entry
	buffers  []*buffer
}

func (b *builder) param(info nn.ParamInfo) *entry {
	e := &entry{info: info, shape: shape64(info.Shape)}
	e.theta = b.s.zeros(e.shape...)
	b.s.requireGrad(e.theta)
	b.s.own(e.theta)
	b.entries = append(b.entries, e)
	return e
}

func (b *builder) buffer(name string, c int, value float32) *buffer {
	v := make([]float32, c)
	for i := range v {
		v[i] = value
	}
	buf := &buffer{name: name, size: c, t: b.s.upload(v, int64(c))}
	b.s.own(buf.t)
	b.buffers = append(b.buffers, buf)
	return buf
}

func (b *builder) layers(ls []nn.Layer, in []int) ([]layer, []int, error) {
	var out []layer
	for _, l := range ls {
		next, err := l.OutShape(in)
		if err != nil {
			return nil, nil, err
		}
		var built layer
		switch l := l.(type) {
		case nn.Linear:
			li := linear{w: b.param(nn.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.Out, l.In}, Kind: nn.Weight, FanIn: l.In, FanOut: l.Out})}
			if l.Bias {
				li.b = b.param(nn.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.Out}, Kind: nn.Bias, FanIn: l.In, FanOut: l.Out})
			}
			built = li
		case nn.Conv2d:
			kk := l.Kernel * l.Kernel
			c := conv{stride: l.Stride, pad: l.Pad}
			c.w = b.param(nn.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.Out, l.In, l.Kernel, l.Kernel}, Kind: nn.Weight, FanIn: l.In * kk, FanOut: l.Out * kk})
			if l.Bias {
				c.b = b.param(nn.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.Out}, Kind: nn.Bias, FanIn: l.In * kk, FanOut: l.Out * kk})
			}
			built = c
		case nn.BatchNorm:
			bn := batchNorm{momentum: l.Momentum, eps: l.Eps}
			bn.w = b.param(nn.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{l.C}, Kind: nn.NormScale, FanIn: l.C, FanOut: l.C})
			bn.b = b.param(nn.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{l.C}, Kind: nn.NormShift, FanIn: l.C, FanOut: l.C})
			bn.mean = b.buffer(l.Name+".running_mean", l.C, 0)
			bn.vari = b.buffer(l.Name+".running_var", l.C, 1)
			built = bn
		case nn.ReLU:
			built = relu{}
		case nn.MaxPool2d:
			built = maxPool{kernel: l.Kernel, stride: l.Stride}
		case nn.GlobalAvgPool:
			built = globalAvgPool{}
		case nn.Flatten:
			built = flatten{size: prodInt(in)}
		case nn.Dropout:
			if !(l.P >= 0 && l.P <= 1) {
				return nil, nil, fmt.Errorf("dropout: probability %v, want 0 ≤ p ≤ 1", l.P)
			}
			built = &dropout{p: l.P, shape: in, rng: b.rng, buf: make([]float32, b.maxBatch*prodInt(in))}
		case nn.Residual:
			body, _, err := b.layers(l.Body, in)
			if err != nil {
				return nil, nil, fmt.Errorf("block %s: %w", l.Name, err)
			}
			short, _, err := b.layers(l.Shortcut, in)
			if err != nil {
				return nil, nil, fmt.Errorf("block %s shortcut: %w", l.Name, err)
			}
			built = residual{body: body, short: short}
		case nn.PadChannels:
			built = padChannels{in: l.In, out: l.Out, stride: l.Stride}
		default:
			return nil, nil, fmt.Errorf("layer %T is %w on the torch engine", l, nn.ErrNotImplemented)
		}
		out = append(out, built)
		in = next
	}
	return out, in, nil
}

// buffer is a non-trained tensor of the state (batch norm running
// statistics).
type buffer struct {
	name string
	size int
	t    ct
}

func shape64(s []int) []int64 {
	r := make([]int64, len(s))
	for i, d := range s {
		r[i] = int64(d)
	}
	return r
}

// shapeOf is the shape of a batch of n examples of per-example shape s.
func shapeOf(n int, s []int) []int64 { return append([]int64{int64(n)}, shape64(s)...) }

func prodInt(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
