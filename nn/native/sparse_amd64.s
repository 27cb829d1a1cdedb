//go:build amd64 && !noasm

#include "textflag.h"

// The sparse kernels (sparse.go, sparse_kernels.go) with AVX2 and FMA.

// func spmmRowAVX(dst *float32, l int, idx *int32, pos *int32, theta *float32, nnz int, x *float32, ldx int, add int)
//
// dst[0:l] = (add ? dst : 0) + Σ_j θ[pos[j]]·x[idx[j]·ldx : idx[j]·ldx+l]:
// the weight's values are read from θ where they are, by their positions,
// so nothing is gathered before the product.
// Columns go in blocks of 64 (eight YMM accumulators, each block's sum
// over j kept in registers), then of 8, then one by one; within a column
// the terms are added in the order of j.
TEXT ·spmmRowAVX(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ l+8(FP), CX
	MOVQ idx+16(FP), R8
	MOVQ pos+24(FP), R13
	MOVQ theta+32(FP), R9
	MOVQ nnz+40(FP), R10
	MOVQ x+48(FP), SI
	MOVQ ldx+56(FP), R11
	MOVQ add+64(FP), R12
	SHLQ $2, R11 // row stride of x in bytes

block64:
	CMPQ CX, $64
	JL   block8
	TESTQ R12, R12
	JZ    zero64
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	JMP     terms64

zero64:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

terms64:
	XORQ BX, BX

term64:
	CMPQ         BX, R10
	JGE          store64
	MOVLQSX      (R8)(BX*4), AX
	IMULQ        R11, AX
	LEAQ         (SI)(AX*1), DX
	MOVLQSX      (R13)(BX*4), R14
	VBROADCASTSS (R9)(R14*4), Y8
	VFMADD231PS  0(DX), Y8, Y0
	VFMADD231PS  32(DX), Y8, Y1
	VFMADD231PS  64(DX), Y8, Y2
	VFMADD231PS  96(DX), Y8, Y3
	VFMADD231PS  128(DX), Y8, Y4
	VFMADD231PS  160(DX), Y8, Y5
	VFMADD231PS  192(DX), Y8, Y6
	VFMADD231PS  224(DX), Y8, Y7
	INCQ         BX
	JMP          term64

store64:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     block64

block8:
	CMPQ  CX, $8
	JL    block1
	TESTQ R12, R12
	JZ    zero8
	VMOVUPS 0(DI), Y0
	JMP     terms8

zero8:
	VXORPS Y0, Y0, Y0

terms8:
	XORQ BX, BX

term8:
	CMPQ         BX, R10
	JGE          store8
	MOVLQSX      (R8)(BX*4), AX
	IMULQ        R11, AX
	MOVLQSX      (R13)(BX*4), R14
	VBROADCASTSS (R9)(R14*4), Y8
	VFMADD231PS  (SI)(AX*1), Y8, Y0
	INCQ         BX
	JMP          term8

store8:
	VMOVUPS Y0, 0(DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     block8

block1:
	TESTQ CX, CX
	JZ    done
	TESTQ R12, R12
	JZ    zero1
	VMOVSS 0(DI), X0
	JMP    terms1

zero1:
	VXORPS X0, X0, X0

terms1:
	XORQ BX, BX

term1:
	CMPQ        BX, R10
	JGE         store1
	MOVLQSX     (R8)(BX*4), AX
	IMULQ       R11, AX
	MOVLQSX     (R13)(BX*4), R14
	VMOVSS      (R9)(R14*4), X8
	VFMADD231SS (SI)(AX*1), X8, X0
	INCQ        BX
	JMP         term1

store1:
	VMOVSS X0, 0(DI)
	ADDQ   $4, DI
	ADDQ   $4, SI
	DECQ   CX
	JMP    block1

done:
	VZEROUPPER
	RET

// func sddmmRowAVX(out *float32, a *float32, l int, idx *int32, nnz int, x *float32, ldx int, add int)
//
// out[j] = (add ? out[j] : 0) + a[0:l]·x[idx[j]·ldx : idx[j]·ldx+l] for
// j < nnz. Each dot product sums blocks of 32 columns into four YMM
// accumulators, then blocks of 8 into the first, folds the four together,
// sums the eight lanes pairwise, and adds the last columns one by one: a
// fixed order for a given l.
TEXT ·sddmmRowAVX(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ l+16(FP), CX
	MOVQ idx+24(FP), R8
	MOVQ nnz+32(FP), R10
	MOVQ x+40(FP), R9
	MOVQ ldx+48(FP), R11
	MOVQ add+56(FP), R12
	SHLQ $2, R11
	XORQ BX, BX

entry:
	CMPQ    BX, R10
	JGE     sdone
	MOVLQSX (R8)(BX*4), AX
	IMULQ   R11, AX
	LEAQ    (R9)(AX*1), DX // the row of x
	MOVQ    SI, R13        // walks a
	MOVQ    CX, R14        // columns left
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3

dot32:
	CMPQ        R14, $32
	JL          dot8
	VMOVUPS     0(R13), Y4
	VMOVUPS     32(R13), Y5
	VMOVUPS     64(R13), Y6
	VMOVUPS     96(R13), Y7
	VFMADD231PS 0(DX), Y4, Y0
	VFMADD231PS 32(DX), Y5, Y1
	VFMADD231PS 64(DX), Y6, Y2
	VFMADD231PS 96(DX), Y7, Y3
	ADDQ        $128, R13
	ADDQ        $128, DX
	SUBQ        $32, R14
	JMP         dot32

dot8:
	CMPQ        R14, $8
	JL          fold
	VMOVUPS     0(R13), Y4
	VFMADD231PS 0(DX), Y4, Y0
	ADDQ        $32, R13
	ADDQ        $32, DX
	SUBQ        $8, R14
	JMP         dot8

fold:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dot1:
	TESTQ       R14, R14
	JZ          put
	VMOVSS      0(R13), X4
	VFMADD231SS 0(DX), X4, X0
	ADDQ        $4, R13
	ADDQ        $4, DX
	DECQ        R14
	JMP         dot1

put:
	TESTQ  R12, R12
	JZ     putset
	VADDSS (DI)(BX*4), X0, X0

putset:
	VMOVSS X0, (DI)(BX*4)
	INCQ   BX
	JMP    entry

sdone:
	VZEROUPPER
	RET

// func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int)
//
// dst[j·ldd + i] = src[i·lds + j] for i, j < 8: one 8×8 block, by the
// unpack/shuffle/permute sequence of the GEMM's packing (eight loads,
// twenty-four shuffles, eight stores).
TEXT ·transpose8x8AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R8
	SHLQ $2, DX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R11
	VMOVUPS    (SI), Y0
	VMOVUPS    (SI)(R8*1), Y1
	VMOVUPS    (SI)(R8*2), Y2
	VMOVUPS    (SI)(R9*1), Y3
	VMOVUPS    (R11), Y4
	VMOVUPS    (R11)(R8*1), Y5
	VMOVUPS    (R11)(R8*2), Y6
	VMOVUPS    (R11)(R9*1), Y7
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VUNPCKLPS  Y7, Y6, Y14
	VUNPCKHPS  Y7, Y6, Y15
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y14, Y12, Y4
	VSHUFPS    $0xEE, Y14, Y12, Y5
	VSHUFPS    $0x44, Y15, Y13, Y6
	VSHUFPS    $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS    Y8, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y9, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y10, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y11, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y12, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y13, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y14, (DI)
	ADDQ       DX, DI
	VMOVUPS    Y15, (DI)
	VZEROUPPER
	RET

// func spmvRowsAVX(y *float32, rows int, ptr *int32, idx *int32, pos *int32, theta *float32, x *float32)
//
// y[r] = Σ_j θ[pos[j]]·x[idx[j]] over the entries j of row r (ptr[r] to
// ptr[r+1]): the product with one example (inference of a single input),
// where a row's entries are scattered over x and θ. The weight is row
// major (a Linear layer's, the only caller), so pos[j] − idx[j] is the
// same for every entry of a row: θ is read at the row's start plus idx[j],
// and pos is read once per row, not per entry (measured 15% faster on
// LeNet-300-100 at density 0.05, one load in four fewer). Scalar loads beat the
// gathers here (VGATHERDPS runs at about one element per cycle on the
// machines this was measured on, and two are needed per entry): four
// entries at a time into four accumulators, added pairwise at the end of
// the row, then the last entries one by one.
TEXT ·spmvRowsAVX(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ rows+8(FP), CX
	MOVQ ptr+16(FP), R8
	MOVQ idx+24(FP), SI
	MOVQ pos+32(FP), R13
	MOVQ theta+40(FP), R9
	MOVQ x+48(FP), R10

vrow:
	TESTQ   CX, CX
	JZ      vdone
	MOVLQSX 0(R8), BX // j: the row's first entry
	MOVLQSX 4(R8), DX // its end
	VXORPS  X0, X0, X0
	VXORPS  X1, X1, X1
	VXORPS  X2, X2, X2
	VXORPS  X3, X3, X3
	CMPQ    BX, DX
	JGE     vstore
	MOVLQSX (R13)(BX*4), R12 // the row's start in θ: pos − idx of its first entry
	MOVLQSX (SI)(BX*4), R11
	SUBQ    R11, R12
	LEAQ    (R9)(R12*4), R14

v4:
	LEAQ        4(BX), AX
	CMPQ        AX, DX
	JG          vfold
	MOVLQSX     (SI)(BX*4), R11
	VMOVSS      (R10)(R11*4), X4
	VFMADD231SS (R14)(R11*4), X4, X0
	MOVLQSX     4(SI)(BX*4), R11
	VMOVSS      (R10)(R11*4), X5
	VFMADD231SS (R14)(R11*4), X5, X1
	MOVLQSX     8(SI)(BX*4), R11
	VMOVSS      (R10)(R11*4), X4
	VFMADD231SS (R14)(R11*4), X4, X2
	MOVLQSX     12(SI)(BX*4), R11
	VMOVSS      (R10)(R11*4), X5
	VFMADD231SS (R14)(R11*4), X5, X3
	MOVQ        AX, BX
	JMP         v4

vfold:
	VADDSS X1, X0, X0
	VADDSS X3, X2, X2
	VADDSS X2, X0, X0

v1:
	CMPQ        BX, DX
	JGE         vstore
	MOVLQSX     (SI)(BX*4), R11
	VMOVSS      (R10)(R11*4), X4
	VFMADD231SS (R14)(R11*4), X4, X0
	INCQ        BX
	JMP         v1

vstore:
	VMOVSS X0, 0(DI)
	ADDQ   $4, DI
	ADDQ   $4, R8
	DECQ   CX
	JMP    vrow

vdone:
	RET

// func axpyRowsAVX(y *float32, ys int, x *float32, xs int, rows, n int, v float32)
//
// y[r·ys + t] += v·x[r·xs + t] for r < rows, t < n: one kept weight of a
// convolution applied to a plane (the rows of its valid window), eight
// columns at a time, then one by one.
TEXT ·axpyRowsAVX(SB), NOSPLIT, $0-52
	MOVQ         y+0(FP), DI
	MOVQ         ys+8(FP), R8
	MOVQ         x+16(FP), SI
	MOVQ         xs+24(FP), R9
	MOVQ         rows+32(FP), CX
	MOVQ         n+40(FP), R10
	VBROADCASTSS v+48(FP), Y0
	SHLQ         $2, R8
	SHLQ         $2, R9

arow:
	TESTQ CX, CX
	JZ    adone
	MOVQ  DI, R11
	MOVQ  SI, R12
	MOVQ  R10, DX

a8:
	CMPQ        DX, $8
	JL          a1
	VMOVUPS     (R11), Y1
	VFMADD231PS (R12), Y0, Y1
	VMOVUPS     Y1, (R11)
	ADDQ        $32, R11
	ADDQ        $32, R12
	SUBQ        $8, DX
	JMP         a8

a1:
	TESTQ       DX, DX
	JZ          anext
	VMOVSS      (R11), X1
	VFMADD231SS (R12), X0, X1
	VMOVSS      X1, (R11)
	ADDQ        $4, R11
	ADDQ        $4, R12
	DECQ        DX
	JMP         a1

anext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  arow

adone:
	VZEROUPPER
	RET

// func dotRowsAVX(a *float32, as int, b *float32, bs int, rows, n int) float32
//
// Σ_r Σ_t a[r·as + t]·b[r·bs + t] over r < rows, t < n: the gradient of one
// kept weight of a convolution over a plane. Eight columns at a time into
// one vector accumulator, the rest into a scalar one, both across rows;
// the vector's lanes are summed pairwise at the end and the scalar added.
TEXT ·dotRowsAVX(SB), NOSPLIT, $0-52
	MOVQ   a+0(FP), DI
	MOVQ   as+8(FP), R8
	MOVQ   b+16(FP), SI
	MOVQ   bs+24(FP), R9
	MOVQ   rows+32(FP), CX
	MOVQ   n+40(FP), R10
	SHLQ   $2, R8
	SHLQ   $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS X2, X2, X2

drow:
	TESTQ CX, CX
	JZ    dsum
	MOVQ  DI, R11
	MOVQ  SI, R12
	MOVQ  R10, DX

d8:
	CMPQ        DX, $8
	JL          d1
	VMOVUPS     (R11), Y1
	VFMADD231PS (R12), Y1, Y0
	ADDQ        $32, R11
	ADDQ        $32, R12
	SUBQ        $8, DX
	JMP         d8

d1:
	TESTQ       DX, DX
	JZ          dnext
	VMOVSS      (R11), X1
	VFMADD231SS (R12), X1, X2
	ADDQ        $4, R11
	ADDQ        $4, R12
	DECQ        DX
	JMP         d1

dnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  drow

dsum:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VADDSS       X2, X0, X0
	VMOVSS       X0, ret+48(FP)
	VZEROUPPER
	RET
