package native

// flatten turns CNHW feature maps [C,H,W] into N×(C·H·W) rows with feature
// index c·H·W + h·W + w, which is torch.flatten of NCHW, so the weights of
// the following Linear layer mean the same on every engine. On vectors it is
// the identity.
type flatten struct {
	c, hw  int // 0 for vectors
	size   int
	needDx bool
	y, dx  []float32
}

// newFlatten builds a Flatten on per-example input shape in.
func newFlatten(in []int, maxBatch int, needDx bool) *flatten {
	l := &flatten{size: shapeSize(in), needDx: needDx}
	if len(in) > 1 {
		l.c, l.hw = in[0], l.size/in[0]
		l.y = make([]float32, maxBatch*l.size)
		if needDx {
			l.dx = make([]float32, maxBatch*l.size)
		}
	}
	return l
}

func (l *flatten) forward(x []float32, n int, train bool) []float32 {
	m := n * l.size
	if l.y == nil {
		return x[:m]
	}
	y := l.y[:m]
	fromCNHW(y, x[:m], n, l.c, l.hw)
	return y
}

func (l *flatten) backward(dy []float32, n int) []float32 {
	if !l.needDx {
		return nil
	}
	m := n * l.size
	if l.y == nil {
		return dy[:m]
	}
	dx := l.dx[:m]
	toCNHW(dx, dy[:m], n, l.c, l.hw)
	return dx
}

func (l *flatten) params() []*param  { return nil }
func (l *flatten) buffers() []buffer { return nil }

// toCNHW converts a batch of n examples of c channels of hw pixels each from
// NCHW (src) to CNHW (dst): dst[(ch·n+i)·hw+k] = src[(i·c+ch)·hw+k]. The net
// converts its image inputs with it; vectors (N×D) need no conversion.
func toCNHW(dst, src []float32, n, c, hw int) {
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(ch*n+i)*hw:(ch*n+i+1)*hw], src[(i*c+ch)*hw:(i*c+ch+1)*hw])
		}
	}
}

// fromCNHW converts a batch of n examples of c channels of hw pixels each from
// CNHW (src) to NCHW (dst), the inverse of toCNHW. NCHW with hw pixels is also
// N×(c·hw) rows in torch.flatten order.
func fromCNHW(dst, src []float32, n, c, hw int) {
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(i*c+ch)*hw:(i*c+ch+1)*hw], src[(ch*n+i)*hw:(ch*n+i+1)*hw])
		}
	}
}
