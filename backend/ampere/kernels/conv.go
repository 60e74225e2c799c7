package kernels

import (
	"fmt"
	"math"
)

// Implicit-GEMM convolution (GemmConfig.Conv).
//
// The GEMM's activation matrix is the im2col matrix of an NHWC int8 input:
// row m is output pixel (n, oh, ow) = (m / (OH·OW), m / OW % OH, m % OW),
// column k is tap (r, s) = (k / C / KW, k / C % KW), channel c = k % C
// (K in (kh, kw, c) order, c fastest: the planner's weight order). When C
// is a multiple of 16, each 16-byte chunk of a row (k a multiple of 16)
// lies inside one tap and is 16 consecutive channels of one input pixel:
// one aligned cp.async from the input itself, so the im2col matrix never
// exists. A chunk whose tap falls in the padding is not copied: the thread
// stores 16 bytes of the input zero point into shared memory instead,
// which is what the explicit im2col writes there (the zero point is folded
// into the bias as −zx·Σw over all K, so padding must hold zx, not 0, for
// those taps to add nothing). Chunks past K or rows past M get the same
// store: the packed weights are zero past K and rows past M are never
// stored, so their value does not matter.
//
// Each thread copies the same 16-byte column chunk (kc16 = 16·(tid&3)) of
// four rows a step, so the tap arithmetic happens once a step for all
// four; the per-row part (n·H, oh·sh − ph, ow·sw − pw) is computed once
// before the K loop. The tap arithmetic is two divisions (k / C, tap /
// KW) or, with ConvStep (C a multiple of 64), none: a step moves the
// column by 64, which stays inside one tap, so the channel advances by 64
// and wraps to the next tap (and the next kernel row) with a compare.
//
// Small C (ConvPiece): a first layer's 3 channels, padded to 4 by
// pad-channels, leave no 16 contiguous bytes of a row in one tap; with C
// = 4 or 8 a chunk is 16/C whole taps, consecutive in (kh, kw) order, and
// each is its own 4- or 8-byte cp.async (or zero-point store), with the
// tap advanced from piece to piece without dividing. This replaces a
// byte-wise im2col of the first layer, which wrote and re-read a matrix
// 40 times the size of the input.

// ConvShape is the geometry of an implicit-GEMM convolution: input C×H×W
// (NHWC), output OH×OW, kernel KH×KW, strides, leading pads, dilations,
// and the input zero point that padding taps hold.
type ConvShape struct {
	C, H, W, OH, OW, KH, KW int
	SH, SW, PH, PW, DH, DW  int
	ZX                      int32
}

// convParams are the Conv kernel's parameters after gemmParams.
var convParams = []struct{ name, typ string }{
	{"p_c", ".u32"}, {"p_h", ".u32"}, {"p_wd", ".u32"}, {"p_oh", ".u32"}, {"p_ow", ".u32"}, {"p_kw", ".u32"},
	{"p_sh", ".u32"}, {"p_sw", ".u32"}, {"p_ph", ".u32"}, {"p_pw", ".u32"}, {"p_dh", ".u32"}, {"p_dw", ".u32"},
	{"p_zx", ".s32"},
}

// LaunchU32s returns the Conv kernel's u32 parameters after GemmParams'
// in launch order (C, H, W, OH, OW, KW, sh, sw, ph, pw, dh, dw); ZX
// follows them as an s32.
func (s ConvShape) LaunchU32s() []uint32 {
	return []uint32{uint32(s.C), uint32(s.H), uint32(s.W), uint32(s.OH), uint32(s.OW), uint32(s.KW),
		uint32(s.SH), uint32(s.SW), uint32(s.PH), uint32(s.PW), uint32(s.DH), uint32(s.DW)}
}

// SupportsImplicitConv reports whether a convolution with c input
// channels can run as an implicit GEMM: each 16-byte chunk of a GEMM row
// must lie inside one tap, or be whole taps of 4 or 8 channels.
func SupportsImplicitConv(c int) bool { return c > 0 && c%16 == 0 || c == 4 || c == 8 }

// ConvPiece returns the GemmConfig.ConvPiece a convolution with c input
// channels needs.
func ConvPiece(c int) int { return ConvShape{C: c}.piece() }

// piece is the copy size the geometry needs: 0 for 16-byte chunks, else C.
func (s ConvShape) piece() int {
	if s.C%16 == 0 {
		return 0
	}
	return s.C
}

// copyBytes is the number of bytes one copy moves.
func (s ConvShape) copyBytes() int {
	if p := s.piece(); p != 0 {
		return p
	}
	return 16
}

// check validates the geometry against the GEMM's K.
func (s ConvShape) check(k int) error {
	switch {
	case !SupportsImplicitConv(s.C):
		return fmt.Errorf("%d input channels, want 4, 8 or a positive multiple of 16 (each 16-byte chunk must lie inside one kernel tap, or be whole taps)", s.C)
	case s.H <= 0 || s.W <= 0 || s.OH <= 0 || s.OW <= 0 || s.KH <= 0 || s.KW <= 0:
		return fmt.Errorf("input %dx%d, output %dx%d, kernel %dx%d, want positive sizes", s.H, s.W, s.OH, s.OW, s.KH, s.KW)
	case s.SH <= 0 || s.SW <= 0 || s.DH <= 0 || s.DW <= 0 || s.PH < 0 || s.PW < 0:
		return fmt.Errorf("strides %d,%d, dilations %d,%d, pads %d,%d: want positive strides and dilations, pads ≥ 0", s.SH, s.SW, s.DH, s.DW, s.PH, s.PW)
	case k != s.KH*s.KW*s.C:
		return fmt.Errorf("reduction K = %d, want KH·KW·C = %d·%d·%d", k, s.KH, s.KW, s.C)
	case int64(s.H)*int64(s.W)*int64(s.C) > math.MaxInt32 || int64(s.OH)*int64(s.OW) > math.MaxInt32:
		return fmt.Errorf("input %dx%dx%d or output %dx%d too large for 32-bit indices", s.H, s.W, s.C, s.OH, s.OW)
	case s.ZX < -128 || s.ZX > 127:
		return fmt.Errorf("input zero point %d outside int8", s.ZX)
	}
	return nil
}

// ChunkSource is the Go model of the kernel's address computation: for
// GEMM row m (< M, batch-major output pixel) and column k (a multiple of
// the copy size: 16, or C when C is 4 or 8; < K), the byte offset in the
// NHWC input of the bytes the kernel copies there, or ok = false where it
// writes the zero point instead (a padding tap). It uses the kernel's
// 32-bit unsigned arithmetic, negative coordinates wrapping to large
// values that fail the bounds test.
func (s ConvShape) ChunkSource(m, k int) (off int64, ok bool) {
	ohw := uint32(s.OH) * uint32(s.OW)
	px := uint32(m)
	// Before the K loop, per row.
	nb := px / ohw * uint32(s.H)
	rem := px % ohw
	ih0 := rem/uint32(s.OW)*uint32(s.SH) - uint32(s.PH)
	iw0 := rem%uint32(s.OW)*uint32(s.SW) - uint32(s.PW)
	// Per step, per thread.
	kk := uint32(k)
	tap := kk / uint32(s.C)
	c := kk - tap*uint32(s.C)
	r := tap / uint32(s.KW)
	sx := tap - r*uint32(s.KW)
	ih := ih0 + r*uint32(s.DH)
	iw := iw0 + sx*uint32(s.DW)
	if ih >= uint32(s.H) || iw >= uint32(s.W) {
		return 0, false
	}
	pix := (nb+ih)*uint32(s.W) + iw
	return int64(pix)*int64(s.C) + int64(c), true
}

// emitConvSetup declares the Conv registers, reads the geometry and
// computes each thread's four rows' n·H, oh·sh − ph and ow·sw − pw (and
// %pv, the rows' M predicates).
func (c GemmConfig) emitConvSetup(b *builder) {
	emitConvParams(b)
	b.comment("rows tid>>2 + 32i: n*H, oh*sh - ph, ow*sw - pw (negative values wrap and fail the unsigned bounds tests)")
	for i := 0; i < c.rowsPerThread(); i++ {
		b.l("shr.u32 %%px, %%tidx, 2;")
		b.l("add.u32 %%px, %%px, %d;", c.rowStep()*i)
		b.l("add.u32 %%px, %%px, %%m0;")
		b.l("setp.lt.u32 %%pv%d, %%px, %%M;", i)
		b.l("selp.b32 %%px, %%px, 0, %%pv%d;", i)
		b.l("div.u32 %%cq, %%px, %%ohw;")
		b.l("mul.lo.u32 %%nb%d, %%cq, %%cH;", i)
		b.l("rem.u32 %%cst, %%px, %%ohw;")
		b.l("div.u32 %%cq, %%cst, %%cOW;")
		b.l("mul.lo.u32 %%ihb%d, %%cq, %%cSH;", i)
		b.l("sub.u32 %%ihb%d, %%ihb%d, %%cPH;", i, i)
		b.l("rem.u32 %%cq, %%cst, %%cOW;")
		b.l("mul.lo.u32 %%iwb%d, %%cq, %%cSW;", i)
		b.l("sub.u32 %%iwb%d, %%iwb%d, %%cPW;", i, i)
	}
	if c.ConvStep && !c.SplitK { // a split starts elsewhere: emitSplitRange
		b.comment("running column of tile 0: kk = kc16, tap (0, 0), channel kc16 (C >= 64)")
		b.l("mov.u32 %%kk, %%kc16;")
		b.l("mov.u32 %%cc, %%kc16;")
		for _, r := range []string{"%rr", "%ss", "%dr", "%ds"} {
			b.l("mov.u32 %s, 0;", r)
		}
	}
}

// emitConvParams reads the convolution geometry into registers and
// computes %zx4 (the zero point in each byte of a word) and %ohw (OH·OW).
func emitConvParams(b *builder) {
	b.comment("implicit GEMM: convolution geometry")
	for i, reg := range []string{"%cC", "%cH", "%cW", "%cOH", "%cOW", "%cKW", "%cSH", "%cSW", "%cPH", "%cPW", "%cDH", "%cDW"} {
		b.l("ld.param.u32 %s, [%s];", reg, convParams[i].name)
	}
	b.l("ld.param.s32 %%czx, [p_zx];")
	b.comment("the zero point replicated into the four bytes of a word: what padding chunks hold")
	b.l("and.b32 %%zx4, %%czx, 255;")
	b.l("mul.lo.u32 %%zx4, %%zx4, 16843009;")
	b.l("mul.lo.u32 %%ohw, %%cOH, %%cOW;")
}

// emitConvDecls declares the Conv kernel's registers (with the others, at
// the top of the body).
func emitConvDecls(b *builder) {
	declare(b, ".b32", "%cC", "%cH", "%cW", "%cOH", "%cOW", "%cKW", "%cSH", "%cSW", "%cPH", "%cPW", "%cDH", "%cDW",
		"%czx", "%zx4", "%ohw", "%ihb<4>", "%iwb<4>", "%nb<4>", "%kk", "%tap", "%cc", "%rr", "%ss", "%dr", "%ds",
		"%ih", "%iw", "%cq", "%cst")
	declare(b, ".b64", "%cco", "%csrc", "%crk")
	declare(b, ".pred", "%pk", "%pin", "%pin2")
}

// emitConvTileLoad fills the activation part of the stage at %wst with
// tile %kt: per row, one 16-byte cp.async from the input or one 16-byte
// store of the zero point. It leaves %tmp2 (the caller's saved %kt)
// alone.
func (c GemmConfig) emitConvTileLoad(b *builder) {
	if c.ConvPiece != 0 {
		c.emitConvPieceLoad(b)
		return
	}
	if c.ConvStep {
		b.comment("implicit im2col: running column kk is tap (rr, ss), channel cc")
		b.l("setp.lt.u32 %%pk, %%kk, %%K;")
	} else {
		b.comment("implicit im2col: column kk = 64*kt + kc16 is tap (rr, ss), channel cc")
		b.l("shl.b32 %%kk, %%kt, %d;", log2(GemmBK))
		b.l("add.u32 %%kk, %%kk, %%kc16;")
		b.l("setp.lt.u32 %%pk, %%kk, %%K;")
		emitColumnTap(b)
	}
	b.l("cvt.u64.u32 %%cco, %%cc;")
	b.l("add.u32 %%cst, %%sdst, %%wst;")
	for i := 0; i < c.rowsPerThread(); i++ {
		emitConvRowPixel(b, i)
		b.l("mul.wide.u32 %%crk, %%cq, %%cC;")
		b.l("add.u64 %%csrc, %%gx, %%crk;")
		b.l("add.u64 %%csrc, %%csrc, %%cco;")
		b.l("@%%pin cp.async.cg.shared.global [%%cst+%d], [%%csrc], 16;", i*c.rowStep()*GemmBK)
		b.l("@!%%pin st.shared.v4.b32 [%%cst+%d], {%%zx4, %%zx4, %%zx4, %%zx4};", i*c.rowStep()*GemmBK)
	}
	if c.ConvStep {
		b.comment("advance the column by one step: 64 channels, wrapping to the next tap and kernel row")
		b.l("add.u32 %%kk, %%kk, %d;", GemmBK)
		b.l("add.u32 %%cc, %%cc, %d;", GemmBK)
		b.comment("cc = kc16 + 64i < C + 64: at most one wrap, which leaves kc16 in the next tap")
		b.l("setp.ge.u32 %%pin, %%cc, %%cC;")
		b.l("@%%pin sub.u32 %%cc, %%cc, %%cC;")
		b.l("@%%pin add.u32 %%ss, %%ss, 1;")
		b.l("@%%pin add.u32 %%ds, %%ds, %%cDW;")
		b.l("setp.eq.u32 %%pin2, %%ss, %%cKW;")
		b.l("@%%pin2 mov.u32 %%ss, 0;")
		b.l("@%%pin2 mov.u32 %%ds, 0;")
		b.l("@%%pin2 add.u32 %%rr, %%rr, 1;")
		b.l("@%%pin2 add.u32 %%dr, %%dr, %%cDH;")
	}
}

// emitConvRowPixel computes, for the thread's row i and the current tap
// offsets (%dr, %ds), the input pixel's index (%cq, batch-major) and
// whether it is copied (%pin: inside the image, inside K (%pk), a row
// inside M); a negative coordinate wraps and fails the unsigned compares.
func emitConvRowPixel(b *builder, i int) {
	b.l("add.u32 %%ih, %%ihb%d, %%dr;", i)
	b.l("add.u32 %%iw, %%iwb%d, %%ds;", i)
	b.l("setp.lt.u32 %%pin, %%ih, %%cH;")
	b.l("setp.lt.u32 %%pin2, %%iw, %%cW;")
	b.l("and.pred %%pin, %%pin, %%pin2;")
	b.l("and.pred %%pin, %%pin, %%pk;")
	b.l("and.pred %%pin, %%pin, %%pv%d;", i)
	b.l("add.u32 %%cq, %%nb%d, %%ih;", i)
	b.l("mad.lo.u32 %%cq, %%cq, %%cW, %%iw;")
}

// emitConvPieceLoad fills the stage for C = ConvPiece (4 or 8): the
// thread's chunk kk = 64*kt + kc16 is taps kk/C … kk/C + 16/C − 1, each a
// copy of C bytes (cp.async.ca: .cg moves only 16) or a zero-point store.
// Taps past K (the last step's tail) are zero-point stores too: their
// packed weights are zero.
func (c GemmConfig) emitConvPieceLoad(b *builder) {
	pc := c.ConvPiece
	b.comment("implicit im2col of %d-channel taps: chunk kk = 64*kt + kc16 holds taps kk/%d ... +%d", pc, pc, 16/pc-1)
	b.l("shl.b32 %%kk, %%kt, %d;", log2(GemmBK))
	b.l("add.u32 %%kk, %%kk, %%kc16;")
	b.l("shr.u32 %%tap, %%kk, %d;", log2(pc))
	b.l("div.u32 %%rr, %%tap, %%cKW;")
	b.l("mul.lo.u32 %%cq, %%rr, %%cKW;")
	b.l("sub.u32 %%ss, %%tap, %%cq;")
	b.l("add.u32 %%cst, %%sdst, %%wst;")
	for q := 0; q < 16/pc; q++ {
		if q > 0 {
			b.comment("next tap: (rr, ss+1), wrapping to the next kernel row")
			b.l("add.u32 %%kk, %%kk, %d;", pc)
			b.l("add.u32 %%ss, %%ss, 1;")
			b.l("setp.eq.u32 %%pin, %%ss, %%cKW;")
			b.l("@%%pin mov.u32 %%ss, 0;")
			b.l("@%%pin add.u32 %%rr, %%rr, 1;")
		}
		b.l("setp.lt.u32 %%pk, %%kk, %%K;")
		b.l("mul.lo.u32 %%dr, %%rr, %%cDH;")
		b.l("mul.lo.u32 %%ds, %%ss, %%cDW;")
		for i := 0; i < c.rowsPerThread(); i++ {
			off := i*c.rowStep()*GemmBK + q*pc
			emitConvRowPixel(b, i)
			b.l("mul.wide.u32 %%crk, %%cq, %d;", pc)
			b.l("add.u64 %%csrc, %%gx, %%crk;")
			b.l("@%%pin cp.async.ca.shared.global [%%cst+%d], [%%csrc], %d;", off, pc)
			if pc == 4 {
				b.l("@!%%pin st.shared.b32 [%%cst+%d], %%zx4;", off)
			} else {
				b.l("@!%%pin st.shared.v2.b32 [%%cst+%d], {%%zx4, %%zx4};", off)
			}
		}
	}
}

// emitColumnTap splits the running column kk of the implicit im2col into
// its tap (rr, ss) and channel cc (kk = tap·C + cc, tap = rr·KW + ss), and
// the tap's dilated offsets dr, ds: at every K step of the implicit GEMM
// without tap stepping, and once at a split's first tile with it.
func emitColumnTap(b *builder) {
	b.l("div.u32 %%tap, %%kk, %%cC;")
	b.l("mul.lo.u32 %%cq, %%tap, %%cC;")
	b.l("sub.u32 %%cc, %%kk, %%cq;")
	b.l("div.u32 %%rr, %%tap, %%cKW;")
	b.l("mul.lo.u32 %%cq, %%rr, %%cKW;")
	b.l("sub.u32 %%ss, %%tap, %%cq;")
	b.l("mul.lo.u32 %%dr, %%rr, %%cDH;")
	b.l("mul.lo.u32 %%ds, %%ss, %%cDW;")
}
