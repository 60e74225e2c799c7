package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestResidualTileSimulated runs the kernels that copy the residual tile
// into shared memory (ResidualTile) in the PTX interpreter and requires
// their outputs to equal the definition and the same kernel with byte
// loads, bit for bit, with no shared-memory race and no global access
// outside a buffer: the plain GEMM, the implicit convolution (with and
// without running taps, 4-channel taps) and the halo tile; every tile
// (64 channels, n128, n256 WideBlock, SplitM m32, with LateCopy and
// DoubleK); int8 with and without StoreVec, and float32; ragged M (rows
// past M), N not a multiple of the block's channels nor of 16 (a chunk
// partly past N, with a residual row stride past N full of poison), halo
// slots past the image and the batch.
func TestResidualTileSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(31, 32))
	rows := rows1x1
	n128 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true}
	m32 := n128
	m32.SplitM = true
	m32k := m32
	m32k.LateCopy, m32k.DoubleK = true, true
	m32lc := m32
	m32lc.LateCopy = true
	s4w := GemmConfig{Stages: 4, SharedWeights: true}
	n256 := GemmConfig{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true}
	vec := func(c GemmConfig) GemmConfig { c.StoreVec = true; return c }
	step := func(c GemmConfig) GemmConfig { c.ConvStep = true; return c }
	halo := func(c GemmConfig) GemmConfig { c.Halo = true; return c }
	for _, tc := range []struct {
		kind           string // gemm, conv or halo
		n              int
		s              ConvShape
		nOut, ldr      int
		cfg            GemmConfig
		sparse, outF32 bool
	}{
		// Plain GEMM on rows: M = h·w·n, K = C.
		{"gemm", 1, rows(32, 10, 13), 48, 48, vec(GemmConfig{}), false, false},
		{"gemm", 1, rows(96, 7, 11), 40, 48, s4w, true, false},
		{"gemm", 2, rows(64, 9, 8), 208, 208, vec(n128), false, false},
		{"gemm", 1, rows(48, 11, 13), 144, 160, vec(m32k), true, false},
		{"gemm", 1, rows(64, 10, 10), 136, 144, m32, false, true},
		{"gemm", 1, rows(32, 7, 10), 272, 272, vec(n256), true, false},
		{"gemm", 1, rows(64, 9, 15), 128, 128, m32lc, false, false},
		// Implicit-GEMM convolutions.
		{"conv", 2, ConvShape{C: 64, H: 9, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, 128, 128, step(vec(n128)), false, false},
		{"conv", 1, ConvShape{C: 64, H: 11, W: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, 64, 80, step(s4w), true, true},
		{"conv", 1, ConvShape{C: 128, H: 12, W: 11, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}, 128, 128, step(m32lc), true, false},
		{"conv", 2, ConvShape{C: 4, H: 13, W: 11, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1}, 64, 64, vec(s4w), true, false},
		{"conv", 1, ConvShape{C: 64, H: 10, W: 13, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, 256, 256, step(vec(m32k)), false, false},
		// Halo tiles: 5×11 and 13×9 leave patch pixels outside the image,
		// an odd batch a block's second slot past the batch.
		{"halo", 3, halo3x3(128, 5, 11), 128, 128, halo(vec(n128)), false, false},
		{"halo", 2, halo3x3(64, 13, 9), 64, 64, halo(s4w), true, true},
		{"halo", 1, halo3x3(192, 7, 7), 256, 256, halo(vec(n256)), true, false},
		{"halo", 1, halo3x3(64, 9, 8), 48, 64, halo(vec(s4w)), false, false},
		{"halo", 3, halo3x3(128, 6, 7), 136, 144, halo(n128), true, false},
	} {
		p := newSimConv(r, tc.n, tc.s, tc.nOut, tc.sparse, true, tc.outF32)
		p.ldr, p.gemm = tc.ldr, tc.kind == "gemm"
		c := tc.cfg
		if c.StoreVec && tc.nOut%16 != 0 {
			t.Fatalf("case %s: StoreVec needs N a multiple of 16", c.Name())
		}
		c.ResidualTile, c.Sparse, c.Residual, c.OutF32 = true, tc.sparse, true, tc.outF32
		if tc.outF32 {
			c.Act = "relu"
		}
		t.Run(fmt.Sprintf("%s_n%d_%dx%dx%d_m%d_ldr%d_%s", tc.kind, tc.n, tc.s.H, tc.s.W, tc.s.C, tc.nOut, tc.ldr, strings.TrimPrefix(c.Name(), "sqc_gemm_")), func(t *testing.T) {
			got := p.simulate(t, c)
			old := c
			old.ResidualTile = false
			if ref := p.simulate(t, old); string(ref) != string(got) {
				t.Errorf("the residual-tile kernel and the byte-load kernel differ")
			}
		})
	}
}

// TestResidualTileCheck: the residual tile needs a residual, a residual
// row stride that is a multiple of 16, and room for the warps' tiles.
func TestResidualTileCheck(t *testing.T) {
	c := GemmConfig{ResidualTile: true, Stages: 4, SharedWeights: true}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "want Residual") {
		t.Errorf("ResidualTile without Residual: %v, want an error naming Residual", err)
	}
	c.Residual = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.Name(), "_res_i8_rt_s4w") {
		t.Errorf("name %s, want the _rt suffix", c.Name())
	}
	prm := GemmParams{M: 100, N: 40, K: 64, NPad: 64, KPad: 64, LDA: 64, LDR: 40, LDC: 40, QLo: -128, QHi: 127}
	if err := c.Check(prm); err == nil || !strings.Contains(err.Error(), "residual row stride 40, want a multiple of 16") {
		t.Errorf("ldr 40: %v, want the row stride refused", err)
	}
	prm.LDR = 48
	if err := c.Check(prm); err != nil {
		t.Errorf("ldr 48: %v", err)
	}
	c.ResidualTile = false
	prm.LDR = 40
	if err := c.Check(prm); err != nil {
		t.Errorf("byte loads, ldr 40: %v", err)
	}
}
