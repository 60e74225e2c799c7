package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestInterleaveSimulated runs the Interleave kernels (fragments, then the
// next stage's copies without a branch, then the products) in the PTX
// interpreter: their outputs must equal the definition and the same tile
// without Interleave bit for bit, with no shared-memory race (the copies
// past KT land in a stage no step reads) and no global access outside a
// buffer (the weight copies past KT read tile KT−1). Plain GEMM and
// implicit convolution (running taps and divided taps), dense and 2:4, the
// 4-warp n128 tile and the 8-warp m32 tile, K of one step (every copy of
// the loop past KT), ragged K and M, N past the block, residual, int8 with
// and without 16-byte stores, float32.
func TestInterleaveSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(41, 42))
	n128 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true}
	m32 := n128
	m32.SplitM = true
	vec := func(c GemmConfig) GemmConfig { c.StoreVec = true; return c }
	step := func(c GemmConfig) GemmConfig { c.ConvStep = true; return c }
	u2 := func(c GemmConfig) GemmConfig { c.Interleave, c.Unroll = true, true; return c }
	for _, tc := range []struct {
		kind                string // gemm or conv
		n                   int
		s                   ConvShape
		nOut                int
		cfg                 GemmConfig
		sparse, res, outF32 bool
	}{
		{"gemm", 1, rows1x1(64, 9, 15), 128, vec(n128), true, false, false},   // KT = 1
		{"gemm", 2, rows1x1(96, 9, 8), 144, n128, false, true, false},         // ragged K, N past the block
		{"gemm", 1, rows1x1(320, 10, 13), 128, vec(m32), true, true, false},   // KT = 5
		{"gemm", 1, rows1x1(192, 11, 12), 256, m32, false, false, true},       // float32
		{"gemm", 1, rows1x1(256, 7, 10), 128, vec(m32), false, false, false},  // dense m32: k32 halves
		{"gemm", 1, rows1x1(128, 12, 11), 128, vec(n128), true, true, false},  // KT = 2 = S-1
		{"conv", 2, c3(64, 9, 7, 2), 128, step(vec(n128)), true, true, false}, // stride 2, padding
		{"conv", 1, c3(64, 11, 12, 1), 128, step(vec(m32)), true, false, false},
		{"conv", 1, c3(128, 6, 7, 1), 256, step(vec(m32)), false, true, false},
		{"conv", 1, c3(64, 8, 9, 1), 128, step(n128), false, false, true},
		{"conv", 1, c3(32, 7, 9, 1), 128, vec(n128), true, false, false}, // divided taps, C = 32
		// Two steps an iteration (Unroll): KT = 1 (no iteration), 2, 5
		// (the odd step after the loop), 9.
		{"gemm", 1, rows1x1(64, 9, 15), 128, u2(vec(n128)), true, false, false},
		{"gemm", 1, rows1x1(128, 12, 11), 144, u2(n128), false, true, false},
		{"gemm", 1, rows1x1(320, 10, 13), 128, u2(vec(n128)), true, true, false},
		{"conv", 1, c3(64, 11, 12, 1), 128, step(u2(vec(n128))), true, false, false},
		{"conv", 2, c3(64, 9, 7, 2), 128, step(u2(n128)), false, true, true},
	} {
		p := newSimConv(r, tc.n, tc.s, tc.nOut, tc.sparse, tc.res, tc.outF32)
		p.gemm = tc.kind == "gemm"
		c := tc.cfg
		c.Interleave = true
		c.Sparse, c.Residual, c.OutF32, c.Conv = tc.sparse, tc.res, tc.outF32, !p.gemm
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("%s_n%d_%dx%dx%d_m%d_%s", tc.kind, tc.n, tc.s.H, tc.s.W, tc.s.C, tc.nOut, strings.TrimPrefix(c.Name(), "sqc_gemm_")), func(t *testing.T) {
			got := p.simulate(t, c)
			old := c
			old.Interleave, old.Unroll = false, false
			if ref := p.simulate(t, old); string(ref) != string(got) {
				t.Errorf("the interleaved kernel and %s differ", old.Name())
			}
		})
	}
}

// c3 is a 3×3 convolution with pad 1 and stride st.
func c3(c, h, w, st int) ConvShape {
	return ConvShape{C: c, H: h, W: w, KH: 3, KW: 3, SH: st, SW: st, PH: 1, PW: 1, DH: 1, DW: 1}
}

// TestInterleaveMutations: the interpreter catches the two ways the
// branch-free copies can go wrong: without the clamp to tile KT−1 the
// weight copies past KT read past the packed weights; copies into the
// stage being read race with its fragment reads; copies of the wrong tile
// change the products; an unrolled loop that drops an odd KT's last step
// loses its products.
func TestInterleaveMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(43, 44))
	c := GemmConfig{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, StoreVec: true}
	p := newSimConv(r, 1, rows1x1(320, 9, 15), 128, true, false, false)
	p.gemm = true
	u2 := c
	u2.Unroll = true
	for _, m := range []struct {
		name, old, new string
		c              GemmConfig
	}{
		{"no clamp", "min.u32 %ktc, %kt, %ktc;", "mov.u32 %ktc, %kt;", c},
		{"copy into the stage being read", "add.u32 %tmp, %sdst, %wst;", "add.u32 %tmp, %sdst, %rst;", c},
		{"copy of the wrong tile", "add.u32 %ktn, %kt, 2;", "add.u32 %ktn, %kt, 3;", c},
		{"no odd last step", "setp.ge.u32 %p0, %kt, %KT;", "setp.ge.u32 %p0, %kt, 0;", u2}, // KT = 5
	} {
		c := m.c
		t.Run(m.name, func(t *testing.T) {
			edit := func(s string) string {
				if !strings.Contains(s, m.old) {
					t.Fatalf("mutation %q: %q not in the kernel", m.name, m.old)
				}
				return strings.ReplaceAll(s, m.old, m.new)
			}
			y, err := p.runText(t, c, 1, false, edit)
			if err == nil && string(y) == string(p.want(t, p.biasP)) {
				t.Errorf("mutation %q: the interpreter found nothing wrong", m.name)
			}
		})
	}
}
