package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestF32StoresSimulated runs the kernels that stage a float32 output
// through shared memory (StoreVec with OutF32) in the PTX interpreter and
// requires their outputs to equal the definition and the same kernel with
// direct stores, bit for bit, with no shared-memory race, no access
// outside a buffer and the output rows' padding untouched: the plain GEMM,
// the implicit convolution (running taps, 4-channel taps) and the halo
// tile; every tile (64 channels in one and two passes, 256 in four, n128, n256
// WideBlock, SplitM m32, LateCopy, DoubleK); no residual, residual byte
// loads and the residual tile (whose bytes the staging must not overwrite
// before every warp has read them); ragged M, N not a multiple of 16 (a
// warp's chunks past N), output row strides past N.
func TestF32StoresSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(41, 42))
	rows := rows1x1
	s3 := GemmConfig{}
	s4w := GemmConfig{Stages: 4, SharedWeights: true}
	n128 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true}
	lc := n128
	lc.LateCopy = true
	m32 := n128
	m32.SplitM = true
	m32k := m32
	m32k.LateCopy, m32k.DoubleK = true, true
	n256 := GemmConfig{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true}
	step := func(c GemmConfig) GemmConfig { c.ConvStep = true; return c }
	halo := func(c GemmConfig) GemmConfig { c.Halo = true; return c }
	for _, tc := range []struct {
		kind      string // gemm, conv or halo
		n         int
		s         ConvShape
		nOut, ldc int
		ldr       int // 0: no residual
		rt        bool
		cfg       GemmConfig
		sparse    bool
		passes    int
	}{
		{"gemm", 1, rows(32, 10, 13), 36, 40, 0, false, s3, false, 2},
		{"gemm", 1, rows(96, 7, 11), 40, 48, 48, false, s4w, true, 1},
		{"gemm", 2, rows(64, 9, 8), 200, 204, 208, true, n128, true, 2},
		{"gemm", 1, rows(48, 11, 13), 148, 148, 160, true, m32k, false, 1},
		{"gemm", 1, rows(32, 7, 10), 276, 276, 288, true, n256, true, 2},
		{"gemm", 1, rows(64, 9, 15), 128, 132, 0, false, m32, false, 2},
		{"gemm", 1, rows(64, 10, 10), 136, 136, 144, false, lc, false, 2},
		{"gemm", 1, rows(32, 9, 9), 52, 56, 64, true, s3, true, 2},
		{"conv", 2, ConvShape{C: 64, H: 9, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, 128, 128, 128, true, step(n128), false, 2},
		{"conv", 2, ConvShape{C: 4, H: 13, W: 11, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1}, 64, 68, 0, false, s4w, true, 1},
		{"conv", 1, ConvShape{C: 64, H: 10, W: 13, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, 256, 260, 256, true, step(m32k), true, 1},
		// Halo tiles: 5×11 and 13×9 leave patch pixels outside the image,
		// an odd batch a block's second slot past the batch.
		{"halo", 3, halo3x3(128, 5, 11), 128, 128, 128, true, halo(n128), true, 2},
		{"halo", 2, halo3x3(64, 13, 9), 64, 68, 80, false, halo(s4w), false, 1},
		{"halo", 1, halo3x3(192, 7, 7), 244, 244, 0, false, halo(n256), true, 4},
		{"halo", 1, halo3x3(64, 9, 8), 48, 52, 64, true, halo(s4w), true, 2},
	} {
		p := newSimConv(r, tc.n, tc.s, tc.nOut, tc.sparse, tc.ldr != 0, true)
		p.ldr, p.ldc, p.gemm = tc.ldr, tc.ldc, tc.kind == "gemm"
		c := tc.cfg
		c.StoreVec, c.ResidualTile, c.Residual, c.Sparse, c.OutF32, c.Act = true, tc.rt, tc.ldr != 0, tc.sparse, true, "relu"
		t.Run(fmt.Sprintf("%s_n%d_%dx%dx%d_m%d_ldc%d_ldr%d_%s", tc.kind, tc.n, tc.s.H, tc.s.W, tc.s.C, tc.nOut, tc.ldc, tc.ldr, strings.TrimPrefix(c.Name(), "sqc_gemm_")), func(t *testing.T) {
			if c.f32Passes() != tc.passes {
				t.Errorf("%d passes, want %d", c.f32Passes(), tc.passes)
			}
			got := p.simulate(t, c)
			direct := c
			direct.StoreVec = false
			if ref := p.simulate(t, direct); string(ref) != string(got) {
				t.Errorf("the staged and the direct float32 stores differ")
			}
		})
	}
}

// TestF32StoresMutations breaks the float32 staging in the PTX text in the
// ways a wrong edit could and requires the interpreter to catch each: a
// wrong result, a race or an access outside shared memory. Both orders:
// after every element (with the residual tile) and pass by pass as the
// elements are done (residual byte loads).
func TestF32StoresMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(43, 44))
	rows := ConvShape{C: 64, H: 9, W: 8, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}
	for _, rt := range []bool{true, false} {
		c := GemmConfig{Stages: 3, SharedWeights: true, WideN: true, StoreVec: true, ResidualTile: rt, Residual: true, Sparse: true, OutF32: true, Act: "relu"}
		fr := c.f32RowOf(c.f32Passes())
		for _, m := range []struct{ name, old, new string }{
			{"element row stride", fmt.Sprintf("mul.lo.u32 %%tmp, %%tig, %d;", 2*fr), fmt.Sprintf("mul.lo.u32 %%tmp, %%tig, %d;", 2*fr-16)},
			{"element channel", "shl.b32 %tmp2, %gid, 2;", "shl.b32 %tmp2, %gid, 3;"},
			{"chunk row stride", fmt.Sprintf("mul.lo.u32 %%tmp, %%q, %d;", fr), fmt.Sprintf("mul.lo.u32 %%tmp, %%q, %d;", fr-16)},
			{"warp region", fmt.Sprintf("mul.lo.u32 %%sdw, %%wrp, %d;", c.warpPixels()*fr), fmt.Sprintf("mul.lo.u32 %%sdw, %%wrp, %d;", c.warpPixels()*fr/2)},
			{"block barrier", "bar.sync 0;", ""},
			{"pass barrier", "are done before its region is overwritten\n\tbar.warp.sync 0xffffffff;", "are done before its region is overwritten"},
			{"staging barrier", "a warp barrier orders its stores and loads\n\tbar.warp.sync 0xffffffff;", "a warp barrier orders its stores and loads"},
			{"second pass channel", "add.u32 %chv, %chv, 32;", "add.u32 %chv, %chv, 28;"},
		} {
			t.Run(fmt.Sprintf("rt%v_%s", rt, strings.ReplaceAll(m.name, " ", "_")), func(t *testing.T) {
				p := newSimConv(r, 2, rows, 200, true, true, true)
				p.gemm, p.ldr = true, 208
				edit := func(text string) string {
					at := strings.Index(text, "// float32 staging")
					if at < 0 || !strings.Contains(text[at:], m.old) {
						t.Fatalf("%q not found after the staging comment", m.old)
					}
					return text[:at] + strings.Replace(text[at:], m.old, m.new, 1)
				}
				y, err := p.runText(t, c, 1, false, edit)
				if err == nil && string(y) == string(p.want(t, p.biasP)) {
					t.Errorf("the kernel with a broken %s still gives the right output", m.name)
				}
				if err != nil {
					t.Logf("caught: %v", err)
				}
			})
		}
	}
}

// TestF32StoresCheck: a staged float32 output needs N and the output row
// stride multiples of 4 (not 16, as an int8 one), and room in the stages
// for one 16-channel pass.
func TestF32StoresCheck(t *testing.T) {
	c := GemmConfig{Stages: 4, SharedWeights: true, StoreVec: true, OutF32: true, Act: "relu"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.Name(), "_f32_relu_v16_s4w") {
		t.Errorf("name %s, want the _v16 suffix", c.Name())
	}
	prm := GemmParams{M: 100, N: 36, K: 64, NPad: 64, KPad: 64, LDA: 64, LDC: 36}
	if err := c.Check(prm); err != nil {
		t.Errorf("N 36, ldc 36: %v", err)
	}
	prm.N, prm.LDC = 34, 36
	if err := c.Check(prm); err == nil || !strings.Contains(err.Error(), "want both multiples of 4") {
		t.Errorf("N 34: %v, want N refused", err)
	}
	prm.N, prm.LDC = 36, 38
	if err := c.Check(prm); err == nil || !strings.Contains(err.Error(), "want both multiples of 4") {
		t.Errorf("ldc 38: %v, want the row stride refused", err)
	}
	// Two stages of 8 KiB hold 4 warps × 64 rows of 64 bytes: not one
	// 16-channel pass with its 16 bytes of padding a row.
	two := GemmConfig{Stages: 2, StoreVec: true, OutF32: true}
	if err := two.Validate(); err == nil || !strings.Contains(err.Error(), "cannot stage 4 float32 tiles") {
		t.Errorf("two stages: %v, want the staging refused", err)
	}
	two.StoreVec = false
	if err := two.Validate(); err != nil {
		t.Errorf("two stages, direct stores: %v", err)
	}
}
