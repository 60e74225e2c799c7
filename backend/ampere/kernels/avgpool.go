package kernels

// The float average pool: one thread an output element of a 2-D
// AveragePool, in NCHW or NHWC order (the output in the input's). It does
// what ir/ref's averagePoolF32 does, operation for operation, so the result
// is bit-exact: the taps inside the input summed in f32 (add.rn.f32) in
// row-major window order starting from 0, then one div.rn.f32 by the count
// as f32. The count is the taps inside the input, or with count_include_pad
// the taps inside the input or its explicit padding (a product of the
// rows' and the columns' counts, so ceil_mode's overhang past the end
// padding is not counted); a window with nothing to count gives NaN
// (0 with count_include_pad), as the reference does.

// AvgPoolF32Kernel is the float average pool.
const AvgPoolF32Kernel = "sqc_avgpool_f32"

// AvgPoolParams lists the average pool's parameters in launch order: dims
// in logical order (C, H, W and OH, OW), window, strides, leading pads,
// dilations, the trailing pads (peh, pew, which only count_include_pad
// reads), nhwc (1: both buffers in NHWC order) and includepad.
var AvgPoolParams = []string{"x", "y", "total", "C", "H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw",
	"peh", "pew", "nhwc", "includepad"}

// AvgPoolPTX returns the module text of AvgPoolF32Kernel.
func AvgPoolPTX() string {
	var b builder
	b.header()
	b.opEntry(AvgPoolF32Kernel, AvgPoolParams, 2)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<64>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<4>")
	b.loadPointers(2)
	for i := 2; i < len(AvgPoolParams); i++ {
		b.l("ld.param.u32 %%r%d, [p%d];", i-2, i)
	}
	// r0 total, r1 C, r2 H, r3 W, r4 OH, r5 OW, r6 KH, r7 KW, r8 sh,
	// r9 sw, r10 ph, r11 pw, r12 dh, r13 dw, r14 peh, r15 pew, r16 nhwc,
	// r17 includepad.
	b.threadIndex()
	b.decodeImage("%r16", "%r1", "%r4", "%r5")
	b.comment("ih0 = oh*sh - ph in r27, iw0 = ow*sw - pw in r28 (signed)")
	b.l("mul.lo.s32 %%r27, %%r21, %%r8;")
	b.l("sub.s32 %%r27, %%r27, %%r10;")
	b.l("mul.lo.s32 %%r28, %%r20, %%r9;")
	b.l("sub.s32 %%r28, %%r28, %%r11;")
	b.comment("padded extents: rows in [-ph, H+peh), columns in [-pw, W+pew)")
	b.l("neg.s32 %%r44, %%r10;")
	b.l("add.s32 %%r45, %%r2, %%r14;")
	b.l("neg.s32 %%r46, %%r11;")
	b.l("add.s32 %%r47, %%r3, %%r15;")
	b.comment("the sum in %%f1, taps inside in r30, rows and columns inside the padding in r31, r32")
	b.l("mov.f32 %%f1, 0f00000000;")
	b.l("mov.u32 %%r30, 0;")
	b.l("mov.u32 %%r31, 0;")
	b.l("mov.u32 %%r32, 0;")
	b.comment("the columns inside the padding, counted once")
	b.l("mov.u32 %%r34, 0;")
	b.raw("$L_cols:")
	b.l("setp.ge.u32 %%p2, %%r34, %%r7;")
	b.l("@%%p2 bra $L_cols_done;")
	b.l("mad.lo.s32 %%r36, %%r34, %%r13, %%r28;")
	b.l("setp.ge.s32 %%p3, %%r36, %%r46;")
	b.l("setp.lt.s32 %%p4, %%r36, %%r47;")
	b.l("and.pred %%p3, %%p3, %%p4;")
	b.l("@%%p3 add.u32 %%r32, %%r32, 1;")
	b.l("add.u32 %%r34, %%r34, 1;")
	b.l("bra $L_cols;")
	b.raw("$L_cols_done:")
	b.l("mov.u32 %%r33, 0;") // kh
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p2, %%r33, %%r6;")
	b.l("@%%p2 bra $L_sum_done;")
	b.l("mad.lo.s32 %%r35, %%r33, %%r12, %%r27;") // ih
	b.l("setp.ge.s32 %%p3, %%r35, %%r44;")
	b.l("setp.lt.s32 %%p4, %%r35, %%r45;")
	b.l("and.pred %%p3, %%p3, %%p4;")
	b.l("@%%p3 add.u32 %%r31, %%r31, 1;")
	b.comment("a row outside the input adds nothing (unsigned test: negative rows wrap)")
	b.l("setp.ge.u32 %%p3, %%r35, %%r2;")
	b.l("@%%p3 bra $L_kh_next;")
	b.l("mov.u32 %%r34, 0;") // kw
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p2, %%r34, %%r7;")
	b.l("@%%p2 bra $L_kh_next;")
	b.l("mad.lo.s32 %%r36, %%r34, %%r13, %%r28;") // iw
	b.l("setp.ge.u32 %%p3, %%r36, %%r3;")
	b.l("@%%p3 bra $L_kw_next;")
	b.l("setp.ne.u32 %%p5, %%r16, 0;")
	b.l("@%%p5 bra $L_xnhwc;")
	b.comment("NCHW: ((n*C + c)*H + ih)*W + iw")
	b.l("mad.lo.u32 %%r37, %%r23, %%r1, %%r22;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r2, %%r35;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r3, %%r36;")
	b.l("bra $L_xaddr;")
	b.raw("$L_xnhwc:")
	b.comment("NHWC: ((n*H + ih)*W + iw)*C + c")
	b.l("mad.lo.u32 %%r37, %%r23, %%r2, %%r35;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r3, %%r36;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r1, %%r22;")
	b.raw("$L_xaddr:")
	b.l("mul.wide.u32 %%rd2, %%r37, 4;")
	b.l("add.s64 %%rd2, %%rd0, %%rd2;")
	b.l("ld.global.f32 %%f2, [%%rd2];")
	b.l("add.rn.f32 %%f1, %%f1, %%f2;")
	b.l("add.u32 %%r30, %%r30, 1;")
	b.raw("$L_kw_next:")
	b.l("add.u32 %%r34, %%r34, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_kh_next:")
	b.l("add.u32 %%r33, %%r33, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_sum_done:")
	b.comment("count: taps inside (r30), or with includepad rows x columns inside the padding")
	b.l("setp.ne.u32 %%p6, %%r17, 0;")
	b.l("@%%p6 mul.lo.u32 %%r30, %%r31, %%r32;")
	b.l("setp.eq.u32 %%p7, %%r30, 0;")
	b.l("@%%p7 bra $L_empty;")
	b.l("cvt.rn.f32.u32 %%f3, %%r30;")
	b.l("div.rn.f32 %%f1, %%f1, %%f3;")
	b.l("bra $L_store;")
	b.raw("$L_empty:")
	b.comment("nothing to average: NaN, or 0 with includepad")
	b.l("mov.f32 %%f1, 0f7FC00000;")
	b.l("@%%p6 mov.f32 %%f1, 0f00000000;")
	b.raw("$L_store:")
	b.l("mul.wide.u32 %%rd3, %%r40, 4;")
	b.l("add.s64 %%rd3, %%rd1, %%rd3;")
	b.l("st.global.f32 [%%rd3], %%f1;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
