#include "textflag.h"

// The Go assembler has no by-element VFMLA and no vector FADD (both are
// TODO in its encoder), so these two are encoded here.
//
// FMLA Vd.4S, Vn.4S, Vm.S[lane]: Vd[i] = fma(Vn[i], Vm[lane], Vd[i]) for
// the four lanes, each the exact product and sum rounded once to float32
// (FMLA (by element), Q=1, sz=0, the lane in H:L).
#define FMLA_LANE(d, n, m, lane) WORD $(0x4F801000 | (((lane)&1)<<21) | (((lane)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d))

// FADD Vd.4S, Vn.4S, Vm.4S: Vd = Vn + Vm, lane by lane.
#define FADD_4S(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// ROW8x12 adds row i's products of one step: the three accumulators of
// the row (acc, acc+1, acc+2) += B's twelve floats (V0–V2) · A's float i,
// lane `lane` of V3 (rows 0–3) or V4 (rows 4–7).
#define ROW8x12(acc, a, lane) \
	FMLA_LANE(acc, 0, a, lane) \
	FMLA_LANE(acc+1, 1, a, lane) \
	FMLA_LANE(acc+2, 2, a, lane)

// ADDROW8x12 adds row i's accumulators (acc, acc+1, acc+2) to the twelve
// floats of C at R2 (acc + C, the amd64 kernels' operand order), and moves
// R2 to the next row.
#define ADDROW8x12(acc) \
	VLD1 (R2), [V0.S4, V1.S4, V2.S4] \
	FADD_4S(0, acc, 0) \
	FADD_4S(1, acc+1, 1) \
	FADD_4S(2, acc+2, 2) \
	VST1 [V0.S4, V1.S4, V2.S4], (R2) \
	ADD  R4, R2

// func sgemmKernel8x12NEON(kc int, a, b, c *float32, ldc int)
//
// C[i*ldc+j] += Σ_p a[p*8+i]·b[p*12+j] for i < 8, j < 12. The 8×12 tile
// lives in V8–V31 (three registers a row, row i in V(8+3i)…V(10+3i));
// each step loads 12 floats of B into V0–V2 and 8 of A into V3/V4 and
// issues 24 FMLAs, each multiplying B by one lane of A. The sums start
// at +0 and reach C with one addition each.
TEXT ·sgemmKernel8x12NEON(SB), NOSPLIT, $0-40
	MOVD kc+0(FP), R3
	MOVD a+8(FP), R0
	MOVD b+16(FP), R1
	MOVD c+24(FP), R2
	MOVD ldc+32(FP), R4
	LSL  $2, R4

	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16

	CMP $0, R3
	BLE store

loop:
	VLD1.P 48(R1), [V0.S4, V1.S4, V2.S4]
	VLD1.P 32(R0), [V3.S4, V4.S4]
	ROW8x12(8, 3, 0)
	ROW8x12(11, 3, 1)
	ROW8x12(14, 3, 2)
	ROW8x12(17, 3, 3)
	ROW8x12(20, 4, 0)
	ROW8x12(23, 4, 1)
	ROW8x12(26, 4, 2)
	ROW8x12(29, 4, 3)
	SUBS $1, R3
	BNE  loop

store:
	ADDROW8x12(8)
	ADDROW8x12(11)
	ADDROW8x12(14)
	ADDROW8x12(17)
	ADDROW8x12(20)
	ADDROW8x12(23)
	ADDROW8x12(26)
	ADDROW8x12(29)
	RET

// func sfmaAxpyNEON(n int, a float32, x, y *float32)
//
// y[i] = fma(a, x[i], y[i]) for i < n: one rounding a multiply-add,
// sixteen at a time in four registers, then four, then one.
TEXT ·sfmaAxpyNEON(SB), NOSPLIT, $0-32
	MOVD  n+0(FP), R0
	FMOVS a+8(FP), F0
	MOVD  x+16(FP), R1
	MOVD  y+24(FP), R2
	VDUP  V0.S[0], V0.S4

axpy16:
	CMP    $16, R0
	BLT    axpy4
	VLD1.P 64(R1), [V1.S4, V2.S4, V3.S4, V4.S4]
	VLD1   (R2), [V5.S4, V6.S4, V7.S4, V8.S4]
	VFMLA  V0.S4, V1.S4, V5.S4
	VFMLA  V0.S4, V2.S4, V6.S4
	VFMLA  V0.S4, V3.S4, V7.S4
	VFMLA  V0.S4, V4.S4, V8.S4
	VST1.P [V5.S4, V6.S4, V7.S4, V8.S4], 64(R2)
	SUB    $16, R0
	B      axpy16

axpy4:
	CMP    $4, R0
	BLT    axpy1
	VLD1.P 16(R1), [V1.S4]
	VLD1   (R2), [V5.S4]
	VFMLA  V0.S4, V1.S4, V5.S4
	VST1.P [V5.S4], 16(R2)
	SUB    $4, R0
	B      axpy4

axpy1:
	CBZ     R0, axpydone
	FMOVS.P 4(R1), F1
	FMOVS   (R2), F2
	FMADDS  F0, F2, F1, F2 // F2 = F1·F0 + F2, rounded once
	FMOVS.P F2, 4(R2)
	SUB     $1, R0
	B       axpy1

axpydone:
	RET
