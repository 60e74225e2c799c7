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

// eltwiseParams emits both elementwise kernels' prologue: the parameters
// (x b y in %rd0..%rd2, total op bmode C inner swap in %r0..%r5, alpha lo
// hi in %f0..%f2) and the thread's index in %r10.
func eltwiseParams(b *builder) {
	b.loadParams(3, 6)
	for i := 0; i < 3; i++ {
		b.l("ld.param.f32 %%f%d, [p%d];", i, i+9)
	}
	b.elementIndex(10, 7)
}

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
	eltwiseParams(&b)
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

// Eltwise4Kernel is EltwiseKernel four elements a thread (one 16-byte load
// of each operand and one store) for the ops without a transcendental
// (Add, Sub, Mul, Div, the clamp and LeakyRelu) and a second operand that
// is absent, of the same shape or a scalar (Eltwise4Fits); the parameters
// are EltwiseParams, total counting groups of four elements. Each
// element's arithmetic is EltwiseKernel's.
const Eltwise4Kernel = "sqc_eltwise_f32_x4"

// Eltwise4Fits reports whether Eltwise4Kernel computes op with operand
// mode bmode over samples of perSample elements.
func Eltwise4Fits(op, bmode, perSample int64) bool {
	return perSample%4 == 0 && op <= EltLeaky && (bmode == EltNoB || bmode == EltSameB || bmode == EltScalarB)
}

// Eltwise4PTX returns the module text of Eltwise4Kernel.
func Eltwise4PTX() string {
	var b builder
	b.header()
	b.opEntry(Eltwise4Kernel, EltwiseParams, 3)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<16>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<3>", "%a<4>", "%c<4>", "%y<4>", "%tmp")
	b.comment("x b y in %%rd0..%%rd2; total op bmode C inner swap in %%r0..%%r5; alpha lo hi in %%f0..%%f2")
	b.comment("x's four elements in %%a0..3, b's in %%c0..3, the results in %%y0..3")
	eltwiseParams(&b)
	b.l("mul.wide.u32 %%rd3, %%r10, 16;")
	b.l("add.s64 %%rd4, %%rd0, %%rd3;")
	b.l("ld.global.v4.f32 {%%a0, %%a1, %%a2, %%a3}, [%%rd4];")
	b.comment("the second operand: none, four elements, or one scalar four times")
	for i := 0; i < 4; i++ {
		b.l("mov.f32 %%c%d, 0f00000000;", i)
	}
	b.l("setp.eq.u32 %%p1, %%r2, %d;", EltNoB)
	b.l("@%%p1 bra $L_op;")
	b.l("setp.eq.u32 %%p1, %%r2, %d;", EltSameB)
	b.l("@!%%p1 bra $L_scalar;")
	b.l("add.s64 %%rd5, %%rd1, %%rd3;")
	b.l("ld.global.v4.f32 {%%c0, %%c1, %%c2, %%c3}, [%%rd5];")
	b.l("bra $L_swap;")
	b.raw("$L_scalar:")
	b.l("ld.global.f32 %%c0, [%%rd1];")
	for i := 1; i < 4; i++ {
		b.l("mov.f32 %%c%d, %%c0;", i)
	}
	b.raw("$L_swap:")
	b.l("setp.eq.u32 %%p1, %%r5, 0;")
	b.l("@%%p1 bra $L_op;")
	for i := 0; i < 4; i++ {
		b.l("mov.f32 %%tmp, %%a%d;", i)
		b.l("mov.f32 %%a%d, %%c%d;", i, i)
		b.l("mov.f32 %%c%d, %%tmp;", i)
	}
	b.raw("$L_op:")
	labels := []string{"$L_add", "$L_sub", "$L_mul", "$L_div", "$L_clamp", "$L_leaky"}
	for op, lbl := range labels {
		b.l("setp.eq.u32 %%p2, %%r1, %d;", op)
		b.l("@%%p2 bra %s;", lbl)
	}
	b.l("bra $L_done;")
	four := func(lbl string, each func(i int)) {
		b.raw("%s:", lbl)
		for i := 0; i < 4; i++ {
			each(i)
		}
		b.l("bra $L_store;")
	}
	four("$L_add", func(i int) { b.l("add.rn.f32 %%y%d, %%a%d, %%c%d;", i, i, i) })
	four("$L_sub", func(i int) { b.l("sub.rn.f32 %%y%d, %%a%d, %%c%d;", i, i, i) })
	four("$L_mul", func(i int) { b.l("mul.rn.f32 %%y%d, %%a%d, %%c%d;", i, i, i) })
	four("$L_div", func(i int) { b.l("div.rn.f32 %%y%d, %%a%d, %%c%d;", i, i, i) })
	four("$L_clamp", func(i int) {
		b.l("max.f32 %%y%d, %%a%d, %%f1;", i, i)
		b.l("min.f32 %%y%d, %%y%d, %%f2;", i, i)
	})
	four("$L_leaky", func(i int) {
		b.l("mov.f32 %%y%d, %%a%d;", i, i)
		b.l("setp.lt.f32 %%p3, %%a%d, 0f00000000;", i)
		b.l("@%%p3 mul.rn.f32 %%y%d, %%a%d, %%f0;", i, i)
	})
	b.raw("$L_store:")
	b.l("add.s64 %%rd6, %%rd2, %%rd3;")
	b.l("st.global.v4.f32 [%%rd6], {%%y0, %%y1, %%y2, %%y3};")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
