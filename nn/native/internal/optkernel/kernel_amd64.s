//go:build !noasm

#include "textflag.h"

// The optimizer kernels (see doc.go), 8 entries per step in YMM registers
// with AVX2 and FMA. Each kernel walks its operands with one index (BX), 8 floats per
// iteration, and handles the last n mod 8 entries with masked loads and
// stores (VMASKMOVPS), through the same arithmetic: an entry's result does
// not depend on its position or on n. Registers: CX = n, DI = θ, SI = g,
// DX = mask m, R8 = v or s1, R9 = s2, AX = *AdamConsts, R12 = n rounded
// down to 8; the operation on each entry is in the comment above its body
// macro (g is g⊙m in the masked kernels).

// tailmask is 8 all-ones lanes then 8 zero lanes: the 8 lanes starting at
// lane 8−r select the first r.
DATA tailmask<>+0(SB)/4, $0xffffffff
DATA tailmask<>+4(SB)/4, $0xffffffff
DATA tailmask<>+8(SB)/4, $0xffffffff
DATA tailmask<>+12(SB)/4, $0xffffffff
DATA tailmask<>+16(SB)/4, $0xffffffff
DATA tailmask<>+20(SB)/4, $0xffffffff
DATA tailmask<>+24(SB)/4, $0xffffffff
DATA tailmask<>+28(SB)/4, $0xffffffff
DATA tailmask<>+32(SB)/4, $0
DATA tailmask<>+36(SB)/4, $0
DATA tailmask<>+40(SB)/4, $0
DATA tailmask<>+44(SB)/4, $0
DATA tailmask<>+48(SB)/4, $0
DATA tailmask<>+52(SB)/4, $0
DATA tailmask<>+56(SB)/4, $0
DATA tailmask<>+60(SB)/4, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

// TAILMASK loads into reg the mask of the first CX (1..7) lanes; it leaves
// its address in (R10)(R11*4) for a second load.
#define TAILMASK(reg) \
	MOVQ    $8, R11; \
	SUBQ    CX, R11; \
	LEAQ    tailmask<>(SB), R10; \
	VMOVUPS (R10)(R11*4), reg

// PROLOGUE sets BX = 0 and R12 = n rounded down to 8, and jumps to tail
// when that is 0.
#define PROLOGUE \
	XORQ BX, BX; \
	MOVQ CX, R12; \
	ANDQ $-8, R12; \
	JZ   tail

// NEXT advances BX by 8 and loops while BX < R12; then CX = n − BX, the
// entries left (0..7), and done when there are none.
#define NEXT \
	ADDQ $8, BX; \
	CMPQ BX, R12; \
	JLT  loop; \
tail: \
	SUBQ BX, CX; \
	JZ   done

// SGD: θ ← θ − lr·(g + wd·θ), with Y0 = θ, Y1 = g, Y14 = lr, Y15 = wd;
// the new θ in Y0.
#define SGD_BODY \
	VFMADD231PS  Y0, Y15, Y1; \
	VFNMADD231PS Y1, Y14, Y0

// func sgdAVX2(n int, th, gr *float32, lr, wd float32)
TEXT ·sgdAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	VBROADCASTSS lr+24(FP), Y14
	VBROADCASTSS wd+28(FP), Y15
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	SGD_BODY
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	SGD_BODY
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// func sgdMaskedAVX2(n int, th, gr, m *float32, lr, wd float32)
TEXT ·sgdMaskedAVX2(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	MOVQ         m+24(FP), DX
	VBROADCASTSS lr+32(FP), Y14
	VBROADCASTSS wd+36(FP), Y15
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMULPS  (DX)(BX*4), Y1, Y1
	SGD_BODY
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	VMASKMOVPS (DX)(BX*4), Y13, Y2
	VMULPS     Y2, Y1, Y1
	SGD_BODY
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// Momentum: b ← μ·v + (g + wd·θ); v ← b; θ ← θ − lr·b, with Y0 = θ,
// Y1 = g, Y2 = v, Y12 = μ, Y14 = lr, Y15 = wd; b (the new v) in Y1, the new
// θ in Y0.
#define MOMENTUM_BODY \
	VFMADD231PS  Y0, Y15, Y1; \
	VFMADD231PS  Y2, Y12, Y1; \
	VFNMADD231PS Y1, Y14, Y0


// func momentumAVX2(n int, th, gr, v *float32, lr, wd, mu float32)
TEXT ·momentumAVX2(SB), NOSPLIT, $0-44
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	MOVQ         v+24(FP), R8
	VBROADCASTSS lr+32(FP), Y14
	VBROADCASTSS wd+36(FP), Y15
	VBROADCASTSS mu+40(FP), Y12
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMOVUPS (R8)(BX*4), Y2
	MOMENTUM_BODY
	VMOVUPS Y1, (R8)(BX*4)
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	VMASKMOVPS (R8)(BX*4), Y13, Y2
	MOMENTUM_BODY
	VMASKMOVPS Y1, Y13, (R8)(BX*4)
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// func momentumMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32)
TEXT ·momentumMaskedAVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	MOVQ         m+24(FP), DX
	MOVQ         v+32(FP), R8
	VBROADCASTSS lr+40(FP), Y14
	VBROADCASTSS wd+44(FP), Y15
	VBROADCASTSS mu+48(FP), Y12
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMULPS  (DX)(BX*4), Y1, Y1
	VMOVUPS (R8)(BX*4), Y2
	MOMENTUM_BODY
	VMOVUPS Y1, (R8)(BX*4)
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	VMASKMOVPS (DX)(BX*4), Y13, Y3
	VMULPS     Y3, Y1, Y1
	VMASKMOVPS (R8)(BX*4), Y13, Y2
	MOMENTUM_BODY
	VMASKMOVPS Y1, Y13, (R8)(BX*4)
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// Nesterov: g' ← g + wd·θ; b ← μ·v + g'; v ← b; θ ← θ − lr·(g' + μ·b),
// with Y0 = θ, Y1 = g, Y2 = v, Y12 = μ, Y14 = lr, Y15 = wd; b (the new v)
// in Y2, the new θ in Y0.
#define NESTEROV_BODY \
	VFMADD231PS  Y0, Y15, Y1; \
	VFMADD213PS  Y1, Y12, Y2; \
	VFMADD231PS  Y2, Y12, Y1; \
	VFNMADD231PS Y1, Y14, Y0

// func nesterovAVX2(n int, th, gr, v *float32, lr, wd, mu float32)
TEXT ·nesterovAVX2(SB), NOSPLIT, $0-44
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	MOVQ         v+24(FP), R8
	VBROADCASTSS lr+32(FP), Y14
	VBROADCASTSS wd+36(FP), Y15
	VBROADCASTSS mu+40(FP), Y12
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMOVUPS (R8)(BX*4), Y2
	NESTEROV_BODY
	VMOVUPS Y2, (R8)(BX*4)
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	VMASKMOVPS (R8)(BX*4), Y13, Y2
	NESTEROV_BODY
	VMASKMOVPS Y2, Y13, (R8)(BX*4)
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// func nesterovMaskedAVX2(n int, th, gr, m, v *float32, lr, wd, mu float32)
TEXT ·nesterovMaskedAVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         th+8(FP), DI
	MOVQ         gr+16(FP), SI
	MOVQ         m+24(FP), DX
	MOVQ         v+32(FP), R8
	VBROADCASTSS lr+40(FP), Y14
	VBROADCASTSS wd+44(FP), Y15
	VBROADCASTSS mu+48(FP), Y12
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMULPS  (DX)(BX*4), Y1, Y1
	VMOVUPS (R8)(BX*4), Y2
	NESTEROV_BODY
	VMOVUPS Y2, (R8)(BX*4)
	VMOVUPS Y0, (DI)(BX*4)
	NEXT
	TAILMASK(Y13)
	VMASKMOVPS (DI)(BX*4), Y13, Y0
	VMASKMOVPS (SI)(BX*4), Y13, Y1
	VMASKMOVPS (DX)(BX*4), Y13, Y3
	VMULPS     Y3, Y1, Y1
	VMASKMOVPS (R8)(BX*4), Y13, Y2
	NESTEROV_BODY
	VMASKMOVPS Y2, Y13, (R8)(BX*4)
	VMASKMOVPS Y0, Y13, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// Adam: g' ← g + wd·θ; a ← β1·s1 + (1−β1)·g'; s ← β2·s2 + (1−β2)·g'²;
// θ ← θ·decay − stepSize·a / (sqrt(s)·invSqrtBc2 + ε), with Y0 = θ,
// Y1 = g, Y2 = s1, Y3 = s2 and the constants in Y8–Y15 (ADAM_CONSTS; decay
// is read from the struct at AX, into Y2 once s1 is used); a (the new s1)
// in Y4, s (the new s2) in Y5, the new θ in Y7. The square root and the
// division are IEEE-exact (VSQRTPS, VDIVPS), as in the Go loop.
#define ADAM_BODY \
	VFMADD231PS  Y0, Y8, Y1; \
	VMULPS       Y1, Y10, Y4; \
	VFMADD231PS  Y2, Y9, Y4; \
	VMULPS       Y1, Y1, Y5; \
	VMULPS       Y5, Y12, Y5; \
	VFMADD231PS  Y3, Y11, Y5; \
	VSQRTPS      Y5, Y6; \
	VFMADD213PS  Y15, Y14, Y6; \
	VMULPS       Y4, Y13, Y7; \
	VDIVPS       Y6, Y7, Y7; \
	VBROADCASTSS 4(AX), Y2; \
	VFMSUB231PS  Y2, Y0, Y7

// ADAM_CONSTS broadcasts the AdamConsts at AX (WD, Decay, B1, C1, B2, C2,
// StepSize, InvSqrtBc2, Eps, 4 bytes each) into Y8–Y15, Decay left out.
#define ADAM_CONSTS \
	VBROADCASTSS 0(AX), Y8; \
	VBROADCASTSS 8(AX), Y9; \
	VBROADCASTSS 12(AX), Y10; \
	VBROADCASTSS 16(AX), Y11; \
	VBROADCASTSS 20(AX), Y12; \
	VBROADCASTSS 24(AX), Y13; \
	VBROADCASTSS 28(AX), Y14; \
	VBROADCASTSS 32(AX), Y15

// func adamAVX2(n int, th, gr, s1, s2 *float32, c *AdamConsts)
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ th+8(FP), DI
	MOVQ gr+16(FP), SI
	MOVQ s1+24(FP), R8
	MOVQ s2+32(FP), R9
	MOVQ c+40(FP), AX
	ADAM_CONSTS
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMOVUPS (R8)(BX*4), Y2
	VMOVUPS (R9)(BX*4), Y3
	ADAM_BODY
	VMOVUPS Y4, (R8)(BX*4)
	VMOVUPS Y5, (R9)(BX*4)
	VMOVUPS Y7, (DI)(BX*4)
	NEXT
	TAILMASK(Y6)
	VMASKMOVPS (DI)(BX*4), Y6, Y0
	VMASKMOVPS (SI)(BX*4), Y6, Y1
	VMASKMOVPS (R8)(BX*4), Y6, Y2
	VMASKMOVPS (R9)(BX*4), Y6, Y3
	ADAM_BODY
	VMOVUPS    (R10)(R11*4), Y6
	VMASKMOVPS Y4, Y6, (R8)(BX*4)
	VMASKMOVPS Y5, Y6, (R9)(BX*4)
	VMASKMOVPS Y7, Y6, (DI)(BX*4)

done:
	VZEROUPPER
	RET

// func adamMaskedAVX2(n int, th, gr, m, s1, s2 *float32, c *AdamConsts)
TEXT ·adamMaskedAVX2(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ th+8(FP), DI
	MOVQ gr+16(FP), SI
	MOVQ m+24(FP), DX
	MOVQ s1+32(FP), R8
	MOVQ s2+40(FP), R9
	MOVQ c+48(FP), AX
	ADAM_CONSTS
	PROLOGUE

loop:
	VMOVUPS (DI)(BX*4), Y0
	VMOVUPS (SI)(BX*4), Y1
	VMULPS  (DX)(BX*4), Y1, Y1
	VMOVUPS (R8)(BX*4), Y2
	VMOVUPS (R9)(BX*4), Y3
	ADAM_BODY
	VMOVUPS Y4, (R8)(BX*4)
	VMOVUPS Y5, (R9)(BX*4)
	VMOVUPS Y7, (DI)(BX*4)
	NEXT
	TAILMASK(Y6)
	VMASKMOVPS (DI)(BX*4), Y6, Y0
	VMASKMOVPS (SI)(BX*4), Y6, Y1
	VMASKMOVPS (DX)(BX*4), Y6, Y4
	VMULPS     Y4, Y1, Y1
	VMASKMOVPS (R8)(BX*4), Y6, Y2
	VMASKMOVPS (R9)(BX*4), Y6, Y3
	ADAM_BODY
	VMOVUPS    (R10)(R11*4), Y6
	VMASKMOVPS Y4, Y6, (R8)(BX*4)
	VMASKMOVPS Y5, Y6, (R9)(BX*4)
	VMASKMOVPS Y7, Y6, (DI)(BX*4)

done:
	VZEROUPPER
	RET
