package kernels

import "github.com/sqc-project/sqc/ir/ref"

// The float fallback convolution: what a layer left in f32 (a recipe's
// lower-int8 skip, or a float graph compiled with graph.sqr) runs on. One
// thread an output element, in ir/ref's float summation order
// (ir/ref/sumorder.go), so that it equals the reference executor bit for
// bit: y = the bias; over k = (c, kh, kw) in order, chunks of
// ref.SumChunk products summed by fma.rn.f32 from +0, each chunk then
// added to y by add.rn.f32; a tap in the padding takes x = 0 (as the
// reference's im2col matrix holds it); then the residual and the clamp
// (max.NaN/min.NaN, which keep a NaN as the reference does).
// Every rounding is spelled out (.rn), so ptxas cannot contract or
// reassociate differently. It replaced an f64 sum rounded once, which
// missed `sqc run --compare`'s 1e-5 on 50–95-layer float ResNets and
// Inception-v3 (H100, torch 2.11 exports) by following no order of ir/ref's.
//
// Gemm, FusedGemm and MatMul with a constant right operand run on the same
// kernel as a 1×1 convolution of a 1×1 image: the planner transposes the
// weight to M×K and folds alpha and beta·C into it at plan time.

// FloatConvKernel is the f32 convolution with the FusedConv epilogue.
const FloatConvKernel = "sqc_conv_f32"

// FloatConvParams lists the float convolution's parameters in launch
// order. x is read in NHWC order when xnhwc is 1 (NCHW otherwise), y and r
// are in NHWC order when ynhwc is 1; w is M×Cg×KH×KW as in ONNX, b holds M
// biases (zeros when the node has none), r is read only when hasres is 1;
// the result is clamped to [lo, hi] (−inf/+inf for no activation, 0/+inf
// for relu).
var FloatConvParams = []string{"x", "y", "w", "b", "r",
	"total", "C", "H", "W", "M", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw", "Cg", "Mg",
	"xnhwc", "ynhwc", "hasres", "lo:f32", "hi:f32"}

// floatConvPointers is the number of pointer parameters of FloatConvKernel.
const floatConvPointers = 5

// FloatConvPTX returns the module text of FloatConvKernel.
func FloatConvPTX() string {
	var b builder
	b.header()
	name := FloatConvKernel
	b.opEntry(name, FloatConvParams, floatConvPointers)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<64>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<8>")
	b.comment("pointers x y w b r in %%rd0..%%rd4; u32 scalars in %%r0..%%r19; lo, hi in %%f0, %%f1")
	b.loadPointers(floatConvPointers)
	nu := 0
	for i := floatConvPointers; i < len(FloatConvParams); i++ {
		p := FloatConvParams[i]
		if len(p) > 4 && p[len(p)-4:] == ":f32" {
			b.l("ld.param.f32 %%f%d, [p%d];", i-(len(FloatConvParams)-2), i)
			continue
		}
		b.l("ld.param.u32 %%r%d, [p%d];", nu, i)
		nu++
	}
	// r0 total, r1 C, r2 H, r3 W, r4 M, r5 OH, r6 OW, r7 KH, r8 KW, r9 sh,
	// r10 sw, r11 ph, r12 pw, r13 dh, r14 dw, r15 Cg, r16 Mg, r17 xnhwc,
	// r18 ynhwc, r19 hasres.
	b.threadIndex()
	b.decodeImage("%r18", "%r4", "%r5", "%r6")
	b.comment("first input channel of the group: c0 = (m / Mg) * Cg in r25; weight row m*Cg*KH*KW in r26")
	b.l("div.u32 %%r25, %%r22, %%r16;")
	b.l("mul.lo.u32 %%r25, %%r25, %%r15;")
	b.l("mul.lo.u32 %%r26, %%r22, %%r15;")
	b.l("mul.lo.u32 %%r26, %%r26, %%r7;")
	b.l("mul.lo.u32 %%r26, %%r26, %%r8;")
	b.comment("ih0 = oh*sh - ph in r27, iw0 = ow*sw - pw in r28 (wrap below 0: the unsigned bounds tests reject them)")
	b.l("mul.lo.u32 %%r27, %%r21, %%r9;")
	b.l("sub.u32 %%r27, %%r27, %%r11;")
	b.l("mul.lo.u32 %%r28, %%r20, %%r10;")
	b.l("sub.u32 %%r28, %%r28, %%r12;")
	b.comment("y = b[m] in f2; the chunk's sum in f5, its length in r38")
	b.l("mul.wide.u32 %%rd7, %%r22, 4;")
	b.l("add.s64 %%rd7, %%rd3, %%rd7;")
	b.l("ld.global.f32 %%f2, [%%rd7];")
	b.l("mov.f32 %%f5, 0f00000000;")
	b.l("mov.u32 %%r38, 0;")
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
	b.comment("a tap in the padding reads x = 0 (p3), as ir/ref's im2col matrix holds it")
	b.l("setp.ge.u32 %%p3, %%r33, %%r2;")
	b.l("setp.ge.u32 %%p4, %%r34, %%r3;")
	b.l("or.pred %%p3, %%p3, %%p4;")
	b.l("setp.ne.u32 %%p5, %%r17, 0;")
	b.l("@%%p5 bra $L_xnhwc;")
	b.comment("NCHW: ((n*C + ch)*H + ih)*W + iw")
	b.l("mad.lo.u32 %%r35, %%r23, %%r1, %%r36;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r2, %%r33;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r3, %%r34;")
	b.l("bra $L_xaddr;")
	b.raw("$L_xnhwc:")
	b.comment("NHWC: ((n*H + ih)*W + iw)*C + ch")
	b.l("mad.lo.u32 %%r35, %%r23, %%r2, %%r33;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r3, %%r34;")
	b.l("mad.lo.u32 %%r35, %%r35, %%r1, %%r36;")
	b.raw("$L_xaddr:")
	b.l("mov.f32 %%f3, 0f00000000;")
	b.l("mul.wide.u32 %%rd5, %%r35, 4;")
	b.l("add.s64 %%rd5, %%rd0, %%rd5;")
	b.l("@!%%p3 ld.global.f32 %%f3, [%%rd5];")
	b.comment("weight ((m*Cg + c)*KH + kh)*KW + kw")
	b.l("mad.lo.u32 %%r37, %%r30, %%r7, %%r31;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r8, %%r32;")
	b.l("add.u32 %%r37, %%r37, %%r26;")
	b.l("mul.wide.u32 %%rd6, %%r37, 4;")
	b.l("add.s64 %%rd6, %%rd2, %%rd6;")
	b.l("ld.global.f32 %%f4, [%%rd6];")
	b.l("fma.rn.f32 %%f5, %%f4, %%f3, %%f5;")
	b.chunkStep("%r38", "%f5", "%f2", "%p6", "$L_tap_done")
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
	b.chunkFlush("%r38", "%f5", "%f2", "%p6", "$L_flushed")
	b.comment("epilogue: + r[i] when hasres, clamp to [lo, hi]")
	b.l("mul.wide.u32 %%rd8, %%r40, 4;")
	b.l("setp.eq.u32 %%p6, %%r19, 0;")
	b.l("@%%p6 bra $L_nores;")
	b.l("add.s64 %%rd9, %%rd4, %%rd8;")
	b.l("ld.global.f32 %%f7, [%%rd9];")
	b.l("add.rn.f32 %%f2, %%f2, %%f7;")
	b.raw("$L_nores:")
	b.comment("the .NaN forms keep a NaN, as ir/ref's clamp (Go's min and max) does; plain max.f32 would make it lo")
	b.l("max.NaN.f32 %%f2, %%f2, %%f0;")
	b.l("min.NaN.f32 %%f2, %%f2, %%f1;")
	b.l("add.s64 %%rd10, %%rd1, %%rd8;")
	b.l("st.global.f32 [%%rd10], %%f2;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// chunkStep emits the end of one product of the summation order: count it
// in cnt, and when the chunk is full add its sum acc to y and start the
// next from +0 (scratch predicate p; next is the label after it).
func (b *builder) chunkStep(cnt, acc, y, p, next string) {
	b.l("add.u32 %s, %s, 1;", cnt, cnt)
	b.l("setp.ne.u32 %s, %s, %d;", p, cnt, SumChunk)
	b.l("@%s bra %s;", p, next)
	b.l("add.rn.f32 %s, %s, %s;", y, y, acc)
	b.l("mov.f32 %s, 0f00000000;", acc)
	b.l("mov.u32 %s, 0;", cnt)
}

// chunkFlush emits the end of a sum: a last, partial chunk (cnt products
// in acc) is added to y; a sum that ended on a whole chunk adds nothing
// (done is the label after it).
func (b *builder) chunkFlush(cnt, acc, y, p, done string) {
	b.l("setp.eq.u32 %s, %s, 0;", p, cnt)
	b.l("@%s bra %s;", p, done)
	b.l("add.rn.f32 %s, %s, %s;", y, y, acc)
	b.raw("%s:", done)
}

// SumChunk is ir/ref's chunk of the float summation order
// (ir/ref/sumorder.go): the float kernels add their running fused sum to
// the output every SumChunk products, as the reference does.
const SumChunk = ref.SumChunk
