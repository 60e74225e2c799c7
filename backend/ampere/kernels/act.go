package kernels

// Two small float kernels for the ops MobileNetV3- and EfficientNet-style
// networks add: HardSigmoid / HardSwish, and the channel scaling of a
// squeeze-and-excitation block (an image times one computed value a
// channel and sample). One thread an element; the arithmetic is ir/ref's,
// operation for operation, so the results are its bits:
//
//	hardsigmoid  y = float32(clamp01(float64(alpha)·x + float64(beta)))   mul.rn.f64, add.rn.f64
//	hardswish    y = float32(x · clamp01(x/6 + 0.5))                      div.rn.f64, add.rn.f64, mul.rn.f64
//	chanscale    y = x · s[n·C + c]                                       mul.rn.f32
//
// clamp01 is Go's max(0, min(1, v)): a NaN stays NaN, and −0 becomes +0;
// it is written with compares rather than min/max.f64, which drop NaNs.

// Kernel names.
const (
	HardActKernel   = "sqc_hardact_f32"
	ChanScaleKernel = "sqc_chanscale_f32"
)

// HardActSigmoid and HardActSwish select HardActKernel's function.
const (
	HardActSigmoid = 0
	HardActSwish   = 1
)

// HardActParams and ChanScaleParams list the kernels' parameters in launch
// order. ChanScale's channel of element i is i / inner % C and its sample
// i / (C·HW): inner is 1 for NHWC data, HW for NCHW.
var (
	HardActParams   = []string{"x", "y", "total", "op", "alpha:f32", "beta:f32"}
	ChanScaleParams = []string{"x", "s", "y", "total", "C", "HW", "inner"}
)

// HardActPTX returns the module text of HardActKernel.
func HardActPTX() string {
	var b builder
	b.header()
	b.opEntry(HardActKernel, HardActParams, 2)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<12>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<4>")
	declare(&b, ".f64", "%d<8>")
	b.loadPointers(2)
	b.l("ld.param.u32 %%r0, [p2];")
	b.l("ld.param.u32 %%r1, [p3];")
	b.l("ld.param.f32 %%f0, [p4];")
	b.l("ld.param.f32 %%f1, [p5];")
	b.elementIndex(2, 8)
	b.l("mul.wide.u32 %%rd2, %%r2, 4;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("ld.global.f32 %%f2, [%%rd3];")
	b.l("cvt.f64.f32 %%d0, %%f2;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", HardActSwish)
	b.l("@%%p1 bra $L_swish;")
	b.l("cvt.f64.f32 %%d1, %%f0;")
	b.l("cvt.f64.f32 %%d2, %%f1;")
	b.l("mul.rn.f64 %%d3, %%d1, %%d0;")
	b.l("add.rn.f64 %%d3, %%d3, %%d2;")
	clamp01(&b, "%d3")
	b.l("bra $L_store;")
	b.raw("$L_swish:")
	b.l("div.rn.f64 %%d3, %%d0, 0d4018000000000000;") // x / 6
	b.l("add.rn.f64 %%d3, %%d3, 0d3FE0000000000000;") // + 0.5
	clamp01(&b, "%d3")
	b.l("mul.rn.f64 %%d3, %%d0, %%d3;")
	b.raw("$L_store:")
	b.l("cvt.rn.f32.f64 %%f3, %%d3;")
	b.l("add.s64 %%rd4, %%rd1, %%rd2;")
	b.l("st.global.f32 [%%rd4], %%f3;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// clamp01 sets d = max(0, min(1, d)) as Go computes it: v ≤ 0 gives +0,
// v ≥ 1 gives 1, a NaN fails both compares and stays.
func clamp01(b *builder, d string) {
	b.l("setp.le.f64 %%p2, %s, 0d0000000000000000;", d)
	b.l("@%%p2 mov.f64 %s, 0d0000000000000000;", d)
	b.l("setp.ge.f64 %%p3, %s, 0d3FF0000000000000;", d)
	b.l("@%%p3 mov.f64 %s, 0d3FF0000000000000;", d)
}

// ChanScalePTX returns the module text of ChanScaleKernel.
func ChanScalePTX() string {
	var b builder
	b.header()
	b.opEntry(ChanScaleKernel, ChanScaleParams, 3)
	declare(&b, ".pred", "%p<2>")
	declare(&b, ".b32", "%r<12>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<4>")
	b.loadParams(3, 4)
	b.elementIndex(4, 8)
	b.comment("sample n = i / (C*HW), channel c = i / inner %% C, s index n*C + c")
	b.l("mul.lo.u32 %%r5, %%r1, %%r2;")
	b.l("div.u32 %%r5, %%r4, %%r5;")
	b.l("div.u32 %%r6, %%r4, %%r3;")
	b.l("rem.u32 %%r6, %%r6, %%r1;")
	b.l("mad.lo.u32 %%r7, %%r5, %%r1, %%r6;")
	b.l("mul.wide.u32 %%rd3, %%r7, 4;")
	b.l("add.s64 %%rd3, %%rd1, %%rd3;")
	b.l("ld.global.f32 %%f1, [%%rd3];")
	b.l("mul.wide.u32 %%rd4, %%r4, 4;")
	b.l("add.s64 %%rd5, %%rd0, %%rd4;")
	b.l("ld.global.f32 %%f0, [%%rd5];")
	b.l("mul.rn.f32 %%f2, %%f0, %%f1;")
	b.l("add.s64 %%rd6, %%rd2, %%rd4;")
	b.l("st.global.f32 [%%rd6], %%f2;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
