package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// allHaloConfigs lists the halo-tile variants the tests generate: dense
// and sparse, residual, int8 (StoreVec or not) and f32 outputs, on the
// three shared-weight pipelines (64 channels a block, the wide warp tile,
// the 8-warp block).
func allHaloConfigs() []GemmConfig {
	var cs []GemmConfig
	for _, c := range allGemmConfigs() {
		if !c.SharedWeights || c.SplitM || c.LateCopy || c.DoubleK || c.Interleave || c.SplitK && c.WideN { // no wide split-K halo: it spills
			continue
		}
		c.Conv, c.Halo = true, true
		cs = append(cs, c)
		c.Halo7 = true // the 7-row patches
		cs = append(cs, c)
	}
	return cs
}

// TestHaloModel: the halo kernel's addressing model (haloCopy fills the
// halo buffer, haloReadAddr reads the B fragments of every tap,
// haloOutRow places the outputs) reproduces the direct im2col of every
// stored output pixel exactly once, for ragged sizes (7×7, 13×9, 14×14,
// 1×1, 3×17, 56×56, 28×28, 5×11), batches 1 to 3, C 64 and 128, with
// random zero points, for 8×8 and (Halo7) 7×8 patches; and every
// ldmatrix matrix (8 rows of 16 bytes) covers all 32 banks (no
// conflicts).
func TestHaloModel(t *testing.T) {
	for _, c := range []GemmConfig{{Halo: true}, {Halo: true, Halo7: true}} {
		t.Run(fmt.Sprintf("rows%d", c.HaloPatchRows()), func(t *testing.T) { testHaloModel(t, c) })
	}
}

func testHaloModel(t *testing.T, c GemmConfig) {
	r := rand.New(rand.NewPCG(17, 18))
	haloBufBytes, haloCopies := c.haloBufBytes(), c.haloCopies()
	for _, tc := range []struct{ n, c, h, w int }{
		{1, 64, 7, 7}, {3, 64, 13, 9}, {2, 128, 14, 14}, {1, 64, 1, 1}, {3, 64, 3, 17}, {1, 64, 56, 56}, {2, 64, 8, 16},
		{1, 64, 28, 28}, {2, 64, 5, 11},
	} {
		s := ConvShape{C: tc.c, H: tc.h, W: tc.w, OH: tc.h, OW: tc.w, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1,
			ZX: int32(r.IntN(256) - 128)}
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d", tc.n, tc.c, tc.h, tc.w), func(t *testing.T) {
			k := 9 * s.C
			m := tc.n * s.OH * s.OW
			if err := s.haloCheck(m); err != nil {
				t.Fatal(err)
			}
			x := make([]int8, tc.n*s.H*s.W*s.C)
			for i := range x {
				x[i] = int8(r.IntN(256) - 128)
			}
			want := im2colDirect(x, tc.n, s)
			seen := make([]int, m)
			halo := make([]int8, haloBufBytes)
			for blk := 0; blk < c.HaloBlocks(s, tc.n); blk++ {
				for chunk := 0; chunk < s.C/GemmBK; chunk++ {
					written := make([]bool, haloBufBytes)
					for q := 0; q < haloCopies; q++ {
						dst, pix, copies := c.haloCopy(s, blk, tc.n, q)
						if dst < 0 || dst+16 > haloBufBytes || dst%16 != 0 {
							t.Fatalf("block %d copy %d: destination %d outside the %d-byte buffer", blk, q, dst, haloBufBytes)
						}
						for i := 0; i < 16; i++ {
							if written[dst+i] {
								t.Fatalf("block %d copy %d: byte %d written twice", blk, q, dst+i)
							}
							written[dst+i] = true
							v := int8(s.ZX)
							if copies {
								src := int64(pix)*int64(s.C) + int64(chunk*GemmBK+q%4*16+i)
								if src < 0 || src >= int64(len(x)) {
									t.Fatalf("block %d copy %d: source %d outside the input", blk, q, src)
								}
								v = x[src]
							}
							halo[dst+i] = v
						}
					}
					for p := 0; p < GemmBM; p++ {
						row, ok := c.haloOutRow(s, blk, tc.n, p)
						if !ok {
							continue
						}
						if row >= uint32(m) {
							t.Fatalf("block %d pixel %d: row %d past M = %d", blk, p, row, m)
						}
						if chunk == 0 {
							seen[row]++
						}
						wm, j, col := p>>6, p>>3&7, p&7
						for tap := 0; tap < 9; tap++ {
							for ch := 0; ch < 4; ch++ {
								lane := ch<<3 | col // lane supplying this row of matrix ch
								a := c.haloReadAddr(wm, j, lane, tap/3, tap%3)
								if a < 0 || a+16 > haloBufBytes {
									t.Fatalf("block %d pixel %d tap %d: fragment row at %d, outside the %d-byte buffer", blk, p, tap, a, haloBufBytes)
								}
								for i := 0; i < 16; i++ {
									kk := tap*s.C + chunk*GemmBK + ch*16 + i
									if got, w := halo[a+i], want[int(row)*k+kk]; got != w {
										t.Fatalf("block %d pixel %d (row %d) tap %d channel %d: %d, want %d", blk, p, row, tap, chunk*GemmBK+ch*16+i, got, w)
									}
								}
							}
						}
					}
				}
			}
			for row, n := range seen {
				if n != 1 {
					t.Fatalf("output row %d stored %d times, want once", row, n)
				}
			}
		})
	}
	// Bank conflicts: each matrix's eight row addresses fall in distinct
	// 16-byte bank groups (mod 128 bytes), for every warp, tile and tap.
	for wm := 0; wm < haloSlots; wm++ {
		for j := 0; j < c.haloTiles(); j++ {
			for tap := 0; tap < 9; tap++ {
				for ch := 0; ch < 4; ch++ {
					groups := map[int]bool{}
					for row := 0; row < 8; row++ {
						a := c.haloReadAddr(wm, j, ch<<3|row, tap/3, tap%3)
						reg, off := haloFragment(j, tap)
						if base := c.haloReadAddr(wm, 0, ch<<3|row, 0, tap%3); base+off != a || reg != fmt.Sprintf("%%ha%d", tap%3) {
							t.Fatalf("haloFragment(%d, %d) = %s+%d, the model's address is %d = %d + %d", j, tap, reg, off, a, base, a-base)
						}
						groups[a%128/16] = true
					}
					if len(groups) != 8 {
						t.Fatalf("warp row %d tile %d tap %d matrix %d: %d distinct bank groups, want 8", wm, j, tap, ch, len(groups))
					}
				}
			}
		}
	}
}

// TestHaloPTXLint lints every halo variant and counts what its loop must
// hold: nine unrolled taps of the GEMM's Tensor Core products, halo
// copies in the prologue and at one tap of the loop, no byte-wise
// activation copies, and the geometry parameters read.
func TestHaloPTXLint(t *testing.T) {
	names := map[string]bool{}
	for _, c := range allHaloConfigs() {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		name := c.Name()
		if !strings.HasPrefix(name, "sqc_gemm_halo_s8_") || names[name] {
			t.Errorf("halo variant named %s (duplicate: %v)", name, names[name])
		}
		names[name] = true
		lintPTX(t, name, text)
		for i := 0; i < len(text); i++ {
			if text[i] >= 0x80 {
				t.Fatalf("%s: non-ASCII byte at %d (ptxas refuses it)", name, i)
			}
		}
		mi, pt := c.warpTiles(), c.HaloPatchRows() // pixel tiles with products
		sp := strings.Count(text, "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32")
		dn := strings.Count(text, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32")
		if c.Sparse && (sp != 9*pt*mi || dn != 0) || !c.Sparse && (dn != 9*2*pt*mi || sp != 0) {
			t.Errorf("%s: %d mma.sp, %d mma.sync, want nine taps of %d", name, sp, dn, pt*mi)
		}
		x4 := strings.Count(text, "ldmatrix.sync.aligned.m8n8.x4.shared.b16")
		x2 := strings.Count(text, "ldmatrix.sync.aligned.m8n8.x2.shared.b16")
		if c.haloHalves() && (x4 != 0 || x2 != 2*9*pt) || !c.haloHalves() && (x4 != 9*pt || x2 != 0) {
			t.Errorf("%s: %d ldmatrix.x4, %d ldmatrix.x2, want %d x4 (%d pixel tiles, 9 taps) or, one k32 half at a time, %d x2", name, x4, x2, 9*pt, pt, 18*pt)
		}
		per := c.haloCopiesPerThread()
		if n := strings.Count(text, "cp.async.cg.shared.global [%cst], [%csrc], 16;"); n != 2*per {
			t.Errorf("%s: %d halo cp.async, want %d (prologue and one tap of the loop)", name, n, 2*per)
		}
		if n := strings.Count(text, "st.shared.v4.b32 [%cst], {%zx4, %zx4, %zx4, %zx4};"); n != 2*per {
			t.Errorf("%s: %d zero-point stores, want %d", name, n, 2*per)
		}
		groups := c.stages() - 1 + 9
		if c.ResidualTile {
			groups++ // the residual tile's copies
		}
		if n := strings.Count(text, "cp.async.commit_group;"); n != groups {
			t.Errorf("%s: %d commit groups, want %d", name, n, groups)
		}
		for _, line := range strings.Split(text, "\n") {
			if l := strings.TrimSpace(line); !strings.HasPrefix(l, ".reg") && (strings.Contains(l, "%ldm") || strings.Contains(l, "%ihb")) {
				t.Errorf("%s: uses the implicit-GEMM kernel's row addressing: %s", name, l)
				break
			}
		}
		for _, p := range []string{"p_c", "p_h", "p_wd", "p_oh", "p_ow", "p_zx"} {
			if !strings.Contains(text, "["+p+"]") {
				t.Errorf("%s: parameter %s never read", name, p)
			}
		}
		for _, bad := range []string{"fma.", "mad.f32", "mul.f32", "add.f32", ".ftz"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: contains %q", name, bad)
			}
		}
	}
}

// TestHaloCheck: Validate and Check refuse what the halo kernel cannot
// run.
func TestHaloCheck(t *testing.T) {
	c := GemmConfig{Conv: true, Halo: true, Sparse: true, Stages: 4, SharedWeights: true}
	s := ConvShape{C: 64, H: 14, W: 14, OH: 14, OW: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, ZX: -3}
	ok := GemmParams{M: 3 * 196, N: 64, K: 576, NPad: 64, KPad: 576, LDA: 64, LDC: 64, QLo: 0, QHi: 255, ZY: -128, Conv: s}
	if err := c.Check(ok); err != nil {
		t.Fatalf("valid parameters refused: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*GemmParams)
		want string
	}{
		{func(p *GemmParams) { p.Conv.C = 32; p.K = 288 }, "multiple of 64"},
		{func(p *GemmParams) { p.Conv.SH, p.Conv.SW, p.Conv.OH, p.Conv.OW = 2, 2, 7, 7 }, "stride 1"},
		{func(p *GemmParams) { p.Conv.KH, p.Conv.KW, p.K = 1, 1, 64 }, "3x3"},
		{func(p *GemmParams) { p.M = 200 }, "whole images"},
	} {
		p := ok
		tc.mod(&p)
		if err := c.Check(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check = %v, want an error containing %q", err, tc.want)
		}
	}
	for _, tc := range []struct {
		c    GemmConfig
		want string
	}{
		{GemmConfig{Halo: true, Stages: 4, SharedWeights: true}, "Conv kernel"},
		{GemmConfig{Conv: true, Halo: true, ConvStep: true, Stages: 4, SharedWeights: true}, "Conv kernel"},
		{GemmConfig{Conv: true, Halo: true}, "SharedWeights"},
		{GemmConfig{Conv: true, Halo: true, Stages: 11, SharedWeights: true}, "at most 10"},
		{GemmConfig{Conv: true, Halo7: true, Stages: 4, SharedWeights: true}, "want Halo"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.c, err, tc.want)
		}
	}
}
