package kernels

// The gather kernel: the GPU form of every pure data-movement op (Concat,
// Transpose, Split, Slice, Gather with constant indices, DepthToSpace …)
// that has no kernel of its own. The planner builds a table of (source,
// destination) element offsets within one sample, in the buffers' memory
// order; thread i copies entry i % entries of sample i / entries:
//
//	y[n·outPer + tab[2e+1]] = x[n·inPer + tab[2e]]
//
// A copy changes no bits, so the result equals the reference executor's for
// every dtype. One launch a (data input, output) pair: a Concat is one
// launch an input, a Split one an output.

// Gather kernel names: byte elements (i8) and 32-bit elements (f32).
const (
	Gather8Kernel  = "sqc_gather_b8"
	Gather32Kernel = "sqc_gather_b32"
	// Gather32x4Kernel is Gather32Kernel four elements a thread, one
	// 16-byte load and store, for tables whose runs, run starts, strides
	// and sample sizes are all multiples of 4 (Gather4Fits); total counts
	// groups of four (elements / 4), the other parameters are the same.
	Gather32x4Kernel = "sqc_gather_b32_x4"
	// Gather8x4Kernel is Gather8Kernel four elements a thread, one 4-byte
	// load and store, under the same condition.
	Gather8x4Kernel = "sqc_gather_b8_x4"
)

// Gather4Of returns the four-a-thread form of a gather kernel.
func Gather4Of(name string) string {
	if name == Gather8Kernel {
		return Gather8x4Kernel
	}
	return Gather32x4Kernel
}

// Gather4Fits reports whether a gather of runs of run elements,
// starting where the table says, period strides dsrc and ddst, and
// samples of inPer and outPer elements can copy four elements a thread:
// every offset a multiple of 4, so a group of four stays in one run and
// its 16 bytes are aligned (the buffers are).
func Gather4Fits(tab []uint32, run, dsrc, ddst, inPer, outPer int64) bool {
	if run%4 != 0 || dsrc%4 != 0 || ddst%4 != 0 || inPer%4 != 0 || outPer%4 != 0 {
		return false
	}
	for _, v := range tab {
		if v%4 != 0 {
			return false
		}
	}
	return true
}

// GatherParams lists the gather kernel's parameters in launch order; total
// is runs × run × batch, the elements copied.
var GatherParams = []string{"x", "y", "tab", "total", "runs", "run", "period", "dsrc", "ddst", "inPer", "outPer"}

// GatherPTX returns the module text of a gather kernel (Gather8Kernel or
// Gather32Kernel).
func GatherPTX(name string) string {
	size, vec := 1, 1
	switch name {
	case Gather32Kernel:
		size = 4
	case Gather32x4Kernel:
		size, vec = 4, 4
	case Gather8x4Kernel:
		size, vec = 1, 4
	}
	var b builder
	b.header()
	b.opEntry(name, GatherParams, 3)
	declare(&b, ".pred", "%p<2>")
	declare(&b, ".b32", "%r<24>")
	declare(&b, ".b64", "%rd<12>")
	b.comment("x y tab in %%rd0..%%rd2; total runs run period dsrc ddst inPer outPer in %%r0..%%r7")
	b.loadParams(3, 8)
	b.elementIndex(11, 8)
	if vec == 4 {
		b.comment("four elements a thread: the run in groups of four")
		b.l("shr.u32 %%r2, %%r2, 2;")
	}
	b.l("rem.u32 %%r12, %%r11, %%r2;") // j
	b.l("div.u32 %%r13, %%r11, %%r2;") // n·runs + e
	if vec == 4 {
		b.l("shl.b32 %%r12, %%r12, 2;")
	}
	b.l("div.u32 %%r14, %%r13, %%r1;") // n
	b.l("rem.u32 %%r13, %%r13, %%r1;") // e
	b.l("div.u32 %%r15, %%r13, %%r3;") // q
	b.l("rem.u32 %%r16, %%r13, %%r3;") // r
	b.l("mul.wide.u32 %%rd3, %%r16, 8;")
	b.l("add.s64 %%rd3, %%rd2, %%rd3;")
	b.l("ld.global.v2.u32 {%%r17, %%r18}, [%%rd3];") // src, dst of run r
	b.l("mad.lo.u32 %%r17, %%r15, %%r4, %%r17;")
	b.l("mad.lo.u32 %%r18, %%r15, %%r5, %%r18;")
	b.l("add.u32 %%r17, %%r17, %%r12;")
	b.l("add.u32 %%r18, %%r18, %%r12;")
	b.comment("sample offsets in 64 bits: n*per can pass 2^32 at large batches")
	b.l("mul.wide.u32 %%rd4, %%r14, %%r6;")
	b.l("cvt.u64.u32 %%rd5, %%r17;")
	b.l("add.s64 %%rd4, %%rd4, %%rd5;")
	b.l("mul.wide.u32 %%rd6, %%r14, %%r7;")
	b.l("cvt.u64.u32 %%rd7, %%r18;")
	b.l("add.s64 %%rd6, %%rd6, %%rd7;")
	if size == 1 && vec == 4 {
		b.l("add.s64 %%rd8, %%rd0, %%rd4;")
		b.l("ld.global.b32 %%r19, [%%rd8];")
		b.l("add.s64 %%rd9, %%rd1, %%rd6;")
		b.l("st.global.b32 [%%rd9], %%r19;")
	} else if size == 1 {
		b.l("add.s64 %%rd8, %%rd0, %%rd4;")
		b.l("ld.global.u8 %%r19, [%%rd8];")
		b.l("add.s64 %%rd9, %%rd1, %%rd6;")
		b.l("st.global.u8 [%%rd9], %%r19;")
	} else if vec == 4 {
		b.l("shl.b64 %%rd4, %%rd4, 2;")
		b.l("shl.b64 %%rd6, %%rd6, 2;")
		b.l("add.s64 %%rd8, %%rd0, %%rd4;")
		b.l("ld.global.v4.b32 {%%r19, %%r20, %%r21, %%r22}, [%%rd8];")
		b.l("add.s64 %%rd9, %%rd1, %%rd6;")
		b.l("st.global.v4.b32 [%%rd9], {%%r19, %%r20, %%r21, %%r22};")
	} else {
		b.l("shl.b64 %%rd4, %%rd4, 2;")
		b.l("shl.b64 %%rd6, %%rd6, 2;")
		b.l("add.s64 %%rd8, %%rd0, %%rd4;")
		b.l("ld.global.b32 %%r19, [%%rd8];")
		b.l("add.s64 %%rd9, %%rd1, %%rd6;")
		b.l("st.global.b32 [%%rd9], %%r19;")
	}
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
