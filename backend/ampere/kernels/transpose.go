package kernels

// The NHWC → NCHW copy of 32-bit elements (ToNCHW32Kernel), which the
// planner puts before a reader that takes rows of the logical tensor (the
// attention's batched MatMul): a block moves a 32-pixel × 32-channel tile
// of one image through shared memory, reading it along the channels (the
// NHWC rows: consecutive addresses, and for fewer than 32 channels the
// tile's 32 pixels are one contiguous run) and writing it along the pixels
// (the NCHW rows), so that both sides coalesce. The one-thread-an-element
// kernel it replaced wrote coalesced but read a warp's 32 elements C
// elements apart. A copy changes no bits.

// transposeTile is the tile's side; the tile's shared rows have one float
// of padding, so that the column reads hit 32 banks.
const transposeTile = 32

// TransposeThreads is ToNCHW32Kernel's block size: 32 × 8 threads, four
// elements each.
const TransposeThreads = 256

// TransposeTiles is the number of blocks ToNCHW32Kernel takes for one
// image of c channels and hw pixels.
func TransposeTiles(c, hw int64) int64 {
	return ((c + transposeTile - 1) / transposeTile) * ((hw + transposeTile - 1) / transposeTile)
}

// toNCHW32TiledPTX returns the module text of ToNCHW32Kernel: parameters
// x, y, total (the launch's tiles: TransposeTiles a sample), C, HW; 256
// threads, each copying 4 elements of the tile.
func toNCHW32TiledPTX() string {
	var b builder
	b.header()
	b.opEntry(ToNCHW32Kernel, OpParams[ToNCHW32Kernel], 2)
	b.raw("\t.shared .align 16 .b8 smem_x[%d];", transposeTile*(transposeTile+1)*4)
	declare(&b, ".pred", "%p<4>")
	declare(&b, ".b32", "%r<32>", "%v<4>")
	declare(&b, ".b64", "%rd<8>")
	b.comment("x y in %%rd0, %%rd1; total (tiles) C HW in %%r0..%%r2")
	b.loadParams(2, 3)
	b.blockIndex(3)
	b.comment("tile = (n*tilesHW + th)*tilesC + tc: first channel c0 in r8, first pixel h0 in r9, image n in r10")
	b.l("add.u32 %%r4, %%r1, %d;", transposeTile-1)
	b.l("shr.u32 %%r4, %%r4, 5;") // tilesC
	b.l("add.u32 %%r5, %%r2, %d;", transposeTile-1)
	b.l("shr.u32 %%r5, %%r5, 5;") // tilesHW
	b.l("rem.u32 %%r8, %%r3, %%r4;")
	b.l("div.u32 %%r6, %%r3, %%r4;")
	b.l("rem.u32 %%r9, %%r6, %%r5;")
	b.l("div.u32 %%r10, %%r6, %%r5;")
	b.l("shl.b32 %%r8, %%r8, 5;")
	b.l("shl.b32 %%r9, %%r9, 5;")
	b.l("mov.u32 %%r11, %%tid.x;")
	b.l("and.b32 %%r12, %%r11, 31;") // tx
	b.l("shr.u32 %%r13, %%r11, 5;")  // ty
	b.l("mov.u64 %%rd2, smem_x;")
	b.l("cvt.u32.u64 %%r14, %%rd2;")
	b.comment("read: pixel h0 + ty + 8i, channel c0 + tx, to tile[ty + 8i][tx]")
	b.l("add.u32 %%r15, %%r8, %%r12;")
	b.l("setp.lt.u32 %%p1, %%r15, %%r1;")
	b.l("mad.lo.u32 %%r16, %%r10, %%r2, %%r9;") // n*HW + h0
	b.l("add.u32 %%r16, %%r16, %%r13;")
	b.l("mad.lo.u32 %%r17, %%r13, %d, %%r12;", transposeTile+1)
	b.l("shl.b32 %%r17, %%r17, 2;")
	b.l("add.u32 %%r17, %%r17, %%r14;")
	b.l("add.u32 %%r18, %%r9, %%r13;") // the pixel within the image
	for i := 0; i < 4; i++ {
		b.l("mov.b32 %%v%d, 0;", i)
		b.l("setp.lt.u32 %%p2, %%r18, %%r2;")
		b.l("and.pred %%p2, %%p2, %%p1;")
		b.l("mad.lo.u32 %%r19, %%r16, %%r1, %%r15;")
		b.l("mul.wide.u32 %%rd3, %%r19, 4;")
		b.l("add.s64 %%rd3, %%rd0, %%rd3;")
		b.l("@%%p2 ld.global.b32 %%v%d, [%%rd3];", i)
		b.l("st.shared.b32 [%%r17+%d], %%v%d;", 4*8*(transposeTile+1)*i, i)
		b.l("add.u32 %%r16, %%r16, 8;")
		b.l("add.u32 %%r18, %%r18, 8;")
	}
	b.l("bar.sync 0;")
	b.comment("write: channel c0 + ty + 8i, pixel h0 + tx, from tile[tx][ty + 8i]")
	b.l("add.u32 %%r15, %%r9, %%r12;")
	b.l("setp.lt.u32 %%p1, %%r15, %%r2;")
	b.l("mad.lo.u32 %%r16, %%r10, %%r1, %%r8;") // n*C + c0
	b.l("add.u32 %%r16, %%r16, %%r13;")
	b.l("mad.lo.u32 %%r17, %%r12, %d, %%r13;", transposeTile+1)
	b.l("shl.b32 %%r17, %%r17, 2;")
	b.l("add.u32 %%r17, %%r17, %%r14;")
	b.l("add.u32 %%r18, %%r8, %%r13;") // the channel
	for i := 0; i < 4; i++ {
		b.l("ld.shared.u32 %%v%d, [%%r17+%d];", i, 4*8*i)
		b.l("setp.lt.u32 %%p2, %%r18, %%r1;")
		b.l("and.pred %%p2, %%p2, %%p1;")
		b.l("mad.lo.u32 %%r19, %%r16, %%r2, %%r15;")
		b.l("mul.wide.u32 %%rd3, %%r19, 4;")
		b.l("add.s64 %%rd3, %%rd1, %%rd3;")
		b.l("@%%p2 st.global.b32 [%%rd3], %%v%d;", i)
		b.l("add.u32 %%r16, %%r16, 8;")
		b.l("add.u32 %%r18, %%r18, 8;")
	}
	b.raw("$L_done:")
	b.l("ret;")
	b.raw("}")
	return b.String()
}
