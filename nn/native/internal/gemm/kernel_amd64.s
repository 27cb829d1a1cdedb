//go:build !openblas && !noasm

#include "textflag.h"

// The 6×16 single-precision micro-kernel (see packed.go for the packed
// layout), in the BLIS style: the 6×16 tile of C is held in 12 YMM
// accumulators (Y4–Y15, two per row); each step l of the inner dimension
// loads one row of the B panel (16 floats: Y0, Y1), broadcasts the 6 values
// of one column of the A panel in turn (Y2, Y3) and issues 12 VFMADD231PS.

// STEP does one step of the inner dimension, with the A values at aoff(SI)
// and the B row at boff(DI).
#define STEP(aoff, boff) \
	VMOVUPS      boff(DI), Y0; \
	VMOVUPS      32+boff(DI), Y1; \
	VBROADCASTSS aoff(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VBROADCASTSS 4+aoff(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS 8+aoff(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VBROADCASTSS 12+aoff(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS 16+aoff(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VBROADCASTSS 20+aoff(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15

// ROWBETA stores row r (accumulators lo, hi) as C = beta·C + acc, beta in Y0.
#define ROWBETA(lo, hi) \
	VFMADD231PS (DX), Y0, lo; \
	VFMADD231PS 32(DX), Y0, hi; \
	VMOVUPS     lo, (DX); \
	VMOVUPS     hi, 32(DX); \
	ADDQ        R8, DX

// ROWSTORE stores row r (accumulators lo, hi) as C = acc.
#define ROWSTORE(lo, hi) \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ    R8, DX

// func kernel6x16AVX2(k int, a, b, c *float32, ldc int, beta float32)
TEXT ·kernel6x16AVX2(SB), NOSPLIT, $0-44
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8 // row stride of C in bytes

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, BX
	SHRQ $2, BX // BX = k/4 unrolled steps
	ANDQ $3, CX // CX = k%4 single steps
	TESTQ BX, BX
	JZ    rest

loop4:
	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop4

rest:
	TESTQ CX, CX
	JZ    store

loop1:
	STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

store:
	MOVL beta+40(FP), AX
	ANDL $0x7fffffff, AX // beta == ±0: overwrite C without reading it
	JZ   overwrite

	VBROADCASTSS beta+40(FP), Y0
	ROWBETA(Y4, Y5)
	ROWBETA(Y6, Y7)
	ROWBETA(Y8, Y9)
	ROWBETA(Y10, Y11)
	ROWBETA(Y12, Y13)
	ROWBETA(Y14, Y15)
	VZEROUPPER
	RET

overwrite:
	ROWSTORE(Y4, Y5)
	ROWSTORE(Y6, Y7)
	ROWSTORE(Y8, Y9)
	ROWSTORE(Y10, Y11)
	ROWSTORE(Y12, Y13)
	ROWSTORE(Y14, Y15)
	VZEROUPPER
	RET

// func packBN16AVX2(k, panels int, src *float32, ldb int, dst *float32)
TEXT ·packBN16AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ panels+8(FP), R9
	MOVQ src+16(FP), SI
	MOVQ ldb+24(FP), R8
	MOVQ dst+32(FP), DI
	SHLQ $2, R8  // row stride of src in bytes
	MOVQ CX, R10
	SHLQ $6, R10 // panel stride of dst in bytes: 16k floats

bnrow:
	MOVQ SI, AX // src[l·ldb + 16q]
	MOVQ DI, BX // dst[16k·q + 16l]
	MOVQ R9, DX

bnpanel:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	ADDQ    $64, AX
	ADDQ    R10, BX
	DECQ    DX
	JNZ     bnpanel

	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  bnrow
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8×8 block of floats whose rows start at
// (base), (base)(R8*1), (base)(R8*2), (base)(R9*1), (R11), ... with
// R8 = row stride in bytes, R9 = 3·R8, R11 = base + 4·R8, and stores its
// columns at doff(DI), doff+64(DI), ..., doff+448(DI) (stride 16 floats).
#define TRANSPOSE8(base, doff) \
	LEAQ       (base)(R8*4), R11; \
	VMOVUPS    (base), Y0; \
	VMOVUPS    (base)(R8*1), Y1; \
	VMOVUPS    (base)(R8*2), Y2; \
	VMOVUPS    (base)(R9*1), Y3; \
	VMOVUPS    (R11), Y4; \
	VMOVUPS    (R11)(R8*1), Y5; \
	VMOVUPS    (R11)(R8*2), Y6; \
	VMOVUPS    (R11)(R9*1), Y7; \
	VUNPCKLPS  Y1, Y0, Y8; \
	VUNPCKHPS  Y1, Y0, Y9; \
	VUNPCKLPS  Y3, Y2, Y10; \
	VUNPCKHPS  Y3, Y2, Y11; \
	VUNPCKLPS  Y5, Y4, Y12; \
	VUNPCKHPS  Y5, Y4, Y13; \
	VUNPCKLPS  Y7, Y6, Y14; \
	VUNPCKHPS  Y7, Y6, Y15; \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15; \
	VMOVUPS    Y8, doff(DI); \
	VMOVUPS    Y9, doff+64(DI); \
	VMOVUPS    Y10, doff+128(DI); \
	VMOVUPS    Y11, doff+192(DI); \
	VMOVUPS    Y12, doff+256(DI); \
	VMOVUPS    Y13, doff+320(DI); \
	VMOVUPS    Y14, doff+384(DI); \
	VMOVUPS    Y15, doff+448(DI)

// func packBT16AVX2(k8 int, src *float32, ldb int, dst *float32)
TEXT ·packBT16AVX2(SB), NOSPLIT, $0-32
	MOVQ k8+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ dst+24(FP), DI
	SHLQ $2, R8              // row stride of src in bytes
	LEAQ (R8)(R8*2), R9      // 3 rows
	LEAQ (SI)(R8*8), R10     // rows 8..15 of the panel

btloop:
	TRANSPOSE8(SI, 0)   // rows 0..7 → columns 0..7 of 8 rows of dst
	TRANSPOSE8(R10, 32) // rows 8..15 → columns 8..15
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $512, DI       // 8 rows of dst
	DECQ CX
	JNZ  btloop
	VZEROUPPER
	RET

// func packAN6AVX2(k8 int, alpha float32, src *float32, lda int, dst *float32)
//
// Packs 8·k8 columns of one full panel of 6 rows of A (row stride lda,
// the first row at src), times alpha, k-major: per 8 columns, the 6 rows
// are loaded and scaled, transposed as an 8×8 block whose rows 6 and 7 are
// zero (Y6), and the 8 columns of 6 floats stored at 24-byte steps, each
// 8-float store's last 2 floats overwritten by the next; the last column
// is stored as 4 + 2 floats, so nothing past the 48 floats is written.
TEXT ·packAN6AVX2(SB), NOSPLIT, $0-40
	MOVQ         k8+0(FP), CX
	VBROADCASTSS alpha+8(FP), Y7
	MOVQ         src+16(FP), SI
	MOVQ         lda+24(FP), R8
	MOVQ         dst+32(FP), DI
	SHLQ         $2, R8            // row stride in bytes
	LEAQ         (R8)(R8*2), R9    // 3 rows
	LEAQ         (SI)(R8*4), R11   // row 4
	VXORPS       Y6, Y6, Y6

anloop:
	VMULPS     (SI), Y7, Y0
	VMULPS     (SI)(R8*1), Y7, Y1
	VMULPS     (SI)(R8*2), Y7, Y2
	VMULPS     (SI)(R9*1), Y7, Y3
	VMULPS     (R11), Y7, Y4
	VMULPS     (R11)(R8*1), Y7, Y5
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y6, Y12, Y4
	VSHUFPS    $0xEE, Y6, Y12, Y5
	VSHUFPS    $0x44, Y6, Y13, Y14
	VSHUFPS    $0xEE, Y6, Y13, Y15
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y14, Y2, Y10
	VPERM2F128 $0x20, Y15, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y14, Y2, Y4
	VPERM2F128 $0x31, Y15, Y3, Y5
	VMOVUPS    Y8, (DI)
	VMOVUPS    Y9, 24(DI)
	VMOVUPS    Y10, 48(DI)
	VMOVUPS    Y11, 72(DI)
	VMOVUPS    Y12, 96(DI)
	VMOVUPS    Y13, 120(DI)
	VMOVUPS    Y4, 144(DI)
	VMOVUPS    X5, 168(DI)
	VEXTRACTF128 $1, Y5, X5
	VMOVQ      X5, 184(DI)
	ADDQ       $32, SI
	ADDQ       $32, R11
	ADDQ       $192, DI
	DECQ       CX
	JNZ        anloop
	VZEROUPPER
	RET
