package kernels

// Split-K (GemmConfig.SplitK).
//
// At batch 1 a ResNet layer's GEMM has a handful of blocks for a GPU of
// a hundred SMs or more, and each block walks the whole K. A SplitK
// kernel divides the K loop over the launch's grid z: of S = %nctaid.z
// splits, split z = %ctaid.z runs the K units [z·U/S, (z+1)·U/S) of the
// U the layer has (K steps of 64; DoubleK: its stages of two steps; Halo:
// 64-channel chunks, each with its nine taps; HaloRows: a chunk's three
// kernel rows, each with its three taps). With S = 1 the kernel
// walks all of K and branches past the fix-up (a uniform branch), doing
// what the kernel without SplitK does.
//
// The fix-up, in the same launch: after its K range each block of a tile
// (the blocks sharing ctaid.x and ctaid.y) adds its int32 accumulators
// into the tile's workspace slice with red.global.add (L2's atomic
// units do the sums: no block waits for another's partial sums, and the
// tile's last block reads one slice instead of S−1), fences, and one
// thread adds 1 to the tile's u32 counter. All but the last block to
// arrive exit; the last reads the slice (ld.global.cg: from L2, where
// the reductions happened), which is then the sum of every split's
// products, stores zeros over it and sets the counter back to 0 (slices
// and counters are all zero again for the next step and the next
// launch: the runtime zeroes them once, at Open) and runs the normal
// epilogue. The accumulators start at zero and bias' is added only in
// the epilogue, so no split adds it twice; int32 sums wrap, so the order
// in which L2 adds the splits' products does not change a bit.
//
// A first version stored each split's accumulators to a slice of its
// own and had the last block read the other S−1 back one after another:
// on the H100 at batch 1 that fix-up cost about 4 µs at S = 8 (layer4 of
// ResNet-34: 11.7 µs a launch against 7–8 expected from the K loop).
//
// Workspace: tile t = ctaid.y·nctaid.x + ctaid.x owns slice t of
// SplitKSliceBytes bytes; in it accumulator group g (the four registers
// of one mma) of thread tid is 16 bytes at (g·Threads + tid)·16, so that
// a warp's reductions of one register and each v4 load and store of the
// last block cover consecutive bytes. The loads are .cg (L2), never .nc,
// whose cache may hold stale lines.

// splitKParams are the two parameters a SplitK kernel takes after the
// others: the workspace and the tile counters.
var splitKParams = []struct{ name, typ string }{{"p_ws", ".u64"}, {"p_cnt", ".u64"}}

// SplitKSliceBytes is the workspace one block of a split launch writes:
// its threads' int32 accumulators.
func (c GemmConfig) SplitKSliceBytes() int { return 4 * c.accCount() * c.Threads() }

// SplitKWorkspaceBytes is the workspace a launch of tiles tiles (blocks
// along x times along y) split s ways needs, zeroed before the first
// launch: one slice a tile; 0 when s is 1, which uses none.
func (c GemmConfig) SplitKWorkspaceBytes(tiles, s int) int {
	if s <= 1 {
		return 0
	}
	return tiles * c.SplitKSliceBytes()
}

// SplitKUnits is the number of units a SplitK kernel divides over its
// splits, for a layer of kTiles K steps of 64 (KPad/64) and, for Halo, C
// input channels: a grid z above it leaves some splits empty.
func (c GemmConfig) SplitKUnits(kTiles, channels int) int {
	switch {
	case c.Halo && c.HaloRows:
		return haloTapRows * channels / GemmBK
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
	case c.Halo && c.HaloRows:
		b.comment("HaloRows: %d tap rows of each chunk, %d*CC units", haloTapRows, haloTapRows)
		b.l("mul.lo.u32 %%sks, %%hCC, %d;", haloTapRows)
		units = "%sks"
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
		emitColumnTap(b)
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
	b.comment("tile t = ctaid.y*nctaid.x + ctaid.x; the thread's 16 bytes of group 0 in slice t")
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("mov.u32 %%tmp2, %%nctaid.x;")
	b.l("mov.u32 %%skt, %%ctaid.x;")
	b.l("mad.lo.u32 %%skt, %%tmp, %%tmp2, %%skt;")
	b.l("mul.wide.u32 %%rk, %%skt, %d;", c.SplitKSliceBytes())
	b.l("add.u64 %%addr, %%gsk, %%rk;")
	b.l("mul.wide.u32 %%rk, %%tidx, 16;")
	b.l("add.u64 %%addr, %%addr, %%rk;")
	b.comment("this split's products into the tile's slice: group g of thread tid at (g*%d + tid)*16", t)
	for g := 0; g < n; g++ {
		for r := 0; r < 4; r++ {
			b.l("red.relaxed.gpu.global.add.s32 [%%addr+%d], %%acc%d;", g*t*16+4*r, 4*g+r)
		}
	}
	b.comment("publish the sums (each thread's fence, then the barrier), then count the block in: thread 0 adds 1")
	b.comment("to the tile's counter, a release of the block's sums and an acquire of the others' before it")
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
	b.comment("the last block: thread 0's acquire, then the barrier, then each thread's fence order its loads after the others' sums")
	b.l("fence.acq_rel.gpu;")
	b.l("@%%p1 st.global.u32 [%%gcn], 0;")
	b.comment("the slice holds every split's sum: the accumulators; zeros back for the next launch")
	for g := 0; g < n; g++ {
		b.l("ld.global.cg.v4.u32 %s, [%%addr+%d];", regList("%acc", 4*g, 4), g*t*16)
	}
	b.l("mov.b32 %%tmp, 0;")
	for g := 0; g < n; g++ {
		b.l("st.global.cg.v4.u32 [%%addr+%d], {%%tmp, %%tmp, %%tmp, %%tmp};", g*t*16)
	}
	b.raw("%s:", done)
}
