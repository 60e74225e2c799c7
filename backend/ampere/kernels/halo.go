package kernels

import "fmt"

// Halo-tile convolution (GemmConfig.Halo).
//
// The implicit-GEMM kernel (conv.go) copies each input pixel into shared
// memory once for every tap of the kernel that reads it: nine times for a
// 3×3 convolution, so its traffic from L2 is mostly activations, which 2:4
// weights do not shrink. The halo kernel, for 3×3 stride-1 convolutions
// with pad 1, dilation 1 and C a multiple of 64 (ResNet's body
// convolutions), copies each input pixel about 1.6 times instead:
//
//   - A block computes two output patches of 8×8 pixels (128 GEMM rows),
//     patch slots g = 2·blockIdx.x and g + 1 of the batch's N·P patches
//     (P = ⌈OH/8⌉·⌈OW/8⌉ a image; a slot past N·P computes nothing that is
//     stored). Warp row wm owns slot wm: its pixel tile j (8 pixels) is
//     row j of the patch.
//   - The K loop goes chunk by chunk (64 input channels), and inside a
//     chunk tap by tap (nine K steps, unrolled). At the chunk's first step
//     the block copies the two patches' 10×10 input halos (200 pixels × 64
//     bytes) into one of two halo buffers; halo pixels outside the image
//     (or of a slot past the batch) get the input zero point, as the other
//     conv kernels' padding taps do. Tap (r, s)'s B fragments then come
//     from the halo with ldmatrix: lane l gives the address of halo pixel
//     (row j + r, column (l&7) + s), 16-byte chunk l>>3, of its warp's
//     slot.
//   - Weights are the packed [N][(kh, kw, c)] tiles as for the other conv
//     kernels; step (chunk c, tap t) reads K tile t·C/64 + c. Each step's
//     commit group holds its weight tiles (a ring of Stages stages, as
//     SharedWeights) and, at a chunk's first tap, the chunk's halo. A load
//     runs Stages−1 steps ahead, so the next chunk's halo is written once
//     every warp has passed the previous chunk's last step (Stages ≤ 10).
//   - Halo layout: pixel hp = 100·slot + 10·row + col at 64·hp, its four
//     16-byte chunks XOR-swizzled by (col>>1)&3. The eight pixels an
//     ldmatrix matrix reads are eight consecutive columns of one halo row;
//     since the row and slot pitches (10, 100) are even, their bank
//     positions 64·(col&1) + 16·(chunk ^ (col>>1)&3) depend on col mod 8
//     only and are all distinct: no bank conflicts, for every tap.
//   - Output: pixel (row, col) of slot g is GEMM row (n·OH + oy + row)·OW
//     + ox + col, stored where oy + row < OH and ox + col < OW (ragged
//     patches at the right and bottom edges) and g < N·P.
//   - Halo7: patches of 7 rows × 8 columns (P = ⌈OH/7⌉·⌈OW/8⌉, first row
//     7·py), halos of 9×10 pixels at a slot pitch of 90 (even: the
//     swizzle stays conflict-free). Pixel tile 7 is no patch row: no
//     fragments, no products, and no store (the direct epilogue skips it;
//     the staged ones bound the row by min(oy + 7, OH), %hrl). ResNet's
//     14×14, 7×7 and 28×28 images take as many patches as with 8 rows,
//     each 7/8 of the Tensor Core work.
//
// The Go model of the addressing (haloSlot, haloCopy, haloReadAddr,
// haloOutRow) is what the emitters below compute, register for register;
// TestHaloModel checks it against a direct im2col.

// Halo tile geometry.
const (
	haloPatch = 8                                // output patch side (columns; rows without Halo7)
	haloSlots = GemmBM / (haloPatch * haloPatch) // patches a block
	haloSide  = haloPatch + 2                    // halo columns, the halo's row pitch (3×3 kernel)
	// haloTapRows is the number of kernel rows of a chunk, the units a
	// HaloRows kernel splits it into.
	haloTapRows = 3
	// HaloSlots is the number of output patches a Halo block computes:
	// launch GemmConfig.HaloBlocks blocks along x.
	HaloSlots = haloSlots
)

// HaloPatchRows is the output rows of the halo kernel's patches: 8, or
// 7 with Halo7 (each 8 columns wide).
func (c GemmConfig) HaloPatchRows() int {
	if c.Halo7 {
		return haloPatch - 1
	}
	return haloPatch
}

// haloPix is the number of halo pixels a patch: (rows + 2) × 10, the slot
// pitch (100, or 90 with Halo7: even either way, which keeps the swizzle
// conflict-free).
func (c GemmConfig) haloPix() int { return (c.HaloPatchRows() + 2) * haloSide }

// haloCopies is the number of 16-byte copies of a chunk's halo.
func (c GemmConfig) haloCopies() int { return haloSlots * c.haloPix() * GemmBK / 16 }

// haloBufBytes is one halo buffer: both patches' halos, 64 channels.
func (c GemmConfig) haloBufBytes() int { return haloSlots * c.haloPix() * GemmBK }

// haloTiles is the number of pixel tiles (patch rows) a warp computes:
// with Halo7 its tile 7 has no products and stores nothing.
func (c GemmConfig) haloTiles() int {
	if c.Halo {
		return c.HaloPatchRows()
	}
	return c.pixelTiles()
}

// HaloPatches is the number of output patches (HaloPatchRows × 8) of an
// image of geometry s.
func (c GemmConfig) HaloPatches(s ConvShape) int {
	r := c.HaloPatchRows()
	return (s.OH + r - 1) / r * ((s.OW + haloPatch - 1) / haloPatch)
}

// HaloBlocks is the grid's x size for n images of geometry s.
func (c GemmConfig) HaloBlocks(s ConvShape, n int) int {
	return (n*c.HaloPatches(s) + haloSlots - 1) / haloSlots
}

// SupportsHalo reports whether the halo kernel runs a convolution: 3×3,
// stride 1, pad 1, dilation 1, C a multiple of 64.
func SupportsHalo(s ConvShape) bool { return s.haloShapeCheck() == nil }

func (s ConvShape) haloShapeCheck() error {
	switch {
	case s.C <= 0 || s.C%GemmBK != 0:
		return fmt.Errorf("%d input channels, the halo kernel wants a positive multiple of %d", s.C, GemmBK)
	case s.KH != 3 || s.KW != 3 || s.SH != 1 || s.SW != 1 || s.PH != 1 || s.PW != 1 || s.DH != 1 || s.DW != 1:
		return fmt.Errorf("kernel %dx%d, strides %d,%d, pads %d,%d, dilations %d,%d: the halo kernel wants 3x3, stride 1, pad 1, dilation 1",
			s.KH, s.KW, s.SH, s.SW, s.PH, s.PW, s.DH, s.DW)
	case s.OH != s.H || s.OW != s.W:
		return fmt.Errorf("output %dx%d, the halo kernel wants the input's size %dx%d (pad 1 at both ends)", s.OH, s.OW, s.H, s.W)
	}
	return nil
}

// haloCheck validates the geometry and the GEMM's M (whole images).
func (s ConvShape) haloCheck(m int) error {
	if err := s.haloShapeCheck(); err != nil {
		return err
	}
	if ohw := s.OH * s.OW; ohw <= 0 || m%ohw != 0 {
		return fmt.Errorf("the GEMM's M is %d rows, the halo kernel wants whole images of %dx%d pixels", m, s.OH, s.OW)
	}
	return nil
}

// validateHalo checks a Halo configuration.
func (c GemmConfig) validateHalo() error {
	switch {
	case c.HaloRows && !c.Halo:
		return fmt.Errorf("gemm %s: HaloRows splits the halo kernel's chunks, want Halo", c.Name())
	case c.Halo7 && !c.Halo:
		return fmt.Errorf("gemm %s: Halo7 shapes the halo kernel's patches, want Halo", c.Name())
	case !c.Halo:
		return nil
	case !c.Conv || c.ConvPiece != 0 || c.ConvStep:
		return fmt.Errorf("gemm %s: Halo is a Conv kernel of 16-byte chunks, without ConvPiece or ConvStep", c.Name())
	case !c.SharedWeights:
		return fmt.Errorf("gemm %s: Halo stages its weights through shared memory, want SharedWeights", c.Name())
	case c.SplitM || c.LateCopy || c.DoubleK:
		return fmt.Errorf("gemm %s: Halo has its own K loop, without SplitM, LateCopy or DoubleK", c.Name())
	case c.stages() > c.haloUnitTaps()+1:
		return fmt.Errorf("gemm %s: %d stages, Halo wants at most %d (the next unit's halo overwrites the buffer of the unit before, free once a load runs at most %d steps ahead)",
			c.Name(), c.stages(), c.haloUnitTaps()+1, c.haloUnitTaps())
	case c.HaloRows && !c.SplitK:
		return fmt.Errorf("gemm %s: HaloRows splits a chunk's taps over split-K's splits, want SplitK", c.Name())
	}
	return nil
}

// haloUnitTaps is the number of taps (K steps) of one unit of the halo
// kernel's K loop: a chunk's nine, or HaloRows' three of one kernel row.
func (c GemmConfig) haloUnitTaps() int {
	if c.HaloRows {
		return 3
	}
	return 9
}

// haloSlot is the model of a patch slot's placement: slot g of np = N·P
// slots is image n's patch with first output row oy and column ox; ok is
// false past the batch (the slot then reads image 0's first patch and
// stores nothing).
func (c GemmConfig) haloSlot(s ConvShape, g, np uint32) (n, oy, ox uint32, ok bool) {
	rows := uint32(c.HaloPatchRows())
	px := (uint32(s.OW) + 7) >> 3
	p := (uint32(s.OH) + rows - 1) / rows * px
	ok = g < np
	if !ok {
		g = 0
	}
	n = g / p
	pos := g - n*p
	oy = pos / px
	ox = pos - oy*px
	return n, oy * rows, ox << 3, ok
}

// haloCopy is the model of copy q (0 ≤ q < haloCopies; thread tid copies
// q = tid + threads·i) of a chunk's halo load in block blk of a batch of
// nimg images: its byte offset in the halo buffer, the NHWC pixel index
// (batch-major) it copies from, and whether it copies (else it stores the
// zero point).
func (c GemmConfig) haloCopy(s ConvShape, blk, nimg, q int) (dst int, pix uint32, copies bool) {
	hp := uint32(q) >> 2
	ch := uint32(q) & 3
	slot, rem := uint32(0), hp
	if hpx := uint32(c.haloPix()); hp >= hpx {
		slot, rem = 1, hp-hpx
	}
	hr := rem / haloSide
	hc := rem - hr*haloSide
	n, oy, ox, ok := c.haloSlot(s, 2*uint32(blk)+slot, uint32(nimg*c.HaloPatches(s)))
	ih := oy - 1 + hr // wraps below 0 and fails the unsigned test
	iw := ox - 1 + hc
	copies = ok && ih < uint32(s.H) && iw < uint32(s.W)
	pix = (n*uint32(s.H)+ih)*uint32(s.W) + iw
	dst = int(hp*64 + 16*(ch^(hc>>1&3)))
	return dst, pix, copies
}

// haloReadAddr is the model of ldmatrix's row address (a byte offset in
// the halo buffer) of lane for warp row wm, pixel tile j and tap (r, sx):
// halo pixel (row j + r, column (lane&7) + sx) of slot wm, 16-byte chunk
// lane>>3.
func (c GemmConfig) haloReadAddr(wm, j, lane, r, sx int) int {
	col := lane&7 + sx
	ch := lane >> 3
	return wm*c.haloPix()*64 + (j+r)*haloSide*64 + col*64 + 16*(ch^(col>>1&3))
}

// haloFragment is where emitProducts reads pixel tile j's B fragment for
// tap 3r + s: register %ha<s> holds the lane's address of tile 0, tap
// (0, s) in the current halo buffer (haloReadAddr's terms in wm, lane and
// s), and the row j + r is a constant offset.
func haloFragment(j, tap int) (reg string, off int) {
	return fmt.Sprintf("%%ha%d", tap%3), (j + tap/3) * haloSide * 64
}

// haloOutRow is the model of the epilogue's output row: local pixel p (0
// ≤ p < 128: warp row p>>6, patch row p>>3&7, column p&7) of block blk in
// a batch of nimg images is GEMM row m, stored if ok: inside the image,
// the batch and (Halo7: row 7 is no patch row) the patch.
func (c GemmConfig) haloOutRow(s ConvShape, blk, nimg, p int) (m uint32, ok bool) {
	n, oy, ox, sv := c.haloSlot(s, 2*uint32(blk)+uint32(p>>6), uint32(nimg*c.HaloPatches(s)))
	row, col := uint32(p>>3&7), uint32(p&7)
	m = (n*uint32(s.OH)+oy)*uint32(s.OW) + ox + row*uint32(s.OW) + col
	return m, sv && row < uint32(c.HaloPatchRows()) && oy+row < uint32(s.OH) && ox+col < uint32(s.OW)
}

// haloCopiesPerThread is the number of halo copies a thread issues a
// chunk (the last predicated on q < haloCopies).
func (c GemmConfig) haloCopiesPerThread() int {
	return (c.haloCopies() + c.Threads() - 1) / c.Threads()
}

// haloCopyEveryThread reports whether every thread has a copy i (q =
// tid + Threads·i < haloCopies for every tid): its zero-point store is
// then predicated on the copy's predicate negated, and only the last
// copies keep a predicate of their own (%hz*), fewer live predicates.
func (c GemmConfig) haloCopyEveryThread(i int) bool { return c.Threads()*(i+1) <= c.haloCopies() }

// emitHaloDecls declares the Halo kernel's registers.
func (c GemmConfig) emitHaloDecls(b *builder) {
	n := c.haloCopiesPerThread()
	declare(b, ".b32", "%hCC", "%hPX", "%hP", "%hNP", "%hg", "%hn", "%hoy", "%hox", "%hq", "%hp", "%hr", "%hc",
		"%sn<2>", "%soy<2>", "%sox<2>", "%ssv<2>", fmt.Sprintf("%%hpix<%d>", n), fmt.Sprintf("%%hdst<%d>", n),
		"%ha<3>", "%hah", "%hcc", "%hcn", "%hcur", "%hbn", "%hm0", "%hrb", "%hcb")
	if c.Halo7 {
		declare(b, ".b32", "%hrl")
	}
	if c.HaloRows {
		declare(b, ".b32", "%hch", "%hkb", "%hrow", "%hnch", "%hnkb", "%hnrow")
	}
	declare(b, ".pred", "%hsv", "%hpe", "%pnx", fmt.Sprintf("%%hv<%d>", n), fmt.Sprintf("%%hz<%d>", n))
}

// emitHaloSlot computes haloSlot for the slot index in register g:
// %hn, %hoy, %hox and %hsv (ok). Needs %hP, %hPX, %hNP.
func (c GemmConfig) emitHaloSlot(b *builder, g string) {
	b.l("setp.lt.u32 %%hsv, %s, %%hNP;", g)
	b.l("selp.b32 %%hg, %s, 0, %%hsv;", g)
	b.l("div.u32 %%hn, %%hg, %%hP;")
	b.l("mul.lo.u32 %%hq, %%hn, %%hP;")
	b.l("sub.u32 %%hg, %%hg, %%hq;")
	b.l("div.u32 %%hoy, %%hg, %%hPX;")
	b.l("mul.lo.u32 %%hq, %%hoy, %%hPX;")
	b.l("sub.u32 %%hox, %%hg, %%hq;")
	if c.Halo7 {
		b.l("mul.lo.u32 %%hoy, %%hoy, %d;", c.HaloPatchRows())
	} else {
		b.l("shl.b32 %%hoy, %%hoy, 3;")
	}
	b.l("shl.b32 %%hox, %%hox, 3;")
}

// emitHaloSetup reads the geometry and computes, once a block, each
// thread's halo copies (haloCopy: %hpix*, %hdst* with the shared base,
// %hv* copy, else a zero-point store; %hz* that store for the copies not
// every thread has, haloCopyEveryThread) and each lane's fragment
// addresses for the three tap columns in halo buffer 0 (%ha*,
// haloReadAddr without j and r; the K loop moves them to the buffer of the
// chunk it reads).
func (c GemmConfig) emitHaloSetup(b *builder) {
	emitConvParams(b)
	r := c.HaloPatchRows()
	b.comment("halo tiles: %d %dx8 patches a block, P = ceil(OH/%d)*ceil(OW/8) a image, N*P in all", haloSlots, r, r)
	b.l("shr.u32 %%hCC, %%cC, %d;", log2(GemmBK))
	b.l("add.u32 %%hPX, %%cOW, 7;")
	b.l("shr.u32 %%hPX, %%hPX, 3;")
	b.l("add.u32 %%hP, %%cOH, %d;", r-1)
	if c.Halo7 {
		b.l("div.u32 %%hP, %%hP, %d;", r)
	} else {
		b.l("shr.u32 %%hP, %%hP, 3;")
	}
	b.l("mul.lo.u32 %%hP, %%hP, %%hPX;")
	b.l("div.u32 %%hNP, %%M, %%ohw;")
	b.l("mul.lo.u32 %%hNP, %%hNP, %%hP;")
	for sl := 0; sl < haloSlots; sl++ {
		b.comment("slot %d: n*H, first input row and column of its halo (oy-1, ox-1: -1 wraps), valid", sl)
		b.l("mov.u32 %%tmp, %%ctaid.x;")
		b.l("shl.b32 %%tmp, %%tmp, 1;")
		b.l("add.u32 %%tmp, %%tmp, %d;", sl)
		c.emitHaloSlot(b, "%tmp")
		b.l("mul.lo.u32 %%sn%d, %%hn, %%cH;", sl)
		b.l("sub.u32 %%soy%d, %%hoy, 1;", sl)
		b.l("sub.u32 %%sox%d, %%hox, 1;", sl)
		b.l("selp.b32 %%ssv%d, 1, 0, %%hsv;", sl)
	}
	b.comment("the thread's halo copies q = tid + %d*i: pixel hp = q>>2 (slot, row, col), 16-byte chunk q&3 (= kc16/16)", c.Threads())
	for i := 0; i < c.haloCopiesPerThread(); i++ {
		b.l("add.u32 %%q, %%tidx, %d;", c.Threads()*i)
		b.l("setp.lt.u32 %%hpe, %%q, %d;", c.haloCopies())
		b.l("shr.u32 %%hp, %%q, 2;")
		b.l("setp.ge.u32 %%pin, %%hp, %d;", c.haloPix())
		b.l("selp.b32 %%tmp, %d, 0, %%pin;", c.haloPix())
		b.l("sub.u32 %%hc, %%hp, %%tmp;")
		b.l("div.u32 %%hr, %%hc, %d;", haloSide)
		b.l("mul.lo.u32 %%tmp, %%hr, %d;", haloSide)
		b.l("sub.u32 %%hc, %%hc, %%tmp;")
		b.l("selp.b32 %%tmp, %%soy1, %%soy0, %%pin;")
		b.l("add.u32 %%hr, %%hr, %%tmp;")
		b.l("selp.b32 %%tmp, %%sox1, %%sox0, %%pin;")
		b.l("add.u32 %%tmp2, %%hc, %%tmp;")
		if c.haloCopyEveryThread(i) {
			b.l("setp.lt.u32 %%hv%d, %%hr, %%cH;", i)
		} else {
			b.l("setp.lt.u32 %%pin2, %%hr, %%cH;")
			b.l("and.pred %%hv%d, %%hpe, %%pin2;", i)
		}
		b.l("setp.lt.u32 %%pin2, %%tmp2, %%cW;")
		b.l("and.pred %%hv%d, %%hv%d, %%pin2;", i, i)
		b.l("selp.b32 %%tmp, %%ssv1, %%ssv0, %%pin;")
		b.l("setp.ne.u32 %%pin2, %%tmp, 0;")
		b.l("and.pred %%hv%d, %%hv%d, %%pin2;", i, i)
		if !c.haloCopyEveryThread(i) {
			b.l("not.pred %%pin2, %%hv%d;", i)
			b.l("and.pred %%hz%d, %%pin2, %%hpe;", i)
		}
		b.l("selp.b32 %%tmp, %%sn1, %%sn0, %%pin;")
		b.l("add.u32 %%tmp, %%tmp, %%hr;")
		b.l("mad.lo.u32 %%hpix%d, %%tmp, %%cW, %%tmp2;", i)
		b.l("and.b32 %%tmp, %%q, 3;")
		b.l("shr.u32 %%tmp2, %%hc, 1;")
		b.l("and.b32 %%tmp2, %%tmp2, 3;")
		b.l("xor.b32 %%tmp, %%tmp, %%tmp2;")
		b.l("shl.b32 %%tmp, %%tmp, 4;")
		b.l("shl.b32 %%hdst%d, %%hp, 6;", i)
		b.l("add.u32 %%hdst%d, %%hdst%d, %%tmp;", i, i)
		b.l("add.u32 %%hdst%d, %%hdst%d, %%sbase;", i, i)
	}
	b.comment("fragment rows: lane reads halo column (lane&7) + s, chunk lane>>3, of slot wm (tile 0, kernel row 0)")
	b.l("and.b32 %%hc, %%ln, 7;")
	b.l("shr.u32 %%hr, %%ln, 3;")
	b.l("mul.lo.u32 %%hp, %%wm, %d;", c.haloPix()*GemmBK)
	b.l("add.u32 %%hp, %%hp, %%sbase;")
	for sx := 0; sx < 3; sx++ {
		b.l("add.u32 %%tmp, %%hc, %d;", sx)
		b.l("shr.u32 %%tmp2, %%tmp, 1;")
		b.l("and.b32 %%tmp2, %%tmp2, 3;")
		b.l("xor.b32 %%tmp2, %%tmp2, %%hr;")
		b.l("shl.b32 %%tmp2, %%tmp2, 4;")
		b.l("shl.b32 %%tmp, %%tmp, 6;")
		b.l("add.u32 %%tmp, %%tmp, %%tmp2;")
		b.l("add.u32 %%ha%d, %%tmp, %%hp;", sx)
	}
}

// emitHaloLoad copies the halo of chunk (register) into the halo buffer
// at offset buf (0 or haloBufBytes): per copy one 16-byte cp.async of
// channels 64·chunk + kc16 … +15, or a zero-point store.
func (c GemmConfig) emitHaloLoad(b *builder, chunk, buf string) {
	b.comment("halo of chunk %s into buffer %s", chunk, buf)
	b.l("shl.b32 %%tmp, %s, %d;", chunk, log2(GemmBK))
	b.l("add.u32 %%tmp, %%tmp, %%kc16;")
	b.l("cvt.u64.u32 %%cco, %%tmp;")
	for i := 0; i < c.haloCopiesPerThread(); i++ {
		b.l("mul.wide.u32 %%crk, %%hpix%d, %%cC;", i)
		b.l("add.u64 %%csrc, %%gx, %%crk;")
		b.l("add.u64 %%csrc, %%csrc, %%cco;")
		b.l("add.u32 %%cst, %%hdst%d, %s;", i, buf)
		b.l("@%%hv%d cp.async.cg.shared.global [%%cst], [%%csrc], 16;", i)
		if c.haloCopyEveryThread(i) {
			b.l("@!%%hv%d st.shared.v4.b32 [%%cst], {%%zx4, %%zx4, %%zx4, %%zx4};", i)
		} else {
			b.l("@%%hz%d st.shared.v4.b32 [%%cst], {%%zx4, %%zx4, %%zx4, %%zx4};", i)
		}
	}
}

// emitHaloWeights copies the weight tiles of step (chunk, tap) into the
// stage at %wst: K tile tap·C/64 + chunk.
func (c GemmConfig) emitHaloWeights(b *builder, chunk string, tap int) {
	if tap == 0 {
		b.l("mov.u32 %%ktn, %s;", chunk)
	} else {
		b.l("mul.lo.u32 %%ktn, %%hCC, %d;", tap)
		b.l("add.u32 %%ktn, %%ktn, %s;", chunk)
	}
	c.emitSharedWeightLoad(b, "%ktn")
}

// emitHaloUnit computes, for the HaloRows unit in register u, its chunk
// (u mod CC), its kernel row (u / CC) and the K tile of its first tap
// (tap 3·row: 3·row·CC + chunk), into the registers named.
func emitHaloUnit(b *builder, u, chunk, row, kbase string) {
	b.l("div.u32 %s, %s, %%hCC;", row, u)
	b.l("mul.lo.u32 %%tmp, %s, %%hCC;", row)
	b.l("sub.u32 %s, %s, %%tmp;", chunk, u)
	b.l("mul.lo.u32 %%tmp, %%tmp, %d;", haloTapRows)
	b.l("add.u32 %s, %%tmp, %s;", kbase, chunk)
}

// emitHaloLoop is the Halo kernel's K loop, unit by unit: chunks of 64
// channels, each nine steps (taps) unrolled; with HaloRows a chunk's
// kernel rows, each three steps, the fragment addresses (%ha*) moved to
// the unit's row and the weight tiles counted from its first tap's.
func (c GemmConfig) emitHaloLoop(b *builder) {
	S, sb, T := c.stages(), c.stageBytes(), c.haloUnitTaps()
	// The registers a unit's halo load and weight tiles take: the chunk
	// and the K tile of the unit's first tap, both the chunk itself for
	// whole chunks.
	cur, curK, next, nextK := "%hcc", "%hcc", "%hcn", "%hcn"
	if c.HaloRows {
		cur, curK, next, nextK = "%hch", "%hkb", "%hnch", "%hnkb"
	}
	unit := "chunk"
	if c.HaloRows {
		unit = "unit"
	}
	b.comment("prologue: steps (%s 0, tap 0..%d), %s 0's halo with tap 0; one commit group each", unit, S-2, unit)
	if c.SplitK {
		b.l("mov.u32 %%hcc, %%ks0;")
	} else {
		b.l("mov.u32 %%hcc, 0;")
	}
	if c.HaloRows {
		b.comment("unit hcc: chunk hch, kernel row hrow (its taps read halo rows hrow.. of each pixel tile), first tap's K tile hkb")
		emitHaloUnit(b, "%hcc", "%hch", "%hrow", "%hkb")
		b.l("mul.lo.u32 %%tmp, %%hrow, %d;", haloSide*GemmBK)
		for sx := 0; sx < 3; sx++ {
			b.l("add.u32 %%ha%d, %%ha%d, %%tmp;", sx, sx)
		}
	}
	b.l("mov.u32 %%hcur, 0;")
	for t := 0; t < S-1; t++ {
		b.l("mov.u32 %%wst, %d;", t*sb)
		if t == 0 {
			c.emitHaloLoad(b, cur, "%hcur")
		}
		c.emitHaloWeights(b, curK, t)
		b.l("cp.async.commit_group;")
	}
	b.l("mov.u32 %%rst, 0;")
	b.l("mov.u32 %%wst, %d;", (S-1)*sb)
	loop := b.label("hchunk")
	b.raw("%s:", loop)
	b.comment("%s hcc, its halo in buffer hcur (%%ha* point into it); the next %s hcn (if any) goes to buffer hbn", unit, unit)
	b.l("add.u32 %%hcn, %%hcc, 1;")
	b.l("setp.lt.u32 %%pnx, %%hcn, %s;", c.kEnd())
	b.l("xor.b32 %%hbn, %%hcur, %d;", c.haloBufBytes())
	if c.HaloRows {
		emitHaloUnit(b, "%hcn", "%hnch", "%hnrow", "%hnkb")
	}
	for t := 0; t < T; t++ {
		b.comment("tap %d (%d, %d): step (hcc, %d) has landed, every warp is done with the stage the next copy overwrites", t, t/3, t%3, t)
		b.l("cp.async.wait_group %d;", S-2)
		b.l("bar.sync 0;")
		if lt := t + S - 1; lt < T {
			c.emitHaloWeights(b, curK, lt)
		} else {
			skip := b.label("hnoload")
			b.l("@!%%pnx bra.uni %s;", skip)
			if lt == T {
				c.emitHaloLoad(b, next, "%hbn")
			}
			c.emitHaloWeights(b, nextK, lt-T)
			b.raw("%s:", skip)
		}
		b.l("cp.async.commit_group;")
		if c.haloHalves() {
			c.emitWeightFragments(b, 0, "%rst") // half 1's inside emitProducts
		} else {
			c.emitWeightFragments(b, -1, "%rst")
		}
		c.emitProducts(b, nil, "", t)
		c.emitRotateStages(b)
	}
	b.l("mov.u32 %%hcc, %%hcn;")
	b.comment("the fragment addresses move to the other buffer")
	b.l("sub.u32 %%tmp, %%hbn, %%hcur;")
	if c.HaloRows {
		b.comment("and to the next unit's kernel row")
		b.l("sub.u32 %%tmp2, %%hnrow, %%hrow;")
		b.l("mad.lo.u32 %%tmp, %%tmp2, %d, %%tmp;", haloSide*GemmBK)
		b.l("mov.u32 %%hch, %%hnch;")
		b.l("mov.u32 %%hkb, %%hnkb;")
		b.l("mov.u32 %%hrow, %%hnrow;")
	}
	for sx := 0; sx < 3; sx++ {
		b.l("add.u32 %%ha%d, %%ha%d, %%tmp;", sx, sx)
	}
	b.l("mov.u32 %%hcur, %%hbn;")
	b.l("@%%pnx bra.uni %s;", loop)
}

// emitHaloEpilogueSetup computes the warp's slot (2·blockIdx.x + wm):
// %hm0 (GEMM row of its first pixel), %hoy, %hox, %hsv.
func (c GemmConfig) emitHaloEpilogueSetup(b *builder) {
	b.comment("the warp's patch slot 2*ctaid.x + wm: first output pixel's row hm0, its oy, ox, valid")
	b.l("mov.u32 %%tmp, %%ctaid.x;")
	b.l("shl.b32 %%tmp, %%tmp, 1;")
	b.l("add.u32 %%tmp, %%tmp, %%wm;")
	c.emitHaloSlot(b, "%tmp")
	if c.Halo7 {
		b.comment("rows stored: below OH and inside the %d-row patch", c.HaloPatchRows())
		b.l("add.u32 %%hrl, %%hoy, %d;", c.HaloPatchRows())
		b.l("min.u32 %%hrl, %%hrl, %%cOH;")
	}
	b.l("mul.lo.u32 %%hm0, %%hn, %%cOH;")
	b.l("add.u32 %%hm0, %%hm0, %%hoy;")
	b.l("mul.lo.u32 %%hm0, %%hm0, %%cOW;")
	b.l("add.u32 %%hm0, %%hm0, %%hox;")
}

// emitHaloRows sets the lane's base for emitHaloRow from its local pixel
// L (a register; row L>>3, column L&7 of the warp's patch): %px its GEMM
// row, %hrb and %hcb its output row and column.
func (c GemmConfig) emitHaloRows(b *builder, l string) {
	b.l("shr.u32 %%cq, %s, 3;", l)
	b.l("and.b32 %%cst, %s, 7;", l)
	b.l("add.u32 %%hrb, %%hoy, %%cq;")
	b.l("add.u32 %%hcb, %%hox, %%cst;")
	b.l("mad.lo.u32 %%px, %%cq, %%cOW, %%hm0;")
	b.l("add.u32 %%px, %%px, %%cst;")
}

// haloRowLimit is the register bounding a stored pixel's output row: OH,
// or with Halo7 the patch's end min(oy + 7, OH) (its tile 7 has no
// products).
func (c GemmConfig) haloRowLimit() string {
	if c.Halo7 {
		return "%hrl"
	}
	return "%cOH"
}

// emitHaloRow is emitRow for Halo: local pixel L + off (off's column part
// adds to L's without a carry) is GEMM row px + (off>>3)·OW + (off&7),
// stored inside the image and the batch.
func (c GemmConfig) emitHaloRow(b *builder, off int) {
	r, col := off>>3, off&7
	if r > 0 {
		b.l("mul.lo.u32 %%q, %%cOW, %d;", r)
		b.l("add.u32 %%q, %%q, %%px;")
	} else {
		b.l("mov.u32 %%q, %%px;")
	}
	if col > 0 {
		b.l("add.u32 %%q, %%q, %d;", col)
	}
	b.l("add.u32 %%cq, %%hrb, %d;", r)
	b.l("setp.lt.u32 %%p3, %%cq, %s;", c.haloRowLimit())
	b.l("add.u32 %%cq, %%hcb, %d;", col)
	b.l("setp.lt.u32 %%pin, %%cq, %%cOW;")
	b.l("and.pred %%p3, %%p3, %%pin;")
	b.l("and.pred %%p3, %%p3, %%hsv;")
}
