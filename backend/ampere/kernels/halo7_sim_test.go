package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestHalo7Simulated runs the 7-row halo kernels (Halo7) in the PTX
// interpreter and requires their outputs to equal the definition and the
// 8-row halo kernel's bit for bit, with the blocks run first to last and
// last to first (a block storing a row its neighbour owns, such as a
// patch's tile 7, is caught in one of the two orders): ResNet's 14×14,
// 7×7 and 28×28 images and ragged ones (13×9, 5×11, 9×8), batches 1 to
// 3, dense and 2:4, residual (byte loads and the residual tile), int8
// (direct and 16-byte stores) and float32 (direct and staged), on the
// pipelines the planner offers the halo kernel: s4w, n128-s3w, n256-s4w.
func TestHalo7Simulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(71, 72))
	s4w := GemmConfig{Stages: 4, SharedWeights: true}
	n128 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true}
	n256 := GemmConfig{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true}
	vec := func(c GemmConfig) GemmConfig { c.StoreVec = true; return c }
	rt := func(c GemmConfig) GemmConfig { c.StoreVec, c.ResidualTile = true, true; return c }
	for _, tc := range []struct {
		n, c, h, w, nOut    int
		sparse, res, outF32 bool
		pipe                GemmConfig
	}{
		{1, 64, 14, 14, 128, true, false, false, vec(n128)},
		{2, 128, 14, 14, 128, false, true, false, rt(n128)},
		{1, 64, 14, 14, 64, true, true, false, s4w},
		{1, 64, 7, 7, 64, true, true, true, s4w},
		{2, 64, 7, 7, 128, false, false, false, n128},
		{1, 128, 7, 7, 128, true, true, false, vec(n128)},
		{1, 64, 28, 28, 64, true, false, false, vec(s4w)},
		{1, 64, 28, 28, 128, false, true, true, n128},
		{3, 64, 13, 9, 64, true, true, false, rt(s4w)},
		{2, 128, 5, 11, 128, false, false, true, vec(n128)},
		{1, 64, 5, 11, 256, true, true, false, rt(n256)},
		{3, 64, 9, 8, 64, false, true, false, s4w},
		{2, 64, 13, 9, 128, false, false, false, vec(n128)},
	} {
		p := newSimConv(r, tc.n, halo3x3(tc.c, tc.h, tc.w), tc.nOut, tc.sparse, tc.res, tc.outF32)
		spreadOutputs(p)
		h8 := tc.pipe
		h8.Conv, h8.Halo, h8.Sparse, h8.Residual, h8.OutF32 = true, true, tc.sparse, tc.res, tc.outF32
		h7 := h8
		h7.Halo7 = true
		if tc.outF32 {
			h7.Act = "relu" // as runText sets it
		}
		name := fmt.Sprintf("n%d_c%d_%dx%d_m%d_%s", tc.n, tc.c, tc.h, tc.w, tc.nOut, strings.TrimPrefix(h7.Name(), "sqc_gemm_halo_s8_"))
		t.Run(name, func(t *testing.T) {
			p.revBlocks = false
			got := p.simulate(t, h7)
			p.revBlocks = true
			if rev := p.simulate(t, h7); string(rev) != string(got) {
				t.Errorf("the 7-row kernel's blocks last to first give other outputs")
			}
			p.revBlocks = false
			if ref := p.simulate(t, h8); string(ref) != string(got) {
				t.Errorf("the 7-row and the 8-row halo kernels differ")
			}
		})
	}
}

// TestHalo7Mutations: the interpreter, with the blocks run last to first,
// catches a 7-row kernel that stores its patches' row 7 (the row bound
// OH alone, or oy + 8), places its patches 8 rows apart, or reads its
// second slot's halo at the 8-row kernel's pitch.
func TestHalo7Mutations(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(73, 74))
	vec := GemmConfig{Conv: true, Halo: true, Halo7: true, Stages: 3, SharedWeights: true, WideN: true, StoreVec: true}
	f32 := GemmConfig{Conv: true, Halo: true, Halo7: true, Stages: 4, SharedWeights: true, StoreVec: true}
	pitch := fmt.Sprintf("mul.lo.u32 %%hp, %%wm, %d;", vec.haloPix()*GemmBK)
	for _, m := range []struct {
		name, old, new string
		c              GemmConfig
		outF32         bool
	}{
		{"row bound OH", "min.u32 %hrl, %hrl, %cOH;", "mov.u32 %hrl, %cOH;", vec, false},
		{"row bound oy+8", "add.u32 %hrl, %hoy, 7;", "add.u32 %hrl, %hoy, 8;", vec, false},
		{"row bound OH, float32 staged", "min.u32 %hrl, %hrl, %cOH;", "mov.u32 %hrl, %cOH;", f32, true},
		{"patches 8 rows apart", "mul.lo.u32 %hoy, %hoy, 7;", "mul.lo.u32 %hoy, %hoy, 8;", vec, false},
		{"slot pitch 100 pixels", pitch, fmt.Sprintf("mul.lo.u32 %%hp, %%wm, %d;", 100*GemmBK), vec, false},
	} {
		t.Run(m.name, func(t *testing.T) {
			p := newSimConv(r, 2, halo3x3(64, 14, 14), 128, true, false, m.outF32)
			spreadOutputs(p)
			p.revBlocks = true
			edit := func(s string) string {
				if !strings.Contains(s, m.old) {
					t.Fatalf("mutation %q: %q not in the kernel", m.name, m.old)
				}
				return strings.ReplaceAll(s, m.old, m.new)
			}
			y, err := p.runText(t, m.c, 1, false, edit)
			if err == nil && string(y) == string(p.want(t, p.biasP)) {
				t.Errorf("mutation %q: the interpreter found nothing wrong", m.name)
			}
			// The kernel as built passes the same test.
			y, err = p.runText(t, m.c, 1, false, nil)
			if err != nil || string(y) != string(p.want(t, p.biasP)) {
				t.Errorf("the unmutated kernel fails: %v", err)
			}
		})
	}
}

// spreadOutputs widens a problem's outputs so that a wrong row rarely
// gives the right bytes by chance: newSimConv's int8 outputs are within a
// few codes of their zero point, and under its relu clamp (qlo = −zy)
// with zy < 0 every one of them can be the same byte. Here the
// multipliers are 16 times larger and the int8 clamp is the whole range.
func spreadOutputs(p *simConv) {
	for i := range p.mult {
		p.mult[i] *= 16
	}
	p.qlo, p.qhi = -128-p.zy, 127-p.zy
}
