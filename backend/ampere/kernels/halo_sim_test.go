package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/pack"
)

// simConv is one convolution problem for the PTX interpreter: NHWC input,
// weights [n][(kh, kw, c)] (2:4 along c when sparse), and the epilogue's
// parameters.
type simConv struct {
	n, nOut             int
	s                   ConvShape
	sparse, res, outF32 bool
	x, w, r             []int8
	bias                []int32
	mult                []float32
	zr, qlo, qhi, zy    int32
	mr                  float32
	// ldr is the residual's row stride (0: nOut); the bytes past nOut
	// are poison the kernel must not use.
	ldr int
	// ldc is the output's row stride in elements (0: nOut); the kernel
	// must leave the elements past nOut untouched.
	ldc int
	// biasP is the bias with the zero point folded in (run sets it).
	biasP []int32
	// gemm runs the plain GEMM kernel on the input's rows (a 1×1
	// stride-1 unpadded geometry, C a multiple of 16) instead of the
	// convolution kernel.
	gemm bool
	// revBlocks runs a split's blocks last to first along x: a block
	// that stores rows another block owns then overwrites them after
	// that block, whichever of the two is wrong.
	revBlocks bool
}

// newSimConv draws a problem of geometry s (OH, OW and ZX filled in here)
// for a batch of n.
func newSimConv(r *rand.Rand, n int, s ConvShape, nOut int, sparse, res, outF32 bool) *simConv {
	s.OH = (s.H+2*s.PH-s.DH*(s.KH-1)-1)/s.SH + 1
	s.OW = (s.W+2*s.PW-s.DW*(s.KW-1)-1)/s.SW + 1
	s.ZX = int32(r.IntN(256) - 128)
	c, h, w := s.C, s.H, s.W
	p := &simConv{n: n, nOut: nOut, sparse: sparse, res: res, outF32: outF32, s: s}
	rnd := func(k int) []int8 {
		v := make([]int8, k)
		for i := range v {
			v[i] = int8(r.IntN(256) - 128)
		}
		return v
	}
	k := s.KH * s.KW * c
	p.x = rnd(n * h * w * c)
	p.w = rnd(nOut * k)
	if sparse {
		for i := 0; i < len(p.w); i += 4 {
			keep := r.Perm(4)[:2]
			for j := 0; j < 4; j++ {
				if j != keep[0] && j != keep[1] {
					p.w[i+j] = 0
				}
			}
		}
	}
	p.bias = make([]int32, nOut)
	p.mult = make([]float32, nOut)
	for i := range p.bias {
		p.bias[i] = int32(r.IntN(40001) - 20000)
		p.mult[i] = float32(math.Exp(r.Float64()*2-9) / math.Sqrt(float64(k)))
	}
	if res {
		p.r = rnd(n * s.OH * s.OW * nOut)
		p.zr, p.mr = int32(r.IntN(256)-128), float32(0.5+r.Float64())
	}
	p.zy = int32(r.IntN(101) - 50)
	p.qlo, p.qhi = -p.zy, 127-p.zy // relu
	return p
}

// want computes the outputs the kernels must give, from the definition:
// direct im2col (padding with the zero point), int32 products plus the
// folded bias, then the epilogue's float32 operations in the kernel's
// order; the int8 clamp range and float32 outputs both apply a relu.
func (p *simConv) want(t *testing.T, biasP []int32) []byte {
	col := im2colDirect(p.x, p.n, p.s)
	k, m := p.s.KH*p.s.KW*p.s.C, p.n*p.s.OH*p.s.OW
	esize := 1
	if p.outF32 {
		esize = 4
	}
	out := make([]byte, m*p.nOut*esize)
	for row := 0; row < m; row++ {
		for o := 0; o < p.nOut; o++ {
			acc := biasP[o]
			for i := 0; i < k; i++ {
				acc += int32(col[row*k+i]) * int32(p.w[o*k+i])
			}
			y := float32(acc) * p.mult[o]
			if p.res {
				y = y + float32(float32(int32(p.r[row*p.nOut+o])-p.zr)*p.mr)
			}
			if p.outF32 { // with a relu
				put32(out[4*(row*p.nOut+o):], math.Float32bits(max(y, 0)))
				continue
			}
			v := int32(math.RoundToEven(float64(y)))
			out[row*p.nOut+o] = byte(int8(min(max(v, p.qlo), p.qhi) + p.zy))
		}
	}
	return out
}

// rows1x1 is the geometry of a plain GEMM over an h×w image's pixels of c
// channels: a 1×1 stride-1 unpadded convolution.
func rows1x1(c, h, w int) ConvShape {
	return ConvShape{C: c, H: h, W: w, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}
}

// simulate runs convolution kernel c on the problem in the PTX
// interpreter and returns its output bytes.
func (p *simConv) simulate(t *testing.T, c GemmConfig) []byte {
	t.Helper()
	c.Conv = !p.gemm
	return p.simulateSplit(t, c, 1, false)
}

// simulateSplit runs kernel c (a plain GEMM when c.Conv is false: the
// problem is then a 1x1 convolution, X its NHWC input) with a grid z of
// splits (SplitK kernels), the blocks of split z = 0 first or (desc)
// those of split splits-1 first, and checks the outputs against the
// definition and, for SplitK, the tile counters and the workspace back
// at zero.
func (p *simConv) simulateSplit(t *testing.T, c GemmConfig, splits int, desc bool) []byte {
	t.Helper()
	y, w := p.simulateText(t, c, splits, desc, nil)
	if string(w) != string(y) {
		esize := len(y) / (p.n * p.s.OH * p.s.OW * p.nOut)
		bad := 0
		for i := range y {
			if y[i] != w[i] {
				if bad < 5 {
					t.Errorf("%s: output byte %d (row %d) = %#x, want %#x", c.Name(), i, i/esize/p.nOut, y[i], w[i])
				}
				bad++
			}
		}
		t.Errorf("%s: %d of %d output bytes differ", c.Name(), bad, len(y))
	}
	return y
}

// simulateText runs the kernel as simulateSplit does, its text passed
// through edit (a mutation test's broken kernel) when edit is not nil,
// and returns the output bytes and the definition's, unchecked.
func (p *simConv) simulateText(t *testing.T, c GemmConfig, splits int, desc bool, edit func(string) string) (got, want []byte) {
	t.Helper()
	y, err := p.runText(t, c, splits, desc, edit)
	if err != nil {
		t.Fatal(err)
	}
	return y, p.want(t, p.biasP)
}

// esize is the size of an output element.
func (p *simConv) esize() int {
	if p.outF32 {
		return 4
	}
	return 1
}

// runText runs the kernel as simulateText does and returns its output
// rows without their stride padding (ldc), and sets p.biasP; an error if
// the kernel wrote the padding or the interpreter stopped it (a race, an
// access outside shared memory or a buffer).
func (p *simConv) runText(t *testing.T, c GemmConfig, splits int, desc bool, edit func(string) string) ([]byte, error) {
	t.Helper()
	c.Sparse, c.Residual, c.OutF32 = p.sparse, p.res, p.outF32
	if c.Conv {
		c.ConvPiece = ConvPiece(p.s.C)
	}
	if c.OutF32 {
		c.Act = "relu"
	}
	text, err := c.PTX()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		text = edit(text)
	}
	k, err := parseSim(text, c.SharedBytes())
	if err != nil {
		t.Fatal(err)
	}
	kd := p.s.KH * p.s.KW * p.s.C
	var wb, eb []byte
	var npad, kpad int
	if p.sparse {
		sp, err := pack.PackSparse(p.w, p.nOut, kd, c.BN())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range sp.Values {
			wb = append(wb, byte(v))
		}
		eb = make([]byte, 4*len(sp.Meta))
		for i, v := range sp.Meta {
			put32(eb[4*i:], v)
		}
		npad, kpad = sp.NPad, sp.KPad
	} else {
		dn, err := pack.PackDense(p.w, p.nOut, kd, c.BN())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range dn.Values {
			wb = append(wb, byte(v))
		}
		eb = []byte{0}
		npad, kpad = dn.NPad, dn.KPad
	}
	biasP, err := pack.FoldZeroPoint(p.bias, p.w, p.nOut, kd, npad, p.s.ZX)
	if err != nil {
		t.Fatal(err)
	}
	m := p.n * p.s.OH * p.s.OW
	ldr := p.nOut
	if p.ldr != 0 {
		ldr = p.ldr
	}
	ldc := p.nOut
	if p.ldc != 0 {
		ldc = p.ldc
	}
	prm := GemmParams{M: m, N: p.nOut, K: kd, NPad: npad, KPad: kpad, LDA: p.s.C, LDR: ldr, LDC: ldc,
		ZR: p.zr, QLo: p.qlo, QHi: p.qhi, ZY: p.zy, MR: p.mr, FLo: float32(math.Inf(-1)), FHi: float32(math.Inf(1)), Conv: p.s}
	if err := c.Check(prm); err != nil {
		t.Fatal(err)
	}
	mc := &simMachine{k: k, threads: c.Threads()}
	u8 := func(v []int8) []byte {
		b := make([]byte, len(v))
		for i, x := range v {
			b[i] = byte(x)
		}
		return b
	}
	bb := make([]byte, 4*npad)
	for i, v := range biasP {
		put32(bb[4*i:], uint32(v))
	}
	mb := make([]byte, 4*npad)
	for i, v := range p.mult {
		put32(mb[4*i:], math.Float32bits(v))
	}
	esize := p.esize()
	y := make([]byte, m*ldc*esize)
	for i := range y {
		y[i] = 0xA5
	}
	rb := []byte{0}
	if p.res {
		rb = make([]byte, m*ldr)
		for i := range rb {
			rb[i] = 0x5A // poison past nOut
		}
		for row := 0; row < m; row++ {
			copy(rb[row*ldr:], u8(p.r[row*p.nOut:(row+1)*p.nOut]))
		}
	}
	f := func(x float32) uint64 { return uint64(math.Float32bits(x)) }
	s32 := func(x int32) uint64 { return uint64(uint32(x)) }
	mc.params = map[string]uint64{
		"p_x": mc.newBuffer(u8(p.x)), "p_w": mc.newBuffer(wb), "p_e": mc.newBuffer(eb), "p_bias": mc.newBuffer(bb),
		"p_mult": mc.newBuffer(mb), "p_r": mc.newBuffer(rb), "p_y": mc.newBuffer(y),
		"p_m": uint64(m), "p_n": uint64(p.nOut), "p_k": uint64(kd), "p_ktiles": uint64(kpad / GemmBK),
		"p_lda": uint64(p.s.C), "p_ldr": uint64(ldr), "p_ldc": uint64(ldc),
		"p_zr": s32(p.zr), "p_qlo": s32(p.qlo), "p_qhi": s32(p.qhi), "p_zy": s32(p.zy),
		"p_mr": f(p.mr), "p_flo": f(prm.FLo), "p_fhi": f(prm.FHi), "p_zx": s32(p.s.ZX),
	}
	for i, v := range p.s.LaunchU32s() {
		mc.params[convParams[i].name] = uint64(v)
	}
	gx, gy := c.Grid(m, npad)
	if c.Halo {
		gx = c.HaloBlocks(p.s, p.n)
	}
	var cnt, ws []byte
	if c.SplitK {
		cnt = make([]byte, 4*gx*gy)
		ws = make([]byte, max(c.SplitKWorkspaceBytes(gx*gy, splits), 1))
		mc.params["p_ws"], mc.params["p_cnt"] = mc.newBuffer(ws), mc.newBuffer(cnt)
	}
	mc.gridX, mc.gridZ = uint32(gx), uint32(splits)
	for i := 0; i < splits; i++ {
		bz := i
		if desc {
			bz = splits - 1 - i
		}
		for by := 0; by < gy; by++ {
			for i := 0; i < gx; i++ {
				bx := i
				if p.revBlocks {
					bx = gx - 1 - i
				}
				if err := mc.run(uint32(bx), uint32(by), uint32(bz)); err != nil {
					return nil, fmt.Errorf("%s block (%d, %d, %d): %v", c.Name(), bx, by, bz, err)
				}
			}
		}
	}
	for i, v := range cnt {
		if v != 0 {
			return nil, fmt.Errorf("%s: tile counter byte %d is %d after the launch, want all zero", c.Name(), i, v)
		}
	}
	for i, v := range ws {
		if v != 0 {
			return nil, fmt.Errorf("%s: workspace byte %d is %d after the launch, want all zero", c.Name(), i, v)
		}
	}
	p.biasP = biasP
	out := make([]byte, 0, m*p.nOut*esize)
	for row := 0; row < m; row++ {
		r := y[row*ldc*esize : (row+1)*ldc*esize]
		out = append(out, r[:p.nOut*esize]...)
		for i, v := range r[p.nOut*esize:] {
			if v != 0xA5 {
				return nil, fmt.Errorf("%s: row %d's padding byte %d written (%#x)", c.Name(), row, p.nOut*esize+i, v)
			}
		}
	}
	return out, nil
}

// TestHaloSimulated runs the halo kernel's PTX in the CPU interpreter
// (ptxsim_test.go) and requires its outputs to equal the definition (and
// the implicit-GEMM kernel's, run the same way) bit for bit, with no
// shared-memory race and no access outside a buffer: dense and 2:4
// sparse, residual, int8 (with and without 16-byte stores) and float32
// outputs, ragged images (7×7, 13×9, 5×11, 14×14) and 56×56 (7×7 patches),
// batches 1 to 3 (a block's second patch past the batch), one to four
// 64-channel chunks, on the four shared-weight pipelines (s4w with and
// without 16-byte stores, n128, n256), each dense with a residual.
func TestHaloSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(23, 24))
	pipes := []GemmConfig{{Stages: 4, SharedWeights: true, StoreVec: true}, {Stages: 3, SharedWeights: true, WideN: true, StoreVec: true},
		{Stages: 4, SharedWeights: true}, {Stages: 4, SharedWeights: true, WideN: true, WideBlock: true, StoreVec: true}}
	for ci, tc := range []struct {
		n, c, h, w, nOut    int
		sparse, res, outF32 bool
	}{
		{1, 64, 7, 7, 64, true, false, false},
		{3, 128, 5, 11, 128, false, true, false},
		{2, 64, 13, 9, 64, true, true, true},
		{1, 192, 7, 7, 256, true, true, false},
		{3, 64, 9, 8, 64, false, false, false},
		{1, 128, 7, 7, 128, true, false, true},
		{1, 64, 56, 56, 64, true, true, false},
		{1, 256, 14, 14, 256, false, false, false},
		// Dense residuals on each pipeline (pipes[i%4]), the wide tiles
		// (one k32 half at a time) with float32 on _n128 and int8 on _n256.
		{2, 64, 6, 6, 64, false, true, false},
		{2, 128, 7, 7, 128, false, true, true},
		{1, 64, 10, 9, 64, false, true, false},
		{1, 128, 9, 10, 256, false, true, false},
	} {
		pipe := pipes[ci%len(pipes)]
		p := newSimConv(r, tc.n, halo3x3(tc.c, tc.h, tc.w), tc.nOut, tc.sparse, tc.res, tc.outF32)
		halo := pipe
		halo.Conv, halo.Halo, halo.Sparse, halo.Residual, halo.OutF32 = true, true, tc.sparse, tc.res, tc.outF32
		if tc.outF32 {
			halo.Act, halo.StoreVec = "relu", false
		}
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d_m%d_sparse%v_res%v_f32%v_%s", tc.n, tc.c, tc.h, tc.w, tc.nOut, tc.sparse, tc.res, tc.outF32, halo.Name()), func(t *testing.T) {
			got := p.simulate(t, halo)
			conv := pipe
			conv.ConvStep = true
			if ref := p.simulate(t, conv); string(ref) != string(got) {
				t.Errorf("the halo kernel and the implicit-GEMM kernel differ")
			}
		})
	}
}

// halo3x3 is the geometry the halo kernel runs: 3×3, stride 1, pad 1.
func halo3x3(c, h, w int) ConvShape {
	return ConvShape{C: c, H: h, W: w, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
}

// TestConvSimulated runs the implicit-GEMM convolution kernels, which the
// GPU tests have shown bit-exact, in the PTX interpreter: the
// interpreter reproduces the definition on every pipeline (weights to
// registers one step ahead, through shared memory, the wide warp tile),
// strides, pads, ragged K (padded to 64), 4-channel taps (ConvPiece), the
// running column (ConvStep), residual and both outputs. It is what makes
// TestHaloSimulated's verdict worth something, and a CPU regression test
// of the conv kernels.
func TestConvSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(25, 26))
	for _, tc := range []struct {
		n    int
		s    ConvShape
		nOut int
		cfg  GemmConfig
		res  bool
	}{
		{2, ConvShape{C: 64, H: 9, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, 64, GemmConfig{ConvStep: true, Sparse: true}, true},
		{1, ConvShape{C: 32, H: 10, W: 9, KH: 5, KW: 3, SH: 1, SW: 1, PH: 2, PW: 1, DH: 1, DW: 1}, 48, GemmConfig{Stages: 4, SharedWeights: true}, false},
		{2, ConvShape{C: 4, H: 13, W: 11, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1}, 64, GemmConfig{Stages: 4, SharedWeights: true, StoreVec: true, Sparse: true}, true},
		{3, ConvShape{C: 128, H: 6, W: 6, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1}, 128, GemmConfig{Stages: 3, SharedWeights: true, WideN: true, OutF32: true, ConvStep: true}, true},
		{1, ConvShape{C: 64, H: 12, W: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2, DH: 2, DW: 2}, 128, GemmConfig{Stages: 3, SharedWeights: true, WideN: true, StoreVec: true, ConvStep: true, Sparse: true}, false},
	} {
		p := newSimConv(r, tc.n, tc.s, tc.nOut, tc.cfg.Sparse, tc.res, tc.cfg.OutF32)
		c := tc.cfg
		c.Conv, c.Residual, c.ConvPiece = true, tc.res, ConvPiece(tc.s.C)
		if c.OutF32 {
			c.Act = "relu"
		}
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d_k%dx%d_s%d_%s", tc.n, tc.s.C, tc.s.H, tc.s.W, tc.s.KH, tc.s.KW, tc.s.SH, c.Name()), func(t *testing.T) {
			p.simulate(t, c)
		})
	}
}
