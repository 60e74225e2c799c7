package kernels

// Split-K (GemmConfig.SplitK).
//
// At batch 1 a ResNet layer's GEMM has a handful of blocks for a GPU of
// a hundred SMs or more, and each block walks the whole K. A SplitK
// kernel divides the K loop over the launch's grid z: of S = %nctaid.z
// splits, split z = %ctaid.z runs the K units [z·U/S, (z+1)·U/S) of the
// U the layer has (K steps of 64; DoubleK: its stages of two steps; Halo:
// 64-channel chunks, each with its nine taps). With S = 1 the kernel
// walks all of K and branches past the fix-up (a uniform branch), doing
// what the kernel without SplitK does.
//
// The fix-up, in the same launch: after its K range each block of a tile
// (the blocks sharing ctaid.x and ctaid.y) stores its int32 accumulators
// to a workspace slice of its own, fences, and one thread adds 1 to the
// tile's u32 counter. All but the last block to arrive exit; the last
// reads the other S−1 slices (ld.global.cg: from L2, where the other
// SMs' stores are), adds them to its accumulators, sets the counter back
// to 0 (the counters are all zero again for the next step and the next
// launch) and runs the normal epilogue. The accumulators start at zero
// and bias' is added only in the epilogue, so no split adds it twice;
// int32 sums wrap, so the order in which the slices are added does not
// change a bit.
//
// Workspace: tile t = ctaid.y·nctaid.x + ctaid.x, split z owns slice
// t·S + z of SplitKSliceBytes bytes; in it accumulator group g (the four
// registers of one mma) of thread tid is 16 bytes at (g·Threads + tid)·16,
// so that each v4 store and load of a warp covers 512 consecutive bytes.
// The stores and loads are .cg (L2, where other SMs' accesses meet; the
// loads never .nc, whose cache may hold stale lines).

// splitKParams are the two parameters a SplitK kernel takes after the
// others: the workspace and the tile counters.
var splitKParams = []struct{ name, typ string }{{"p_ws", ".u64"}, {"p_cnt", ".u64"}}

// SplitKSliceBytes is the workspace one block of a split launch writes:
// its threads' int32 accumulators.
func (c GemmConfig) SplitKSliceBytes() int { return 4 * c.accCount() * c.Threads() }

// SplitKWorkspaceBytes is the workspace a launch of tiles tiles (blocks
// along x times along y) split s ways needs; 0 when s is 1, which writes
// none.
func (c GemmConfig) SplitKWorkspaceBytes(tiles, s int) int {
	if s <= 1 {
		return 0
	}
	return tiles * s * c.SplitKSliceBytes()
}

// SplitKUnits is the number of units a SplitK kernel divides over its
// splits, for a layer of kTiles K steps of 64 (KPad/64) and, for Halo, C
// input channels: a grid z above it leaves some splits empty.
func (c GemmConfig) SplitKUnits(kTiles, channels int) int {
	switch {
	case c.Halo:
		return channels / GemmBK
	case c.DoubleK:
		return (kTiles + 1) / 2
	}
	return kTiles
}

// kEnd is the register the K loop compares against: the end of the
// split's range, or KT (the Halo kernel's chunk count) without SplitK.
func (c GemmConfig) kEnd() string {
	switch {
	case c.SplitK:
		return "%kse"
	case c.Halo:
		return "%hCC"
	}
	return "%KT"
}

// emitSplitKDecls declares the SplitK registers.
func (c GemmConfig) emitSplitKDecls(b *builder) {
	declare(b, ".b32", "%ks0", "%kse", "%skz", "%skn", "%sks", "%skt")
	declare(b, ".b64", "%gsk", "%gcn")
}

// emitSplitRange computes the split's K range [%ks0, %kse) in K steps
// (Halo: chunks) and, for ConvStep, the running column at its start.
func (c GemmConfig) emitSplitRange(b *builder) {
	units := "%KT"
	switch {
	case c.Halo:
		units = "%hCC"
	case c.DoubleK:
		b.comment("DoubleK splits whole stages: ceil(KT/2) units of two steps")
		b.l("add.u32 %%sks, %%KT, 1;")
		b.l("shr.u32 %%sks, %%sks, 1;")
		units = "%sks"
	}
	b.comment("split-K: split z = ctaid.z of S = nctaid.z runs units [z*U/S, (z+1)*U/S)")
	b.l("mov.u32 %%skz, %%ctaid.z;")
	b.l("mov.u32 %%skn, %%nctaid.z;")
	b.l("mul.lo.u32 %%ks0, %%skz, %s;", units)
	b.l("div.u32 %%ks0, %%ks0, %%skn;")
	b.l("add.u32 %%kse, %%skz, 1;")
	b.l("mul.lo.u32 %%kse, %%kse, %s;", units)
	b.l("div.u32 %%kse, %%kse, %%skn;")
	if c.DoubleK {
		b.l("shl.b32 %%ks0, %%ks0, 1;")
		b.l("shl.b32 %%kse, %%kse, 1;")
		b.l("min.u32 %%kse, %%kse, %%KT;")
	}
	if c.ConvStep {
		b.comment("running column of the split's first tile: kk = 64*ks0 + kc16, tap (rr, ss), channel cc")
		b.l("shl.b32 %%kk, %%ks0, %d;", log2(GemmBK))
		b.l("add.u32 %%kk, %%kk, %%kc16;")
		b.l("div.u32 %%tap, %%kk, %%cC;")
		b.l("mul.lo.u32 %%cq, %%tap, %%cC;")
		b.l("sub.u32 %%cc, %%kk, %%cq;")
		b.l("div.u32 %%rr, %%tap, %%cKW;")
		b.l("mul.lo.u32 %%cq, %%rr, %%cKW;")
		b.l("sub.u32 %%ss, %%tap, %%cq;")
		b.l("mul.lo.u32 %%dr, %%rr, %%cDH;")
		b.l("mul.lo.u32 %%ds, %%ss, %%cDW;")
	}
}

// emitSplitSkipEmpty branches to done when the split's range is empty (a
// grid z above SplitKUnits): the block still takes part in the fix-up,
// with zero accumulators.
func (c GemmConfig) emitSplitSkipEmpty(b *builder, done string) {
	if !c.SplitK {
		return
	}
	b.l("setp.ge.u32 %%p0, %%ks0, %%kse;")
	b.l("@%%p0 bra.uni %s;", done)
}

// emitSplitFixup is the fix-up between the K loop and the epilogue (see
// the top of the file); blocks that are not the tile's last branch to
// exit, a label before the kernel's ret.
func (c GemmConfig) emitSplitFixup(b *builder, exit string) {
	done := b.label("skdone")
	n, t := c.accCount()/4, c.Threads()
	b.comment("split-K fix-up: nothing to do for S = 1")
	b.l("mov.u32 %%skn, %%nctaid.z;")
	b.l("setp.lt.u32 %%p0, %%skn, 2;")
	b.l("@%%p0 bra.uni %s;", done)
	b.l("ld.param.u64 %%gsk, [p_ws];")
	b.l("cvta.to.global.u64 %%gsk, %%gsk;")
	b.l("mov.u32 %%skz, %%ctaid.z;")
	b.comment("tile t = ctaid.y*nctaid.x + ctaid.x; the thread's 16 bytes in slice t*S + z")
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("mov.u32 %%tmp2, %%nctaid.x;")
	b.l("mov.u32 %%skt, %%ctaid.x;")
	b.l("mad.lo.u32 %%skt, %%tmp, %%tmp2, %%skt;")
	b.l("mad.lo.u32 %%tmp, %%skt, %%skn, %%skz;")
	b.l("mul.wide.u32 %%rk, %%tmp, %d;", c.SplitKSliceBytes())
	b.l("add.u64 %%addr, %%gsk, %%rk;")
	b.l("mul.wide.u32 %%rk, %%tidx, 16;")
	b.l("add.u64 %%addr, %%addr, %%rk;")
	b.comment("this split's accumulators to its slice: group g of thread tid at (g*%d + tid)*16", t)
	for g := 0; g < n; g++ {
		b.l("st.global.cg.v4.u32 [%%addr+%d], %s;", g*t*16, regList("%acc", 4*g, 4))
	}
	b.comment("publish the slice (each thread's fence, then the barrier), then count the block in: thread 0 adds 1")
	b.comment("to the tile's counter, a release of the block's slice and an acquire of the others' before it")
	b.l("fence.acq_rel.gpu;")
	b.l("bar.sync 0;")
	b.l("ld.param.u64 %%gcn, [p_cnt];")
	b.l("cvta.to.global.u64 %%gcn, %%gcn;")
	b.l("mul.wide.u32 %%rk, %%skt, 4;")
	b.l("add.u64 %%gcn, %%gcn, %%rk;")
	b.l("setp.eq.u32 %%p1, %%tidx, 0;")
	b.l("@%%p1 atom.acq_rel.gpu.global.add.u32 %%tmp, [%%gcn], 1;")
	b.l("@%%p1 st.shared.b32 [%%sbase], %%tmp;")
	b.l("bar.sync 0;")
	b.l("ld.shared.u32 %%tmp, [%%sbase];")
	b.l("sub.u32 %%tmp2, %%skn, 1;")
	b.l("setp.ne.u32 %%p0, %%tmp, %%tmp2;")
	b.comment("all but the tile's last block are done")
	b.l("@%%p0 bra.uni %s;", exit)
	b.comment("the last block: thread 0's acquire, then the barrier, then each thread's fence order its loads after the others' stores")
	b.l("fence.acq_rel.gpu;")
	b.l("@%%p1 st.global.u32 [%%gcn], 0;")
	b.comment("walk the tile's slices from slice t*S (the thread's bytes in it), skipping its own")
	b.l("mul.lo.u32 %%tmp, %%skz, %d;", c.SplitKSliceBytes())
	b.l("cvt.u64.u32 %%rk, %%tmp;")
	b.l("sub.u64 %%addr, %%addr, %%rk;")
	loop, next := b.label("skadd"), b.label("sknext")
	b.l("mov.u32 %%sks, 0;")
	b.raw("%s:", loop)
	b.l("setp.eq.u32 %%p0, %%sks, %%skz;")
	b.l("@%%p0 bra.uni %s;", next)
	for g := 0; g < n; g++ {
		b.l("ld.global.cg.v4.u32 {%%bf0, %%bf1, %%bf2, %%bf3}, [%%addr+%d];", g*t*16)
		for r := 0; r < 4; r++ {
			b.l("add.s32 %%acc%d, %%acc%d, %%bf%d;", 4*g+r, 4*g+r, r)
		}
	}
	b.raw("%s:", next)
	b.l("add.u64 %%addr, %%addr, %d;", c.SplitKSliceBytes())
	b.l("add.u32 %%sks, %%sks, 1;")
	b.l("setp.lt.u32 %%p0, %%sks, %%skn;")
	b.l("@%%p0 bra.uni %s;", loop)
	b.raw("%s:", done)
}
