package kernels

import (
	"fmt"
	"slices"
	"strings"
)

// The vectorized grouped and depthwise INT8 convolution: the direct
// kernel of qdwconv.go with one thread computing V consecutive output
// channels of one output pixel instead of one element, so that its input,
// residual and output accesses are 2- to 16-byte loads and stores of NHWC
// rows (adjacent threads take adjacent channel groups of one pixel, then
// the next pixel: a warp's accesses are contiguous), and every product is
// a dp4a on raw int8 codes instead of a byte load, a subtraction and a
// multiply-add.
//
// The zero point leaves the loop: Σ_valid (x − zx)·w equals, in wrapping
// int32 arithmetic, Σ_all x'·w − zx·Σ_all w where x' is x on a tap inside
// the image and zx on a padding tap (there (zx − zx)·w = 0, as the
// reference's skipped tap). The planner folds −zx·Σ_all w into the bias
// (QGroupVecBias), and the kernel reads a padding tap as the word of four
// zx bytes (parameter zxw), so every tap is one branch-free dp4a. The sum
// is the reference's modulo 2^32, that is the same int32; the epilogue is
// qdwconv.go's, instruction for instruction.
//
// Two forms:
//   - depthwise (Cg = Mg = 1): a tap is one V-byte load of the thread's V
//     input channels; output channel o's weight word holds w in byte o mod
//     4 and zeros elsewhere, so dp4a(x word o/4, weight word o) adds
//     x_o·w_o alone (V = 2, for a channel count that is even but not a
//     multiple of 4, ShuffleNetV2's 58: a u16 load, the word's upper
//     bytes meeting zero weight bytes).
//   - grouped (Cg and Mg multiples of 4, V dividing Mg): the V output
//     channels share one group; a tap is Cg/4 words of the group's input
//     channels, each taken by V dp4a with the four weights of that word.
//
// The packed weights (QGroupVecWeights) are [tap][chunk][M/V][V] words,
// tap = kh·KW + kw and chunk the group's four-channel word (one chunk for
// depthwise): a thread's V words of one (tap, chunk) are 4V contiguous
// bytes, and adjacent threads read adjacent ones. From one (tap, chunk) to
// the next the thread steps 4·M bytes.

// QGroupVec is one variant of the vectorized grouped convolution.
type QGroupVec struct {
	// Depthwise is Cg = Mg = 1; otherwise Cg and Mg are multiples of 4.
	Depthwise bool
	// V is the number of output channels a thread computes: 2, 4, 8 or
	// 16 for depthwise, 4 or 8 for grouped.
	V int
	// OutF32 gives an f32 output (QGroupConvF32Kernel's epilogue)
	// instead of int8.
	OutF32 bool
}

// Name is the variant's kernel name, e.g. sqc_qconv_dw16_i8 or
// sqc_qconv_gdp4a8_f32.
func (c QGroupVec) Name() string {
	form, out := "gdp4a", "i8"
	if c.Depthwise {
		form = "dw"
	}
	if c.OutF32 {
		out = "f32"
	}
	return fmt.Sprintf("sqc_qconv_%s%d_%s", form, c.V, out)
}

// QGroupVecVariants lists every variant the planner may choose.
func QGroupVecVariants() []QGroupVec {
	var vs []QGroupVec
	for _, f32 := range []bool{false, true} {
		for _, v := range []int{2, 4, 8, 16} {
			vs = append(vs, QGroupVec{Depthwise: true, V: v, OutF32: f32})
		}
		for _, v := range []int{4, 8} {
			vs = append(vs, QGroupVec{V: v, OutF32: f32})
		}
	}
	return vs
}

// QGroupVecFor picks the variant for a grouped convolution with cg input
// and mg output channels a group and m output channels in all, or reports
// that none takes it (the direct one-element kernel does). Depthwise
// takes the widest V of 16, 8, 4, 2 that divides m; grouped 8 where it
// divides mg, else 4.
func QGroupVecFor(cg, mg, m int, outF32 bool) (QGroupVec, bool) {
	switch {
	case cg == 1 && mg == 1:
		for _, v := range []int{16, 8, 4, 2} {
			if m%v == 0 {
				return QGroupVec{Depthwise: true, V: v, OutF32: outF32}, true
			}
		}
	case cg%4 == 0 && mg%4 == 0 && cg > 0:
		v := 4
		if mg%8 == 0 {
			v = 8
		}
		return QGroupVec{V: v, OutF32: outF32}, true
	}
	return QGroupVec{}, false
}

// Threads returns the number of threads a sample: one per V output
// channels of each output pixel.
func (c QGroupVec) Threads(oh, ow, m int) int { return oh * ow * m / c.V }

// QGroupVecWeights packs ONNX-order weights w [m][cg][kh][kw] into the
// variant's layout (see above): word ((t·J + j)·M/V + q)·V + o, for tap t,
// chunk j of J = max(cg/4, 1), output channel m = q·V + o, holds the
// weights of input channels 4j..4j+3 of m's group at tap t (grouped), or
// m's weight at t in byte m mod min(V, 4) (depthwise: the byte of m's
// input channel in the thread's x word).
func QGroupVecWeights(c QGroupVec, w []int8, m, cg, kh, kw int) []int8 {
	taps, chunks := kh*kw, max(cg/4, 1)
	out := make([]int8, taps*chunks*m*4)
	for t := 0; t < taps; t++ {
		for j := 0; j < chunks; j++ {
			for mo := 0; mo < m; mo++ {
				word := ((t*chunks+j)*m + mo) * 4 // (q·V + o) = mo: the q-major order is m's
				if c.Depthwise {
					out[word+mo%min(c.V, 4)] = w[mo*taps+t]
					continue
				}
				for b := 0; b < 4; b++ {
					out[word+b] = w[(mo*cg+4*j+b)*taps+t]
				}
			}
		}
	}
	return out
}

// QGroupVecBias returns the biases with the input zero point folded in,
// bias[m] − zx·Σ w[m][·][·][·] in wrapping int32 arithmetic (the kernel
// reads a padding tap as zx: see above). bias nil is zeros.
func QGroupVecBias(bias []int32, w []int8, zx int32, m int) []int32 {
	per := len(w) / m
	out := make([]int32, m)
	for mo := range out {
		var s int32
		for _, v := range w[mo*per : (mo+1)*per] {
			s += int32(v)
		}
		if bias != nil {
			out[mo] = bias[mo]
		}
		out[mo] -= zx * s
	}
	return out
}

// ZeroPointWord is the zxw parameter: zx's byte four times.
func ZeroPointWord(zx int32) int32 { return int32(uint32(uint8(zx)) * 0x01010101) }

// QGroupVecParams lists the int8-output variants' parameters: those of
// QGroupConvParams with w the packed weights, b the folded biases, total
// the number of threads (Threads a sample) and zxw (ZeroPointWord) for
// zx.
var QGroupVecParams = zeroPointAsWord(QGroupConvParams)

// QGroupVecF32Params lists the f32-output variants' parameters: those of
// QGroupConvF32Params with the same changes as QGroupVecParams'.
var QGroupVecF32Params = zeroPointAsWord(QGroupConvF32Params)

// zeroPointAsWord is a one-element kernel's parameter list with zx as the
// vectorized kernels take it, zxw: the byte four times.
func zeroPointAsWord(params []string) []string {
	out := slices.Clone(params)
	out[slices.Index(out, "zx:s32")] = "zxw:s32"
	return out
}

// Params returns the variant's parameter list.
func (c QGroupVec) Params() []string {
	if c.OutF32 {
		return QGroupVecF32Params
	}
	return QGroupVecParams
}

// loadGroupParams loads the pointers into %rd0..%rd5, the u32 scalars
// into %r0.. in order, the s32 ones into %r50.. and the f32 ones into
// %f0, %f4, %f5 (the direct kernels' register plan).
func loadGroupParams(b *builder, params []string) {
	b.loadPointers(qGroupConvPointers)
	nu, ns, nf := 0, 0, 0
	fregs := []int{0, 4, 5}
	for i := qGroupConvPointers; i < len(params); i++ {
		p := params[i]
		switch {
		case len(p) > 4 && p[len(p)-4:] == ":s32":
			b.l("ld.param.s32 %%r%d, [p%d];", 50+ns, i)
			ns++
		case len(p) > 4 && p[len(p)-4:] == ":f32":
			b.l("ld.param.f32 %%f%d, [p%d];", fregs[nf], i)
			nf++
		default:
			b.l("ld.param.u32 %%r%d, [p%d];", nu, i)
			nu++
		}
	}
}

// vecOperand formats n consecutive registers of a bank from first as a
// load/store operand and its vector suffix: one register plain, more as
// a .v2/.v4 vector.
func vecOperand(bank string, first, n int) (suffix, operand string) {
	if n == 1 {
		return "", fmt.Sprintf("%s%d", bank, first)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", bank, first+i)
	}
	return fmt.Sprintf(".v%d", n), regs(names...)
}

// wordVec emits the loads or stores (op, e.g. "ld.global.nc") of n
// 32-bit registers of bank from 0 at [addr], 16 bytes an instruction (8
// for n = 2).
func wordVec(b *builder, op, typ, bank string, n int, addr string) {
	for i := 0; i < n; i += 4 {
		suf, operand := vecOperand(bank, i, min(4, n-i))
		if strings.HasPrefix(op, "st.") {
			b.l("%s%s.%s [%s+%d], %s;", op, suf, typ, addr, 4*i, operand)
		} else {
			b.l("%s%s.%s %s, [%s+%d];", op, suf, typ, operand, addr, 4*i)
		}
	}
}

// byteVec emits the load or store of the thread's n bytes at [addr] (its
// channels of an NHWC int8 row) from or to %xw0..: one instruction, the
// bytes four a register (n = 2: a u16 in the low half of %xw0).
func byteVec(b *builder, op string, n int, addr string) {
	if n == 2 {
		if strings.HasPrefix(op, "st.") {
			b.l("%s.u16 [%s], %%xw0;", op, addr)
		} else {
			b.l("%s.u16 %%xw0, [%s];", op, addr)
		}
		return
	}
	wordVec(b, op, "u32", "%xw", n/4, addr)
}

// PTX returns the variant's module text.
func (c QGroupVec) PTX() string {
	if c.V != 4 && c.V != 8 && ((c.V != 16 && c.V != 2) || !c.Depthwise) {
		panic(fmt.Sprintf("kernels: grouped convolution with %d channels a thread", c.V))
	}
	v := c.V
	var b builder
	b.header()
	params := c.Params()
	b.opEntry(c.Name(), params, qGroupConvPointers)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<64>", fmt.Sprintf("%%acc<%d>", v), fmt.Sprintf("%%ww<%d>", v), "%xw<4>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<8>", fmt.Sprintf("%%fv<%d>", v), fmt.Sprintf("%%fm<%d>", v))
	b.comment("%s: %d output channels a thread; pointers x w b m r y in %%rd0..%%rd5, u32 scalars in %%r0.., s32 from %%r50 (zxw first), f32 in %%f0 %%f4 %%f5", c.Name(), v)
	loadGroupParams(&b, params)
	// r0 total (threads), r1 C, r2 H, r3 W, r4 M, r5 OH, r6 OW, r7 KH,
	// r8 KW, r9 sh, r10 sw, r11 ph, r12 pw, r13 dh, r14 dw, r15 Cg,
	// r16 Mg, r17 hasres; r18 act (f32 output).
	b.threadIndex()
	b.comment("thread i = pixel * (M/V) + q: channel group q in r22, pixel in r24 (n r23, oh r21, ow r20)")
	b.l("shr.u32 %%r44, %%r4, %d;", log2(v))
	b.l("rem.u32 %%r22, %%r40, %%r44;")
	b.l("div.u32 %%r24, %%r40, %%r44;")
	b.l("rem.u32 %%r20, %%r24, %%r6;")
	b.l("div.u32 %%r24, %%r24, %%r6;")
	b.l("rem.u32 %%r21, %%r24, %%r5;")
	b.l("div.u32 %%r23, %%r24, %%r5;")
	b.l("shl.b32 %%r25, %%r22, %d;", log2(v))
	if c.Depthwise {
		b.comment("first input channel c0 = m0 in r26")
		b.l("mov.u32 %%r26, %%r25;")
	} else {
		b.comment("first input channel of the group c0 = (m0 / Mg) * Cg in r26; chunks Cg/4 in r38")
		b.l("div.u32 %%r26, %%r25, %%r16;")
		b.l("mul.lo.u32 %%r26, %%r26, %%r15;")
		b.l("shr.u32 %%r38, %%r15, 2;")
	}
	b.comment("ih0 = oh*sh - ph in r27, iw0 = ow*sw - pw in r28 (below 0 wraps: the unsigned bounds tests reject it); n*H in r29")
	b.l("mul.lo.u32 %%r27, %%r21, %%r9;")
	b.l("sub.u32 %%r27, %%r27, %%r11;")
	b.l("mul.lo.u32 %%r28, %%r20, %%r10;")
	b.l("sub.u32 %%r28, %%r28, %%r12;")
	b.l("mul.lo.u32 %%r29, %%r23, %%r2;")
	b.comment("weights at w + q*4V, stepping 4M bytes a (tap, chunk)")
	b.l("mul.wide.u32 %%rd6, %%r22, %d;", 4*v)
	b.l("add.s64 %%rd6, %%rd1, %%rd6;")
	b.l("mul.wide.u32 %%rd9, %%r4, 4;")
	for o := 0; o < v; o++ {
		b.l("mov.u32 %%acc%d, 0;", o)
	}
	b.l("mov.u32 %%r31, 0;")     // kh
	b.l("mov.u32 %%r33, %%r27;") // ih
	b.raw("$L_kh:")
	b.l("setp.lt.u32 %%p1, %%r33, %%r2;")
	b.l("add.u32 %%r34, %%r29, %%r33;")
	b.l("mul.lo.u32 %%r34, %%r34, %%r3;") // (n*H + ih)*W
	b.l("mov.u32 %%r32, 0;")              // kw
	b.l("mov.u32 %%r35, %%r28;")          // iw
	b.raw("$L_kw:")
	b.comment("tap inside the image in p2; x at ((n*H + ih)*W + iw)*C + c0")
	b.l("setp.lt.u32 %%p2, %%r35, %%r3;")
	b.l("and.pred %%p2, %%p2, %%p1;")
	b.l("add.u32 %%r36, %%r34, %%r35;")
	b.l("mad.lo.u32 %%r36, %%r36, %%r1, %%r26;")
	b.l("cvt.u64.u32 %%rd7, %%r36;")
	b.l("add.s64 %%rd7, %%rd0, %%rd7;")
	loadWeights := func() {
		wordVec(&b, "ld.global.nc", "u32", "%ww", v, "%rd6")
		b.l("add.s64 %%rd6, %%rd6, %%rd9;")
	}
	if c.Depthwise {
		b.comment("the V input channels (zx bytes on a padding tap), then one dp4a an output channel")
		for i := 0; i < max(v/4, 1); i++ {
			b.l("mov.b32 %%xw%d, %%r50;", i)
		}
		byteVec(&b, "@%p2 ld.global.nc", v, "%rd7")
		loadWeights()
		for o := 0; o < v; o++ {
			b.l("dp4a.s32.s32 %%acc%d, %%xw%d, %%ww%d, %%acc%d;", o, o/4, o, o)
		}
	} else {
		b.comment("the group's input channels four at a time (zx bytes on a padding tap), V dp4a each")
		b.l("mov.u32 %%r37, 0;")
		b.raw("$L_chunk:")
		b.l("mov.b32 %%xw0, %%r50;")
		b.l("@%%p2 ld.global.nc.u32 %%xw0, [%%rd7];")
		loadWeights()
		for o := 0; o < v; o++ {
			b.l("dp4a.s32.s32 %%acc%d, %%xw0, %%ww%d, %%acc%d;", o, o, o)
		}
		b.l("add.s64 %%rd7, %%rd7, 4;")
		b.l("add.u32 %%r37, %%r37, 1;")
		b.l("setp.lt.u32 %%p3, %%r37, %%r38;")
		b.l("@%%p3 bra $L_chunk;")
	}
	b.l("add.u32 %%r35, %%r35, %%r14;")
	b.l("add.u32 %%r32, %%r32, 1;")
	b.l("setp.lt.u32 %%p3, %%r32, %%r8;")
	b.l("@%%p3 bra $L_kw;")
	b.l("add.u32 %%r33, %%r33, %%r13;")
	b.l("add.u32 %%r31, %%r31, 1;")
	b.l("setp.lt.u32 %%p3, %%r31, %%r7;")
	b.l("@%%p3 bra $L_kh;")

	b.comment("epilogue, as qdwconv.go's: + bias, f32 * mult (.rn), + residual, then the output")
	b.l("mul.wide.u32 %%rd8, %%r25, 4;")
	b.l("add.s64 %%rd10, %%rd2, %%rd8;")
	b.l("add.s64 %%rd11, %%rd3, %%rd8;")
	wordVec(&b, "ld.global.nc", "u32", "%ww", v, "%rd10")
	wordVec(&b, "ld.global.nc", "f32", "%fm", v, "%rd11")
	for o := 0; o < v; o++ {
		b.l("add.s32 %%acc%d, %%acc%d, %%ww%d;", o, o, o)
		b.l("cvt.rn.f32.s32 %%fv%d, %%acc%d;", o, o)
		b.l("mul.rn.f32 %%fv%d, %%fv%d, %%fm%d;", o, o, o)
	}
	b.comment("the V outputs' element offset i*V in rd10")
	b.l("mul.wide.u32 %%rd10, %%r40, %d;", v)
	b.l("setp.eq.u32 %%p6, %%r17, 0;")
	b.l("@%%p6 bra $L_nores;")
	b.l("add.s64 %%rd11, %%rd4, %%rd10;")
	byteVec(&b, "ld.global", v, "%rd11")
	for o := 0; o < v; o++ {
		b.l("bfe.s32 %%r45, %%xw%d, %d, 8;", o/4, 8*(o%4))
		b.l("sub.s32 %%r45, %%r45, %%r51;")
		b.l("cvt.rn.f32.s32 %%f3, %%r45;")
		b.l("mul.rn.f32 %%f3, %%f3, %%f0;")
		b.l("add.rn.f32 %%fv%d, %%fv%d, %%f3;", o, o)
	}
	b.raw("$L_nores:")
	if c.OutF32 {
		b.comment("f32 output: the activation (a uniform predicate), then the stores")
		b.l("setp.eq.u32 %%p4, %%r18, %d;", QGroupActRelu)
		b.l("setp.eq.u32 %%p5, %%r18, %d;", QGroupActClip)
		for o := 0; o < v; o++ {
			b.l("@%%p4 max.f32 %%fv%d, %%fv%d, 0f00000000;", o, o)
			b.l("@%%p5 max.f32 %%fv%d, %%fv%d, %%f4;", o, o)
			b.l("@%%p5 min.f32 %%fv%d, %%fv%d, %%f5;", o, o)
		}
		b.l("shl.b64 %%rd10, %%rd10, 2;")
		b.l("add.s64 %%rd12, %%rd5, %%rd10;")
		wordVec(&b, "st.global", "f32", "%fv", v, "%rd12")
	} else {
		b.comment("int8 output: round, clamp, + zy, four bytes a word, one %d-byte store", v)
		for o := 0; o < v; o++ {
			b.l("cvt.rni.s32.f32 %%r46, %%fv%d;", o)
			b.l("max.s32 %%r46, %%r46, %%r52;")
			b.l("min.s32 %%r46, %%r46, %%r53;")
			b.l("add.s32 %%r46, %%r46, %%r54;")
			if o%4 == 0 {
				b.l("mov.b32 %%xw%d, %%r46;", o/4)
			} else {
				b.l("bfi.b32 %%xw%d, %%r46, %%xw%d, %d, 8;", o/4, o/4, 8*(o%4))
			}
		}
		b.l("add.s64 %%rd12, %%rd5, %%rd10;")
		byteVec(&b, "st.global", v, "%rd12")
	}
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
