package search

// The after-training criteria that run the network: KL and CKA compare the
// intact network with the one whose block is off; expectedABS and HRank
// read the block's own output.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/prunebench/prunebench/nn"
)

// newKL returns the KL criterion: KL(q ‖ p) = mean over the subsample of
// Σ_c q_c (log q_c − log p_c), p = softmax of the intact network's logits
// and q that of the network with the block's last batch norm zeroed (scale,
// shift and statistics: the residual branch outputs 0, so the block passes
// its input through). Logits, not probabilities, are what the engines
// output, so the softmax is applied once, here, in float64.
func newKL(ctx TrainedContext, arch *nn.Arch, st *nn.State) (func(Block) (float64, error), error) {
	intact, err := outputs(ctx.Net, ctx.Batches)
	if err != nil {
		return nil, err
	}
	logP := logSoftmaxRows(intact)
	net, err := scratchNet(ctx, arch, st)
	if err != nil {
		return nil, err
	}
	return func(b Block) (float64, error) {
		mod, err := offOutputs(net, st, b, ctx.Batches)
		if err != nil {
			return 0, err
		}
		logQ := logSoftmaxRows(mod)
		n, c := logQ.Dims()
		var kl float64
		for i := range n {
			for j := range c {
				lq := logQ.At(i, j)
				kl += math.Exp(lq) * (lq - logP.At(i, j))
			}
		}
		return kl / float64(n), nil
	}, nil
}

// newCKA returns the CKA criterion: 1 − linear CKA between the
// penultimate features (the input of the last layer, which must be
// Linear) of the intact network and of the network with the block off:
// CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) with X, Y centred per feature (the
// non-debiased feature-space form). Constant features make CKA undefined,
// an error.
func newCKA(ctx TrainedContext, arch *nn.Arch, st *nn.State) (func(Block) (float64, error), error) {
	last := len(arch.Layers) - 1
	if _, ok := arch.Layers[last].(nn.Linear); !ok {
		return nil, fmt.Errorf("criterion cka reads the input of the last layer, which must be Linear; model %s ends in %T", arch.Name, arch.Layers[last])
	}
	feat, _, err := truncated(arch, last-1)
	if err != nil {
		return nil, err
	}
	net, err := scratchNet(ctx, feat, st)
	if err != nil {
		return nil, err
	}
	x, err := outputs(net, ctx.Batches)
	if err != nil {
		return nil, err
	}
	center(x)
	return func(b Block) (float64, error) {
		y, err := offOutputs(net, st, b, ctx.Batches)
		if err != nil {
			return 0, err
		}
		center(y)
		cka, err := linearCKA(x, y)
		return 1 - cka, err
	}, nil
}

// offOutputs runs net with b's last batch norm zeroed and restores st.
func offOutputs(net nn.Net, st *nn.State, b Block, batches []nn.Batch) (*mat.Dense, error) {
	saved, err := zeroNorm(st, b.Norm2, nil)
	if err != nil {
		return nil, err
	}
	defer zeroNorm(st, b.Norm2, saved)
	if err := copyState(net, st, func(s string) string { return s }); err != nil {
		return nil, err
	}
	return outputs(net, batches)
}

// linearCKA is ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) for centred X and Y.
func linearCKA(x, y *mat.Dense) (float64, error) {
	var yx, xx, yy mat.Dense
	yx.Mul(y.T(), x)
	xx.Mul(x.T(), x)
	yy.Mul(y.T(), y)
	nx, ny := mat.Norm(&xx, 2), mat.Norm(&yy, 2)
	if nx == 0 || ny == 0 {
		return 0, fmt.Errorf("constant features: linear CKA is undefined")
	}
	f := mat.Norm(&yx, 2)
	return f * f / (nx * ny), nil
}

// center subtracts each column's mean.
func center(m *mat.Dense) {
	r, c := m.Dims()
	for j := range c {
		var s float64
		for i := range r {
			s += m.At(i, j)
		}
		s /= float64(r)
		for i := range r {
			m.Set(i, j, m.At(i, j)-s)
		}
	}
}

// logSoftmaxRows returns log softmax of every row, shifted by the row
// maximum.
func logSoftmaxRows(z *mat.Dense) *mat.Dense {
	r, c := z.Dims()
	out := mat.NewDense(r, c, nil)
	for i := range r {
		mx := math.Inf(-1)
		for j := range c {
			mx = max(mx, z.At(i, j))
		}
		var se float64
		for j := range c {
			se += math.Exp(z.At(i, j) - mx)
		}
		lse := mx + math.Log(se)
		for j := range c {
			out.Set(i, j, z.At(i, j)-lse)
		}
	}
	return out
}

// featureScore is expectedABS or HRank on the block's output (after the
// ReLU that follows it):
//
//	expected_abs  mean over channels of the mean |output| (every channel has
//	              the same number of entries, so: the mean of all |output|)
//	hrank         mean over channels and examples of rank(feature map) /
//	              max(H, W); a vector feature is C channels of 1×1 maps, whose
//	              rank is 1 when non-zero
//
// The rank counts singular values above max(H, W)·ε₃₂·σ_max, numpy's
// matrix_rank tolerance at float32 precision.
func featureScore(ctx TrainedContext, arch *nn.Arch, st *nn.State, b Block, crit string) (float64, error) {
	last := b.Layer
	if b.ReLU {
		last++
	}
	feat, shape, err := truncated(arch, last)
	if err != nil {
		return 0, err
	}
	net, err := scratchNet(ctx, feat, st)
	if err != nil {
		return 0, err
	}
	f, err := outputs(net, ctx.Batches)
	if err != nil {
		return 0, err
	}
	raw := f.RawMatrix().Data
	if crit == CritExpectedABS {
		var s float64
		for _, v := range raw {
			s += math.Abs(v)
		}
		return s / float64(len(raw)), nil
	}
	h, w := 1, 1
	if len(shape) == 3 {
		h, w = shape[1], shape[2]
	}
	side := max(h, w)
	rcond := float64(side) * float64(math.Nextafter32(1, 2)-1)
	var svd mat.SVD
	var rank float64
	maps := len(raw) / (h * w)
	for k := range maps {
		m := raw[k*h*w : (k+1)*h*w]
		if h*w == 1 {
			if m[0] != 0 {
				rank++
			}
			continue
		}
		if !svd.Factorize(mat.NewDense(h, w, m), mat.SVDNone) {
			return 0, fmt.Errorf("criterion hrank: the SVD of a feature map did not converge")
		}
		rank += float64(svd.Rank(rcond))
	}
	return rank / float64(maps) / float64(side), nil
}
