package kernels

// The batched float matrix product: MatMul of two computed operands (the
// attention products of a transformer, Q·Kᵀ and P·V) or of a computed one
// by a constant stack of matrices. Each output element sums its K products
// in ir/ref's float summation order (ir/ref/sumorder.go): chunks of
// SumChunk fma.rn.f32 from +0, each added to the output (from +0) by
// add.rn.f32, so it equals the reference executor bit for bit.
//
// A block computes a 64×64 tile of one matrix with 256 threads, each a
// 4×4 register tile; K is walked in steps of 16: the block stages A's
// 64×16 slice (transposed, k-major) and B's 16×64 slice in shared memory,
// and every thread runs its 16 outputs' fma.rn.f32 for k, k+1, … in order,
// so each output still sees its products one after another from k = 0.
// While one step computes, the next step's elements are already loading
// into registers. A chunk ends on a step boundary (16 divides SumChunk),
// where the block adds its accumulators to the outputs.
//
// Elements past M, P or K load as +0. Rows and columns past the matrix
// are computed and not stored. Products past K are fma(+0, +0, acc), which
// return acc except that acc = −0 becomes +0: they occur only in the last
// chunk, and y + acc does not depend on the sign of a zero acc, because y
// is never −0 (it starts at +0, and a rounded sum is −0 only when both
// terms are). So the padding changes no bit.

// BatchMatMulKernel is the batched f32 matrix product.
const BatchMatMulKernel = "sqc_bmm_f32"

// BatchMatMulParams lists the kernel's parameters in launch order: total
// counts the launch's output tiles (BatchMatMulTiles a sample), each
// sample mats M×P matrices; matrix j of a sample reads A's matrix j (M×K,
// row-major) and B's (K×P), which start at n·aSample + j·aMat and
// n·bSample + j·bMat (a constant B has bSample 0; a matrix broadcast over
// the stack has a stride of 0).
var BatchMatMulParams = []string{"a", "b", "y", "total", "M", "K", "P", "mats", "aSample", "bSample", "aMat", "bMat"}

// The block tile: bmmTile×bmmTile outputs, K steps of bmmStep, A's slice
// stored with a row stride of bmmLDA floats (8 more than the tile, so
// that the transposed stores of a warp hit 32 distinct banks).
const (
	bmmTile = 64
	bmmStep = 16
	bmmLDA  = bmmTile + 8
	// bmmBOffset is B's slice's byte offset in shared memory, after A's.
	bmmBOffset = bmmStep * bmmLDA * 4
	bmmShared  = bmmBOffset + bmmStep*bmmTile*4
)

// BatchMatMulThreads is the kernel's block size.
const BatchMatMulThreads = 256

// BatchMatMulTiles is the number of blocks one sample's mats M×P products
// take.
func BatchMatMulTiles(mats, m, p int64) int64 {
	return mats * ((m + bmmTile - 1) / bmmTile) * ((p + bmmTile - 1) / bmmTile)
}

// BatchMatMulPTX returns the module text of BatchMatMulKernel.
func BatchMatMulPTX() string {
	if SumChunk%bmmStep != 0 {
		panic("kernels: the batched MatMul's K step must divide SumChunk")
	}
	var b builder
	b.header()
	b.opEntry(BatchMatMulKernel, BatchMatMulParams, 3)
	b.raw("\t.shared .align 16 .b8 smem_x[%d];", bmmShared)
	declare(&b, ".pred", "%p<8>", "%pa", "%pb", "%pr<4>", "%pc<4>")
	declare(&b, ".b32", "%r<48>", "%sa", "%sb", "%ssa", "%ssb", "%k0")
	declare(&b, ".b64", "%rd<12>", "%ga", "%gb", "%gb4", "%gbt", "%addr")
	declare(&b, ".f32", "%acc<16>", "%y<16>", "%ra<4>", "%rb<4>", "%fa<4>", "%fb<4>")
	b.comment("a b y in %%rd0..%%rd2; total M K P mats aSample bSample aMat bMat in %%r0..%%r8")
	b.loadParams(3, 9)
	b.blockIndex(20)
	b.comment("block = ((n*mats + j)*tilesM + tm)*tilesP + tp; first row m0 in r25, first column p0 in r23")
	b.l("add.u32 %%r21, %%r3, %d;", bmmTile-1)
	b.l("shr.u32 %%r21, %%r21, 6;") // tilesP
	b.l("add.u32 %%r22, %%r1, %d;", bmmTile-1)
	b.l("shr.u32 %%r22, %%r22, 6;") // tilesM
	b.l("rem.u32 %%r23, %%r20, %%r21;")
	b.l("div.u32 %%r24, %%r20, %%r21;")
	b.l("rem.u32 %%r25, %%r24, %%r22;")
	b.l("div.u32 %%r24, %%r24, %%r22;")
	b.l("rem.u32 %%r26, %%r24, %%r4;") // j
	b.l("div.u32 %%r27, %%r24, %%r4;") // n
	b.l("shl.b32 %%r23, %%r23, 6;")
	b.l("shl.b32 %%r25, %%r25, 6;")
	b.comment("A's matrix at n*aSample + j*aMat (r28), B's at n*bSample + j*bMat (r29)")
	b.l("mul.lo.u32 %%r28, %%r27, %%r5;")
	b.l("mad.lo.u32 %%r28, %%r26, %%r7, %%r28;")
	b.l("mul.lo.u32 %%r29, %%r27, %%r6;")
	b.l("mad.lo.u32 %%r29, %%r26, %%r8, %%r29;")
	b.l("mov.u32 %%r30, %%tid.x;")
	b.l("mov.u64 %%addr, smem_x;")
	b.l("cvt.u32.u64 %%r31, %%addr;")

	b.comment("A loads: row m0 + tid/4 (valid: %%pa), k = k0 + tid%%4 + 4i (r33 = tid%%4); to As[k][tid/4]")
	b.l("shr.u32 %%r32, %%r30, 2;")
	b.l("and.b32 %%r33, %%r30, 3;")
	b.l("mad.lo.u32 %%r34, %%r33, %d, %%r32;", bmmLDA)
	b.l("shl.b32 %%r34, %%r34, 2;")
	b.l("add.u32 %%ssa, %%r31, %%r34;")
	b.l("add.u32 %%r32, %%r25, %%r32;")
	b.l("setp.lt.u32 %%pa, %%r32, %%r1;")
	b.l("mad.lo.u32 %%r34, %%r32, %%r2, %%r28;")
	b.l("add.u32 %%r34, %%r34, %%r33;")
	b.l("mul.wide.u32 %%ga, %%r34, 4;")
	b.l("add.s64 %%ga, %%rd0, %%ga;")
	b.comment("B loads: column p0 + tid%%64 (valid: %%pb), k = k0 + tid/64 + 4i (r36 = tid/64); to Bs[k][tid%%64]")
	b.l("and.b32 %%r35, %%r30, 63;")
	b.l("shr.u32 %%r36, %%r30, 6;")
	b.l("shl.b32 %%r34, %%r36, 6;")
	b.l("add.u32 %%r34, %%r34, %%r35;")
	b.l("shl.b32 %%r34, %%r34, 2;")
	b.l("add.u32 %%ssb, %%r31, %%r34;")
	b.l("add.u32 %%ssb, %%ssb, %d;", bmmBOffset)
	b.l("add.u32 %%r35, %%r23, %%r35;")
	b.l("setp.lt.u32 %%pb, %%r35, %%r3;")
	b.l("mad.lo.u32 %%r34, %%r36, %%r3, %%r29;")
	b.l("add.u32 %%r34, %%r34, %%r35;")
	b.l("mul.wide.u32 %%gb, %%r34, 4;")
	b.l("add.s64 %%gb, %%rd1, %%gb;")
	b.l("mul.wide.u32 %%gb4, %%r3, 16;") // four rows of B
	b.l("mul.wide.u32 %%gbt, %%r3, %d;", 4*bmmStep)
	b.comment("compute roles: rows m0 + 4*(tid/16) + i, columns p0 + 4*(tid%%16) + j; As[k][4*(tid/16)] at %%sa, Bs[k][4*(tid%%16)] at %%sb")
	b.l("shr.u32 %%r37, %%r30, 4;")
	b.l("and.b32 %%r38, %%r30, 15;")
	b.l("shl.b32 %%r34, %%r37, 4;")
	b.l("add.u32 %%sa, %%r31, %%r34;")
	b.l("shl.b32 %%r34, %%r38, 4;")
	b.l("add.u32 %%sb, %%r31, %%r34;")
	b.l("add.u32 %%sb, %%sb, %d;", bmmBOffset)
	for i := 0; i < 16; i++ {
		b.l("mov.f32 %%acc%d, 0f00000000;", i)
		b.l("mov.f32 %%y%d, 0f00000000;", i)
	}
	b.l("mov.u32 %%k0, 0;")
	bmmLoads(&b)
	b.raw("$L_step:")
	b.l("setp.ge.u32 %%p1, %%k0, %%r2;")
	b.l("@%%p1 bra.uni $L_store;")
	b.comment("the previous step's reads are done: stage this step's slices")
	b.l("bar.sync 0;")
	for i := 0; i < 4; i++ {
		b.l("st.shared.f32 [%%ssa+%d], %%ra%d;", 4*4*bmmLDA*i, i)
		b.l("st.shared.f32 [%%ssb+%d], %%rb%d;", 4*4*bmmTile*i, i)
	}
	b.l("bar.sync 0;")
	b.comment("load the next step while this one computes")
	b.l("add.u32 %%k0, %%k0, %d;", bmmStep)
	b.l("add.s64 %%ga, %%ga, %d;", 4*bmmStep)
	b.l("add.s64 %%gb, %%gb, %%gbt;")
	bmmLoads(&b)
	for k := 0; k < bmmStep; k++ {
		b.l("ld.shared.v4.f32 %s, [%%sa+%d];", regList("%fa", 0, 4), 4*bmmLDA*k)
		b.l("ld.shared.v4.f32 %s, [%%sb+%d];", regList("%fb", 0, 4), 4*bmmTile*k)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				b.l("fma.rn.f32 %%acc%d, %%fa%d, %%fb%d, %%acc%d;", 4*i+j, i, j, 4*i+j)
			}
		}
	}
	b.comment("a whole chunk ends here (k0 a multiple of SumChunk, at most K): add it to the outputs")
	b.l("and.b32 %%r39, %%k0, %d;", SumChunk-1)
	b.l("setp.eq.u32 %%p2, %%r39, 0;")
	b.l("setp.le.u32 %%p3, %%k0, %%r2;")
	b.l("and.pred %%p2, %%p2, %%p3;")
	b.l("@!%%p2 bra.uni $L_step;")
	bmmFlush(&b)
	b.l("bra.uni $L_step;")
	b.raw("$L_store:")
	b.comment("the last, partial chunk")
	b.l("and.b32 %%r39, %%r2, %d;", SumChunk-1)
	b.l("setp.eq.u32 %%p2, %%r39, 0;")
	b.l("@%%p2 bra.uni $L_flushed;")
	bmmFlush(&b)
	b.raw("$L_flushed:")
	b.comment("y[((n*mats + j)*M + row)*P + col] for rows < M, columns < P")
	b.l("mad.lo.u32 %%r40, %%r27, %%r4, %%r26;")
	b.l("mul.lo.u32 %%r40, %%r40, %%r1;")
	b.l("shl.b32 %%r41, %%r37, 2;")
	b.l("add.u32 %%r41, %%r41, %%r25;") // first row
	b.l("shl.b32 %%r42, %%r38, 2;")
	b.l("add.u32 %%r42, %%r42, %%r23;") // first column
	for j := 0; j < 4; j++ {
		b.l("add.u32 %%r43, %%r42, %d;", j)
		b.l("setp.lt.u32 %%pc%d, %%r43, %%r3;", j)
	}
	for i := 0; i < 4; i++ {
		b.l("add.u32 %%r43, %%r41, %d;", i)
		b.l("setp.lt.u32 %%pr%d, %%r43, %%r1;", i)
		b.l("add.u32 %%r43, %%r40, %%r43;")
		b.l("mad.lo.u32 %%r43, %%r43, %%r3, %%r42;")
		b.l("mul.wide.u32 %%rd6, %%r43, 4;")
		b.l("add.s64 %%rd6, %%rd2, %%rd6;")
		for j := 0; j < 4; j++ {
			b.l("and.pred %%p4, %%pr%d, %%pc%d;", i, j)
			b.l("@%%p4 st.global.f32 [%%rd6+%d], %%y%d;", 4*j, 4*i+j)
		}
	}
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// bmmLoads emits the guarded loads of the step at %k0 into %ra (A) and
// %rb (B): +0 where the element is past M, P or K.
func bmmLoads(b *builder) {
	b.l("add.u32 %%r44, %%k0, %%r33;")
	b.l("add.u32 %%r45, %%k0, %%r36;")
	b.l("mov.u64 %%rd7, %%gb;")
	for i := 0; i < 4; i++ {
		b.l("mov.f32 %%ra%d, 0f00000000;", i)
		b.l("mov.f32 %%rb%d, 0f00000000;", i)
		b.l("setp.lt.u32 %%p5, %%r44, %%r2;")
		b.l("and.pred %%p5, %%p5, %%pa;")
		b.l("@%%p5 ld.global.f32 %%ra%d, [%%ga+%d];", i, 16*i)
		b.l("setp.lt.u32 %%p6, %%r45, %%r2;")
		b.l("and.pred %%p6, %%p6, %%pb;")
		b.l("@%%p6 ld.global.f32 %%rb%d, [%%rd7];", i)
		if i < 3 {
			b.l("add.u32 %%r44, %%r44, 4;")
			b.l("add.u32 %%r45, %%r45, 4;")
			b.l("add.s64 %%rd7, %%rd7, %%gb4;")
		}
	}
}

// bmmFlush emits y += acc, acc = +0 for the 16 outputs.
func bmmFlush(b *builder) {
	for i := 0; i < 16; i++ {
		b.l("add.rn.f32 %%y%d, %%y%d, %%acc%d;", i, i, i)
		b.l("mov.f32 %%acc%d, 0f00000000;", i)
	}
}
