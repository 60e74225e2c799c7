package kernels

// Float math kernels for the frontend's wider op set, one thread an output
// element, all bit-exact against ir/ref:
//
//   - the unary kernel: Neg, Abs, Floor, Ceil, Round, Sqrt, Reciprocal and
//     x² (Pow by 2) in f32, whose round-to-nearest results equal ir/ref's;
//     Exp, Log, Erf, Elu, Selu, Softplus, Mish, Gelu (erf and tanh forms),
//     HardSigmoid, HardSwish, x³ (Pow by 3) and Pow by 0.5 in f64 as
//     ir/ref computes them, the transcendental functions by package
//     ir/ref/fmath's operation sequence (fmath.go), rounded once to f32;
//   - the broadcasting binary kernel: Add, Sub, Mul, Div, Min, Max, PRelu of two
//     operands of any shapes that broadcast, each read through its own
//     strides over up to five per-sample dims (0 where it is broadcast) and a
//     per-sample stride (0 for a constant);
//   - the reduction kernel: one output element folds K input elements
//     inner apart (a per-sample [outer, K, inner] view): Max and Min in f32;
//     Sum, Mean, SumSquare, L1 and L2 accumulate in f64 from 0 in index
//     order, as the reference does, and round once.

import (
	"fmt"
)

// UnaryKernel is the unary math kernel.
const UnaryKernel = "sqc_unary_f32"

// Unary op codes, the unary kernel's op parameter.
const (
	UNeg = iota
	UAbs
	UFloor
	UCeil
	URound
	USqrt
	URecip
	USquare
	UExp
	ULog
	UErf
	UElu      // alpha
	USelu     // alpha, beta = gamma
	USoftplus // log(1 + exp(x))
	UMish
	UGelu
	UGeluTanh
	UHardSigmoid // alpha, beta
	UHardSwish
	UCube
	// UPowHalf is Pow by 0.5: math.Pow's value, sqrt(x) but +0 at -0 and
	// +Inf at -Inf.
	UPowHalf
	// UGeluChain is GELU as torch exports it, five nodes the planner runs
	// as one: ((x · (erf(x / alpha) + 1)) · beta), each node's f32
	// rounding in turn (the division, erf in f64 rounded to f32, the
	// addition, both products), so it equals the five nodes bit for bit.
	UGeluChain
	numUnary
)

// UnaryParams lists the unary kernel's parameters in launch order.
var UnaryParams = []string{"x", "y", "total", "op", "alpha:f32", "beta:f32"}

// Broadcasting binary kernels.
const (
	BcastKernel = "sqc_bcast_f32"
	// Bcast4Kernel is BcastKernel four elements a thread, one 16-byte
	// load an operand and one store, for shapes Bcast4Fits accepts; total
	// counts groups of four (elements / 4), the other parameters are the
	// same.
	Bcast4Kernel = "sqc_bcast_f32_x4"
)

// Bcast4Fits reports whether a broadcast over the output's dims
// (innermost last) with the operands' strides along them and between
// samples can go four elements a thread: the innermost dim a multiple of
// 4, so a group of four stays in one row, and each operand either fixed
// along it (stride 0: one scalar load for the four) or contiguous (stride
// 1) with its other strides and its sample stride multiples of 4, so its
// 16-byte loads are aligned (the buffers are; the output's offsets are
// the group's index times 4).
func Bcast4Fits(dims []int64, strides [2][]int64, samples [2]int64) bool {
	if len(dims) == 0 || dims[len(dims)-1]%4 != 0 {
		return false
	}
	for i, st := range strides {
		switch st[len(st)-1] {
		case 0:
		case 1:
			if samples[i]%4 != 0 {
				return false
			}
			for _, s := range st[:len(st)-1] {
				if s%4 != 0 {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// Binary op codes of the broadcasting kernel.
const (
	BAdd = iota
	BSub
	BMul
	BDiv
	BMin
	BMax
	// BPRelu is ir/ref's PRelu for finite slopes b: max(a, 0) + min(a, 0)·b
	// (NaN-keeping min and max), which equals a < 0 ? a·b : a bit for bit
	// but at signed zeros.
	BPRelu
	numBinary
)

// BcastRank is the number of per-sample dims the broadcasting kernel walks.
const BcastRank = 5

// BcastParams lists the broadcasting kernel's parameters: the operands,
// the output's elements (per sample, scaled by the batch), the op, the
// output's elements a sample, each operand's stride between samples, then
// the output's dims and each operand's strides along them (outermost
// first; unused leading dims are 1 with stride 0).
var BcastParams = func() []string {
	p := []string{"a", "b", "y", "total", "op", "outPerSample", "aSample", "bSample"}
	for _, s := range []string{"dim", "aStride", "bStride"} {
		for i := 0; i < BcastRank; i++ {
			p = append(p, fmt.Sprintf("%s%d", s, i))
		}
	}
	return p
}()

// ReduceKernel is the reduction kernel.
const ReduceKernel = "sqc_reduce_f32"

// Reduction op codes.
const (
	RMax = iota
	RMin
	RSum
	RMean
	RSumSquare
	RL1
	RL2
	numReduce
)

// ReduceParams lists the reduction kernel's parameters: x, y, the output's
// elements (per sample), the op, the reduced length K, the stride inner
// between its elements, and the elements a sample of the output and of
// the input.
var ReduceParams = []string{"x", "y", "total", "op", "K", "inner", "outPerSample", "inPerSample"}

// UnaryPTX returns the module text of UnaryKernel.
func UnaryPTX() string {
	var b builder
	b.header()
	b.opEntry(UnaryKernel, UnaryParams, 2)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<8>")
	declare(&b, ".b64", "%rd<6>")
	declare(&b, ".f32", "%f<8>")
	declare(&b, ".f64", "%xd<6>")
	declareFmathRegs(&b)
	fm := newFmath(&b)
	b.comment("x y in %%rd0 %%rd1; total op in %%r0 %%r1; alpha beta in %%f0 %%f1; x[i] in %%f2, the result in %%f3")
	b.comment("f64 ops: x in %%xd0, alpha beta in %%xd2 %%xd3, the result in %%xd1")
	b.loadPointers(2)
	b.l("ld.param.u32 %%r0, [p2];")
	b.l("ld.param.u32 %%r1, [p3];")
	b.l("ld.param.f32 %%f0, [p4];")
	b.l("ld.param.f32 %%f1, [p5];")
	b.elementIndex(4, 5)
	b.l("mul.wide.u32 %%rd2, %%r4, 4;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("ld.global.f32 %%f2, [%%rd3];")
	b.l("cvt.f64.f32 %%xd0, %%f2;")
	b.l("cvt.f64.f32 %%xd2, %%f0;")
	b.l("cvt.f64.f32 %%xd3, %%f1;")
	labels := []string{"$L_neg", "$L_abs", "$L_floor", "$L_ceil", "$L_round", "$L_sqrt", "$L_recip", "$L_square",
		"$L_exp", "$L_log", "$L_erf", "$L_elu", "$L_selu", "$L_softplus", "$L_mish", "$L_gelu", "$L_gelutanh",
		"$L_hardsigmoid", "$L_hardswish", "$L_cube", "$L_powhalf", "$L_geluchain"}
	if len(labels) != numUnary {
		panic("kernels: unary labels and op codes disagree")
	}
	// The op is uniform over the launch, so these branches never diverge.
	for op, lbl := range labels {
		b.l("setp.eq.u32 %%p1, %%r1, %d;", op)
		b.l("@%%p1 bra %s;", lbl)
	}
	b.l("bra $L_done;")
	// clamp01 writes d = max(0, min(1, d)) as Go's min and max do: NaN
	// stays, -0 becomes +0 (compares, as min/max.f64 would drop a NaN).
	clamp01 := func(d string) {
		b.l("setp.le.f64 %%p2, %s, 0d0000000000000000;", d)
		b.l("@%%p2 mov.f64 %s, 0d0000000000000000;", d)
		b.l("setp.ge.f64 %%p2, %s, 0d3FF0000000000000;", d)
		b.l("@%%p2 mov.f64 %s, 0d3FF0000000000000;", d)
	}
	f32body := map[int]func(){
		UNeg:    func() { b.l("neg.f32 %%f3, %%f2;") },
		UAbs:    func() { b.l("abs.f32 %%f3, %%f2;") },
		UFloor:  func() { b.l("cvt.rmi.f32.f32 %%f3, %%f2;") },
		UCeil:   func() { b.l("cvt.rpi.f32.f32 %%f3, %%f2;") },
		URound:  func() { b.l("cvt.rni.f32.f32 %%f3, %%f2;") },
		USqrt:   func() { b.l("sqrt.rn.f32 %%f3, %%f2;") },
		URecip:  func() { b.l("rcp.rn.f32 %%f3, %%f2;") },
		USquare: func() { b.l("mul.rn.f32 %%f3, %%f2, %%f2;") },
		UGeluChain: func() {
			b.l("div.rn.f32 %%f4, %%f2, %%f0;")
			b.l("cvt.f64.f32 %%xd4, %%f4;")
			fm.Erf("%xd5", "%xd4")
			b.l("cvt.rn.f32.f64 %%f5, %%xd5;")
			b.l("add.rn.f32 %%f5, %%f5, 0f3F800000;")
			b.l("mul.rn.f32 %%f5, %%f2, %%f5;")
			b.l("mul.rn.f32 %%f3, %%f5, %%f1;")
		},
		UPowHalf: func() {
			b.l("sqrt.rn.f32 %%f3, %%f2;")
			b.l("abs.f32 %%f3, %%f3;")
			b.l("setp.eq.f32 %%p2, %%f2, 0fFF800000;")
			b.l("@%%p2 mov.f32 %%f3, 0f7F800000;")
		},
	}
	f64body := map[int]func(){
		UExp: func() { fm.Exp("%xd1", "%xd0") },
		ULog: func() { fm.Log("%xd1", "%xd0") },
		UErf: func() { fm.Erf("%xd1", "%xd0") },
		UElu: func() {
			b.comment("x < 0 ? alpha * expm1(x) : x")
			b.l("mov.f64 %%xd1, %%xd0;")
			b.l("setp.lt.f64 %%p2, %%xd0, 0d0000000000000000;")
			b.l("@!%%p2 bra $L_elu_done;")
			fm.Expm1("%xd1", "%xd0")
			b.l("mul.rn.f64 %%xd1, %%xd2, %%xd1;")
			b.raw("$L_elu_done:")
		},
		USelu: func() {
			b.comment("x > 0 ? gamma * x : gamma * (alpha * exp(x) - alpha)")
			b.l("setp.gt.f64 %%p2, %%xd0, 0d0000000000000000;")
			b.l("@%%p2 mul.rn.f64 %%xd1, %%xd3, %%xd0;")
			b.l("@%%p2 bra $L_selu_done;")
			fm.Exp("%xd1", "%xd0")
			b.l("mul.rn.f64 %%xd1, %%xd2, %%xd1;")
			b.l("sub.rn.f64 %%xd1, %%xd1, %%xd2;")
			b.l("mul.rn.f64 %%xd1, %%xd3, %%xd1;")
			b.raw("$L_selu_done:")
		},
		USoftplus: func() { fm.Softplus("%xd1", "%xd0") },
		UMish:     func() { fm.Mish("%xd1", "%xd0") },
		UGelu:     func() { fm.Gelu("%xd1", "%xd0") },
		UGeluTanh: func() { fm.GeluTanh("%xd1", "%xd0") },
		UHardSigmoid: func() {
			b.l("mul.rn.f64 %%xd1, %%xd2, %%xd0;")
			b.l("add.rn.f64 %%xd1, %%xd1, %%xd3;")
			clamp01("%xd1")
		},
		UHardSwish: func() {
			b.l("div.rn.f64 %%xd1, %%xd0, 0d4018000000000000;") // x / 6
			b.l("add.rn.f64 %%xd1, %%xd1, 0d3FE0000000000000;") // + 0.5
			clamp01("%xd1")
			b.l("mul.rn.f64 %%xd1, %%xd0, %%xd1;")
		},
		UCube: func() {
			b.l("mul.rn.f64 %%xd1, %%xd0, %%xd0;")
			b.l("mul.rn.f64 %%xd1, %%xd1, %%xd0;")
		},
	}
	for op, lbl := range labels {
		b.raw("%s:", lbl)
		if body, ok := f32body[op]; ok {
			body()
		} else {
			f64body[op]()
			b.l("cvt.rn.f32.f64 %%f3, %%xd1;")
		}
		b.l("bra $L_store;")
	}
	b.raw("$L_store:")
	b.l("add.s64 %%rd4, %%rd1, %%rd2;")
	b.l("st.global.f32 [%%rd4], %%f3;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// BcastPTX returns the module text of a broadcasting binary kernel
// (BcastKernel or Bcast4Kernel).
func BcastPTX(name string) string {
	vec := 1
	if name == Bcast4Kernel {
		vec = 4
	}
	// Lane l's a, b and result in %f[l], %f[vec+l], %f[2vec+l]; PRelu's
	// product in %f[3vec].
	fa := func(l int) string { return fmt.Sprintf("%%f%d", l) }
	fb := func(l int) string { return fmt.Sprintf("%%f%d", vec+l) }
	fy := func(l int) string { return fmt.Sprintf("%%f%d", 2*vec+l) }
	ft := fmt.Sprintf("%%f%d", 3*vec)
	var b builder
	b.header()
	b.opEntry(name, BcastParams, 3)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<40>")
	declare(&b, ".b64", "%rd<10>")
	declare(&b, ".f32", fmt.Sprintf("%%f<%d>", 3*vec+1))
	b.comment("a b y in %%rd0..%%rd2; total op outPerSample aSample bSample in %%r0..%%r4;")
	b.comment("dims in %%r5..%%r9, a's strides in %%r10..%%r14, b's in %%r15..%%r19")
	b.loadParams(3, 5+3*BcastRank)
	b.elementIndex(22, 28)
	if vec == 4 {
		b.comment("four elements a thread: total counts groups; the group's first element")
		b.l("shl.b32 %%r22, %%r22, 2;")
	}
	b.comment("sample n = i / outPerSample; offsets start at n * aSample, n * bSample")
	b.l("div.u32 %%r23, %%r22, %%r2;")
	b.l("mul.lo.u32 %%r24, %%r23, %%r2;")
	b.l("sub.u32 %%r25, %%r22, %%r24;") // the index within the sample
	b.l("mul.lo.u32 %%r26, %%r23, %%r3;")
	b.l("mul.lo.u32 %%r27, %%r23, %%r4;")
	b.comment("walk the dims innermost first: idx = r %% dim, r /= dim")
	for d := BcastRank - 1; d >= 0; d-- {
		b.l("div.u32 %%r28, %%r25, %%r%d;", 5+d)
		b.l("mul.lo.u32 %%r29, %%r28, %%r%d;", 5+d)
		b.l("sub.u32 %%r29, %%r25, %%r29;")
		b.l("mad.lo.u32 %%r26, %%r29, %%r%d, %%r26;", 10+d)
		b.l("mad.lo.u32 %%r27, %%r29, %%r%d, %%r27;", 15+d)
		b.l("mov.u32 %%r25, %%r28;")
	}
	for k, o := range []struct {
		off, base, addr, stride int
		reg                     func(int) string
	}{{26, 0, 3, 10 + BcastRank - 1, fa}, {27, 1, 4, 15 + BcastRank - 1, fb}} {
		b.l("mul.wide.u32 %%rd%d, %%r%d, 4;", o.addr, o.off)
		b.l("add.s64 %%rd%d, %%rd%d, %%rd%d;", o.addr, o.base, o.addr)
		if vec == 1 {
			b.l("ld.global.f32 %s, [%%rd%d];", o.reg(0), o.addr)
			continue
		}
		b.comment("an operand fixed along the innermost dim: one load for the four")
		b.l("setp.eq.u32 %%p2, %%r%d, 0;", o.stride)
		b.l("@%%p2 bra $L_one%d;", k)
		b.l("ld.global.v4.f32 {%s, %s, %s, %s}, [%%rd%d];", o.reg(0), o.reg(1), o.reg(2), o.reg(3), o.addr)
		b.l("bra $L_loaded%d;", k)
		b.raw("$L_one%d:", k)
		b.l("ld.global.f32 %s, [%%rd%d];", o.reg(0), o.addr)
		for l := 1; l < vec; l++ {
			b.l("mov.f32 %s, %s;", o.reg(l), o.reg(0))
		}
		b.raw("$L_loaded%d:", k)
	}
	labels := []string{"$L_add", "$L_sub", "$L_mul", "$L_div", "$L_min", "$L_max", "$L_prelu"}
	if len(labels) != numBinary {
		panic("kernels: binary labels and op codes disagree")
	}
	for op, lbl := range labels {
		b.l("setp.eq.u32 %%p1, %%r1, %d;", op)
		b.l("@%%p1 bra %s;", lbl)
	}
	b.l("bra $L_done;")
	// min/max.NaN return NaN when either operand is, as Go's (the
	// reference's) min and max do.
	for i, ins := range []string{"add.rn.f32", "sub.rn.f32", "mul.rn.f32", "div.rn.f32", "min.NaN.f32", "max.NaN.f32"} {
		b.raw("%s:", labels[i])
		for l := 0; l < vec; l++ {
			b.l("%s %s, %s, %s;", ins, fy(l), fa(l), fb(l))
		}
		b.l("bra $L_store;")
	}
	b.raw("$L_prelu:")
	for l := 0; l < vec; l++ {
		b.l("max.NaN.f32 %s, %s, 0f00000000;", fy(l), fa(l))
		b.l("min.NaN.f32 %s, %s, 0f00000000;", ft, fa(l))
		b.l("mul.rn.f32 %s, %s, %s;", ft, ft, fb(l))
		b.l("add.rn.f32 %s, %s, %s;", fy(l), fy(l), ft)
	}
	b.l("bra $L_store;")
	b.raw("$L_store:")
	b.l("mul.wide.u32 %%rd5, %%r22, 4;")
	b.l("add.s64 %%rd5, %%rd2, %%rd5;")
	if vec == 1 {
		b.l("st.global.f32 [%%rd5], %s;", fy(0))
	} else {
		b.l("st.global.v4.f32 [%%rd5], {%s, %s, %s, %s};", fy(0), fy(1), fy(2), fy(3))
	}
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// ReducePTX returns the module text of ReduceKernel.
func ReducePTX() string {
	var b builder
	b.header()
	b.opEntry(ReduceKernel, ReduceParams, 2)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<24>")
	declare(&b, ".b64", "%rd<8>")
	declare(&b, ".f32", "%f<6>")
	declare(&b, ".f64", "%d<4>")
	b.comment("x y in %%rd0 %%rd1; total op K inner outPerSample inPerSample in %%r0..%%r5")
	b.loadParams(2, 6)
	b.elementIndex(8, 16)
	b.comment("n = i / outPerSample, r = i %% outPerSample = o * inner + j; first input n*inPerSample + o*K*inner + j")
	b.l("div.u32 %%r9, %%r8, %%r4;")
	b.l("rem.u32 %%r10, %%r8, %%r4;")
	b.l("div.u32 %%r11, %%r10, %%r3;")
	b.l("rem.u32 %%r12, %%r10, %%r3;")
	b.l("mul.lo.u32 %%r13, %%r2, %%r3;")
	b.l("mul.lo.u32 %%r14, %%r9, %%r5;")
	b.l("mad.lo.u32 %%r14, %%r11, %%r13, %%r14;")
	b.l("add.u32 %%r14, %%r14, %%r12;")
	b.comment("max and min fold in f32 from -inf / +inf (%%f0); the sums in f64 from 0 (%%d0)")
	b.l("mov.f64 %%d0, 0d0000000000000000;")
	b.l("mov.f32 %%f0, 0fFF800000;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RMin)
	b.l("@%%p1 mov.f32 %%f0, 0f7F800000;")
	b.l("mov.u32 %%r15, 0;")
	b.raw("$L_loop:")
	b.l("setp.ge.u32 %%p2, %%r15, %%r2;")
	b.l("@%%p2 bra $L_end;")
	b.l("mul.wide.u32 %%rd2, %%r14, 4;")
	b.l("add.s64 %%rd2, %%rd0, %%rd2;")
	b.l("ld.global.f32 %%f1, [%%rd2];")
	b.l("add.u32 %%r14, %%r14, %%r3;")
	b.l("add.u32 %%r15, %%r15, 1;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RMax)
	b.l("@%%p1 max.NaN.f32 %%f0, %%f0, %%f1;")
	b.l("@%%p1 bra $L_loop;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RMin)
	b.l("@%%p1 min.NaN.f32 %%f0, %%f0, %%f1;")
	b.l("@%%p1 bra $L_loop;")
	b.comment("the sums: square (SumSquare, L2: exact in f64) or abs (L1) first")
	b.l("cvt.f64.f32 %%d1, %%f1;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RSumSquare)
	b.l("setp.eq.u32 %%p3, %%r1, %d;", RL2)
	b.l("or.pred %%p1, %%p1, %%p3;")
	b.l("@%%p1 mul.rn.f64 %%d1, %%d1, %%d1;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RL1)
	b.l("@%%p1 abs.f64 %%d1, %%d1;")
	b.l("add.rn.f64 %%d0, %%d0, %%d1;")
	b.l("bra $L_loop;")
	b.raw("$L_end:")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RMax)
	b.l("setp.eq.u32 %%p3, %%r1, %d;", RMin)
	b.l("or.pred %%p1, %%p1, %%p3;")
	b.l("@%%p1 bra $L_store;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RMean)
	b.l("cvt.rn.f64.u32 %%d2, %%r2;")
	b.l("@%%p1 div.rn.f64 %%d0, %%d0, %%d2;")
	b.l("setp.eq.u32 %%p1, %%r1, %d;", RL2)
	b.l("@%%p1 sqrt.rn.f64 %%d0, %%d0;")
	b.l("cvt.rn.f32.f64 %%f0, %%d0;")
	b.raw("$L_store:")
	b.l("mul.wide.u32 %%rd3, %%r8, 4;")
	b.l("add.s64 %%rd3, %%rd1, %%rd3;")
	b.l("st.global.f32 [%%rd3], %%f0;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
