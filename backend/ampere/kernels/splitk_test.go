package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSplitKSimulated runs split-K kernels in the PTX interpreter with
// grids of z = 1, 2, 3 (and more splits than K units, which leaves splits
// empty), the blocks of split 0 first and, again, those of the last split
// first (so that a different block of each tile does the fix-up), and
// requires every run's outputs to equal the definition and the unsplit
// kernel's bit for bit, the tile counters back at zero: plain GEMM (weights
// to registers one step ahead, and through shared memory), implicit-GEMM
// conv (running column _inc, wide n128 with and without LateCopy, the
// 8-warp block n256, the 8-warp _m32_lc_k128 with its 128-wide stages, 4-
// and 8-channel taps), halo, dense and 2:4, residual, int8
// and float32 outputs, odd K step counts.
func TestSplitKSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(31, 32))
	c3 := func(c, h, w int) ConvShape { return halo3x3(c, h, w) }
	c1 := rows1x1
	s4w := GemmConfig{Stages: 4, SharedWeights: true}
	n128 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true, StoreVec: true}
	m32 := GemmConfig{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true}
	with := func(c GemmConfig, f func(*GemmConfig)) GemmConfig { f(&c); return c }
	for _, tc := range []struct {
		n      int
		s      ConvShape
		nOut   int
		cfg    GemmConfig
		res    bool
		splits []int
	}{
		// Plain GEMM (a 1x1 convolution's rows): K = 320, five steps.
		{1, c1(320, 5, 7), 64, GemmConfig{Sparse: true}, true, []int{2, 3}},
		{2, c1(320, 4, 4), 64, GemmConfig{}, false, []int{3, 7}},
		{1, c1(192, 6, 5), 128, with(s4w, func(c *GemmConfig) { c.StoreVec = true }), true, []int{2, 3}},
		{1, c1(448, 3, 3), 128, with(s4w, func(c *GemmConfig) { c.Sparse, c.OutF32 = true, true }), false, []int{3}},
		// Implicit-GEMM convolutions.
		{1, c3(64, 7, 7), 128, with(n128, func(c *GemmConfig) { c.Conv, c.ConvStep, c.Sparse = true, true, true }), true, []int{2, 3}},
		{2, c3(64, 5, 6), 128, with(n128, func(c *GemmConfig) { c.Conv, c.ConvStep = true, true }), false, []int{3}},
		{1, c3(64, 7, 7), 128, with(m32, func(c *GemmConfig) { c.Conv, c.ConvStep, c.Sparse = true, true, true }), true, []int{2, 3}},
		{1, c3(64, 6, 7), 128, with(m32, func(c *GemmConfig) { c.Conv, c.ConvStep, c.OutF32 = true, true, true }), true, []int{3, 6}},
		{1, c3(128, 5, 5), 256, GemmConfig{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true, StoreVec: true, Conv: true, ConvStep: true, Sparse: true},
			true, []int{2, 3}},
		{1, c3(64, 6, 6), 128, with(n128, func(c *GemmConfig) { c.Conv, c.ConvStep, c.LateCopy = true, true, true }), false, []int{3}},
		{1, ConvShape{C: 8, H: 9, W: 9, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, 64,
			with(s4w, func(c *GemmConfig) { c.Conv = true }), true, []int{2}},
		{1, ConvShape{C: 4, H: 11, W: 9, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1}, 64,
			with(s4w, func(c *GemmConfig) { c.Conv, c.Sparse = true, true }), false, []int{3}},
		// Halo: two and three 64-channel chunks.
		{1, c3(192, 7, 7), 64, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.Sparse = true, true, true }), true, []int{2, 3}},
		{2, c3(128, 6, 5), 128, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.StoreVec = true, true, true }), true, []int{2}},
		{1, c3(192, 7, 7), 128, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.Sparse, c.OutF32 = true, true, true, true }), false, []int{3, 4}},
		// HaloRows: units of one kernel row of a chunk (3 chunks: 9 units;
		// 2 chunks: 6), splits that cut a chunk's rows apart, one unit a
		// split, more splits than units; residual tile, f32 outputs.
		{1, c3(192, 7, 7), 64, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.HaloRows, c.Sparse = true, true, true, true }), true, []int{2, 4, 9, 11}},
		{2, c3(128, 6, 5), 128, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.HaloRows, c.StoreVec = true, true, true, true }), true, []int{5}},
		{1, c3(192, 9, 10), 64, with(s4w, func(c *GemmConfig) {
			c.Conv, c.Halo, c.HaloRows, c.Sparse, c.StoreVec, c.ResidualTile = true, true, true, true, true, true
		}), true, []int{3, 7}},
		{1, c3(128, 7, 7), 128, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.HaloRows, c.Sparse, c.OutF32 = true, true, true, true, true }), false, []int{4}},
		{1, c3(64, 5, 5), 64, with(GemmConfig{Stages: 3, SharedWeights: true}, func(c *GemmConfig) { c.Conv, c.Halo, c.HaloRows = true, true, true }), false, []int{2, 3}},
		// ResNet-34's layer3 as the latency engine would run it: 12 units
		// in 9 splits, the residual tile, 16-byte stores.
		{1, c3(256, 14, 14), 64, with(s4w, func(c *GemmConfig) {
			c.Conv, c.Halo, c.HaloRows, c.Sparse, c.StoreVec, c.ResidualTile = true, true, true, true, true, true
		}), true, []int{9}},
		// 7-row patches (Halo7) split over chunks and over kernel rows:
		// layer3 at batch 1 (4 patches) and a ragged batch of 2.
		{1, c3(256, 14, 14), 64, with(s4w, func(c *GemmConfig) {
			c.Conv, c.Halo, c.Halo7, c.HaloRows, c.Sparse, c.StoreVec, c.ResidualTile = true, true, true, true, true, true, true
		}), true, []int{9}},
		{2, c3(128, 13, 9), 64, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.Halo7 = true, true, true }), true, []int{2}},
		// The residual tile (ResidualTile) behind the fix-up: the kernels
		// the latency heuristic plans for a block's second convolution.
		{1, c3(192, 7, 7), 64, with(s4w, func(c *GemmConfig) {
			c.Conv, c.Halo, c.Sparse, c.StoreVec, c.ResidualTile = true, true, true, true, true
		}), true, []int{2, 3}},
		{1, c3(128, 6, 5), 64, with(s4w, func(c *GemmConfig) { c.Conv, c.ConvStep, c.StoreVec, c.ResidualTile = true, true, true, true }), true, []int{2, 5}},
		{1, c1(320, 5, 7), 64, with(s4w, func(c *GemmConfig) { c.Sparse, c.ResidualTile = true, true }), true, []int{3}},
		// float32 outputs staged (StoreVec) behind the fix-up.
		{1, c1(192, 6, 5), 144, with(n128, func(c *GemmConfig) { c.OutF32, c.ResidualTile = true, true }), true, []int{2, 3}},
		{1, c1(192, 6, 5), 132, with(n128, func(c *GemmConfig) { c.OutF32 = true }), true, []int{3}},
		{1, c3(64, 6, 7), 128, with(m32, func(c *GemmConfig) { c.Conv, c.ConvStep, c.OutF32, c.StoreVec, c.Sparse = true, true, true, true, true }), true, []int{3}},
		{1, c3(192, 7, 7), 128, with(s4w, func(c *GemmConfig) { c.Conv, c.Halo, c.Sparse, c.OutF32, c.StoreVec = true, true, true, true, true }), false, []int{3}},
	} {
		p := newSimConv(r, tc.n, tc.s, tc.nOut, tc.cfg.Sparse, tc.res, tc.cfg.OutF32)
		base := tc.cfg
		base.Residual = tc.res
		base.HaloRows = false // HaloRows needs SplitK: the reference is the chunked halo kernel
		sk := tc.cfg
		sk.Residual, sk.SplitK = tc.res, true
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d_k%d_%s", tc.n, tc.s.C, tc.s.H, tc.s.W, tc.s.KH, sk.Name()), func(t *testing.T) {
			ref := p.simulateSplit(t, base, 1, false)
			for _, s := range append([]int{1}, tc.splits...) {
				for _, desc := range []bool{false, true} {
					if s == 1 && desc {
						continue
					}
					if got := p.simulateSplit(t, sk, s, desc); string(got) != string(ref) {
						t.Errorf("split %d (last split first: %v): the outputs differ from the unsplit kernel's", s, desc)
					}
				}
			}
		})
	}
}

// TestSplitKFixupMutation breaks the fix-up (one accumulator's reduction
// left out) and requires the simulation to notice: the split tests can
// fail. (simulateText fails on a workspace the kernel leaves nonzero.)
func TestSplitKFixupMutation(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(33, 34))
	p := newSimConv(r, 1, halo3x3(64, 7, 7), 64, true, false, false)
	c := GemmConfig{Stages: 4, SharedWeights: true, Conv: true, SplitK: true}
	if got, want := p.simulateText(t, c, 3, false, nil); string(got) != string(want) {
		t.Fatalf("%s: the unbroken kernel's outputs differ from the definition", c.Name())
	}
	const red = "red.relaxed.gpu.global.add.s32 [%addr+0], %acc0;"
	edit := func(s string) string {
		if !strings.Contains(s, red) {
			t.Fatalf("%s: no %q to break", c.Name(), red)
		}
		return strings.Replace(s, red, "", 1)
	}
	if got, want := p.simulateText(t, c, 3, false, edit); string(got) == string(want) {
		t.Errorf("%s: with one accumulator's reduction left out the outputs still equal the definition", c.Name())
	}
}

// TestSplitKValidate: the one split-K kernel ptxas spills is refused with
// a reason, its unsplit twin and its sparse sibling are not.
func TestSplitKValidate(t *testing.T) {
	c := GemmConfig{Conv: true, ConvStep: true, Residual: true, StoreVec: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true,
		Stages: 3, SharedWeights: true, SplitK: true}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "spills") {
		t.Errorf("%s: Validate() = %v, want the spill refused", c.Name(), err)
	}
	c.SplitK = false
	if err := c.Validate(); err != nil {
		t.Errorf("%s: %v", c.Name(), err)
	}
	c.SplitK, c.Sparse = true, true
	if err := c.Validate(); err != nil {
		t.Errorf("%s: %v", c.Name(), err)
	}
}
