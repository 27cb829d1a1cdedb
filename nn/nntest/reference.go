package nntest

import (
	"fmt"
	"math"

	"github.com/prunebench/prunebench/nn"
)

// refModel is a naive float64 implementation of an architecture's forward
// pass on NCHW tensors (and, for Linear/ReLU stacks, its backward pass).
// It is deliberately written from the layer definitions in nn, not from any
// engine, so that it can catch a wrong engine.
type refModel struct {
	arch   *nn.Arch
	params map[string][]float64
	// bufs holds the batch norm running statistics, by buffer name
	// ("bn1.running_mean"). A training forward writes the updated ones to
	// newBufs when it is not nil.
	bufs    map[string][]float64
	newBufs map[string][]float64
	temp    float64
}

// newRef builds a reference model from a net's current parameters (θ, or
// θ ⊙ m where masks are given) and its State's buffers.
func newRef(net nn.Net, masks map[string][]float32, temp float64) (*refModel, error) {
	r := &refModel{arch: net.Arch(), params: map[string][]float64{}, bufs: map[string][]float64{}, temp: temp}
	if r.temp == 0 {
		r.temp = 1
	}
	for _, p := range net.Params() {
		v := to64(p.Values())
		if m := masks[p.Info().Name]; m != nil {
			for i := range v {
				v[i] *= float64(m[i])
			}
		}
		r.params[p.Info().Name] = v
	}
	st, err := net.State()
	if err != nil {
		return nil, err
	}
	for name, t := range st.Tensors {
		if len(name) > len("buffer/") && name[:len("buffer/")] == "buffer/" {
			r.bufs[name[len("buffer/"):]] = to64(t)
		}
	}
	return r, nil
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// tensor is a batch of n examples of shape shape, NCHW row-major.
type tensor struct {
	n     int
	shape []int
	d     []float64
}

func (t tensor) size() int { return shapeSize(t.shape) }

func shapeSize(s []int) int {
	k := 1
	for _, d := range s {
		k *= d
	}
	return k
}

// logits runs the forward pass on n examples of x (NCHW) in training
// (batch statistics) or evaluation mode and returns n×Classes logits.
func (r *refModel) logits(x []float32, n int, train bool) []float64 {
	in := tensor{n: n, shape: r.arch.Input, d: to64(x[:n*shapeSize(r.arch.Input)])}
	return r.seq(r.arch.Layers, in, train).d
}

// loss is the mean cross-entropy of softmax(logits/T) against y.
func (r *refModel) loss(logits []float64, y []int32, n int) float64 {
	c := r.arch.Classes
	var sum float64
	for i := 0; i < n; i++ {
		row := logits[i*c : (i+1)*c]
		mx, se := shiftedExpSum(row, r.temp)
		sum += mx + math.Log(se) - row[y[i]]/r.temp
	}
	return sum / float64(n)
}

func (r *refModel) seq(layers []nn.Layer, x tensor, train bool) tensor {
	for _, l := range layers {
		x = r.layer(l, x, train)
	}
	return x
}

func (r *refModel) layer(l nn.Layer, x tensor, train bool) tensor {
	switch l := l.(type) {
	case nn.Linear:
		w, b := r.params[l.Name+".weight"], r.params[l.Name+".bias"]
		y := tensor{n: x.n, shape: []int{l.Out}, d: make([]float64, x.n*l.Out)}
		for i := 0; i < x.n; i++ {
			xi := x.d[i*l.In : (i+1)*l.In]
			for o := 0; o < l.Out; o++ {
				var s float64
				if b != nil {
					s = b[o]
				}
				for j, v := range xi {
					s += w[o*l.In+j] * v
				}
				y.d[i*l.Out+o] = s
			}
		}
		return y
	case nn.Conv2d:
		return r.conv(l, x)
	case nn.BatchNorm:
		return r.batchNorm(l, x, train)
	case nn.ReLU:
		y := tensor{n: x.n, shape: x.shape, d: make([]float64, len(x.d))}
		for i, v := range x.d {
			y.d[i] = math.Max(v, 0)
		}
		return y
	case nn.MaxPool2d:
		c, h, w := x.shape[0], x.shape[1], x.shape[2]
		oh, ow := (h-l.Kernel)/l.Stride+1, (w-l.Kernel)/l.Stride+1
		y := tensor{n: x.n, shape: []int{c, oh, ow}, d: make([]float64, x.n*c*oh*ow)}
		for i := 0; i < x.n*c; i++ {
			src := x.d[i*h*w : (i+1)*h*w]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					mx := math.Inf(-1)
					for ky := 0; ky < l.Kernel; ky++ {
						for kx := 0; kx < l.Kernel; kx++ {
							mx = math.Max(mx, src[(oy*l.Stride+ky)*w+ox*l.Stride+kx])
						}
					}
					y.d[(i*oh+oy)*ow+ox] = mx
				}
			}
		}
		return y
	case nn.GlobalAvgPool:
		c, hw := x.shape[0], x.shape[1]*x.shape[2]
		y := tensor{n: x.n, shape: []int{c}, d: make([]float64, x.n*c)}
		for i := 0; i < x.n*c; i++ {
			var s float64
			for _, v := range x.d[i*hw : (i+1)*hw] {
				s += v
			}
			y.d[i] = s / float64(hw)
		}
		return y
	case nn.Flatten:
		// NCHW row-major is already torch.flatten's (c, h, w) order.
		return tensor{n: x.n, shape: []int{x.size()}, d: x.d}
	case nn.Dropout:
		if train && l.P > 0 {
			panic("nntest: the reference has no training-mode dropout")
		}
		return x
	case nn.Residual:
		a := r.seq(l.Body, x, train)
		b := r.seq(l.Shortcut, x, train)
		y := tensor{n: x.n, shape: a.shape, d: make([]float64, len(a.d))}
		for i := range y.d {
			y.d[i] = a.d[i] + b.d[i]
		}
		return y
	case nn.PadChannels:
		return padChannels(l, x)
	}
	panic(fmt.Sprintf("nntest: reference: layer type %T", l))
}

func (r *refModel) conv(l nn.Conv2d, x tensor) tensor {
	c, h, w := x.shape[0], x.shape[1], x.shape[2]
	k, s, p := l.Kernel, l.Stride, l.Pad
	oh, ow := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	wt, b := r.params[l.Name+".weight"], r.params[l.Name+".bias"]
	y := tensor{n: x.n, shape: []int{l.Out, oh, ow}, d: make([]float64, x.n*l.Out*oh*ow)}
	for i := 0; i < x.n; i++ {
		for o := 0; o < l.Out; o++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var sum float64
					if b != nil {
						sum = b[o]
					}
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < k; ky++ {
							iy := oy*s - p + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < k; kx++ {
								ix := ox*s - p + kx
								if ix < 0 || ix >= w {
									continue
								}
								sum += wt[((o*c+ci)*k+ky)*k+kx] * x.d[((i*c+ci)*h+iy)*w+ix]
							}
						}
					}
					y.d[((i*l.Out+o)*oh+oy)*ow+ox] = sum
				}
			}
		}
	}
	return y
}

// batchNorm follows PyTorch: training normalizes with the batch mean and
// biased variance and moves the running statistics by Momentum towards the
// batch mean and unbiased variance; evaluation uses the running statistics.
func (r *refModel) batchNorm(l nn.BatchNorm, x tensor, train bool) tensor {
	c := l.C
	hw := x.size() / c
	eps, mom := l.Eps, l.Momentum
	if eps == 0 {
		eps = 1e-5
	}
	if mom == 0 {
		mom = 0.1
	}
	g, b := r.params[l.Name+".weight"], r.params[l.Name+".bias"]
	rm, rv := r.bufs[l.Name+".running_mean"], r.bufs[l.Name+".running_var"]
	at := func(i, ch, j int) int { return (i*c+ch)*hw + j }
	y := tensor{n: x.n, shape: x.shape, d: make([]float64, len(x.d))}
	var nm, nv []float64
	if train && r.newBufs != nil {
		nm, nv = make([]float64, c), make([]float64, c)
	}
	for ch := 0; ch < c; ch++ {
		var mean, vr float64
		if train {
			m := float64(x.n * hw)
			for i := 0; i < x.n; i++ {
				for j := 0; j < hw; j++ {
					mean += x.d[at(i, ch, j)]
				}
			}
			mean /= m
			for i := 0; i < x.n; i++ {
				for j := 0; j < hw; j++ {
					d := x.d[at(i, ch, j)] - mean
					vr += d * d
				}
			}
			if nm != nil {
				unbiased := vr
				if m > 1 {
					unbiased /= m - 1
				} else {
					unbiased = 0
				}
				nm[ch] = (1-mom)*rm[ch] + mom*mean
				nv[ch] = (1-mom)*rv[ch] + mom*unbiased
			}
			vr /= m
		} else {
			mean, vr = rm[ch], rv[ch]
		}
		inv := 1 / math.Sqrt(vr+eps)
		for i := 0; i < x.n; i++ {
			for j := 0; j < hw; j++ {
				k := at(i, ch, j)
				y.d[k] = g[ch]*(x.d[k]-mean)*inv + b[ch]
			}
		}
	}
	if nm != nil {
		r.newBufs[l.Name+".running_mean"] = nm
		r.newBufs[l.Name+".running_var"] = nv
	}
	return y
}

// padChannels is the option-A shortcut: x[:, :, ::s, ::s] with the zero
// channels split as in the CIFAR ResNet code the papers reproduce
// (pytorch_resnet_cifar10's F.pad(..., (0, 0, 0, 0, p, p))): (Out−In)/2
// zero channels before the input channels, the rest after.
func padChannels(l nn.PadChannels, x tensor) tensor {
	c, h, w := x.shape[0], x.shape[1], x.shape[2]
	oh, ow := (h-1)/l.Stride+1, (w-1)/l.Stride+1
	before := (l.Out - l.In) / 2
	y := tensor{n: x.n, shape: []int{l.Out, oh, ow}, d: make([]float64, x.n*l.Out*oh*ow)}
	for i := 0; i < x.n; i++ {
		for ch := 0; ch < c; ch++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					y.d[((i*l.Out+ch+before)*oh+oy)*ow+ox] = x.d[((i*c+ch)*h+oy*l.Stride)*w+ox*l.Stride]
				}
			}
		}
	}
	return y
}

// mlpGrads returns the training loss and the analytic gradient of every
// parameter for an architecture made of Linear and ReLU layers only.
func (r *refModel) mlpGrads(x []float32, y []int32, n int) (float64, map[string][]float64) {
	type saved struct {
		l   nn.Layer
		in  []float64
		out []float64
	}
	var tape []saved
	a := to64(x[:n*shapeSize(r.arch.Input)])
	for _, l := range r.arch.Layers {
		switch l.(type) {
		case nn.Linear, nn.ReLU, nn.Flatten:
		default:
			panic(fmt.Sprintf("nntest: mlpGrads: layer %T", l))
		}
		t := r.layer(l, tensor{n: n, shape: []int{len(a) / n}, d: a}, true)
		tape = append(tape, saved{l: l, in: a, out: t.d})
		a = t.d
	}
	c := r.arch.Classes
	loss := r.loss(a, y, n)
	// dL/dz = (softmax(z/T) − onehot) / (n·T)
	dz := make([]float64, n*c)
	for i := 0; i < n; i++ {
		row := a[i*c : (i+1)*c]
		mx, se := shiftedExpSum(row, r.temp)
		for j, v := range row {
			p := math.Exp(v/r.temp-mx) / se
			if int32(j) == y[i] {
				p--
			}
			dz[i*c+j] = p / (float64(n) * r.temp)
		}
	}
	grads := map[string][]float64{}
	g := dz
	for k := len(tape) - 1; k >= 0; k-- {
		s := tape[k]
		switch l := s.l.(type) {
		case nn.ReLU:
			dx := make([]float64, len(g))
			for i, v := range s.in {
				if v > 0 {
					dx[i] = g[i]
				}
			}
			g = dx
		case nn.Linear:
			w := r.params[l.Name+".weight"]
			dw := make([]float64, l.Out*l.In)
			dx := make([]float64, n*l.In)
			var db []float64
			if l.Bias {
				db = make([]float64, l.Out)
			}
			for i := 0; i < n; i++ {
				for o := 0; o < l.Out; o++ {
					gy := g[i*l.Out+o]
					if db != nil {
						db[o] += gy
					}
					for j := 0; j < l.In; j++ {
						dw[o*l.In+j] += gy * s.in[i*l.In+j]
						dx[i*l.In+j] += gy * w[o*l.In+j]
					}
				}
			}
			grads[l.Name+".weight"] = dw
			if db != nil {
				grads[l.Name+".bias"] = db
			}
			g = dx
		}
	}
	return loss, grads
}

// fdGrad is the float64 central difference of the reference training loss
// with respect to entry i of parameter name.
func (r *refModel) fdGrad(name string, i int, x []float32, y []int32, n int) float64 {
	v := r.params[name]
	old := v[i]
	h := 1e-6 * math.Max(1, math.Abs(old))
	v[i] = old + h
	lp := r.loss(r.logits(x, n, true), y, n)
	v[i] = old - h
	lm := r.loss(r.logits(x, n, true), y, n)
	v[i] = old
	return (lp - lm) / (2 * h)
}

// shiftedExpSum returns m = max(row/T) and Σ exp(row/T − m), the stable
// pieces of log-softmax.
func shiftedExpSum(row []float64, temp float64) (m, sum float64) {
	m = math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, v/temp)
	}
	for _, v := range row {
		sum += math.Exp(v/temp - m)
	}
	return m, sum
}
