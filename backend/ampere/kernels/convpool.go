package kernels

import "fmt"

// Convolution and max pool in one kernel (ConvPoolConfig): the ResNet
// stem after space-to-depth and pad-channels, a 4×4 stride-1 QConv on 16
// channels whose only reader is a 3×3 stride-2 pad-1 MaxPool.
//
// Run as two kernels, the convolution writes its int8 output (205 MB for
// 256 ResNet images) and the max pool reads it back; the implicit GEMM
// also copies every input pixel once a tap (16 times) and its weights
// once every 128 output pixels. This kernel computes each block's conv
// outputs from an input patch in shared memory and max-pools them there:
// only the input (about 1.6 times: the patches' halos overlap) and the
// pooled output cross global memory.
//
//   - A block owns Patches consecutive 8×8 patches of pooled outputs (slot
//     g = Patches·blockIdx.x + i of the batch's N·P, P = ⌈POH/8⌉·⌈POW/8⌉
//     patches an image) and 64 output channels (blockIdx.y). Its 8×8
//     pooled outputs read a 17×17 region of conv outputs (rows 2·py0 − 1
//     … 2·py0 + 15): 289 conv pixels for 256 pooled, about 13% computed
//     twice at patch edges. 8×8 is the largest patch whose conv tile and
//     two input buffers stay under 48 KiB of static shared memory; a
//     smaller one recomputes more (4×8: 20%).
//   - The region's input patch, (16 + KH) × (16 + KW) pixels of 16
//     channels (20×20×16 = 6.4 KB for the stem), is copied into shared
//     memory once, with cp.async, one 16-byte pixel a copy; pixels
//     outside the image get the input zero point, as the other conv
//     kernels' padding taps do (the zero point is folded into bias').
//     Two input buffers: the next patch's copies are issued before this
//     patch's products.
//   - The GEMM: 289 conv pixels (37 tiles of 8, the last one partial) ×
//     64 channels × K = KH·KW·16, mma.sync m16n8k32 (the stem is dense:
//     the recipes never prune it). Warp w computes channel tile w (16
//     channels) for all 37 pixel tiles. K ≤ 256 (4 steps of 64), so a
//     warp holds its whole weight tile in 32 registers, loaded once from
//     the packed weights: no weight staging in shared memory, and with
//     Patches > 1 one load serves several patches. Step kt's 64 K are
//     taps 4kt … 4kt+3 (16 channels each); ldmatrix lane l gives the
//     address of input pixel (row + r, column + s) of its tile's pixel
//     l&7 for tap 4kt + l>>3 = (r, s): a per-lane, per-step offset
//     (%kto*) plus the pixel's base. Taps past KH·KW (K padded to 64)
//     read tap 0: their weights are zero.
//   - The epilogue is gemm.go's arithmetic bit for bit (bias', mul.rn,
//     cvt.rni, clamp, + zero point), into the conv tile in shared memory,
//     biased by +128 (as unsigned bytes, so that the pool compares them
//     as unsigned; rows of 80 bytes: 64 channels and 16, so that the four
//     pixels a store instruction writes are in distinct banks). A lane's
//     store addresses are its base plus constants: nothing is checked per
//     pixel but the last tile's pixels past the region.
//   - The pool: 64 pooled pixels × four 16-channel chunks, two a thread;
//     nine 16-byte reads of the conv tile, a byte-wise max (bfe, max),
//     the bias removed (xor 0x80), one 16-byte store of the NHWC output
//     row. MaxPool ignores its padding: conv pixels of the region outside
//     the conv's output image (computed from the zero-point border) are
//     left out of the max by predicate, per window edge row and column;
//     the window's centre is always inside, so every window has a pixel.
//
// Patches > 1 makes a block loop over consecutive patches (weights loaded
// once, the next input patch copied while this one computes); the planner
// picks how many (ConvPoolPatches).

// Conv-pool tile geometry.
const (
	cpPool     = 8                   // pooled outputs a patch side
	cpSide     = 2*cpPool + 1        // conv outputs a region side (3×3/2 windows)
	cpPix      = cpSide * cpSide     // conv pixels a region
	cpTiles    = (cpPix + 7) / 8     // 8-pixel tiles of the GEMM
	cpRow      = 80                  // conv tile row: 64 channels + 16
	cpThreads  = 128                 // 4 warps, one a 16-channel tile
	cpChannels = 16                  // input channels (one 16-byte chunk a pixel)
	cpGroup    = 4                   // pixel tiles whose products interleave
	cpConvTile = cpPix * cpRow       // conv tile bytes
	cpPoolWork = cpPool * cpPool * 4 // (pooled pixel, 16-channel chunk) items a patch
)

// ConvPoolConfig selects a fused convolution + max-pool kernel: the
// convolution's kernel size (KH×KW on 16 channels, stride 1, dilation 1)
// and the 8×8 pooled patches a block computes.
type ConvPoolConfig struct {
	KH, KW  int
	Patches int
	// Group is the number of pixel tiles whose products interleave
	// (independent accumulator chains); 0 means 4.
	Group int
	// MinBlocks, if set, asks ptxas for that many blocks an SM
	// (.minnctapersm): 5 keeps the kernel to 96 registers (20 warps an SM
	// instead of 16 at 119), without spills with Group 2 (ptxas 11.8).
	MinBlocks int
}

// group is the effective Group.
func (c ConvPoolConfig) group() int {
	if c.Group == 0 {
		return cpGroup
	}
	return c.Group
}

// ConvPoolPatches is the number of patches a block computes in the
// planner's kernel: its weights (16 KB a block) are loaded once for
// them, and each patch's input copy overlaps the one before's products.
const ConvPoolPatches = 4

// Name is the kernel's entry name; like every GEMM it starts with
// sqc_gemm, so that tune, the roofline and run's layer table count it as
// the convolution's GEMM step.
func (c ConvPoolConfig) Name() string {
	name := fmt.Sprintf("sqc_gemm_convpool_s8_dense_i8_k%dx%d_mp3s2_p%d", c.KH, c.KW, c.Patches)
	if c.Group != 0 {
		name += fmt.Sprintf("_g%d", c.Group)
	}
	if c.MinBlocks != 0 {
		name += fmt.Sprintf("_b%d", c.MinBlocks)
	}
	return name
}

// Threads is the block size.
func (c ConvPoolConfig) Threads() int { return cpThreads }

// BN is the number of output channels a block computes (grid y is NPad /
// BN); pack the weights with nAlign BN.
func (c ConvPoolConfig) BN() int { return GemmBN }

// inH and inW are the input patch's sides in pixels.
func (c ConvPoolConfig) inH() int { return cpSide + c.KH - 1 }
func (c ConvPoolConfig) inW() int { return cpSide + c.KW - 1 }

// inBytes is one input buffer.
func (c ConvPoolConfig) inBytes() int { return c.inH() * c.inW() * cpChannels }

// kSteps is the number of 64-wide K steps.
func (c ConvPoolConfig) kSteps() int { return (c.KH*c.KW*cpChannels + GemmBK - 1) / GemmBK }

// SharedBytes is the kernel's static shared memory: two input buffers and
// the conv tile.
func (c ConvPoolConfig) SharedBytes() int { return 2*c.inBytes() + cpConvTile }

// Validate checks the configuration.
func (c ConvPoolConfig) Validate() error {
	switch {
	case c.KH <= 0 || c.KW <= 0 || c.KH*c.KW > 16:
		return fmt.Errorf("convpool: kernel %dx%d, want at most 16 taps (K = KH*KW*16 <= 256, held in registers)", c.KH, c.KW)
	case c.Patches <= 0:
		return fmt.Errorf("convpool: %d patches a block, want at least 1", c.Patches)
	case c.Group < 0 || c.Group > 8 || c.MinBlocks < 0 || c.MinBlocks > 16:
		return fmt.Errorf("convpool: group %d, %d blocks an SM: want a group of 0 to 8 tiles and 0 to 16 blocks", c.Group, c.MinBlocks)
	case c.SharedBytes() > maxStaticSmem:
		return fmt.Errorf("convpool %s: %d bytes of shared memory, more than the %d a kernel may declare", c.Name(), c.SharedBytes(), maxStaticSmem)
	}
	return nil
}

// PoolShape is the max pool a ConvPool kernel applies to the conv output:
// 3×3, stride 2, pad 1 at every side, ceil_mode 0.
func PoolShape(oh, ow int) (poh, pow int) { return (oh-1)/2 + 1, (ow-1)/2 + 1 }

// ConvPoolPatchesOf is the number of 8×8 pooled patches of one image
// whose conv output is oh×ow.
func ConvPoolPatchesOf(oh, ow int) int {
	poh, pow := PoolShape(oh, ow)
	return (poh + cpPool - 1) / cpPool * ((pow + cpPool - 1) / cpPool)
}

// SupportsConvPool reports why a convolution cannot run as a ConvPool
// kernel (nil if it can): 16 input channels, stride 1, dilation 1, at
// most 16 taps, output channels a multiple of 16.
func SupportsConvPool(s ConvShape, n int) error {
	switch {
	case s.C != cpChannels:
		return fmt.Errorf("%d input channels, the conv-pool kernel wants %d", s.C, cpChannels)
	case s.SH != 1 || s.SW != 1 || s.DH != 1 || s.DW != 1:
		return fmt.Errorf("strides %d,%d, dilations %d,%d: the conv-pool kernel wants stride 1, dilation 1", s.SH, s.SW, s.DH, s.DW)
	case s.KH*s.KW > 16:
		return fmt.Errorf("kernel %dx%d, the conv-pool kernel wants at most 16 taps", s.KH, s.KW)
	case n <= 0 || n%16 != 0:
		return fmt.Errorf("%d output channels, the conv-pool kernel wants a positive multiple of 16", n)
	}
	return nil
}

// Check validates launch parameters: p's GEMM sizes are the
// convolution's (M = N·OH·OW rows), LDC the pooled output's row stride.
func (c ConvPoolConfig) Check(p GemmParams) error {
	name, s := c.Name(), p.Conv
	switch {
	case p.Conv.check(p.K) != nil:
		return fmt.Errorf("%s: %v", name, p.Conv.check(p.K))
	case SupportsConvPool(s, p.N) != nil:
		return fmt.Errorf("%s: %v", name, SupportsConvPool(s, p.N))
	case s.KH != c.KH || s.KW != c.KW:
		return fmt.Errorf("%s: kernel %dx%d, this kernel is compiled for %dx%d", name, s.KH, s.KW, c.KH, c.KW)
	case p.NPad < p.N || p.NPad%GemmBN != 0:
		return fmt.Errorf("%s: weights padded to %d channels, want a multiple of %d >= N = %d", name, p.NPad, GemmBN, p.N)
	case p.KPad != c.kSteps()*GemmBK:
		return fmt.Errorf("%s: weights padded to K %d, want %d", name, p.KPad, c.kSteps()*GemmBK)
	case s.OH*s.OW <= 0 || p.M%(s.OH*s.OW) != 0:
		return fmt.Errorf("%s: the GEMM's M is %d rows, want whole images of %dx%d", name, p.M, s.OH, s.OW)
	case p.LDC < p.N || p.LDC%16 != 0:
		return fmt.Errorf("%s: output row stride %d, want a multiple of 16 >= N = %d", name, p.LDC, p.N)
	case p.QLo > p.QHi || p.QLo+p.ZY < -128 || p.QHi+p.ZY > 127:
		return fmt.Errorf("%s: clamp range [%d, %d] + zero point %d leaves int8", name, p.QLo, p.QHi, p.ZY)
	}
	return nil
}

// convPoolParams are the kernel's parameters after gemmParams and
// convParams: the pooled output's size.
var convPoolParams = []struct{ name, typ string }{{"p_poh", ".u32"}, {"p_pow", ".u32"}}

// ParamNames lists the kernel's parameters in launch order: the Conv GEMM
// kernel's (GemmConfig{Conv: true}.ParamNames: p_e and p_r unused, M the
// conv's pixels, ldc the pooled row stride), then the pooled height and
// width.
func (c ConvPoolConfig) ParamNames() []string {
	var n []string
	for _, p := range c.params() {
		n = append(n, p.name)
	}
	return n
}

func (c ConvPoolConfig) params() []struct{ name, typ string } {
	ps := append(append([]struct{ name, typ string }{}, gemmParams...), convParams...)
	return append(ps, convPoolParams...)
}

// PTX returns the module text holding the kernel.
func (c ConvPoolConfig) PTX() (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var b builder
	b.header()
	c.emit(&b)
	return b.String(), nil
}

// tapOffset is the byte offset in the input patch of tap q (in (kh, kw)
// order) relative to its conv pixel's top-left input pixel; taps past the
// kernel read tap 0 (their weights are zero).
func (c ConvPoolConfig) tapOffset(q int) int {
	if q >= c.KH*c.KW {
		q = 0
	}
	return (q/c.KW*c.inW() + q%c.KW) * cpChannels
}

func (c ConvPoolConfig) emit(b *builder) {
	b.typedEntry(c.Name(), c.params())
	b.raw(".maxntid %d, 1, 1", cpThreads)
	if c.MinBlocks > 0 {
		b.raw(".minnctapersm %d", c.MinBlocks)
	}
	b.raw("{")
	b.raw("\t.shared .align 128 .b8 smem_x[%d];", c.SharedBytes())
	kt, copies := c.kSteps(), (c.inH()*c.inW()+cpThreads-1)/cpThreads
	declare(b, ".pred", "%p<8>", "%pmore", "%pv", "%pout", "%pr0", "%pr2", "%pc0", "%pc2", "%pw")
	declare(b, ".b32", "%tidx", "%ln", "%wrp", "%gid", "%tig", "%n0", "%M", "%N", "%qlo", "%qhi", "%zy", "%ldc",
		"%C", "%H", "%W", "%OH", "%OW", "%PH", "%PW", "%POH", "%POW", "%zx", "%zx4",
		"%PPX", "%NP", "%g", "%it", "%end", "%cur", "%nxt", "%sbase", "%conv",
		"%n", "%py0", "%px0", "%iy0", "%ix0", "%nH",
		"%tmp", "%tmp2", "%q", "%r", "%c", "%ai", "%ch", "%lp", "%lb", "%zyb",
		fmt.Sprintf("%%kto<%d>", kt), fmt.Sprintf("%%w<%d>", 8*kt), "%bias<2>",
		fmt.Sprintf("%%ihr<%d>", copies), fmt.Sprintf("%%ihc<%d>", copies),
		fmt.Sprintf("%%acc<%d>", 4*c.group()), fmt.Sprintf("%%bf<%d>", 4*c.group()), fmt.Sprintf("%%ba<%d>", c.group()),
		"%v<4>", "%mx<16>")
	declare(b, ".f32", "%mult<2>", "%fy")
	declare(b, ".b64", "%gx", "%gw", "%gb", "%gm", "%gy", "%rk", "%src", "%addr")

	b.comment("parameters")
	for _, p := range []struct{ reg, param string }{{"%gx", "p_x"}, {"%gw", "p_w"}, {"%gb", "p_bias"}, {"%gm", "p_mult"}, {"%gy", "p_y"}} {
		b.l("ld.param.u64 %s, [%s];", p.reg, p.param)
		b.l("cvta.to.global.u64 %s, %s;", p.reg, p.reg)
	}
	for _, p := range []struct{ reg, param, typ string }{
		{"%M", "p_m", "u32"}, {"%N", "p_n", "u32"}, {"%ldc", "p_ldc", "u32"},
		{"%qlo", "p_qlo", "s32"}, {"%qhi", "p_qhi", "s32"}, {"%zy", "p_zy", "s32"},
		{"%C", "p_c", "u32"}, {"%H", "p_h", "u32"}, {"%W", "p_wd", "u32"}, {"%OH", "p_oh", "u32"}, {"%OW", "p_ow", "u32"},
		{"%PH", "p_ph", "u32"}, {"%PW", "p_pw", "u32"}, {"%zx", "p_zx", "s32"}, {"%POH", "p_poh", "u32"}, {"%POW", "p_pow", "u32"},
	} {
		b.l("ld.param.%s %s, [%s];", p.typ, p.reg, p.param)
	}
	b.comment("thread coordinates: warp wrp computes channel tile wrp; lane = 4*groupID + threadID_in_group")
	b.l("mov.u32 %%tidx, %%tid.x;")
	b.l("shr.u32 %%wrp, %%tidx, 5;")
	b.l("and.b32 %%ln, %%tidx, 31;")
	b.l("shr.u32 %%gid, %%ln, 2;")
	b.l("and.b32 %%tig, %%ln, 3;")
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("shl.b32 %%n0, %%tmp, %d;", log2(GemmBN))
	b.l("mov.u64 %%addr, smem_x;")
	b.l("cvt.u32.u64 %%sbase, %%addr;")
	b.l("add.u32 %%conv, %%sbase, %d;", 2*c.inBytes())
	b.l("and.b32 %%zx4, %%zx, 255;")
	b.l("mul.lo.u32 %%zx4, %%zx4, 16843009;")

	b.comment("patches: PPX = ceil(POW/8) a row, P = ceil(POH/8)*PPX an image, NP = N*P in all (N = M/(OH*OW))")
	b.l("add.u32 %%PPX, %%POW, %d;", cpPool-1)
	b.l("shr.u32 %%PPX, %%PPX, %d;", log2(cpPool))
	b.l("add.u32 %%tmp, %%POH, %d;", cpPool-1)
	b.l("shr.u32 %%tmp, %%tmp, %d;", log2(cpPool))
	b.l("mul.lo.u32 %%tmp, %%tmp, %%PPX;")
	b.l("mul.lo.u32 %%tmp2, %%OH, %%OW;")
	b.l("div.u32 %%NP, %%M, %%tmp2;")
	b.l("mul.lo.u32 %%NP, %%NP, %%tmp;")
	b.l("mov.u32 %%tmp2, %%ctaid.x;")
	b.l("mul.lo.u32 %%g, %%tmp2, %d;", c.Patches)
	b.l("add.u32 %%end, %%g, %d;", c.Patches)
	b.l("min.s32 %%end, %%end, %%NP;") // both below 2^31 (32-bit pixel indices)
	done := "$L_cp_done"
	b.l("setp.ge.u32 %%p0, %%g, %%end;")
	b.l("@%%p0 bra.uni %s;", done)

	b.comment("the warp's weight tile (channel tile 4*ctaid.y + wrp) for all %d K steps, once: tile (nt, kt) at (nt*%d + kt)*1024, lane at +32*lane", kt, kt)
	b.l("mov.u32 %%tmp, %%ctaid.y;")
	b.l("shl.b32 %%tmp, %%tmp, 2;")
	b.l("add.u32 %%tmp, %%tmp, %%wrp;")
	b.l("mul.lo.u32 %%tmp, %%tmp, %d;", kt*32)
	b.l("add.u32 %%tmp, %%tmp, %%ln;")
	b.l("mul.wide.u32 %%rk, %%tmp, 32;")
	b.l("add.u64 %%src, %%gw, %%rk;")
	for k := 0; k < kt; k++ {
		b.l("ld.global.nc.v4.u32 %s, [%%src+%d];", regList("%w", 8*k, 4), 1024*k)
		b.l("ld.global.nc.v4.u32 %s, [%%src+%d];", regList("%w", 8*k+4, 4), 1024*k+16)
	}
	b.comment("bias' and multiplier of the lane's channels n0 + 16*wrp + groupID (+8)")
	for h := 0; h < 2; h++ {
		b.l("shl.b32 %%ch, %%wrp, 4;")
		b.l("add.u32 %%ch, %%ch, %%gid;")
		b.l("add.u32 %%ch, %%ch, %%n0;")
		b.l("add.u32 %%ch, %%ch, %d;", 8*h)
		b.l("mul.wide.u32 %%rk, %%ch, 4;")
		b.l("add.u64 %%addr, %%gb, %%rk;")
		b.l("ld.global.nc.u32 %%bias%d, [%%addr];", h)
		b.l("add.u64 %%addr, %%gm, %%rk;")
		b.l("ld.global.nc.f32 %%mult%d, [%%addr];", h)
	}
	b.comment("ldmatrix tap offsets: lane reads tap 4*kt + lane>>3 of step kt")
	b.l("shr.u32 %%tmp, %%ln, 3;")
	for k := 0; k < kt; k++ {
		// Offsets differ by lane only through lane>>3: select among
		// the four compile-time values.
		b.l("mov.u32 %%kto%d, %d;", k, c.tapOffset(4*k))
		for s := 1; s < 4; s++ {
			b.l("setp.eq.u32 %%p1, %%tmp, %d;", s)
			b.l("selp.b32 %%kto%d, %d, %%kto%d, %%p1;", k, c.tapOffset(4*k+s), k)
		}
	}
	b.comment("the thread's input copies q = tid + %d*i: patch pixel (q / %d, q %% %d), 16 bytes at 16*q", cpThreads, c.inW(), c.inW())
	for i := 0; i < copies; i++ {
		b.l("add.u32 %%q, %%tidx, %d;", cpThreads*i)
		b.l("div.u32 %%ihr%d, %%q, %d;", i, c.inW())
		b.l("mul.lo.u32 %%tmp, %%ihr%d, %d;", i, c.inW())
		b.l("sub.u32 %%ihc%d, %%q, %%tmp;", i)
	}
	b.l("and.b32 %%lp, %%ln, 7;")
	b.comment("epilogue: the lane's conv tile base lb (pixel 2*tig, channel 16*wrp + groupID), the zero point + 128 (the bias)")
	b.l("mad.lo.u32 %%lb, %%tig, %d, %%conv;", 2*cpRow)
	b.l("shl.b32 %%tmp, %%wrp, 4;")
	b.l("add.u32 %%lb, %%lb, %%tmp;")
	b.l("add.u32 %%lb, %%lb, %%gid;")
	b.l("add.s32 %%zyb, %%zy, 128;")

	b.comment("prologue: the first patch's input into buffer 0")
	b.l("mov.u32 %%cur, 0;")
	c.emitInputLoad(b, "%g", "%cur", copies)
	b.l("cp.async.commit_group;")
	b.l("mov.u32 %%it, 0;")
	loop := "$L_cp_patch"
	b.raw("%s:", loop)
	b.comment("patch g's input has landed in buffer cur; every warp is done with the conv tile and the other buffer")
	b.l("cp.async.wait_group 0;")
	b.l("bar.sync 0;")
	b.l("add.u32 %%tmp, %%g, 1;")
	b.l("setp.lt.u32 %%pmore, %%tmp, %%end;")
	b.l("xor.b32 %%nxt, %%cur, %d;", c.inBytes())
	skip := "$L_cp_nonext"
	b.l("@!%%pmore bra.uni %s;", skip)
	c.emitInputLoad(b, "%tmp", "%nxt", copies)
	b.l("cp.async.commit_group;")
	b.raw("%s:", skip)
	c.emitSlot(b, "%g")
	b.l("add.u32 %%cur, %%cur, %%sbase;")
	for j0 := 0; j0 < cpTiles; j0 += c.group() {
		c.emitTileGroup(b, j0, min(c.group(), cpTiles-j0), kt)
	}
	b.l("sub.u32 %%cur, %%cur, %%sbase;")
	b.comment("the conv tile is complete")
	b.l("bar.sync 0;")
	c.emitPool(b)
	b.l("@!%%pmore bra.uni %s;", done)
	b.l("add.u32 %%g, %%g, 1;")
	b.l("mov.u32 %%cur, %%nxt;")
	b.l("bra.uni %s;", loop)
	b.raw("%s:", done)
	b.l("ret;")
	b.raw("}")
}

// emitSlot decodes patch slot g (a register) into %n, %py0, %px0
// (g / P, then row and column of 8x8 patches). Needs %PPX and %POH.
func (c ConvPoolConfig) emitSlot(b *builder, g string) {
	b.l("add.u32 %%tmp2, %%POH, %d;", cpPool-1)
	b.l("shr.u32 %%tmp2, %%tmp2, %d;", log2(cpPool))
	b.l("mul.lo.u32 %%tmp2, %%tmp2, %%PPX;")
	b.l("div.u32 %%n, %s, %%tmp2;", g)
	b.l("mul.lo.u32 %%tmp2, %%n, %%tmp2;")
	b.l("sub.u32 %%tmp2, %s, %%tmp2;", g)
	b.l("div.u32 %%py0, %%tmp2, %%PPX;")
	b.l("mul.lo.u32 %%q, %%py0, %%PPX;")
	b.l("sub.u32 %%px0, %%tmp2, %%q;")
	b.l("shl.b32 %%py0, %%py0, %d;", log2(cpPool))
	b.l("shl.b32 %%px0, %%px0, %d;", log2(cpPool))
}

// emitInputLoad copies the input patch of slot g (a register) into the
// buffer at offset buf (a register, relative to the shared base): per
// pixel one 16-byte cp.async, or the zero point outside the image.
func (c ConvPoolConfig) emitInputLoad(b *builder, g, buf string, copies int) {
	b.comment("input patch of slot %s into buffer %s: rows 2*py0 - 1 - PH ..., columns 2*px0 - 1 - PW ...", g, buf)
	c.emitSlot(b, g)
	b.l("mul.lo.u32 %%nH, %%n, %%H;")
	b.l("shl.b32 %%iy0, %%py0, 1;")
	b.l("sub.u32 %%iy0, %%iy0, 1;")
	b.l("sub.u32 %%iy0, %%iy0, %%PH;")
	b.l("shl.b32 %%ix0, %%px0, 1;")
	b.l("sub.u32 %%ix0, %%ix0, 1;")
	b.l("sub.u32 %%ix0, %%ix0, %%PW;")
	pix := c.inH() * c.inW()
	for i := 0; i < copies; i++ {
		last := cpThreads*(i+1) > pix
		b.l("add.u32 %%r, %%iy0, %%ihr%d;", i)
		b.l("add.u32 %%c, %%ix0, %%ihc%d;", i)
		b.l("setp.lt.u32 %%pv, %%r, %%H;")
		b.l("setp.lt.u32 %%p1, %%c, %%W;")
		b.l("and.pred %%pv, %%pv, %%p1;")
		if last {
			b.l("setp.lt.u32 %%p2, %%tidx, %d;", pix-cpThreads*i)
			b.l("and.pred %%pv, %%pv, %%p2;")
		}
		b.l("add.u32 %%tmp, %%nH, %%r;")
		b.l("mad.lo.u32 %%tmp, %%tmp, %%W, %%c;")
		b.l("selp.b32 %%tmp, %%tmp, 0, %%pv;")
		b.l("mul.wide.u32 %%rk, %%tmp, %d;", cpChannels)
		b.l("add.u64 %%src, %%gx, %%rk;")
		b.l("shl.b32 %%tmp, %%tidx, 4;")
		b.l("add.u32 %%tmp, %%tmp, %s;", buf)
		b.l("add.u32 %%tmp, %%tmp, %%sbase;")
		b.l("@%%pv cp.async.cg.shared.global [%%tmp+%d], [%%src], 16;", 16*cpThreads*i)
		if last {
			b.l("not.pred %%p1, %%pv;")
			b.l("and.pred %%p1, %%p1, %%p2;")
			b.l("@%%p1 st.shared.v4.b32 [%%tmp+%d], {%%zx4, %%zx4, %%zx4, %%zx4};", 16*cpThreads*i)
		} else {
			b.l("@!%%pv st.shared.v4.b32 [%%tmp+%d], {%%zx4, %%zx4, %%zx4, %%zx4};", 16*cpThreads*i)
		}
	}
}

// emitTileGroup computes pixel tiles j0 … j0+cnt−1 of the conv region for
// the warp's 16 channels and writes them to the conv tile: the tiles'
// products interleave (cnt independent accumulator chains).
func (c ConvPoolConfig) emitTileGroup(b *builder, j0, cnt, kt int) {
	b.comment("pixel tiles %d..%d: lane's ldmatrix pixel p = 8j + (lane&7) (the last ones clamped to %d), region (p / %d, p %% %d)", j0, j0+cnt-1, cpPix-1, cpSide, cpSide)
	for u := 0; u < cnt; u++ {
		b.l("add.u32 %%q, %%lp, %d;", 8*(j0+u))
		b.l("min.s32 %%q, %%q, %d;", cpPix-1)
		b.l("div.u32 %%r, %%q, %d;", cpSide)
		b.l("mul.lo.u32 %%tmp, %%r, %d;", cpSide)
		b.l("sub.u32 %%c, %%q, %%tmp;")
		b.l("mad.lo.u32 %%tmp, %%r, %d, %%c;", c.inW())
		b.l("shl.b32 %%tmp, %%tmp, %d;", log2(cpChannels))
		b.l("add.u32 %%ba%d, %%tmp, %%cur;", u)
		for r := 0; r < 4; r++ {
			b.l("mov.b32 %%acc%d, 0;", 4*u+r)
		}
	}
	for k := 0; k < kt; k++ {
		for u := 0; u < cnt; u++ {
			b.l("add.u32 %%tmp, %%ba%d, %%kto%d;", u, k)
			b.l("ldmatrix.sync.aligned.m8n8.x4.shared.b16 %s, [%%tmp];", regList("%bf", 4*u, 4))
		}
		for h := 0; h < 2; h++ {
			for u := 0; u < cnt; u++ {
				d := regList("%acc", 4*u, 4)
				b.l("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 %s, %s, %s, %s;", d, regList("%w", 8*k+4*h, 4), regList("%bf", 4*u+2*h, 2), d)
			}
		}
	}
	b.comment("epilogue: gemm.go's arithmetic, stored +128 at lb + 80*(8j + e) + 8h (pixel 8j + 2*tig + e, channel 16*wrp + groupID + 8h)")
	for u := 0; u < cnt; u++ {
		j := j0 + u
		for e := 0; e < 2; e++ {
			// Pixels past the region (the last tile's) are not stored:
			// 2·tig + e < cpPix − 8j.
			guard := ""
			if rem := cpPix - 8*j; rem < 8 {
				if rem-e <= 0 {
					continue
				}
				b.l("setp.lt.u32 %%pout, %%tig, %d;", (rem-e+1)/2)
				guard = "@%pout "
			}
			for h := 0; h < 2; h++ {
				b.l("add.s32 %%ai, %%acc%d, %%bias%d;", 4*u+2*h+e, h)
				b.l("cvt.rn.f32.s32 %%fy, %%ai;")
				b.l("mul.rn.f32 %%fy, %%fy, %%mult%d;", h)
				b.l("cvt.rni.s32.f32 %%ai, %%fy;")
				b.l("max.s32 %%ai, %%ai, %%qlo;")
				b.l("min.s32 %%ai, %%ai, %%qhi;")
				b.l("add.s32 %%ai, %%ai, %%zyb;")
				b.l("%sst.shared.u8 [%%lb+%d], %%ai;", guard, (8*j+e)*cpRow+8*h)
			}
		}
	}
}

// emitPool max-pools the conv tile into the output: items q = tid +
// 128·i, pooled pixel q>>2 (row q>>5, column q>>2&7 of the patch), 16
// channels 16·(q&3); window rows 2·row … +2 and columns 2·col … +2 of the
// region. MaxPool ignores its padding: a window's first row (column) is
// outside the conv image where the pooled row (column) is 0, its last
// where 2·row + 1 ≥ OH; their conv pixels, computed from the zero-point
// border, take no part in the max (predicated). The window's centre is
// always inside.
func (c ConvPoolConfig) emitPool(b *builder) {
	b.comment("max pool 3x3/2 over the conv tile (bytes biased by 128: unsigned compares)")
	for i := 0; i < cpPoolWork/cpThreads; i++ {
		b.l("add.u32 %%q, %%tidx, %d;", cpThreads*i)
		b.l("shr.u32 %%r, %%q, %d;", 2+log2(cpPool))
		b.l("shr.u32 %%c, %%q, 2;")
		b.l("and.b32 %%c, %%c, %d;", cpPool-1)
		b.l("and.b32 %%ch, %%q, 3;")
		b.l("shl.b32 %%ch, %%ch, 4;")
		b.comment("window origin: region pixel (2*row, 2*col)")
		b.l("mul.lo.u32 %%tmp, %%r, %d;", 2*cpSide)
		b.l("shl.b32 %%tmp2, %%c, 1;")
		b.l("add.u32 %%tmp, %%tmp, %%tmp2;")
		b.l("mad.lo.u32 %%tmp, %%tmp, %d, %%conv;", cpRow)
		b.l("add.u32 %%tmp, %%tmp, %%ch;")
		b.comment("output pixel (py0 + row, px0 + col); the window's edge rows and columns inside the conv image")
		b.l("add.u32 %%r, %%r, %%py0;")
		b.l("add.u32 %%c, %%c, %%px0;")
		b.l("setp.ne.u32 %%pr0, %%r, 0;")
		b.l("shl.b32 %%tmp2, %%r, 1;")
		b.l("add.u32 %%tmp2, %%tmp2, 1;")
		b.l("setp.lt.u32 %%pr2, %%tmp2, %%OH;")
		b.l("setp.ne.u32 %%pc0, %%c, 0;")
		b.l("shl.b32 %%tmp2, %%c, 1;")
		b.l("add.u32 %%tmp2, %%tmp2, 1;")
		b.l("setp.lt.u32 %%pc2, %%tmp2, %%OW;")
		rowOK := []string{"%pr0", "", "%pr2"}
		colOK := []string{"%pc0", "", "%pc2"}
		// The centre first: it initializes the maxima.
		for _, w := range []int{4, 0, 1, 2, 3, 5, 6, 7, 8} {
			dy, dx := w/3, w%3
			guard := ""
			switch rp, cp := rowOK[dy], colOK[dx]; {
			case rp != "" && cp != "":
				b.l("and.pred %%pw, %s, %s;", rp, cp)
				guard = "@%pw "
			case rp != "":
				guard = "@" + rp + " "
			case cp != "":
				guard = "@" + cp + " "
			}
			b.l("ld.shared.v4.u32 {%%v0, %%v1, %%v2, %%v3}, [%%tmp+%d];", (dy*cpSide+dx)*cpRow)
			for k := 0; k < 16; k++ {
				src := fmt.Sprintf("%%v%d", k/4)
				if w == 4 {
					b.l("bfe.u32 %%mx%d, %s, %d, 8;", k, src, 8*(k%4))
					continue
				}
				b.l("bfe.u32 %%tmp2, %s, %d, 8;", src, 8*(k%4))
				b.l("%smax.s32 %%mx%d, %%mx%d, %%tmp2;", guard, k, k)
			}
		}
		b.comment("pack, unbias, store: output pixel (n, py0 + row, px0 + col), channels n0 + 16*(q&3)")
		for word := 0; word < 4; word++ {
			b.l("shl.b32 %%tmp2, %%mx%d, 8;", 4*word+1)
			b.l("add.u32 %%v%d, %%mx%d, %%tmp2;", word, 4*word)
			b.l("shl.b32 %%tmp2, %%mx%d, 16;", 4*word+2)
			b.l("add.u32 %%v%d, %%v%d, %%tmp2;", word, word)
			b.l("shl.b32 %%tmp2, %%mx%d, 24;", 4*word+3)
			b.l("add.u32 %%v%d, %%v%d, %%tmp2;", word, word)
			b.l("xor.b32 %%v%d, %%v%d, 0x80808080;", word, word)
		}
		b.l("add.u32 %%ch, %%ch, %%n0;")
		b.l("setp.lt.u32 %%p1, %%r, %%POH;")
		b.l("setp.lt.u32 %%p2, %%c, %%POW;")
		b.l("and.pred %%p1, %%p1, %%p2;")
		b.l("setp.lt.u32 %%p2, %%ch, %%N;")
		b.l("and.pred %%p1, %%p1, %%p2;")
		b.l("mad.lo.u32 %%tmp, %%n, %%POH, %%r;")
		b.l("mad.lo.u32 %%tmp, %%tmp, %%POW, %%c;")
		b.l("mul.wide.u32 %%rk, %%tmp, %%ldc;")
		b.l("add.u64 %%addr, %%gy, %%rk;")
		b.l("cvt.u64.u32 %%rk, %%ch;")
		b.l("add.u64 %%addr, %%addr, %%rk;")
		b.l("@%%p1 st.global.v4.u32 [%%addr], {%%v0, %%v1, %%v2, %%v3};")
	}
}
