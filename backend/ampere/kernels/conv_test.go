package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// allConvConfigs lists the implicit-GEMM variants the tests generate.
func allConvConfigs() []GemmConfig {
	var cs []GemmConfig
	for _, c := range allGemmConfigs() {
		c.Conv = true
		cs = append(cs, c)
		step := c
		step.ConvStep = true
		cs = append(cs, step)
		for _, pc := range []int{4, 8} {
			if c.Interleave { // 16-byte chunks only
				break
			}
			small := c
			small.ConvPiece = pc
			cs = append(cs, small)
		}
	}
	return cs
}

// im2colDirect is the textbook im2col of an NHWC int8 batch, K in (kh, kw,
// c) order, padding with zx: written from the definition of a convolution
// (input pixel (oh·sh − ph + r·dh, ow·sw − pw + s·dw)), independently of
// ChunkSource's arithmetic.
func im2colDirect(x []int8, n int, s ConvShape) []int8 {
	k := s.KH * s.KW * s.C
	col := make([]int8, n*s.OH*s.OW*k)
	for b := 0; b < n; b++ {
		for oh := 0; oh < s.OH; oh++ {
			for ow := 0; ow < s.OW; ow++ {
				row := ((b*s.OH+oh)*s.OW + ow) * k
				for r := 0; r < s.KH; r++ {
					for q := 0; q < s.KW; q++ {
						ih, iw := oh*s.SH-s.PH+r*s.DH, ow*s.SW-s.PW+q*s.DW
						for c := 0; c < s.C; c++ {
							v := int8(s.ZX)
							if ih >= 0 && ih < s.H && iw >= 0 && iw < s.W {
								v = x[((b*s.H+ih)*s.W+iw)*s.C+c]
							}
							col[row+(r*s.KW+q)*s.C+c] = v
						}
					}
				}
			}
		}
	}
	return col
}

// TestConvChunkSource: the kernel's address model, chunk by chunk, builds
// the same im2col matrix as the direct definition, for 1×1, 3×3, 7×7 and
// 5×3 kernels, strides 1–3, pads 0–3, dilation 1–2, and a batch of 3.
func TestConvChunkSource(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []ConvShape{
		{C: 16, H: 7, W: 7, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1},
		{C: 32, H: 9, W: 8, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1},
		{C: 16, H: 9, W: 9, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1},
		{C: 48, H: 10, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1},
		{C: 16, H: 13, W: 11, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1},
		{C: 16, H: 12, W: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2, DH: 2, DW: 2},
		{C: 32, H: 6, W: 9, KH: 5, KW: 3, SH: 3, SW: 1, PH: 2, PW: 0, DH: 1, DW: 2},
		// Small C: a chunk is 16/C whole taps.
		{C: 4, H: 23, W: 21, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1},
		{C: 4, H: 9, W: 9, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1},
		{C: 8, H: 10, W: 11, KH: 5, KW: 3, SH: 1, SW: 2, PH: 2, PW: 1, DH: 2, DW: 1},
		{C: 4, H: 6, W: 6, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1},
	}
	for _, s := range cases {
		s.OH = (s.H+2*s.PH-s.DH*(s.KH-1)-1)/s.SH + 1
		s.OW = (s.W+2*s.PW-s.DW*(s.KW-1)-1)/s.SW + 1
		s.ZX = int32(r.IntN(256) - 128)
		t.Run(fmt.Sprintf("c%d_%dx%d_k%dx%d_s%d%d_p%d%d_d%d%d", s.C, s.H, s.W, s.KH, s.KW, s.SH, s.SW, s.PH, s.PW, s.DH, s.DW), func(t *testing.T) {
			const n = 3
			k := s.KH * s.KW * s.C
			if err := s.check(k); err != nil {
				t.Fatal(err)
			}
			x := make([]int8, n*s.H*s.W*s.C)
			for i := range x {
				x[i] = int8(r.IntN(256) - 128)
			}
			want := im2colDirect(x, n, s)
			m := n * s.OH * s.OW
			pads := 0
			for row := 0; row < m; row++ {
				step := s.copyBytes()
				for kc := 0; kc < k; kc += step {
					off, ok := s.ChunkSource(row, kc)
					for j := 0; j < step; j++ {
						v := int8(s.ZX)
						if ok {
							if off < 0 || off+int64(step) > int64(len(x)) {
								t.Fatalf("row %d chunk %d: offset %d outside the input (%d bytes)", row, kc, off, len(x))
							}
							v = x[off+int64(j)]
						}
						if w := want[row*k+kc+j]; v != w {
							t.Fatalf("row %d column %d: %d, want %d (offset %d, loaded %v)", row, kc+j, v, w, off, ok)
						}
					}
					if !ok {
						pads++
					}
				}
			}
			if s.PH+s.PW > 0 && pads == 0 {
				t.Error("no padding chunk seen: the case does not exercise the zero-point fill")
			}
		})
	}
}

// TestConvPTXLint lints every implicit-GEMM variant: the GEMM's Tensor
// Core body unchanged, four cp.async and four zero-point stores of
// activations a tile load (prologue stages and main loop), no byte-wise
// im2col, and the geometry parameters declared and read.
func TestConvPTXLint(t *testing.T) {
	names := map[string]bool{}
	for _, c := range allConvConfigs() {
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		name := c.Name()
		if !strings.HasPrefix(name, "sqc_gemm_conv_s8_") || names[name] {
			t.Errorf("conv variant named %s (duplicate: %v)", name, names[name])
		}
		names[name] = true
		lintPTX(t, name, text)
		for i := 0; i < len(text); i++ {
			if text[i] >= 0x80 {
				t.Fatalf("%s: non-ASCII byte at %d (ptxas refuses it)", name, i)
			}
		}
		sp := strings.Count(text, "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32")
		dn := strings.Count(text, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32")
		mi, pt := c.warpTiles(), c.pixelTiles()
		kp := c.stepsPerStage()
		steps := kp // the main loop's K steps in the text
		if c.Unroll {
			steps = 3 // two an iteration and an odd KT's last one
		}
		if c.Sparse && (sp != steps*pt*mi || dn != 0) || !c.Sparse && (dn != 2*steps*pt*mi || sp != 0) {
			t.Errorf("%s: %d mma.sp, %d mma.sync", name, sp, dn)
		}
		loads := (c.stages()-1)*kp + steps // S-1 prologue stages of kp steps + the main loop's
		copies, store := "@%pin cp.async.cg.shared.global", "@!%pin st.shared.v4.b32"
		perLoad := c.rowsPerThread() // rows a thread copies
		switch c.ConvPiece {
		case 4:
			copies, store, perLoad = "@%pin cp.async.ca.shared.global", "@!%pin st.shared.b32", 4*perLoad
		case 8:
			copies, store, perLoad = "@%pin cp.async.ca.shared.global", "@!%pin st.shared.v2.b32", 2*perLoad
		}
		if n := strings.Count(text, copies); n != perLoad*loads {
			t.Errorf("%s: %d predicated activation cp.async, want %d", name, n, perLoad*loads)
		}
		if n := strings.Count(text, store); n != perLoad*loads {
			t.Errorf("%s: %d zero-point stores, want %d", name, n, perLoad*loads)
		}
		// The running column replaces every division in the K loop
		// (split-K divides in its set-up: the range, the first column).
		want := 2 * c.rowsPerThread()
		if c.SplitK {
			want += 4
		}
		if divs := strings.Count(text, "div.u32"); c.ConvStep && divs != want {
			t.Errorf("%s: %d div.u32, want the %d of the set-up only", name, divs, want)
		}
		if strings.Contains(text, "%lda") && strings.Contains(text, "mul.wide.u32 %rk, %px, %lda;") {
			t.Errorf("%s: reads activation rows with the GEMM's row stride", name)
		}
		for _, p := range convParams {
			if !strings.Contains(text, "["+p.name+"]") {
				t.Errorf("%s: parameter %s never read", name, p.name)
			}
		}
		for _, bad := range []string{"fma.", "mad.f32", "mul.f32", "add.f32", ".ftz"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: contains %q", name, bad)
			}
		}
	}
	if got := (GemmConfig{Conv: true}).ParamNames(); len(got) != len(gemmParams)+len(convParams) || got[len(got)-1] != "p_zx" {
		t.Errorf("conv parameters %v", got)
	}
}

// TestConvCheck: Check refuses geometry the kernel cannot run.
func TestConvCheck(t *testing.T) {
	c := GemmConfig{Conv: true, Sparse: true}
	s := ConvShape{C: 32, H: 14, W: 14, OH: 7, OW: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1, ZX: -128}
	ok := GemmParams{M: 98, N: 64, K: 288, NPad: 64, KPad: 320, LDA: 1, LDC: 64, QLo: 0, QHi: 255, ZY: -128, Conv: s}
	if err := c.Check(ok); err != nil {
		t.Fatalf("valid parameters refused: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*GemmParams)
		want string
	}{
		{func(p *GemmParams) { p.Conv.C = 24; p.K = 216 }, "multiple of 16"},
		{func(p *GemmParams) { p.K = 304 }, "KH·KW·C"},
		{func(p *GemmParams) { p.Conv.SH = 0 }, "positive strides"},
		{func(p *GemmParams) { p.Conv.OW = 0 }, "positive sizes"},
		{func(p *GemmParams) { p.Conv.ZX = 200 }, "outside int8"},
		{func(p *GemmParams) { p.LDC = 10 }, "output row stride"},
	} {
		p := ok
		tc.mod(&p)
		if err := c.Check(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check = %v, want an error containing %q", err, tc.want)
		}
	}
}

// TestConvStepModel: the running column of ConvStep (channel advanced by
// 64 a step, wrapping to the next tap and kernel row) visits, for every
// thread's chunk, the same tap and channel as dividing the column, step by
// step, for C = 64, 128, 192 and 512 and 1×1, 3×3, 5×3 and 7×7 kernels.
func TestConvStepModel(t *testing.T) {
	for _, sh := range []struct{ c, kh, kw int }{{64, 3, 3}, {128, 1, 1}, {192, 3, 3}, {512, 3, 3}, {64, 5, 3}, {64, 7, 7}} {
		k := sh.kh * sh.kw * sh.c
		for kc16 := 0; kc16 < 64; kc16 += 16 {
			// The kernel's registers: kk, cc, rr, ss as emitConvSetup
			// starts them and emitConvTileLoad advances them.
			kk, cc, rr, ss := kc16, kc16, 0, 0
			for step := 0; 64*step+kc16 < k; step++ {
				col := 64*step + kc16
				tap := col / sh.c
				if kk != col || cc != col%sh.c || rr != tap/sh.kw || ss != tap%sh.kw {
					t.Fatalf("C %d, %dx%d, chunk %d, step %d: running (kk %d, c %d, r %d, s %d), want (%d, %d, %d, %d)",
						sh.c, sh.kh, sh.kw, kc16, step, kk, cc, rr, ss, col, col%sh.c, tap/sh.kw, tap%sh.kw)
				}
				kk += 64
				cc += 64
				if cc >= sh.c {
					cc -= sh.c
					ss++
					if ss == sh.kw {
						ss = 0
						rr++
					}
				}
			}
		}
	}
}
