//go:build !openblas

package gemm

import (
	"sync"
	"unsafe"
)

// The packed GEMM driver, after Goto & van de Geijn, "Anatomy of
// high-performance matrix multiplication" (ACM TOMS 34(3), 2008), in the
// loop structure of BLIS (Van Zee & van de Geijn, "BLIS: A framework for
// rapidly instantiating BLAS functionality", ACM TOMS 41(3), 2015):
//
//	for jc over n in steps of ncBlock:           B block: kcBlock×ncBlock (L3)
//	  for pc over k in steps of kcBlock:
//	    pack op(B)[pc:, jc:] into NR-wide panels
//	    for ic over m in steps of mcBlock:       A block: mcBlock×kcBlock (L2)
//	      pack alpha·op(A)[ic:, pc:] into MR-high panels
//	      for jr over the block in steps of NR:  B micro-panel: kcBlock×NR (L1)
//	        for ir over the block in steps of MR:
//	          micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= Apanel·Bpanel
//
// Packing copies each block into the contiguous, k-major order in which the
// micro-kernel reads it, whatever the transposes and strides of A and B, and
// pads the edge panels with zeros, so the micro-kernel only ever sees full
// MR×kc and kc×NR panels. alpha is folded into packed A; beta is applied by
// the micro-kernel on the first kc slice (pc == 0) only, later slices add
// onto C. Edge tiles (fewer than MR rows or NR columns of C) are computed
// into a small MR×NR buffer and added into C from there.
//
// The summation order depends only on the shape (m, n, k), never on timing
// or on where the data lies, so results are reproducible bit for bit.
const (
	mr = 6  // micro-tile rows: 6×2 YMM accumulators, 2 for B, 2 for broadcasts
	nr = 16 // micro-tile columns: two YMM vectors of 8 floats

	// kcBlock sets the depth of a rank-kc update: a B micro-panel
	// (kcBlock×NR floats, 16 KiB) stays in the 32 KiB L1 cache with room
	// for the A micro-panels streaming through, and the trip count keeps the
	// cost of loading and storing the C tile small.
	kcBlock = 256
	// mcBlock (a multiple of MR): the packed A block, mcBlock×kcBlock floats
	// (120 KiB), stays in the L2 cache (512 KiB or more) while every B
	// micro-panel of the B block is multiplied with it.
	mcBlock = 120
	// ncBlock (a multiple of NR): the packed B block, kcBlock×ncBlock floats
	// (2 MiB), is meant for the L3 cache; it also bounds the workspace.
	ncBlock = 2048
)

// kernels are the routines the driver is built from: the micro-kernel, the
// packing of op(B), which costs the most of the packing when m is small
// (each element of op(B) is used by only m/MR micro-kernel calls), and the
// packing of A untransposed, which is the whole of A's packing in the
// weight gradient of a convolution (A = dY, n·OH·OW deep).
type kernels struct {
	micro microKernel
	// packBN and packBT have the contracts of packBNGo and packBTGo.
	packBN, packBT func(kb, nb int, b []float32, ldb, off int, dst []float32)
	// packAN has the contract of packANGo.
	packAN func(mb, kb int, alpha float32, a []float32, lda, off int, dst []float32)
}

// goKernels are the pure-Go routines.
var goKernels = &kernels{micro: kernelGo, packBN: packBNGo, packBT: packBTGo, packAN: packANGo}

// microKernel computes the MR×NR tile C = beta·C + Apanel·Bpanel, where
// Apanel (a) holds k columns of MR floats and Bpanel (b) k rows of NR floats,
// contiguous; C has row stride ldc. beta == 0 stores without reading C.
type microKernel func(k int, a, b, c *float32, ldc int, beta float32)

// workspace holds the packing buffers of one Sgemm call in progress.
type workspace struct {
	a, b []float32
	tile [mr * nr]float32
}

// workspaces is a free list of workspaces: a call takes one (allocating it
// only if none is free) and puts it back, so that after warm-up Sgemm
// allocates nothing, and calls from several goroutines at once each get
// their own. Buffers only grow; their number is the largest number of
// concurrent calls seen.
var workspaces struct {
	mu   sync.Mutex
	free []*workspace
}

func getWorkspace(sizeA, sizeB int) *workspace {
	workspaces.mu.Lock()
	var w *workspace
	if n := len(workspaces.free); n > 0 {
		w = workspaces.free[n-1]
		workspaces.free[n-1] = nil
		workspaces.free = workspaces.free[:n-1]
	}
	workspaces.mu.Unlock()
	if w == nil {
		w = new(workspace)
	}
	if len(w.a) < sizeA {
		w.a = make([]float32, sizeA)
	}
	if len(w.b) < sizeB {
		w.b = make([]float32, sizeB)
	}
	return w
}

func putWorkspace(w *workspace) {
	workspaces.mu.Lock()
	workspaces.free = append(workspaces.free, w)
	workspaces.mu.Unlock()
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// sgemmPackedGo is the packed driver with the pure-Go micro-kernel.
func sgemmPackedGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmPacked(goKernels, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmPackedAsm is the packed driver with the assembly routines; only
// selected when asmKernels != nil.
func sgemmPackedAsm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmPacked(asmKernels, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmPacked computes C = alpha·op(A)·op(B) + beta·C with the routines
// kern. The arguments have passed checkArgs (so every element of op(A),
// op(B) and C indexed below is within its slice) and m, n, k > 0.
func sgemmPacked(kern *kernels, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kMax := min(k, kcBlock)
	w := getWorkspace(roundUp(min(m, mcBlock), mr)*kMax, roundUp(min(n, ncBlock), nr)*kMax)
	for jc := 0; jc < n; jc += ncBlock {
		nb := min(ncBlock, n-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kb := min(kcBlock, k-pc)
			if transB {
				kern.packBT(kb, nb, b, ldb, jc*ldb+pc, w.b)
			} else {
				kern.packBN(kb, nb, b, ldb, pc*ldb+jc, w.b)
			}
			bt := beta
			if pc > 0 {
				bt = 1
			}
			for ic := 0; ic < m; ic += mcBlock {
				mb := min(mcBlock, m-ic)
				if transA {
					packAT(mb, kb, alpha, a, lda, pc*lda+ic, w.a)
				} else {
					kern.packAN(mb, kb, alpha, a, lda, ic*lda+pc, w.a)
				}
				macroKernel(kern.micro, mb, nb, kb, w.a, w.b, bt, c, ldc, ic*ldc+jc, &w.tile)
			}
		}
	}
	putWorkspace(w)
}

// macroKernel computes the mb×nb block of C at offset off, C = beta·C +
// Ablock·Bblock, from the packed blocks pa (mb rounded up to MR rows, kb
// deep) and pb (kb deep, nb rounded up to NR columns).
func macroKernel(kern microKernel, mb, nb, kb int, pa, pb []float32, beta float32, c []float32, ldc, off int, tile *[mr * nr]float32) {
	for jr := 0; jr < nb; jr += nr {
		nw := min(nr, nb-jr)
		bp := &pb[jr*kb]
		for ir := 0; ir < mb; ir += mr {
			mh := min(mr, mb-ir)
			ap := &pa[ir*kb]
			o := off + ir*ldc + jr
			if mh == mr && nw == nr {
				_ = c[o+(mr-1)*ldc+nr-1] // the whole tile is inside c
				kern(kb, ap, bp, &c[o], ldc, beta)
				continue
			}
			kern(kb, ap, bp, &tile[0], nr, 0)
			for i := 0; i < mh; i++ {
				row := c[o+i*ldc : o+i*ldc+nw]
				t := tile[i*nr : i*nr+nw]
				if beta == 0 {
					copy(row, t)
				} else {
					for j, v := range t {
						row[j] = beta*row[j] + v
					}
				}
			}
		}
	}
}

// packANGo packs alpha·op(A) for op(A) = A (not transposed): the mb×kb
// block whose first element is a[off], into panels of MR rows, each stored
// k-major (MR floats per k), the last one padded with zero rows.
func packANGo(mb, kb int, alpha float32, a []float32, lda, off int, dst []float32) {
	for p := 0; p < mb; p += mr {
		if mb-p >= mr {
			packAN6Go(kb, 0, alpha, a, lda, off+p*lda, dst[p*kb:(p+mr)*kb])
			continue
		}
		d := dst[p*kb : (p+mr)*kb]
		base := off + p*lda
		clear(d)
		for r := 0; r < mb-p; r++ {
			row := a[base+r*lda : base+r*lda+kb]
			for l, v := range row {
				d[l*mr+r] = alpha * v
			}
		}
	}
}

// packAN6Go packs columns l0…kb−1 of a full panel of MR rows, the first at
// a[base], into d (the panel's kb·MR floats).
func packAN6Go(kb, l0 int, alpha float32, a []float32, lda, base int, d []float32) {
	r0 := a[base : base+kb]
	r1 := a[base+lda:][:len(r0)]
	r2 := a[base+2*lda:][:len(r0)]
	r3 := a[base+3*lda:][:len(r0)]
	r4 := a[base+4*lda:][:len(r0)]
	r5 := a[base+5*lda:][:len(r0)]
	for l := l0; l < len(r0); l++ {
		t := (*[mr]float32)(d[l*mr:])
		t[0] = alpha * r0[l]
		t[1] = alpha * r1[l]
		t[2] = alpha * r2[l]
		t[3] = alpha * r3[l]
		t[4] = alpha * r4[l]
		t[5] = alpha * r5[l]
	}
}

// packAT packs alpha·op(A) for op(A) = Aᵀ: A is stored k×m, and a[off] is
// op(A)[0, 0] of the block, so that op(A)[i, l] = a[off + l·lda + i].
func packAT(mb, kb int, alpha float32, a []float32, lda, off int, dst []float32) {
	for p := 0; p < mb; p += mr {
		d := dst[p*kb : (p+mr)*kb]
		rows := min(mr, mb-p)
		if rows == mr {
			for l := 0; l < kb; l++ {
				s := (*[mr]float32)(a[off+l*lda+p:])
				t := (*[mr]float32)(d[l*mr:])
				t[0] = alpha * s[0]
				t[1] = alpha * s[1]
				t[2] = alpha * s[2]
				t[3] = alpha * s[3]
				t[4] = alpha * s[4]
				t[5] = alpha * s[5]
			}
			continue
		}
		clear(d)
		for l := 0; l < kb; l++ {
			s := a[off+l*lda+p : off+l*lda+p+rows]
			t := d[l*mr : l*mr+rows]
			for r, v := range s {
				t[r] = alpha * v
			}
		}
	}
}

// packBNGo packs op(B) = B (not transposed): the kb×nb block whose first
// element is b[off], into panels of NR columns, each stored k-major (NR
// floats per k), the last one padded with zero columns.
func packBNGo(kb, nb int, b []float32, ldb, off int, dst []float32) {
	full := nb / nr * nr
	for l := 0; l < kb; l++ {
		row := b[off+l*ldb : off+l*ldb+nb]
		for q := 0; q < full; q += nr {
			*(*[nr]float32)(dst[q*kb+l*nr:]) = *(*[nr]float32)(row[q:])
		}
		if full < nb {
			t := (*[nr]float32)(dst[full*kb+l*nr:])
			*t = [nr]float32{}
			copy(t[:], row[full:])
		}
	}
}

// packBTGo packs op(B) = Bᵀ: B is stored n×k, and b[off] is op(B)[0, 0] of
// the block, so that op(B)[l, j] = b[off + j·ldb + l]. Eight rows of B
// (columns of op(B)) are read side by side, so that each k step writes 8
// contiguous floats.
func packBTGo(kb, nb int, b []float32, ldb, off int, dst []float32) {
	for q := 0; q < nb; q += nr {
		d := dst[q*kb : (q+nr)*kb]
		cols := min(nr, nb-q)
		if cols < nr {
			clear(d)
		}
		j := 0
		for ; j+8 <= cols; j += 8 {
			base := off + (q+j)*ldb
			r0 := b[base : base+kb]
			r1 := b[base+ldb:][:len(r0)]
			r2 := b[base+2*ldb:][:len(r0)]
			r3 := b[base+3*ldb:][:len(r0)]
			r4 := b[base+4*ldb:][:len(r0)]
			r5 := b[base+5*ldb:][:len(r0)]
			r6 := b[base+6*ldb:][:len(r0)]
			r7 := b[base+7*ldb:][:len(r0)]
			dd := d[j:]
			for l := range r0 {
				t := (*[8]float32)(dd[l*nr:])
				t[0] = r0[l]
				t[1] = r1[l]
				t[2] = r2[l]
				t[3] = r3[l]
				t[4] = r4[l]
				t[5] = r5[l]
				t[6] = r6[l]
				t[7] = r7[l]
			}
		}
		for ; j < cols; j++ {
			col := b[off+(q+j)*ldb : off+(q+j)*ldb+kb]
			for l, v := range col {
				d[l*nr+j] = v
			}
		}
	}
}

// kernelGo is the micro-kernel in plain Go, with the contract of
// microKernel: that of implementation "go", which tests the driver apart
// from the assembly, and the reference of the assembly kernel in tests.
// It computes the tile row by row, the 16 sums of a row in local variables
// (registers), in the same order as the assembly kernel.
func kernelGo(k int, a, b, c *float32, ldc int, beta float32) {
	pa := unsafe.Slice(a, k*mr)
	pb := unsafe.Slice(b, k*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 float32
		for l := 0; l < k; l++ {
			x := pa[l*mr+i]
			v := (*[nr]float32)(pb[l*nr:])
			s0 += x * v[0]
			s1 += x * v[1]
			s2 += x * v[2]
			s3 += x * v[3]
			s4 += x * v[4]
			s5 += x * v[5]
			s6 += x * v[6]
			s7 += x * v[7]
			s8 += x * v[8]
			s9 += x * v[9]
			s10 += x * v[10]
			s11 += x * v[11]
			s12 += x * v[12]
			s13 += x * v[13]
			s14 += x * v[14]
			s15 += x * v[15]
		}
		acc := [nr]float32{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}
		row := (*[nr]float32)(cs[i*ldc:])
		if beta == 0 {
			*row = acc
			continue
		}
		for j, v := range acc {
			row[j] = beta*row[j] + v
		}
	}
}
