package kernels

// The batched float matrix product: MatMul of two computed operands (the
// attention products of a transformer, Q·Kᵀ and P·V) or of a computed one
// by a constant stack of matrices. One thread an output element sums its
// K products in ir/ref's float summation order (ir/ref/sumorder.go):
// chunks of SumChunk fma.rn.f32 from +0, each added to the output (from
// +0) by add.rn.f32, so it equals the reference executor bit for bit.

// BatchMatMulKernel is the batched f32 matrix product.
const BatchMatMulKernel = "sqc_bmm_f32"

// BatchMatMulParams lists the kernel's parameters in launch order: y holds
// total elements, each sample mats M×P matrices; matrix j of a sample reads
// A's matrix j (M×K, row-major) and B's (K×P), which start at
// n·aSample + j·aMat and n·bSample + j·bMat (a constant B has bSample 0; a
// matrix broadcast over the stack has a stride of 0).
var BatchMatMulParams = []string{"a", "b", "y", "total", "M", "K", "P", "mats", "aSample", "bSample", "aMat", "bMat"}

// BatchMatMulPTX returns the module text of BatchMatMulKernel.
func BatchMatMulPTX() string {
	var b builder
	b.header()
	b.opEntry(BatchMatMulKernel, BatchMatMulParams, 3)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<40>")
	declare(&b, ".b64", "%rd<12>")
	declare(&b, ".f32", "%f<6>")
	b.comment("a b y in %%rd0..%%rd2; total M K P mats aSample bSample aMat bMat in %%r0..%%r8")
	b.loadPointers(3)
	for i := 0; i < 9; i++ {
		b.l("ld.param.u32 %%r%d, [p%d];", i, i+3)
	}
	b.l("mov.u32 %%r20, %%ctaid.x;")
	b.l("mov.u32 %%r21, %d;", OpThreads)
	b.l("mov.u32 %%r22, %%tid.x;")
	b.l("mad.lo.u32 %%r10, %%r20, %%r21, %%r22;")
	b.l("setp.ge.u32 %%p0, %%r10, %%r0;")
	b.l("@%%p0 bra $L_done;")
	b.comment("i = ((n*mats + j)*M + row)*P + col")
	b.l("rem.u32 %%r11, %%r10, %%r3;") // col
	b.l("div.u32 %%r23, %%r10, %%r3;")
	b.l("rem.u32 %%r12, %%r23, %%r1;") // row
	b.l("div.u32 %%r23, %%r23, %%r1;")
	b.l("rem.u32 %%r13, %%r23, %%r4;") // j
	b.l("div.u32 %%r14, %%r23, %%r4;") // n
	b.comment("A's row start n*aSample + j*aMat + row*K in r15; B's column start n*bSample + j*bMat + col in r16")
	b.l("mul.lo.u32 %%r15, %%r14, %%r5;")
	b.l("mad.lo.u32 %%r15, %%r13, %%r7, %%r15;")
	b.l("mad.lo.u32 %%r15, %%r12, %%r2, %%r15;")
	b.l("mul.lo.u32 %%r16, %%r14, %%r6;")
	b.l("mad.lo.u32 %%r16, %%r13, %%r8, %%r16;")
	b.l("add.u32 %%r16, %%r16, %%r11;")
	b.l("mul.wide.u32 %%rd3, %%r15, 4;")
	b.l("add.s64 %%rd3, %%rd0, %%rd3;")
	b.l("mul.wide.u32 %%rd4, %%r16, 4;")
	b.l("add.s64 %%rd4, %%rd1, %%rd4;")
	b.l("mul.wide.u32 %%rd5, %%r3, 4;") // B's row stride in bytes
	b.comment("y in f0, the chunk's sum in f4, its length in r18")
	b.l("mov.f32 %%f0, 0f00000000;")
	b.l("mov.f32 %%f4, 0f00000000;")
	b.l("mov.u32 %%r18, 0;")
	b.l("mov.u32 %%r17, 0;")
	b.raw("$L_k:")
	b.l("setp.ge.u32 %%p1, %%r17, %%r2;")
	b.l("@%%p1 bra $L_store;")
	b.l("ld.global.f32 %%f1, [%%rd3];")
	b.l("ld.global.f32 %%f2, [%%rd4];")
	b.l("fma.rn.f32 %%f4, %%f1, %%f2, %%f4;")
	b.l("add.s64 %%rd3, %%rd3, 4;")
	b.l("add.s64 %%rd4, %%rd4, %%rd5;")
	b.l("add.u32 %%r17, %%r17, 1;")
	b.chunkStep("%r18", "%f4", "%f0", "%p2", "$L_k")
	b.l("bra $L_k;")
	b.raw("$L_store:")
	b.chunkFlush("%r18", "%f4", "%f0", "%p2", "$L_flushed")
	b.l("mul.wide.u32 %%rd6, %%r10, 4;")
	b.l("add.s64 %%rd6, %%rd2, %%rd6;")
	b.l("st.global.f32 [%%rd6], %%f0;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
