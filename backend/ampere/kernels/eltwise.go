package kernels

// The float elementwise family: standalone f32 Add, Sub, Mul, Div, Relu,
// LeakyRelu, Clip, Sigmoid and Tanh, one thread an element. The second
// operand b of a binary op is a buffer of the same shape and layout
// (bmode 1), one scalar (bmode 2) or one value a channel (bmode 3, channel
// of element i = i / inner % C, as the batch-norm kernel). swap = 1
// computes b op x, for a broadcast constant on the left of Sub or Div.
//
// Every op is bit-exact against ir/ref: the arithmetic and clamp ops round
// to nearest in f32 as the reference's float32 operations do, and Sigmoid
// and Tanh are package ir/ref/fmath's f64 operation sequences (fmath.go),
// rounded once to f32.

// EltwiseKernel is the float elementwise kernel.
const EltwiseKernel = "sqc_eltwise_f32"

// Elementwise op codes, the kernel's op parameter.
const (
	EltAdd = iota
	EltSub
	EltMul
	EltDiv
	EltClamp // relu and clip: min(max(x, lo), hi)
	EltLeaky // x < 0 ? alpha·x : x
	EltSigmoid
	EltTanh
)

// Broadcast modes of the second operand, the kernel's bmode parameter.
const (
	EltNoB      = 0
	EltSameB    = 1
	EltScalarB  = 2
	EltChannelB = 3
)

// EltwiseParams lists the elementwise kernel's parameters in launch order;
// b is never read for unary ops (pass any buffer).
var EltwiseParams = []string{"x", "b", "y", "total", "op", "bmode", "C", "inner", "swap", "alpha:f32", "lo:f32", "hi:f32"}

// EltwisePTX returns the module text of EltwiseKernel.
func EltwisePTX() string {
	var b builder
	b.header()
	b.opEntry(EltwiseKernel, EltwiseParams, 3)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<16>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<8>")
	declare(&b, ".f64", "%xd<2>")
	declareFmathRegs(&b)
	fm := newFmath(&b)
	b.comment("x b y in %%rd0..%%rd2; total op bmode C inner swap in %%r0..%%r5; alpha lo hi in %%f0..%%f2")
	b.loadPointers(3)
	for i := 0; i < 6; i++ {
		b.l("ld.param.u32 %%r%d, [p%d];", i, i+3)
	}
	for i := 0; i < 3; i++ {
		b.l("ld.param.f32 %%f%d, [p%d];", i, i+9)
	}
	b.l("mov.u32 %%r7, %%ctaid.x;")
	b.l("mov.u32 %%r8, %d;", OpThreads)
	b.l("mov.u32 %%r9, %%tid.x;")
	b.l("mad.lo.u32 %%r10, %%r7, %%r8, %%r9;")
	b.l("setp.ge.u32 %%p0, %%r10, %%r0;")
	b.l("@%%p0 bra $L_done;")
	b.l("mul.wide.u32 %%rd3, %%r10, 4;")
	b.l("add.s64 %%rd4, %%rd0, %%rd3;")
	b.l("ld.global.f32 %%f3, [%%rd4];")
	b.comment("second operand index in %%r11: i, 0 or i / inner %% C")
	b.l("setp.eq.u32 %%p1, %%r2, %d;", EltNoB)
	b.l("@%%p1 bra $L_op;")
	b.l("mov.u32 %%r11, %%r10;")
	b.l("setp.eq.u32 %%p1, %%r2, %d;", EltSameB)
	b.l("@%%p1 bra $L_loadb;")
	b.l("mov.u32 %%r11, 0;")
	b.l("setp.eq.u32 %%p1, %%r2, %d;", EltScalarB)
	b.l("@%%p1 bra $L_loadb;")
	b.l("div.u32 %%r11, %%r10, %%r4;")
	b.l("rem.u32 %%r11, %%r11, %%r3;")
	b.raw("$L_loadb:")
	b.l("mul.wide.u32 %%rd5, %%r11, 4;")
	b.l("add.s64 %%rd5, %%rd1, %%rd5;")
	b.l("ld.global.f32 %%f4, [%%rd5];")
	b.l("setp.eq.u32 %%p1, %%r5, 0;")
	b.l("@%%p1 bra $L_op;")
	b.l("mov.f32 %%f5, %%f3;")
	b.l("mov.f32 %%f3, %%f4;")
	b.l("mov.f32 %%f4, %%f5;")
	b.raw("$L_op:")
	// One compare-and-branch an op: the op is uniform over the launch, so
	// the branches never diverge.
	for op, lbl := range []string{"$L_add", "$L_sub", "$L_mul", "$L_div", "$L_clamp", "$L_leaky", "$L_sigmoid", "$L_tanh"} {
		b.l("setp.eq.u32 %%p2, %%r1, %d;", op)
		b.l("@%%p2 bra %s;", lbl)
	}
	b.l("bra $L_done;")
	b.raw("$L_add:")
	b.l("add.rn.f32 %%f6, %%f3, %%f4;")
	b.l("bra $L_store;")
	b.raw("$L_sub:")
	b.l("sub.rn.f32 %%f6, %%f3, %%f4;")
	b.l("bra $L_store;")
	b.raw("$L_mul:")
	b.l("mul.rn.f32 %%f6, %%f3, %%f4;")
	b.l("bra $L_store;")
	b.raw("$L_div:")
	b.l("div.rn.f32 %%f6, %%f3, %%f4;")
	b.l("bra $L_store;")
	b.raw("$L_clamp:")
	b.l("max.f32 %%f6, %%f3, %%f1;")
	b.l("min.f32 %%f6, %%f6, %%f2;")
	b.l("bra $L_store;")
	b.raw("$L_leaky:")
	b.l("mov.f32 %%f6, %%f3;")
	b.l("setp.lt.f32 %%p3, %%f3, 0f00000000;")
	b.l("@%%p3 mul.rn.f32 %%f6, %%f3, %%f0;")
	b.l("bra $L_store;")
	b.raw("$L_sigmoid:")
	b.l("cvt.f64.f32 %%xd0, %%f3;")
	fm.Sigmoid("%xd1", "%xd0")
	b.l("cvt.rn.f32.f64 %%f6, %%xd1;")
	b.l("bra $L_store;")
	b.raw("$L_tanh:")
	b.l("cvt.f64.f32 %%xd0, %%f3;")
	fm.Tanh("%xd1", "%xd0")
	b.l("cvt.rn.f32.f64 %%f6, %%xd1;")
	b.raw("$L_store:")
	b.l("add.s64 %%rd6, %%rd2, %%rd3;")
	b.l("st.global.f32 [%%rd6], %%f6;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
