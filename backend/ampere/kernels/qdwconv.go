package kernels

// The direct INT8 convolution for grouped and depthwise QConv (group > 1),
// which the implicit GEMM cannot run (its K spans all C input channels).
// One thread an output element of the NHWC int8 output; the sum
// Σ (x − zx)·w over the group's Cg channels and the KH×KW taps is int32
// and wraps, as ir/ref's does (padding taps are skipped: x = zx there adds
// nothing), then the raw bias is added and the epilogue is the GEMM's,
// instruction for instruction (gemm.go emitEpilogue): cvt.rn.f32.s32,
// mul.rn.f32 by mult[k], the residual as cvt.rn + mul.rn + add.rn,
// cvt.rni.s32.f32, clamp to [qlo, qhi], + zy. Every float operation has
// .rn, so ptxas cannot fuse them: the arithmetic is ir/ref/qint8.go's.

// QGroupConvKernel is the direct grouped/depthwise INT8 convolution.
const QGroupConvKernel = "sqc_qconv_group_i8"

// QGroupConvF32Kernel is the same convolution with an f32 output (the
// node's output not quantized: the next op is float): the epilogue stops
// before the rounding, and the activation is the GEMM's f32 one, max.f32
// with 0 for relu, max.f32 with lo then min.f32 with hi for clip, as
// ir/ref's max(v, 0) and min(max(v, lo), hi).
const QGroupConvF32Kernel = "sqc_qconv_group_f32"

// Activation codes of QGroupConvF32Kernel's act parameter.
const (
	QGroupActNone = 0
	QGroupActRelu = 1
	QGroupActClip = 2
)

// QGroupConvParams lists the kernel's parameters in launch order: x is
// the NHWC int8 input, w the int8 weights in ONNX order [M][Cg][KH][KW],
// b the M raw int32 biases (the input zero point is not folded in), m the
// M f32 multipliers, r the NHWC int8 residual (read only when hasres is
// 1), y the NHWC int8 output of total elements. zx, zr, qlo, qhi, zy are
// s32 (qlo and qhi are the clamp range minus zy, as for the GEMM), mr is
// f32.
var QGroupConvParams = []string{"x", "w", "b", "m", "r", "y",
	"total", "C", "H", "W", "M", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw", "Cg", "Mg", "hasres",
	"zx:s32", "zr:s32", "qlo:s32", "qhi:s32", "zy:s32", "mr:f32"}

// QGroupConvF32Params lists QGroupConvF32Kernel's parameters: those of
// QGroupConvKernel with y an NHWC f32 output and, in place of the int8
// clamp range and zero point, the activation code act and its f32 clip
// bounds lo and hi.
var QGroupConvF32Params = []string{"x", "w", "b", "m", "r", "y",
	"total", "C", "H", "W", "M", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw", "Cg", "Mg", "hasres", "act",
	"zx:s32", "zr:s32", "mr:f32", "lo:f32", "hi:f32"}

// qGroupConvPointers is the number of pointer parameters.
const qGroupConvPointers = 6

// QGroupConvPTX returns the module text of QGroupConvKernel.
func QGroupConvPTX() string { return qGroupConvPTX(false) }

// QGroupConvF32PTX returns the module text of QGroupConvF32Kernel.
func QGroupConvF32PTX() string { return qGroupConvPTX(true) }

func qGroupConvPTX(outF32 bool) string {
	var b builder
	b.header()
	name, params := QGroupConvKernel, QGroupConvParams
	if outF32 {
		name, params = QGroupConvF32Kernel, QGroupConvF32Params
	}
	b.opEntry(name, params, qGroupConvPointers)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<64>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<8>")
	if outF32 {
		b.comment("pointers x w b m r y in %%rd0..%%rd5; u32 scalars in %%r0..%%r18; s32 zx zr in %%r50 %%r51; mr lo hi in %%f0, %%f4, %%f5")
	} else {
		b.comment("pointers x w b m r y in %%rd0..%%rd5; u32 scalars in %%r0..%%r17; s32 zx zr qlo qhi zy in %%r50..%%r54; mr in %%f0")
	}
	loadGroupParams(&b, params)
	// r0 total, r1 C, r2 H, r3 W, r4 M, r5 OH, r6 OW, r7 KH, r8 KW, r9 sh,
	// r10 sw, r11 ph, r12 pw, r13 dh, r14 dw, r15 Cg, r16 Mg, r17 hasres;
	// r18 act (f32 output).
	b.threadIndex()
	b.decodeImage("", "%r4", "%r5", "%r6")
	b.comment("first input channel of the group c0 = (m / Mg) * Cg in r25; weight row m*Cg*KH*KW in r26")
	b.l("div.u32 %%r25, %%r22, %%r16;")
	b.l("mul.lo.u32 %%r25, %%r25, %%r15;")
	b.l("mul.lo.u32 %%r26, %%r22, %%r15;")
	b.l("mul.lo.u32 %%r26, %%r26, %%r7;")
	b.l("mul.lo.u32 %%r26, %%r26, %%r8;")
	b.comment("ih0 = oh*sh - ph in r27, iw0 = ow*sw - pw in r28 (below 0 wraps: the unsigned bounds tests reject it)")
	b.l("mul.lo.u32 %%r27, %%r21, %%r9;")
	b.l("sub.u32 %%r27, %%r27, %%r11;")
	b.l("mul.lo.u32 %%r28, %%r20, %%r10;")
	b.l("sub.u32 %%r28, %%r28, %%r12;")
	b.comment("int32 accumulator in r29, wrapping like the reference's")
	b.l("mov.u32 %%r29, 0;")
	b.l("mov.u32 %%r30, 0;") // c
	b.raw("$L_c:")
	b.l("setp.ge.u32 %%p2, %%r30, %%r15;")
	b.l("@%%p2 bra $L_sum_done;")
	b.l("add.u32 %%r36, %%r25, %%r30;") // channel c0 + c
	b.l("mov.u32 %%r31, 0;")            // kh
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p2, %%r31, %%r7;")
	b.l("@%%p2 bra $L_kh_done;")
	b.l("mad.lo.u32 %%r33, %%r31, %%r13, %%r27;") // ih
	b.l("mov.u32 %%r32, 0;")                      // kw
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p2, %%r32, %%r8;")
	b.l("@%%p2 bra $L_kw_done;")
	b.l("mad.lo.u32 %%r34, %%r32, %%r14, %%r28;") // iw
	b.l("setp.ge.u32 %%p3, %%r33, %%r2;")
	b.l("setp.ge.u32 %%p4, %%r34, %%r3;")
	b.l("or.pred %%p3, %%p3, %%p4;")
	b.l("@%%p3 bra $L_tap_done;")
	b.comment("x at ((n*H + ih)*W + iw)*C + ch")
	b.l("mad.lo.u32 %%r35, %%r23, %%r2, %%r33;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r3, %%r34;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r1, %%r36;")
	b.l("cvt.u64.u32 %%rd6, %%r35;")
	b.l("add.s64 %%rd6, %%rd0, %%rd6;")
	b.l("ld.global.nc.s8 %%r37, [%%rd6];")
	b.l("sub.s32 %%r37, %%r37, %%r50;")
	b.comment("w at ((m*Cg + c)*KH + kh)*KW + kw")
	b.l("mad.lo.u32 %%r38, %%r30, %%r7, %%r31;")
	b.l("mad.lo.u32 %%r38, %%r38, %%r8, %%r32;")
	b.l("add.u32 %%r38, %%r38, %%r26;")
	b.l("cvt.u64.u32 %%rd7, %%r38;")
	b.l("add.s64 %%rd7, %%rd1, %%rd7;")
	b.l("ld.global.nc.s8 %%r39, [%%rd7];")
	b.l("mad.lo.s32 %%r29, %%r37, %%r39, %%r29;")
	b.raw("$L_tap_done:")
	b.l("add.u32 %%r32, %%r32, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_kw_done:")
	b.l("add.u32 %%r31, %%r31, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_kh_done:")
	b.l("add.u32 %%r30, %%r30, 1;")
	b.l("bra $L_c;")
	b.raw("$L_sum_done:")
	b.comment("epilogue, as the GEMM's: + bias, f32 * mult (.rn), + residual, round, clamp, + zy")
	b.l("mul.wide.u32 %%rd8, %%r22, 4;")
	b.l("add.s64 %%rd9, %%rd2, %%rd8;")
	b.l("ld.global.nc.u32 %%r44, [%%rd9];")
	b.l("add.s32 %%r29, %%r29, %%r44;")
	b.l("add.s64 %%rd9, %%rd3, %%rd8;")
	b.l("ld.global.nc.f32 %%f1, [%%rd9];")
	b.l("cvt.rn.f32.s32 %%f2, %%r29;")
	b.l("mul.rn.f32 %%f2, %%f2, %%f1;")
	b.l("cvt.u64.u32 %%rd10, %%r40;")
	b.l("setp.eq.u32 %%p6, %%r17, 0;")
	b.l("@%%p6 bra $L_nores;")
	b.l("add.s64 %%rd11, %%rd4, %%rd10;")
	b.l("ld.global.s8 %%r45, [%%rd11];")
	b.l("sub.s32 %%r45, %%r45, %%r51;")
	b.l("cvt.rn.f32.s32 %%f3, %%r45;")
	b.l("mul.rn.f32 %%f3, %%f3, %%f0;")
	b.l("add.rn.f32 %%f2, %%f2, %%f3;")
	b.raw("$L_nores:")
	if outF32 {
		b.comment("f32 output: the activation (a uniform branch), then the store")
		b.l("setp.eq.u32 %%p6, %%r18, %d;", QGroupActRelu)
		b.l("@%%p6 max.f32 %%f2, %%f2, 0f00000000;")
		b.l("setp.eq.u32 %%p6, %%r18, %d;", QGroupActClip)
		b.l("@%%p6 max.f32 %%f2, %%f2, %%f4;")
		b.l("@%%p6 min.f32 %%f2, %%f2, %%f5;")
		b.l("shl.b64 %%rd13, %%rd10, 2;")
		b.l("add.s64 %%rd12, %%rd5, %%rd13;")
		b.l("st.global.f32 [%%rd12], %%f2;")
		b.raw("$L_done:")
		b.l("ret;")
		b.raw("}")
		return b.String()
	}
	b.l("cvt.rni.s32.f32 %%r46, %%f2;")
	b.l("max.s32 %%r46, %%r46, %%r52;")
	b.l("min.s32 %%r46, %%r46, %%r53;")
	b.l("add.s32 %%r46, %%r46, %%r54;")
	b.l("add.s64 %%rd12, %%rd5, %%rd10;")
	b.l("st.global.s8 [%%rd12], %%r46;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
