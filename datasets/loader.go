package datasets

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Loader yields seeded training minibatches from a Set.
//
// It is counter based: Batch(it) depends only on (seed, it). Epoch
// e = it / ItersPerEpoch visits the set in the order of a permutation drawn
// from the stream (seed, epoch, e), and the augmentation of batch it is drawn
// from the stream (seed, augment, it) (rng.go). A run resumed at iteration it
// therefore sees exactly the batches it would have seen, with no loader state
// in the checkpoint, and changing the augmentation never changes the order.
//
// A Loader is not safe for concurrent use: it reuses its permutation buffer
// and generator so that Batch does not allocate.
type Loader struct {
	set      *Set
	b        int
	seed     uint64
	aug      Augment
	dropLast bool
	iters    int

	perm      []int // permutation of epoch permEpoch
	permEpoch int   // -1 before the first batch
	src       rand.PCG
	rng       *rand.Rand
	pad       []float32 // per channel value of a black pixel
	c, h, w   int
}

// NewLoader returns a loader of batches of batchSize examples of s. seed is
// the data-order seed (shuffling and augmentation); aug is applied to every
// example (it needs a CHW image shape); dropLast drops an epoch's last
// partial batch.
func NewLoader(s *Set, batchSize int, seed uint64, aug Augment, dropLast bool) (*Loader, error) {
	switch {
	case s == nil || s.Len() == 0:
		return nil, errors.New("loader: empty data set")
	case batchSize < 1:
		return nil, fmt.Errorf("loader: batch size %d: want at least 1", batchSize)
	case dropLast && batchSize > s.Len():
		return nil, fmt.Errorf("loader: batch size %d with drop-last and %d examples in %s: no full batch", batchSize, s.Len(), s.Name)
	case aug.PadCrop < 0:
		return nil, fmt.Errorf("loader: augmentation padding %d: want at least 0", aug.PadCrop)
	case aug.On() && len(s.Shape) != 3:
		return nil, fmt.Errorf("loader: augmentation needs CHW images, %s has example shape %v", s.Name, s.Shape)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	l := &Loader{
		set: s, b: batchSize, seed: seed, aug: aug, dropLast: dropLast,
		perm: make([]int, s.Len()), permEpoch: -1,
	}
	l.iters = (s.Len() + batchSize - 1) / batchSize
	if dropLast {
		l.iters = s.Len() / batchSize
	}
	l.rng = rand.New(&l.src)
	if aug.On() {
		l.c, l.h, l.w = s.Shape[0], s.Shape[1], s.Shape[2]
		l.pad = padValues(s)
	}
	return l, nil
}

// ItersPerEpoch returns the number of batches per epoch: ceil(N/B), or
// floor(N/B) with dropLast (docs/methods/conventions.md#steps-and-budgets).
func (l *Loader) ItersPerEpoch() int { return l.iters }

// BatchSize returns B.
func (l *Loader) BatchSize() int { return l.b }

// Set returns the set the loader draws from.
func (l *Loader) Set() *Set { return l.set }

// Batch writes batch number it (counted from 0 over the whole training
// stream) into dstX and dstY and returns its size n: B, or less for an
// epoch's last batch without dropLast. Examples go to dstX[k*S:(k+1)*S] for
// k < n, S = ExampleSize. Batch does not allocate.
//
// Augmentation draws, per example in batch order: flip (if Flip; with
// probability 1/2), then the crop's top offset, then its left offset (if
// PadCrop = p > 0; each uniform in [0, 2p]). The image is flipped first and
// then cropped from the padded image, open_lth's order
// (RandomHorizontalFlip, RandomCrop(32, 4)). Padding is black pixels: the
// value (0 - mean)/std of the set's normalization, as torchvision pads the
// uint8 image before normalizing.
//
// It panics, as programmer errors, when it < 0 or dstX or dstY is shorter
// than a full batch (B*S values, B labels).
func (l *Loader) Batch(it int, dstX []float32, dstY []int32) int {
	sz := l.set.ExampleSize()
	if it < 0 {
		panic(fmt.Sprintf("datasets: Loader.Batch(%d): negative iteration", it))
	}
	if len(dstX) < l.b*sz || len(dstY) < l.b {
		panic(fmt.Sprintf("datasets: Loader.Batch: dst of %d values and %d labels: want at least %d and %d", len(dstX), len(dstY), l.b*sz, l.b))
	}
	e, j := it/l.iters, it%l.iters
	if e != l.permEpoch {
		identity(l.perm)
		reseed(&l.src, l.seed, streamEpoch, uint64(e))
		shuffle(l.rng, l.perm)
		l.permEpoch = e
	}
	start := j * l.b
	n := min(l.b, l.set.Len()-start)
	if l.aug.On() {
		reseed(&l.src, l.seed, streamAugment, uint64(it))
	}
	X, Y := l.set.X, l.set.Y
	for k := range n {
		i := l.perm[start+k]
		dst, src := dstX[k*sz:(k+1)*sz], X[i*sz:(i+1)*sz]
		dstY[k] = Y[i]
		if !l.aug.On() {
			copy(dst, src)
			continue
		}
		flip := l.aug.Flip && l.rng.Uint64()>>63 == 1
		oy, ox := l.aug.PadCrop, l.aug.PadCrop // no shift
		if p := l.aug.PadCrop; p > 0 {
			oy, ox = l.rng.IntN(2*p+1), l.rng.IntN(2*p+1)
		}
		cropFlip(dst, src, l.c, l.h, l.w, l.aug.PadCrop, oy, ox, flip, l.pad)
	}
	return n
}

// cropFlip writes into dst the h×w window at (oy, ox) of src (c×h×w, CHW)
// padded by pad on each side with the per-channel value fill, after
// mirroring src horizontally when flip is set:
//
//	dst[c][y][x] = m[c][y+oy-pad][x+ox-pad], or fill[c] outside src,
//	m[c][i][j] = src[c][i][w-1-j] if flip, else src[c][i][j].
//
// oy = ox = pad leaves the image in place.
func cropFlip(dst, src []float32, c, h, w, pad, oy, ox int, flip bool, fill []float32) {
	dy, dx := oy-pad, ox-pad
	// Output columns x whose source column x+dx is inside [0, w).
	x0, x1 := max(0, -dx), min(w, w-dx)
	for ch := range c {
		f := fill[ch]
		plane := src[ch*h*w : (ch+1)*h*w]
		for y := range h {
			row := dst[(ch*h+y)*w : (ch*h+y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h || x0 >= x1 {
				for x := range row {
					row[x] = f
				}
				continue
			}
			srow := plane[sy*w : (sy+1)*w]
			for x := 0; x < x0; x++ {
				row[x] = f
			}
			if flip {
				for x := x0; x < x1; x++ {
					row[x] = srow[w-1-(x+dx)]
				}
			} else {
				copy(row[x0:x1], srow[x0+dx:x1+dx])
			}
			for x := x1; x < w; x++ {
				row[x] = f
			}
		}
	}
}
