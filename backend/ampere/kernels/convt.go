package kernels

// The float transposed convolution (ConvTranspose), one thread an output
// element, in ir/ref's float summation order (ir/ref/sumorder.go), so that
// it equals the reference executor bit for bit: y = the bias; then for
// each kernel tap (kh, kw) in order whose forward convolution would have
// read this output position (oh = ih·sh − ph + kh·dh, the same along W),
// the group's input channels summed as one column of ir/ref's GEMM (chunks
// of SumChunk fma.rn.f32 from +0, each added to a sum from +0), and that
// sum added to y, as ir/ref's col2im scatter adds it.

// ConvTransposeKernel is the f32 transposed convolution.
const ConvTransposeKernel = "sqc_convt_f32"

// ConvTransposeParams lists its parameters in launch order: x (NCHW, or
// NHWC when xnhwc is 1), y (NHWC), w in ONNX order [C][Mg][KH][KW], b (M
// biases, zeros when the node has none); the input's C×H×W, the output's
// M×OH×OW, the window, strides, leading pads, dilations and the group's
// Cg input and Mg output channels.
var ConvTransposeParams = []string{"x", "y", "w", "b", "total", "C", "H", "W", "M", "OH", "OW", "KH", "KW",
	"sh", "sw", "ph", "pw", "dh", "dw", "Cg", "Mg", "xnhwc"}

// ConvTransposePTX returns the module text of ConvTransposeKernel.
func ConvTransposePTX() string {
	var b builder
	b.header()
	b.opEntry(ConvTransposeKernel, ConvTransposeParams, 4)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<64>")
	declare(&b, ".b64", "%rd<12>")
	declare(&b, ".f32", "%f<8>")
	b.comment("x y w b in %%rd0..%%rd3; total C H W M OH OW KH KW sh sw ph pw dh dw Cg Mg xnhwc in %%r0..%%r17")
	b.loadPointers(4)
	for i := 4; i < len(ConvTransposeParams); i++ {
		b.l("ld.param.u32 %%r%d, [p%d];", i-4, i)
	}
	b.threadIndex()
	b.decodeImage("", "%r4", "%r5", "%r6")
	b.comment("group g = m / Mg: first channel c0 = g*Cg in r25; m' = m %% Mg in r26")
	b.l("div.u32 %%r25, %%r22, %%r16;")
	b.l("rem.u32 %%r26, %%r22, %%r16;")
	b.l("mul.lo.u32 %%r25, %%r25, %%r15;")
	b.comment("oh + ph in r27, ow + pw in r28")
	b.l("add.u32 %%r27, %%r21, %%r11;")
	b.l("add.u32 %%r28, %%r20, %%r12;")
	b.comment("y = b[m] in f1")
	b.l("mul.wide.u32 %%rd6, %%r22, 4;")
	b.l("add.s64 %%rd6, %%rd3, %%rd6;")
	b.l("ld.global.f32 %%f1, [%%rd6];")
	b.l("mov.u32 %%r31, 0;") // kh
	b.raw("$L_kh:")
	b.l("setp.ge.u32 %%p1, %%r31, %%r7;")
	b.l("@%%p1 bra $L_sum_done;")
	b.comment("ih = (oh + ph - kh*dh) / sh when that is whole and in [0, H)")
	b.l("mul.lo.s32 %%r33, %%r31, %%r13;")
	b.l("sub.s32 %%r33, %%r27, %%r33;")
	b.l("setp.lt.s32 %%p2, %%r33, 0;")
	b.l("@%%p2 bra $L_kh_next;")
	b.l("rem.u32 %%r34, %%r33, %%r9;")
	b.l("setp.ne.u32 %%p2, %%r34, 0;")
	b.l("@%%p2 bra $L_kh_next;")
	b.l("div.u32 %%r33, %%r33, %%r9;")
	b.l("setp.ge.u32 %%p2, %%r33, %%r2;")
	b.l("@%%p2 bra $L_kh_next;")
	b.l("mov.u32 %%r32, 0;") // kw
	b.raw("$L_kw:")
	b.l("setp.ge.u32 %%p1, %%r32, %%r8;")
	b.l("@%%p1 bra $L_kh_next;")
	b.l("mul.lo.s32 %%r35, %%r32, %%r14;")
	b.l("sub.s32 %%r35, %%r28, %%r35;")
	b.l("setp.lt.s32 %%p2, %%r35, 0;")
	b.l("@%%p2 bra $L_kw_next;")
	b.l("rem.u32 %%r34, %%r35, %%r10;")
	b.l("setp.ne.u32 %%p2, %%r34, 0;")
	b.l("@%%p2 bra $L_kw_next;")
	b.l("div.u32 %%r35, %%r35, %%r10;")
	b.l("setp.ge.u32 %%p2, %%r35, %%r3;")
	b.l("@%%p2 bra $L_kw_next;")
	b.comment("this tap's column: the sum over c in f6 (from +0), the chunk's in f4, its length in r39")
	b.l("mov.f32 %%f6, 0f00000000;")
	b.l("mov.f32 %%f4, 0f00000000;")
	b.l("mov.u32 %%r39, 0;")
	b.l("mov.u32 %%r30, 0;") // c
	b.raw("$L_c:")
	b.l("setp.ge.u32 %%p1, %%r30, %%r15;")
	b.l("@%%p1 bra $L_c_done;")
	b.l("add.u32 %%r36, %%r25, %%r30;") // input channel
	b.l("setp.ne.u32 %%p3, %%r17, 0;")
	b.l("@%%p3 bra $L_xnhwc;")
	b.comment("NCHW: ((n*C + c)*H + ih)*W + iw")
	b.l("mad.lo.u32 %%r37, %%r23, %%r1, %%r36;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r2, %%r33;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r3, %%r35;")
	b.l("bra $L_xaddr;")
	b.raw("$L_xnhwc:")
	b.comment("NHWC: ((n*H + ih)*W + iw)*C + c")
	b.l("mad.lo.u32 %%r37, %%r23, %%r2, %%r33;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r3, %%r35;")
	b.l("mad.lo.u32 %%r37, %%r37, %%r1, %%r36;")
	b.raw("$L_xaddr:")
	b.l("mul.wide.u32 %%rd4, %%r37, 4;")
	b.l("add.s64 %%rd4, %%rd0, %%rd4;")
	b.l("ld.global.f32 %%f2, [%%rd4];")
	b.comment("w at ((c*Mg + m')*KH + kh)*KW + kw")
	b.l("mad.lo.u32 %%r38, %%r36, %%r16, %%r26;")
	b.l("mad.lo.u32 %%r38, %%r38, %%r7, %%r31;")
	b.l("mad.lo.u32 %%r38, %%r38, %%r8, %%r32;")
	b.l("mul.wide.u32 %%rd5, %%r38, 4;")
	b.l("add.s64 %%rd5, %%rd2, %%rd5;")
	b.l("ld.global.f32 %%f3, [%%rd5];")
	b.l("fma.rn.f32 %%f4, %%f3, %%f2, %%f4;")
	b.l("add.u32 %%r30, %%r30, 1;")
	b.chunkStep("%r39", "%f4", "%f6", "%p4", "$L_c")
	b.l("bra $L_c;")
	b.raw("$L_c_done:")
	b.chunkFlush("%r39", "%f4", "%f6", "%p4", "$L_flushed")
	b.l("add.rn.f32 %%f1, %%f1, %%f6;")
	b.raw("$L_kw_next:")
	b.l("add.u32 %%r32, %%r32, 1;")
	b.l("bra $L_kw;")
	b.raw("$L_kh_next:")
	b.l("add.u32 %%r31, %%r31, 1;")
	b.l("bra $L_kh;")
	b.raw("$L_sum_done:")
	b.l("mul.wide.u32 %%rd7, %%r40, 4;")
	b.l("add.s64 %%rd7, %%rd1, %%rd7;")
	b.l("st.global.f32 [%%rd7], %%f1;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
