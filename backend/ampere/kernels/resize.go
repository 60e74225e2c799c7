package kernels

// Resize of the two spatial axes of an image (nearest, linear or cubic;
// every coordinate transformation but tf_crop_and_resize), one thread an
// output element, in NCHW or NHWC order (the output in the input's). The
// taps (input index and float64 weight of each output row and column) are
// computed at plan time by the reference executor's own rule
// (ref.ResizeTaps); the kernel combines them as ir/ref's separable
// resize does, operation for operation, so the result is bit-exact: along
// H first, t = w0·x[i0] then t += wk·x[ik] for each later tap whose weight
// is not 0, for each column tap; then along W the same over those t, all in
// float64 (mul.rn then add.rn, never fused), rounded once to f32.

// ResizeKernel is the f32 spatial resize.
const ResizeKernel = "sqc_resize_f32"

// ResizeParams lists the resize's parameters in launch order: idx holds
// the input row of each output row's taps (OH·taps u32) and then the input
// column of each output column's taps (OW·taps), wts their float64 weights
// in the same order; dims in logical order; nhwc 1 for NHWC buffers.
var ResizeParams = []string{"x", "y", "idx", "wts", "total", "C", "H", "W", "OH", "OW", "taps", "nhwc"}

// ResizePTX returns the module text of ResizeKernel.
func ResizePTX() string {
	var b builder
	b.header()
	b.opEntry(ResizeKernel, ResizeParams, 4)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<48>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<4>")
	declare(&b, ".f64", "%d<8>")
	b.comment("x y idx wts in %%rd0..%%rd3; total C H W OH OW taps nhwc in %%r0..%%r7")
	b.loadParams(4, 8)
	b.threadIndex()
	b.decodeImage("%r7", "%r1", "%r4", "%r5")
	b.comment("first row tap oh*taps in r25, first column tap (OH + ow)*taps in r26")
	b.l("mul.lo.u32 %%r25, %%r21, %%r6;")
	b.l("add.u32 %%r26, %%r4, %%r20;")
	b.l("mul.lo.u32 %%r26, %%r26, %%r6;")
	b.comment("the result %%d0 over column taps kw (r30); each column's value %%d1 over row taps kh (r31)")
	b.l("mov.f64 %%d0, 0d0000000000000000;")
	b.l("mov.u32 %%r30, 0;")
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p2, %%r30, %%r6;")
	b.l("@%%p2 bra $L_store;")
	b.l("add.u32 %%r32, %%r26, %%r30;")
	b.l("mul.wide.u32 %%rd4, %%r32, 8;")
	b.l("add.s64 %%rd4, %%rd3, %%rd4;")
	b.l("ld.global.f64 %%d2, [%%rd4];") // column weight
	b.comment("a later tap of weight 0 is skipped, as the reference does")
	b.l("setp.ne.u32 %%p3, %%r30, 0;")
	b.l("setp.eq.f64 %%p4, %%d2, 0d0000000000000000;")
	b.l("and.pred %%p4, %%p3, %%p4;")
	b.l("@%%p4 bra $L_kw_next;")
	b.l("mul.wide.u32 %%rd5, %%r32, 4;")
	b.l("add.s64 %%rd5, %%rd2, %%rd5;")
	b.l("ld.global.u32 %%r33, [%%rd5];") // input column
	b.l("mov.f64 %%d1, 0d0000000000000000;")
	b.l("mov.u32 %%r31, 0;")
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p2, %%r31, %%r6;")
	b.l("@%%p2 bra $L_kh_done;")
	b.l("add.u32 %%r34, %%r25, %%r31;")
	b.l("mul.wide.u32 %%rd6, %%r34, 8;")
	b.l("add.s64 %%rd6, %%rd3, %%rd6;")
	b.l("ld.global.f64 %%d3, [%%rd6];") // row weight
	b.l("setp.ne.u32 %%p5, %%r31, 0;")
	b.l("setp.eq.f64 %%p6, %%d3, 0d0000000000000000;")
	b.l("and.pred %%p6, %%p5, %%p6;")
	b.l("@%%p6 bra $L_kh_next;")
	b.l("mul.wide.u32 %%rd7, %%r34, 4;")
	b.l("add.s64 %%rd7, %%rd2, %%rd7;")
	b.l("ld.global.u32 %%r35, [%%rd7];") // input row
	b.l("setp.ne.u32 %%p1, %%r7, 0;")
	b.l("@%%p1 bra $L_xnhwc;")
	b.comment("NCHW: ((n*C + c)*H + ih)*W + iw")
	b.l("mad.lo.u32 %%r36, %%r23, %%r1, %%r22;")
	b.l("mad.lo.u32 %%r36, %%r36, %%r2, %%r35;")
	b.l("mad.lo.u32 %%r36, %%r36, %%r3, %%r33;")
	b.l("bra $L_xaddr;")
	b.raw("$L_xnhwc:")
	b.comment("NHWC: ((n*H + ih)*W + iw)*C + c")
	b.l("mad.lo.u32 %%r36, %%r23, %%r2, %%r35;")
	b.l("mad.lo.u32 %%r36, %%r36, %%r3, %%r33;")
	b.l("mad.lo.u32 %%r36, %%r36, %%r1, %%r22;")
	b.raw("$L_xaddr:")
	b.l("mul.wide.u32 %%rd8, %%r36, 4;")
	b.l("add.s64 %%rd8, %%rd0, %%rd8;")
	b.l("ld.global.f32 %%f1, [%%rd8];")
	b.l("cvt.f64.f32 %%d4, %%f1;")
	b.l("mul.rn.f64 %%d4, %%d3, %%d4;")
	b.l("@%%p5 add.rn.f64 %%d1, %%d1, %%d4;")
	b.l("@!%%p5 mov.f64 %%d1, %%d4;")
	b.raw("$L_kh_next:")
	b.l("add.u32 %%r31, %%r31, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_kh_done:")
	b.l("mul.rn.f64 %%d5, %%d2, %%d1;")
	b.l("@%%p3 add.rn.f64 %%d0, %%d0, %%d5;")
	b.l("@!%%p3 mov.f64 %%d0, %%d5;")
	b.raw("$L_kw_next:")
	b.l("add.u32 %%r30, %%r30, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_store:")
	b.l("cvt.rn.f32.f64 %%f2, %%d0;")
	b.l("mul.wide.u32 %%rd9, %%r40, 4;")
	b.l("add.s64 %%rd9, %%rd1, %%rd9;")
	b.l("st.global.f32 [%%rd9], %%f2;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
