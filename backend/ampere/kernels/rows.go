package kernels

// The row kernels: LayerNormalization (and Instance and Group
// normalization) and Softmax/LogSoftmax, a group of lanes a row of
// consecutive elements (a warp a softmax row, 8 lanes a normalization
// row), blocks of RowThreads threads.
//
// ir/ref sums each row in index order in float64 (the mean, the squared
// deviations, the exponentials), and those sums round at every step, so no
// other order gives its bits. The warp keeps that order and spreads
// everything else over its lanes: the lanes load the row in coalesced
// strides and compute the terms (the f64 conversion, the squared
// deviation, the exponential) side by side into the group's slots in
// shared memory, a chunk at a time; then every lane adds the chunk's terms
// one after another, in index order, the lanes of a group reading the same
// slot at the same time (a broadcast), so each ends with the reference's
// sum and none has to broadcast it. Outputs are spread over the lanes
// again. The sum is one instruction stream for the whole warp, so a warp
// of four 8-lane groups adds four rows' terms for the issue cost of one
// (the normalizations' choice); Softmax keeps a warp a row, whose 256
// slots hold a ViT row's exponentials for the output pass.
// The replaced kernels gave each thread a row and walked it element by
// element, a warp's loads landing in 32 different rows.

// RowThreads is the block size of the row kernels.
const RowThreads = 256

// Lanes a row and f64 slots a row: Softmax a warp and 256 slots,
// LayerNormPTX 8 lanes and 64 slots; either way 2 KiB of slots a warp.
const (
	softmaxLanes = 32
	softmaxChunk = 256
	normLanes    = 8
	normChunk    = 64
)

// SoftmaxRowsPerBlock and NormRowsPerBlock are the rows a block of
// SoftmaxPTX and LayerNormPTX computes.
const (
	SoftmaxRowsPerBlock = RowThreads / softmaxLanes
	NormRowsPerBlock    = RowThreads / normLanes
)

// rowStride is the distance in bytes between two rows' slots: one f64
// more than the chunk, so that the groups of a warp, each reading its own
// slot at the same time, hit different banks.
func rowStride(chunk int) int { return chunk*8 + 8 }

// rowShared is a row kernel's shared memory: the slots of its block's rows.
func rowShared(lanes, chunk int) int { return RowThreads / lanes * rowStride(chunk) }

// rowPrologue emits the common start for rows of lanes lanes and chunks
// of chunk slots: the lane within the row's group in %ln, the row
// ctaid.x·(RowThreads/lanes) + tid.x/lanes in %rw; a warp whose first row
// is past total (%r0) exits whole, and in a warp that straddles the end a
// group past it computes the last row again, %pv false, and stores nothing
// (so every lane of the warp meets every barrier); the group's slots at
// %wb (a 32-bit shared address); the row's first element row·size (size
// in %r1) as a byte offset in %rdo.
func rowPrologue(b *builder, lanes, chunk int) {
	b.l("mov.u32 %%tx, %%tid.x;")
	b.l("and.b32 %%ln, %%tx, %d;", lanes-1)
	b.l("div.u32 %%wp, %%tx, %d;", lanes) // the row's group in the block
	b.l("mov.u32 %%rw, %%ctaid.x;")
	b.l("mul.lo.u32 %%rw, %%rw, %d;", RowThreads/lanes)
	b.l("add.u32 %%rw, %%rw, %%wp;")
	b.l("and.b32 %%st, %%tx, %d;", ^31&(RowThreads-1))
	b.l("div.u32 %%st, %%st, %d;", lanes)
	b.l("mov.u32 %%sq, %%ctaid.x;")
	b.l("mad.lo.u32 %%st, %%sq, %d, %%st;", RowThreads/lanes) // the warp's first row
	b.l("setp.ge.u32 %%pq, %%st, %%r0;")
	b.l("@%%pq bra.uni $L_done;")
	b.l("setp.lt.u32 %%pv, %%rw, %%r0;")
	b.l("sub.u32 %%st, %%r0, 1;")
	b.l("min.u32 %%rw, %%rw, %%st;")
	b.l("mov.u64 %%rdo, smem_x;")
	b.l("cvt.u32.u64 %%wb, %%rdo;")
	b.l("mad.lo.u32 %%wb, %%wp, %d, %%wb;", rowStride(chunk))
	b.l("mul.wide.u32 %%rdo, %%rw, %%r1;")
	b.l("shl.b64 %%rdo, %%rdo, 2;")
}

// declareRowRegs declares the registers rowPrologue, rowTerms and
// rowSum use.
func declareRowRegs(b *builder) {
	declare(b, ".pred", "%pq", "%ps", "%pv")
	declare(b, ".b32", "%tx", "%ln", "%wp", "%rw", "%wb", "%ck", "%cn", "%cj", "%ce", "%sp", "%sq", "%st")
	declare(b, ".b64", "%rdo", "%rdx")
	declare(b, ".f64", "%sv<8>", "%tv")
}

// rowTerms emits a loop over the row's chunks: for chunk start %ck, each
// lane computes the terms of elements %cj = %ck + lane, + 32, … below
// min(%ck + chunk, size) with term (which reads x[%cj] through %rdx,
// the element's address, and leaves the f64 term in %tv) and stores them
// in the warp's slots; then, after a warp barrier, every lane adds the
// chunk's terms in index order to acc with rowSum. After the last chunk
// the slots still hold its terms.
func rowTerms(b *builder, lanes, chunk int, xptr, acc string, term func()) {
	loop, done := b.label("chunks"), b.label("chunks_done")
	loopLanes, lanesDone := b.label("terms"), b.label("terms_done")
	b.l("mov.u32 %%ck, 0;")
	b.raw("%s:", loop)
	b.l("setp.ge.u32 %%pq, %%ck, %%r1;")
	b.l("@%%pq bra.uni %s;", done)
	b.l("sub.u32 %%cn, %%r1, %%ck;")
	b.l("min.u32 %%cn, %%cn, %d;", chunk)
	b.l("add.u32 %%ce, %%ck, %%cn;")
	b.l("add.u32 %%cj, %%ck, %%ln;")
	b.raw("%s:", loopLanes)
	b.l("setp.ge.u32 %%pq, %%cj, %%ce;")
	b.l("@%%pq bra %s;", lanesDone)
	b.l("mul.wide.u32 %%rdx, %%cj, 4;")
	b.l("add.s64 %%rdx, %%rdx, %%rdo;")
	b.l("add.s64 %%rdx, %s, %%rdx;", xptr)
	term()
	b.l("sub.u32 %%st, %%cj, %%ck;")
	b.l("mad.lo.u32 %%st, %%st, 8, %%wb;")
	b.l("st.shared.f64 [%%st], %%tv;")
	b.l("add.u32 %%cj, %%cj, %d;", lanes)
	b.l("bra %s;", loopLanes)
	b.raw("%s:", lanesDone)
	b.l("bar.warp.sync 0xffffffff;")
	rowSum(b, acc)
	b.comment("the next chunk overwrites the slots only after every lane has read them")
	b.l("bar.warp.sync 0xffffffff;")
	b.l("add.u32 %%ck, %%ck, %d;", chunk)
	b.l("bra.uni %s;", loop)
	b.raw("%s:", done)
}

// rowSum emits acc += the warp's %cn slots, one after another in index
// order (eight loads, then their eight additions, while eight remain).
func rowSum(b *builder, acc string) {
	eights, ones, done := b.label("sum8"), b.label("sum1"), b.label("sum_done")
	b.l("mov.u32 %%sp, %%wb;")
	b.l("mov.u32 %%sq, 0;")
	b.raw("%s:", eights)
	b.l("add.u32 %%st, %%sq, 8;")
	b.l("setp.gt.u32 %%ps, %%st, %%cn;")
	b.l("@%%ps bra.uni %s;", ones)
	for i := 0; i < 8; i++ {
		b.l("ld.shared.f64 %%sv%d, [%%sp+%d];", i, 8*i)
	}
	for i := 0; i < 8; i++ {
		b.l("add.rn.f64 %s, %s, %%sv%d;", acc, acc, i)
	}
	b.l("add.u32 %%sp, %%sp, 64;")
	b.l("mov.u32 %%sq, %%st;")
	b.l("bra.uni %s;", eights)
	b.raw("%s:", ones)
	b.l("setp.ge.u32 %%ps, %%sq, %%cn;")
	b.l("@%%ps bra.uni %s;", done)
	b.l("ld.shared.f64 %%sv0, [%%sp];")
	b.l("add.rn.f64 %s, %s, %%sv0;", acc, acc)
	b.l("add.u32 %%sp, %%sp, 8;")
	b.l("add.u32 %%sq, %%sq, 1;")
	b.l("bra.uni %s;", ones)
	b.raw("%s:", done)
}

// LayerNormKernel is the f32 layer normalization.
const LayerNormKernel = "sqc_layernorm_f32"

// LayerNormParams lists the layer normalization's parameters in launch
// order: total counts the rows, of size elements each; scale and bias are
// read only when hasscale / hasbias is 1, the element at flat offset o
// taking entry (o / sdiv) % smod: sdiv 1 and smod size for
// LayerNormalization (one value an element of the row), sdiv H·W and smod C
// for InstanceNormalization and GroupNormalization (one value a channel).
var LayerNormParams = []string{"x", "y", "scale", "bias", "total", "size", "hasscale", "hasbias", "sdiv", "smod", "eps:f32"}

// LayerNormPTX returns the module text of LayerNormKernel: ir/ref's
// float64 arithmetic (nn_norm.go) operation for operation: the mean as the
// in-order sum divided by the size, the variance as the in-order sum of
// squared deviations divided by the size, inv = 1 / sqrt(var + eps)
// (div.rn and sqrt.rn are IEEE-rounded, as Go's / and math.Sqrt), each
// element (x - mean) * inv, times the scale and plus the bias when the node
// has them, rounded once to f32. No fused multiply-add is emitted.
func LayerNormPTX() string {
	var b builder
	b.header()
	b.opEntry(LayerNormKernel, LayerNormParams, 4)
	b.raw("\t.shared .align 16 .b8 smem_x[%d];", rowShared(normLanes, normChunk))
	declareRowRegs(&b)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<24>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<4>")
	declare(&b, ".f64", "%d<12>")
	b.comment("x y scale bias in %%rd0..%%rd3; total size hasscale hasbias in %%r0..%%r3; sdiv smod in %%r10 %%r11; eps in %%f0")
	b.loadParams(4, 4)
	b.l("ld.param.u32 %%r10, [p8];")
	b.l("ld.param.u32 %%r11, [p9];")
	b.l("ld.param.f32 %%f0, [p10];")
	rowPrologue(&b, normLanes, normChunk)
	b.l("cvt.rn.f64.u32 %%d0, %%r1;") // size
	b.comment("pass 1: mean %%d1 = (sum of x in order) / size")
	b.l("mov.f64 %%d1, 0d0000000000000000;")
	rowTerms(&b, normLanes, normChunk, "%rd0", "%d1", func() {
		b.l("ld.global.f32 %%f1, [%%rdx];")
		b.l("cvt.f64.f32 %%tv, %%f1;")
	})
	b.l("div.rn.f64 %%d1, %%d1, %%d0;")
	b.comment("pass 2: %%d3 = sum of (x - mean)^2 in order")
	b.l("mov.f64 %%d3, 0d0000000000000000;")
	rowTerms(&b, normLanes, normChunk, "%rd0", "%d3", func() {
		b.l("ld.global.f32 %%f1, [%%rdx];")
		b.l("cvt.f64.f32 %%tv, %%f1;")
		b.l("sub.rn.f64 %%tv, %%tv, %%d1;")
		b.l("mul.rn.f64 %%tv, %%tv, %%tv;")
	})
	b.comment("inv %%d4 = 1 / sqrt(var / size + eps)")
	b.l("div.rn.f64 %%d3, %%d3, %%d0;")
	b.l("cvt.f64.f32 %%d5, %%f0;")
	b.l("add.rn.f64 %%d3, %%d3, %%d5;")
	b.l("sqrt.rn.f64 %%d3, %%d3;")
	b.l("div.rn.f64 %%d4, 0d3FF0000000000000, %%d3;")
	b.comment("pass 3, element j = lane, lane + %d, ...: y = f32(((x - mean) * inv) * scale + bias), stored where %%pv", normLanes)
	b.l("setp.ne.u32 %%p2, %%r2, 0;")
	b.l("setp.ne.u32 %%p3, %%r3, 0;")
	b.comment("one scale and bias an element of the row (sdiv 1, smod size): entry j, no division")
	b.l("setp.eq.u32 %%p4, %%r10, 1;")
	b.l("setp.eq.u32 %%p5, %%r11, %%r1;")
	b.l("and.pred %%p4, %%p4, %%p5;")
	b.l("mul.lo.u32 %%r12, %%rw, %%r1;") // the row's flat offset
	b.l("mov.u32 %%r8, %%ln;")
	b.raw("$L_out:")
	b.l("setp.ge.u32 %%p1, %%r8, %%r1;")
	b.l("@%%p1 bra $L_done;")
	b.l("mul.wide.u32 %%rd6, %%r8, 4;")
	b.l("add.s64 %%rd6, %%rd6, %%rdo;")
	b.l("add.s64 %%rd7, %%rd0, %%rd6;")
	b.l("ld.global.f32 %%f1, [%%rd7];")
	b.l("cvt.f64.f32 %%d2, %%f1;")
	b.l("sub.rn.f64 %%d2, %%d2, %%d1;")
	b.l("mul.rn.f64 %%d2, %%d2, %%d4;")
	b.comment("scale and bias entry (o / sdiv) %% smod, o = row*size + j: byte offset in %%rd11")
	b.l("mov.u32 %%r13, %%r8;")
	b.l("@!%%p4 add.u32 %%r14, %%r12, %%r8;")
	b.l("@!%%p4 div.u32 %%r13, %%r14, %%r10;")
	b.l("@!%%p4 rem.u32 %%r13, %%r13, %%r11;")
	b.l("mul.wide.u32 %%rd11, %%r13, 4;")
	b.l("add.s64 %%rd9, %%rd2, %%rd11;")
	b.l("add.s64 %%rd10, %%rd3, %%rd11;")
	b.l("@%%p2 ld.global.f32 %%f2, [%%rd9];")
	b.l("@%%p2 cvt.f64.f32 %%d6, %%f2;")
	b.l("@%%p2 mul.rn.f64 %%d2, %%d2, %%d6;")
	b.l("@%%p3 ld.global.f32 %%f3, [%%rd10];")
	b.l("@%%p3 cvt.f64.f32 %%d7, %%f3;")
	b.l("@%%p3 add.rn.f64 %%d2, %%d2, %%d7;")
	b.l("cvt.rn.f32.f64 %%f1, %%d2;")
	b.l("add.s64 %%rd8, %%rd1, %%rd6;")
	b.l("@%%pv st.global.f32 [%%rd8], %%f1;")
	b.l("add.u32 %%r8, %%r8, %d;", normLanes)
	b.l("bra $L_out;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}

// SoftmaxPTX returns the module text of SoftmaxKernel (or of
// LogSoftmaxKernel, logOut), parameters x, y, total (rows), size: ir/ref's
// arithmetic (elementwise_softmax.go) operation for operation, so the
// result is bit-exact: the row maximum m folded in order from -Inf by
// "x > m" (a NaN never wins), e = fmath.Exp(x - m) in f64 (fmath.go's
// inlined PTX) summed in order from 0 in f64, then e / sum, or (x - m) -
// fmath.Log(sum), rounded once to f32.
//
// The maximum is order-free but for its sign of zero, which LogSoftmax can
// show ((x - m) - log(sum) for x = m = ±0 and sum = 1): each lane folds its
// elements in order, keeping the first maximum and its index, and the
// lanes' results combine to the first maximum of the row (the larger
// value; of equal ones, the lower index), which is the fold's. A row of
// at most softmaxChunk elements keeps its exponentials in the warp's slots
// for the output pass; a longer row computes them again (the same
// operations, the same bits).
func SoftmaxPTX(logOut bool) string { return softmaxPTX(logOut, softmaxLanes, softmaxChunk) }

// SoftmaxShortPTX returns the module text of SoftmaxShortKernel (or of
// LogSoftmaxShortKernel, logOut): SoftmaxPTX's arithmetic, 8 lanes a row,
// four rows a warp (one in-order sum stream for four rows), for rows of at
// most SoftmaxShortMax elements (Swin's windows of 49), which the slots
// hold.
func SoftmaxShortPTX(logOut bool) string { return softmaxPTX(logOut, normLanes, normChunk) }

// SoftmaxShortMax is the longest row SoftmaxShortKernel takes.
const SoftmaxShortMax = normChunk

// Softmax kernels of short rows (SoftmaxShortPTX).
const (
	SoftmaxShortKernel    = "sqc_softmax_f32_g8"
	LogSoftmaxShortKernel = "sqc_logsoftmax_f32_g8"
	// SoftmaxShortRowsPerBlock is the rows a block of them computes.
	SoftmaxShortRowsPerBlock = RowThreads / normLanes
)

func softmaxPTX(logOut bool, lanes, chunk int) string {
	name := map[[2]bool]string{{false, false}: SoftmaxKernel, {true, false}: LogSoftmaxKernel,
		{false, true}: SoftmaxShortKernel, {true, true}: LogSoftmaxShortKernel}[[2]bool{logOut, lanes != softmaxLanes}]
	var b builder
	b.header()
	b.opEntry(name, OpParams[SoftmaxKernel], 2)
	b.raw("\t.shared .align 16 .b8 smem_x[%d];", rowShared(lanes, chunk))
	declareRowRegs(&b)
	declare(&b, ".pred", "%p<8>")
	declare(&b, ".b32", "%r<24>")
	declare(&b, ".b64", "%rd<16>")
	declare(&b, ".f32", "%f<8>")
	declare(&b, ".f64", "%d<8>")
	declareFmathRegs(&b)
	fm := newFmath(&b)
	b.comment("x y in %%rd0, %%rd1; total (rows), size in %%r0, %%r1")
	b.loadPointers(2)
	b.l("ld.param.u32 %%r0, [p2];")
	b.l("ld.param.u32 %%r1, [p3];")
	rowPrologue(&b, lanes, chunk)
	b.comment("pass 1: the lane's first maximum %%f1 and its index %%r3 over elements lane, lane + 32, ...")
	b.l("mov.f32 %%f1, 0fFF800000;")
	b.l("mov.u32 %%r3, 0xFFFFFFFF;")
	b.l("mov.u32 %%r2, %%ln;")
	b.raw("$L_max:")
	b.l("setp.ge.u32 %%p1, %%r2, %%r1;")
	b.l("@%%p1 bra $L_maxdone;")
	b.l("mul.wide.u32 %%rd2, %%r2, 4;")
	b.l("add.s64 %%rd2, %%rd2, %%rdo;")
	b.l("add.s64 %%rd2, %%rd0, %%rd2;")
	b.l("ld.global.f32 %%f2, [%%rd2];")
	b.l("setp.gt.f32 %%p2, %%f2, %%f1;")
	b.l("@%%p2 mov.f32 %%f1, %%f2;")
	b.l("@%%p2 mov.u32 %%r3, %%r2;")
	b.l("add.u32 %%r2, %%r2, %d;", lanes)
	b.l("bra $L_max;")
	b.raw("$L_maxdone:")
	b.l("shl.b32 %%r4, %%ln, 3;")
	b.l("add.u32 %%r4, %%r4, %%wb;")
	b.l("st.shared.f32 [%%r4], %%f1;")
	b.l("st.shared.u32 [%%r4+4], %%r3;")
	b.l("bar.warp.sync 0xffffffff;")
	b.comment("the row's first maximum: a tree over the lanes' (maximum, index) slots, keeping the larger value, of equal ones the lower index")
	b.l("mov.f32 %%f2, %%f1;")
	b.l("mov.u32 %%r5, %%r3;")
	for half := lanes / 2; half >= 1; half /= 2 {
		b.l("setp.lt.u32 %%p6, %%ln, %d;", half)
		b.l("@%%p6 ld.shared.f32 %%f2, [%%r4+%d];", 8*half)
		b.l("@%%p6 ld.shared.u32 %%r5, [%%r4+%d];", 8*half+4)
		b.l("setp.gt.f32 %%p2, %%f2, %%f1;")
		b.l("setp.eq.f32 %%p3, %%f2, %%f1;")
		b.l("setp.lt.u32 %%p4, %%r5, %%r3;")
		b.l("and.pred %%p3, %%p3, %%p4;")
		b.l("or.pred %%p2, %%p2, %%p3;")
		b.l("and.pred %%p2, %%p2, %%p6;")
		b.l("@%%p2 mov.f32 %%f1, %%f2;")
		b.l("@%%p2 mov.u32 %%r3, %%r5;")
		b.l("@%%p2 st.shared.f32 [%%r4], %%f1;")
		b.l("@%%p2 st.shared.u32 [%%r4+4], %%r3;")
		b.l("bar.warp.sync 0xffffffff;")
	}
	b.l("ld.shared.f32 %%f1, [%%wb];")
	b.l("bar.warp.sync 0xffffffff;")
	b.l("cvt.f64.f32 %%d3, %%f1;")
	b.comment("pass 2: %%d0 = sum of exp(x - max) in order")
	b.l("mov.f64 %%d0, 0d0000000000000000;")
	rowTerms(&b, lanes, chunk, "%rd0", "%d0", func() {
		b.l("ld.global.f32 %%f2, [%%rdx];")
		b.l("cvt.f64.f32 %%tv, %%f2;")
		b.l("sub.rn.f64 %%tv, %%tv, %%d3;")
		fm.Exp("%tv", "%tv")
	})
	if logOut {
		fm.Log("%d2", "%d0")
	}
	b.comment("pass 3, element j = lane, lane + %d, ...; a row of at most %d keeps exp(x - max) in slot j", lanes, chunk)
	b.l("setp.le.u32 %%p5, %%r1, %d;", chunk)
	b.l("mov.u32 %%r2, %%ln;")
	b.raw("$L_out:")
	b.l("setp.ge.u32 %%p1, %%r2, %%r1;")
	b.l("@%%p1 bra $L_done;")
	b.l("mul.wide.u32 %%rd2, %%r2, 4;")
	b.l("add.s64 %%rd2, %%rd2, %%rdo;")
	b.l("add.s64 %%rd3, %%rd0, %%rd2;")
	b.l("add.s64 %%rd4, %%rd1, %%rd2;")
	if logOut {
		b.l("ld.global.f32 %%f2, [%%rd3];")
		b.l("cvt.f64.f32 %%d1, %%f2;")
		b.l("sub.rn.f64 %%d1, %%d1, %%d3;")
		b.l("sub.rn.f64 %%d1, %%d1, %%d2;")
	} else {
		b.l("@!%%p5 bra $L_again;")
		b.l("mad.lo.u32 %%r4, %%r2, 8, %%wb;")
		b.l("ld.shared.f64 %%d1, [%%r4];")
		b.l("bra $L_div;")
		b.raw("$L_again:")
		b.l("ld.global.f32 %%f2, [%%rd3];")
		b.l("cvt.f64.f32 %%d1, %%f2;")
		b.l("sub.rn.f64 %%d1, %%d1, %%d3;")
		fm.Exp("%d1", "%d1")
		b.raw("$L_div:")
		b.l("div.rn.f64 %%d1, %%d1, %%d0;")
	}
	b.l("cvt.rn.f32.f64 %%f3, %%d1;")
	b.l("@%%pv st.global.f32 [%%rd4], %%f3;")
	b.l("add.u32 %%r2, %%r2, %d;", lanes)
	b.l("bra $L_out;")
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
