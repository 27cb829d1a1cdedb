//go:build !noasm

#include "textflag.h"

// Each routine walks its operands with one index (BX): 8 floats at a time
// in YMM registers, then 4 in an XMM register, then one at a time, so that
// short rows (the 10 or 28 columns of a LeNet-5 feature map) cost no
// masked store. Every entry goes through the same operation whichever part
// handles it.

// ROWS is the loop over the rows of a block (R8 rows; DI, SI advance by R9,
// R10 bytes) around one row's loop over its CX entries: OP8, OP4 and OP1
// are that row's operation on 8, 4 and 1 entries at index BX.
#define ROWS(OP8, OP4, OP1) \
	MOVQ CX, R12; \
	ANDQ $-8, R12; \
row: \
	XORQ BX, BX; \
	CMPQ BX, R12; \
	JGE  four; \
eight: \
	OP8; \
	ADDQ $8, BX; \
	CMPQ BX, R12; \
	JLT  eight; \
four: \
	MOVQ CX, AX; \
	SUBQ BX, AX; \
	CMPQ AX, $4; \
	JLT  one; \
	OP4; \
	ADDQ $4, BX; \
one: \
	CMPQ BX, CX; \
	JGE  next; \
	OP1; \
	INCQ BX; \
	JMP  one; \
next: \
	ADDQ R9, DI; \
	ADDQ R10, SI; \
	DECQ R8; \
	JNZ  row; \
	VZEROUPPER; \
	RET

// The arguments of addRowsAVX2 and copyRowsAVX2, with the strides in
// bytes.
#define ROWARGS \
	MOVQ rows+0(FP), R8; \
	MOVQ cols+8(FP), CX; \
	MOVQ dst+16(FP), DI; \
	MOVQ dstStride+24(FP), R9; \
	MOVQ src+32(FP), SI; \
	MOVQ srcStride+40(FP), R10; \
	SHLQ $2, R9; \
	SHLQ $2, R10

// dst + src with dst the first operand, as Go's d[j] += v compiles: an
// addition of two NaNs keeps the first one's payload.
#define ADD8 \
	VMOVUPS (DI)(BX*4), Y0; \
	VADDPS  (SI)(BX*4), Y0, Y0; \
	VMOVUPS Y0, (DI)(BX*4)

#define ADD4 \
	VMOVUPS (DI)(BX*4), X0; \
	VADDPS  (SI)(BX*4), X0, X0; \
	VMOVUPS X0, (DI)(BX*4)

#define ADD1 \
	VMOVSS (DI)(BX*4), X0; \
	VADDSS (SI)(BX*4), X0, X0; \
	VMOVSS X0, (DI)(BX*4)

// func addRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-48
	ROWARGS
	ROWS(ADD8, ADD4, ADD1)

#define COPY8 \
	VMOVUPS (SI)(BX*4), Y0; \
	VMOVUPS Y0, (DI)(BX*4)

#define COPY4 \
	VMOVUPS (SI)(BX*4), X0; \
	VMOVUPS X0, (DI)(BX*4)

#define COPY1 \
	MOVL (SI)(BX*4), DX; \
	MOVL DX, (DI)(BX*4)

// func copyRowsAVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-48
	ROWARGS
	ROWS(COPY8, COPY4, COPY1)

// ReLU: the sign bit spread over the word (VPSRAD), then x AND NOT that.
#define RELU8 \
	VMOVUPS (SI)(BX*4), Y0; \
	VPSRAD  $31, Y0, Y1; \
	VPANDN  Y0, Y1, Y0; \
	VMOVUPS Y0, (DI)(BX*4)

#define RELU4 \
	VMOVUPS (SI)(BX*4), X0; \
	VPSRAD  $31, X0, X1; \
	VPANDN  X0, X1, X0; \
	VMOVUPS X0, (DI)(BX*4)

#define RELU1 \
	VMOVSS (SI)(BX*4), X0; \
	VPSRAD $31, X0, X1; \
	VPANDN X0, X1, X0; \
	VMOVSS X0, (DI)(BX*4)

// func reluAVX2(n int, y, x *float32)
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ $1, R8 // one row
	ROWS(RELU8, RELU4, RELU1)

// ReLU's gradient: the sign bit of (0 − bits(y)) spread over the word
// (VPSUBD, VPSRAD) masks dy. Y15 = 0; DX = y.
#define GRAD8 \
	VMOVUPS (DX)(BX*4), Y1; \
	VPSUBD  Y1, Y15, Y1; \
	VPSRAD  $31, Y1, Y1; \
	VPAND   (SI)(BX*4), Y1, Y1; \
	VMOVUPS Y1, (DI)(BX*4)

#define GRAD4 \
	VMOVUPS (DX)(BX*4), X1; \
	VPSUBD  X1, X15, X1; \
	VPSRAD  $31, X1, X1; \
	VMOVUPS (SI)(BX*4), X0; \
	VPAND   X0, X1, X1; \
	VMOVUPS X1, (DI)(BX*4)

#define GRAD1 \
	VMOVSS (DX)(BX*4), X1; \
	VPSUBD X1, X15, X1; \
	VPSRAD $31, X1, X1; \
	VMOVSS (SI)(BX*4), X0; \
	VPAND  X0, X1, X1; \
	VMOVSS X1, (DI)(BX*4)

// func reluGradAVX2(n int, dx, dy, y *float32)
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ  n+0(FP), CX
	MOVQ  dx+8(FP), DI
	MOVQ  dy+16(FP), SI
	MOVQ  y+24(FP), DX
	VPXOR Y15, Y15, Y15
	MOVQ  $1, R8 // one row
	ROWS(GRAD8, GRAD4, GRAD1)

// FOLD4 combines the float64 accumulators Y0–Y3 into X0 low, as fold16:
// (Y0+Y1) + (Y2+Y3), then lanes (l0+l2) + (l1+l3).
#define FOLD4 \
	VADDPD       Y1, Y0, Y0; \
	VADDPD       Y3, Y2, Y2; \
	VADDPD       Y2, Y0, Y0; \
	FOLDLANES(Y0, X0, X1)

// FOLDLANES adds the 4 lanes of y (low half x) as (l0+l2) + (l1+l3) into
// the low lane of x; t is scratch.
#define FOLDLANES(y, x, t) \
	VEXTRACTF128 $1, y, t; \
	VADDPD       t, x, x; \
	VPERMILPD    $1, x, t; \
	VADDSD       t, x, x

// func sumAVX2(n int, x *float32) float64
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   BX, BX

sumloop:
	VCVTPS2PD (SI)(BX*4), Y4
	VCVTPS2PD 16(SI)(BX*4), Y5
	VCVTPS2PD 32(SI)(BX*4), Y6
	VCVTPS2PD 48(SI)(BX*4), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $16, BX
	CMPQ      BX, CX
	JLT       sumloop
	FOLD4
	VMOVSD    X0, ret+16(FP)
	VZEROUPPER
	RET

// SQDEV adds (x − mean)² of the 4 floats at off(SI)(BX*4) into acc; Y15 =
// mean.
#define SQDEV(off, tmp, acc) \
	VCVTPS2PD off(SI)(BX*4), tmp; \
	VSUBPD    Y15, tmp, tmp; \
	VMULPD    tmp, tmp, tmp; \
	VADDPD    tmp, acc, acc

// func sumSquaredDevAVX2(n int, x *float32, mean float64) float64
TEXT ·sumSquaredDevAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	VBROADCASTSD mean+16(FP), Y15
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3
	XORQ         BX, BX

sqloop:
	SQDEV(0, Y4, Y0)
	SQDEV(16, Y5, Y1)
	SQDEV(32, Y6, Y2)
	SQDEV(48, Y7, Y3)
	ADDQ   $16, BX
	CMPQ   BX, CX
	JLT    sqloop
	FOLD4
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// SUMDOT adds the 4 g at off(SI)(BX*4) into sacc and their products with
// the 4 h at off(DI)(BX*4) into xacc.
#define SUMDOT(off, sacc, xacc) \
	VCVTPS2PD off(SI)(BX*4), Y8; \
	VCVTPS2PD off(DI)(BX*4), Y9; \
	VADDPD    Y8, sacc, sacc; \
	VMULPD    Y9, Y8, Y9; \
	VADDPD    Y9, xacc, xacc

// func sumAndDotAVX2(n int, gr, h *float32) (s, sx float64)
TEXT ·sumAndDotAVX2(SB), NOSPLIT, $0-40
	MOVQ   n+0(FP), CX
	MOVQ   gr+8(FP), SI
	MOVQ   h+16(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   BX, BX

sdloop:
	SUMDOT(0, Y0, Y2)
	SUMDOT(16, Y1, Y3)
	ADDQ   $8, BX
	CMPQ   BX, CX
	JLT    sdloop
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	FOLDLANES(Y0, X0, X4)
	FOLDLANES(Y2, X2, X5)
	VMOVSD X0, s+24(FP)
	VMOVSD X2, sx+32(FP)
	VZEROUPPER
	RET

// func normAffineAVX2(n int, xhat, y, x *float32, mean, inv float64, gamma, beta float32)
//
// Per 8 entries: to float64, − mean, · inv, back to float32 (rounding to
// nearest, as Go's conversion) = x̂; then γ·x̂ + β in float32, a multiply
// and an add (no FMA), as the Go loop.
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         xhat+8(FP), DI
	MOVQ         y+16(FP), DX
	MOVQ         x+24(FP), SI
	VBROADCASTSD mean+32(FP), Y12
	VBROADCASTSD inv+40(FP), Y13
	VBROADCASTSS gamma+48(FP), Y14
	VBROADCASTSS beta+52(FP), Y15
	XORQ         BX, BX

naloop:
	VCVTPS2PD   (SI)(BX*4), Y0
	VCVTPS2PD   16(SI)(BX*4), Y1
	VSUBPD      Y12, Y0, Y0
	VSUBPD      Y12, Y1, Y1
	VMULPD      Y13, Y0, Y0
	VMULPD      Y13, Y1, Y1
	VCVTPD2PSY  Y0, X0
	VCVTPD2PSY  Y1, X1
	VINSERTF128 $1, X1, Y0, Y0
	VMOVUPS     Y0, (DI)(BX*4)
	VMULPS      Y14, Y0, Y0
	VADDPS      Y15, Y0, Y0
	VMOVUPS     Y0, (DX)(BX*4)
	ADDQ        $8, BX
	CMPQ        BX, CX
	JLT         naloop
	VZEROUPPER
	RET

// func normGradAVX2(n int, dx, dy, xhat *float32, k, a, b float32)
//
// Per 8 entries: k·((dy − a) − x̂·b), four float32 operations in the Go
// loop's order.
TEXT ·normGradAVX2(SB), NOSPLIT, $0-44
	MOVQ         n+0(FP), CX
	MOVQ         dx+8(FP), DI
	MOVQ         dy+16(FP), SI
	MOVQ         xhat+24(FP), DX
	VBROADCASTSS k+32(FP), Y13
	VBROADCASTSS a+36(FP), Y14
	VBROADCASTSS b+40(FP), Y15
	XORQ         BX, BX

ngloop:
	VMOVUPS (SI)(BX*4), Y0
	VSUBPS  Y14, Y0, Y0
	VMOVUPS (DX)(BX*4), Y1
	VMULPS  Y15, Y1, Y1
	VSUBPS  Y1, Y0, Y0
	VMULPS  Y13, Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ    $8, BX
	CMPQ    BX, CX
	JLT     ngloop
	VZEROUPPER
	RET

// dst = a + b with a the first operand; SI = a, DX = b.
#define ADDTO8 \
	VMOVUPS (SI)(BX*4), Y0; \
	VADDPS  (DX)(BX*4), Y0, Y0; \
	VMOVUPS Y0, (DI)(BX*4)

#define ADDTO4 \
	VMOVUPS (SI)(BX*4), X0; \
	VADDPS  (DX)(BX*4), X0, X0; \
	VMOVUPS X0, (DI)(BX*4)

#define ADDTO1 \
	VMOVSS (SI)(BX*4), X0; \
	VADDSS (DX)(BX*4), X0, X0; \
	VMOVSS X0, (DI)(BX*4)

// func addToAVX2(n int, dst, a, b *float32)
TEXT ·addToAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ $1, R8 // one row
	ROWS(ADDTO8, ADDTO4, ADDTO1)

// func copyRowsStride2AVX2(rows, cols int, dst *float32, dstStride int, src *float32, srcStride int)
//
// dst[r·dstStride + j] = src[r·srcStride + 2j]: per 8 entries, 16 floats
// loaded, the even ones picked (VSHUFPS within 128-bit lanes, VPERMPD
// across), while the 16th float read is still one the row needs (j+8 <
// cols); then 4 at a time in XMM under the same rule, then one at a time.
TEXT ·copyRowsStride2AVX2(SB), NOSPLIT, $0-48
	ROWARGS
	MOVQ CX, R12
	SUBQ $8, R12 // 8 at a time while BX < cols − 8
	MOVQ CX, R13
	SUBQ $4, R13 // 4 at a time while BX < cols − 4

s2row:
	XORQ BX, BX
	MOVQ SI, R11 // src of entry BX: SI + 8·BX

s2eight:
	CMPQ       BX, R12
	JGE        s2four
	VMOVUPS    (R11), Y0
	VMOVUPS    32(R11), Y1
	VSHUFPS    $0x88, Y1, Y0, Y0
	VPERMPD    $0xD8, Y0, Y0
	VMOVUPS    Y0, (DI)(BX*4)
	ADDQ       $8, BX
	ADDQ       $64, R11
	JMP        s2eight

s2four:
	CMPQ    BX, R13
	JGE     s2one
	VMOVUPS (R11), X0
	VMOVUPS 16(R11), X1
	VSHUFPS $0x88, X1, X0, X0
	VMOVUPS X0, (DI)(BX*4)
	ADDQ    $4, BX
	ADDQ    $32, R11

s2one:
	CMPQ BX, CX
	JGE  s2next
	MOVL (R11), DX
	MOVL DX, (DI)(BX*4)
	INCQ BX
	ADDQ $8, R11
	JMP  s2one

s2next:
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JNZ  s2row
	VZEROUPPER
	RET
