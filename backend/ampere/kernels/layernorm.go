package kernels

// LayerNormalization, and InstanceNormalization and GroupNormalization (the
// same with a row a channel or a group of channels and one scale and bias a
// channel): one thread a row (consecutive in memory), in ir/ref's float64
// arithmetic operation for operation, so the result is bit-exact: the mean as the in-order sum
// divided by the size, the variance as the in-order sum of squared
// deviations divided by the size, inv = 1 / sqrt(var + eps) (div.rn and
// sqrt.rn are IEEE-rounded, as Go's / and math.Sqrt), each element
// (x - mean) * inv, times the scale and plus the bias when the node has
// them, rounded once to f32. No fused multiply-add is emitted. Rows are
// read three times and a warp's threads read different rows: simple rather
// than fast, but bit-exact, which a parallel (reordered) sum would not be.

// LayerNormKernel is the f32 layer normalization.
const LayerNormKernel = "sqc_layernorm_f32"

// LayerNormParams lists the layer normalization's parameters in launch
// order: total counts the rows, of size elements each; scale and bias are
// read only when hasscale / hasbias is 1, the element at flat offset o
// taking entry (o / sdiv) % smod: sdiv 1 and smod size for
// LayerNormalization (one value an element of the row), sdiv H·W and smod C
// for InstanceNormalization and GroupNormalization (one value a channel).
var LayerNormParams = []string{"x", "y", "scale", "bias", "total", "size", "hasscale", "hasbias", "sdiv", "smod", "eps:f32"}

// LayerNormPTX returns the module text of LayerNormKernel.
func LayerNormPTX() string {
	var b builder
	b.header()
	b.opEntry(LayerNormKernel, LayerNormParams, 4)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<24>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<4>")
	declare(&b, ".f64", "%d<12>")
	b.comment("x y scale bias in %%rd0..%%rd3; total size hasscale hasbias in %%r0..%%r3; sdiv smod in %%r10 %%r11; eps in %%f0")
	b.loadPointers(4)
	for i := 0; i < 4; i++ {
		b.l("ld.param.u32 %%r%d, [p%d];", i, i+4)
	}
	b.l("ld.param.u32 %%r10, [p8];")
	b.l("ld.param.u32 %%r11, [p9];")
	b.l("ld.param.f32 %%f0, [p10];")
	b.l("mov.u32 %%r4, %%ctaid.x;")
	b.l("mov.u32 %%r5, %d;", OpThreads)
	b.l("mov.u32 %%r6, %%tid.x;")
	b.l("mad.lo.u32 %%r7, %%r4, %%r5, %%r6;")
	b.l("setp.ge.u32 %%p0, %%r7, %%r0;")
	b.l("@%%p0 bra $L_done;")
	b.comment("the row's first element: row * size; its address in %%rd4 (x) and %%rd5 (y)")
	b.l("mul.wide.u32 %%rd6, %%r7, %%r1;")
	b.l("shl.b64 %%rd6, %%rd6, 2;")
	b.l("add.s64 %%rd4, %%rd0, %%rd6;")
	b.l("add.s64 %%rd5, %%rd1, %%rd6;")
	b.l("cvt.rn.f64.u32 %%d0, %%r1;") // size
	b.comment("pass 1: mean %%d1 = (sum of x in order) / size")
	b.l("mov.f64 %%d1, 0d0000000000000000;")
	b.l("mov.u32 %%r8, 0;")
	b.l("mov.u64 %%rd7, %%rd4;")
	b.raw("$L_sum:")
	b.l("setp.ge.u32 %%p1, %%r8, %%r1;")
	b.l("@%%p1 bra $L_sum_done;")
	b.l("ld.global.f32 %%f1, [%%rd7];")
	b.l("cvt.f64.f32 %%d2, %%f1;")
	b.l("add.rn.f64 %%d1, %%d1, %%d2;")
	b.l("add.s64 %%rd7, %%rd7, 4;")
	b.l("add.u32 %%r8, %%r8, 1;")
	b.l("bra $L_sum;")
	b.raw("$L_sum_done:")
	b.l("div.rn.f64 %%d1, %%d1, %%d0;")
	b.comment("pass 2: %%d3 = sum of (x - mean)^2 in order")
	b.l("mov.f64 %%d3, 0d0000000000000000;")
	b.l("mov.u32 %%r8, 0;")
	b.l("mov.u64 %%rd7, %%rd4;")
	b.raw("$L_var:")
	b.l("setp.ge.u32 %%p1, %%r8, %%r1;")
	b.l("@%%p1 bra $L_var_done;")
	b.l("ld.global.f32 %%f1, [%%rd7];")
	b.l("cvt.f64.f32 %%d2, %%f1;")
	b.l("sub.rn.f64 %%d2, %%d2, %%d1;")
	b.l("mul.rn.f64 %%d2, %%d2, %%d2;")
	b.l("add.rn.f64 %%d3, %%d3, %%d2;")
	b.l("add.s64 %%rd7, %%rd7, 4;")
	b.l("add.u32 %%r8, %%r8, 1;")
	b.l("bra $L_var;")
	b.raw("$L_var_done:")
	b.comment("inv %%d4 = 1 / sqrt(var / size + eps)")
	b.l("div.rn.f64 %%d3, %%d3, %%d0;")
	b.l("cvt.f64.f32 %%d5, %%f0;")
	b.l("add.rn.f64 %%d3, %%d3, %%d5;")
	b.l("sqrt.rn.f64 %%d3, %%d3;")
	b.l("div.rn.f64 %%d4, 0d3FF0000000000000, %%d3;")
	b.comment("pass 3: y = f32(((x - mean) * inv) * scale + bias)")
	b.l("setp.ne.u32 %%p2, %%r2, 0;")
	b.l("setp.ne.u32 %%p3, %%r3, 0;")
	b.l("mov.u32 %%r8, 0;")
	b.l("mov.u64 %%rd7, %%rd4;")
	b.l("mov.u64 %%rd8, %%rd5;")
	b.comment("the element's flat offset row*size + j in r12")
	b.l("mul.lo.u32 %%r12, %%r7, %%r1;")
	b.raw("$L_out:")
	b.l("setp.ge.u32 %%p1, %%r8, %%r1;")
	b.l("@%%p1 bra $L_done;")
	b.l("ld.global.f32 %%f1, [%%rd7];")
	b.l("cvt.f64.f32 %%d2, %%f1;")
	b.l("sub.rn.f64 %%d2, %%d2, %%d1;")
	b.l("mul.rn.f64 %%d2, %%d2, %%d4;")
	b.comment("scale and bias entry (o / sdiv) %% smod: byte offset in %%rd11")
	b.l("div.u32 %%r13, %%r12, %%r10;")
	b.l("rem.u32 %%r13, %%r13, %%r11;")
	b.l("mul.wide.u32 %%rd11, %%r13, 4;")
	b.l("add.s64 %%rd9, %%rd2, %%rd11;")
	b.l("add.s64 %%rd10, %%rd3, %%rd11;")
	b.l("@!%%p2 bra $L_noscale;")
	b.l("ld.global.f32 %%f2, [%%rd9];")
	b.l("cvt.f64.f32 %%d6, %%f2;")
	b.l("mul.rn.f64 %%d2, %%d2, %%d6;")
	b.raw("$L_noscale:")
	b.l("@!%%p3 bra $L_nobias;")
	b.l("ld.global.f32 %%f2, [%%rd10];")
	b.l("cvt.f64.f32 %%d6, %%f2;")
	b.l("add.rn.f64 %%d2, %%d2, %%d6;")
	b.raw("$L_nobias:")
	b.l("cvt.rn.f32.f64 %%f3, %%d2;")
	b.l("st.global.f32 [%%rd8], %%f3;")
	b.l("add.s64 %%rd7, %%rd7, 4;")
	b.l("add.s64 %%rd8, %%rd8, 4;")
	b.l("add.u32 %%r12, %%r12, 1;")
	b.l("add.u32 %%r8, %%r8, 1;")
	b.l("bra $L_out;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
