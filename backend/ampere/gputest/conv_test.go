package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// convCase is one implicit-GEMM convolution problem.
type convCase struct {
	n, c, h, w, m       int // batch, input channels, input size, output channels
	kh, kw, stride      int
	pad, padEnd, dil    int // leading and trailing pads, dilation (both axes)
	sparse, res, outF32 bool
	step                bool // ConvStep: running tap and channel (C a multiple of 64)
	halo                bool // the halo-tile kernel (3×3, stride 1, pad 1, C a multiple of 64)
	halo7               bool // the halo kernel on 7-row patches (Halo7)
	splits              int  // a SplitK kernel's grid z (0: 1)
}

// shape is the case's convolution geometry (output size included).
func (tc convCase) shape(zx int32) kernels.ConvShape {
	oh := (tc.h+tc.pad+tc.padEnd-tc.dil*(tc.kh-1)-1)/tc.stride + 1
	ow := (tc.w+tc.pad+tc.padEnd-tc.dil*(tc.kw-1)-1)/tc.stride + 1
	return kernels.ConvShape{C: tc.c, H: tc.h, W: tc.w, OH: oh, OW: ow, KH: tc.kh, KW: tc.kw,
		SH: tc.stride, SW: tc.stride, PH: tc.pad, PW: tc.pad, DH: tc.dil, DW: tc.dil, ZX: zx}
}

// uploadConv uploads problem p (its weights, bias, multipliers, residual;
// p.a unused) as convolution tc on the NHWC input xn, with the kernel
// variant the case names on pipeline pipe's stages.
func uploadConv(t testing.TB, g *gpu, p *qgemmProblem, tc convCase, xn []int8) *gpuGemm {
	t.Helper()
	q := p.upload(t, g)
	q.cfg.Conv = true
	q.cfg.ConvPiece = kernels.ConvPiece(tc.c)
	q.cfg.ConvStep = tc.step
	q.cfg.Halo, q.cfg.Halo7 = tc.halo, tc.halo7
	q.fn = g.gemmFunction(t, q.cfg)
	q.x = buf(t, g, xn)
	q.prm.LDA = tc.c
	q.prm.Conv = tc.shape(p.zx)
	if tc.halo {
		q.grid.X = uint32(q.cfg.HaloBlocks(q.prm.Conv, tc.n))
	}
	if q.cfg.SplitK {
		q.setSplits(t, g, tc.splits)
	}
	if err := q.cfg.Check(q.prm); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestImplicitConvBitExact: the implicit-GEMM convolution kernel (NHWC
// input read in place, im2col addresses computed per 16-byte chunk,
// padding taps filled with the input zero point) matches ir/ref's QConv
// bit for bit: 1×1, 3×3, 5×3 and 7×7 kernels, strides 1 and 2, symmetric
// and asymmetric pads, dilation 2, ragged M (odd spatial sizes, batches
// that leave a partial 128-row block), dense and 2:4 sparse, residual,
// int8 and float32 outputs, both pipelines, random input zero points.
// The cases rotate through pipelines; every latencyPipelines variant runs
// every case.
func TestImplicitConvBitExact(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(81, 82))
	for ci, tc := range convCases {
		pipe := pipelines[ci%len(pipelines)]
		t.Run(tc.name()+fmt.Sprintf("_pipe%d", ci%len(pipelines)), func(t *testing.T) { checkImplicitConv(t, g, r, tc, pipe) })
	}
	for _, pipe := range latencyPipelines {
		for _, tc := range convCases {
			t.Run(tc.name()+"_"+pipeName(pipe), func(t *testing.T) {
				// Not every K loop takes every convolution (the
				// interleaved step no 4- or 8-channel copies): the
				// planner never plans what Validate refuses.
				c := pipe
				c.Conv, c.ConvPiece, c.ConvStep, c.Sparse = true, kernels.ConvPiece(tc.c), tc.step, tc.sparse
				if err := c.Validate(); err != nil {
					t.Skipf("not a kernel: %v", err)
				}
				checkImplicitConv(t, g, r, tc, pipe)
			})
		}
	}
}

func (tc convCase) name() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_m%d_k%dx%d_s%d_p%d%d_d%d_sparse%v_res%v_f32%v_step%v",
		tc.n, tc.c, tc.h, tc.w, tc.m, tc.kh, tc.kw, tc.stride, tc.pad, tc.padEnd, tc.dil, tc.sparse, tc.res, tc.outF32, tc.step)
}

// convCases are TestImplicitConvBitExact's problems.
var convCases = []convCase{
	{n: 2, c: 16, h: 7, w: 9, m: 40, kh: 1, kw: 1, stride: 1, dil: 1},
	{n: 3, c: 32, h: 9, w: 9, m: 64, kh: 1, kw: 1, stride: 2, dil: 1, sparse: true, res: true},
	{n: 2, c: 32, h: 9, w: 9, m: 48, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, sparse: true, res: true},
	{n: 1, c: 64, h: 14, w: 14, m: 72, kh: 3, kw: 3, stride: 2, pad: 1, padEnd: 1, dil: 1},
	{n: 2, c: 64, h: 15, w: 13, m: 128, kh: 3, kw: 3, stride: 2, pad: 1, padEnd: 1, dil: 1, sparse: true},
	{n: 2, c: 16, h: 23, w: 19, m: 64, kh: 7, kw: 7, stride: 2, pad: 3, padEnd: 3, dil: 1},
	{n: 1, c: 16, h: 30, w: 30, m: 64, kh: 7, kw: 7, stride: 2, pad: 3, padEnd: 3, dil: 1, sparse: true, res: true},
	{n: 2, c: 16, h: 12, w: 11, m: 32, kh: 3, kw: 3, stride: 1, pad: 2, padEnd: 2, dil: 2, sparse: true, outF32: true},
	{n: 1, c: 16, h: 10, w: 10, m: 24, kh: 3, kw: 3, stride: 2, pad: 0, padEnd: 1, dil: 1, res: true},
	{n: 3, c: 48, h: 11, w: 7, m: 96, kh: 5, kw: 3, stride: 1, pad: 2, padEnd: 2, dil: 1, outF32: true},
	{n: 2, c: 64, h: 56, w: 56, m: 64, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, sparse: true, res: true},
	{n: 2, c: 128, h: 28, w: 28, m: 128, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1},
	// Small C (ConvPiece): a padded 3-channel stem, 8 channels, 1×1.
	{n: 2, c: 4, h: 30, w: 30, m: 64, kh: 7, kw: 7, stride: 2, pad: 3, padEnd: 3, dil: 1},
	{n: 3, c: 4, h: 23, w: 25, m: 64, kh: 7, kw: 7, stride: 2, pad: 3, padEnd: 3, dil: 1, sparse: true, res: true},
	{n: 1, c: 4, h: 32, w: 32, m: 64, kh: 7, kw: 7, stride: 2, pad: 3, padEnd: 3, dil: 1, sparse: true},
	{n: 1, c: 8, h: 13, w: 11, m: 40, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, sparse: true},
	{n: 2, c: 8, h: 9, w: 10, m: 24, kh: 5, kw: 3, stride: 1, pad: 2, padEnd: 2, dil: 2, outF32: true},
	{n: 3, c: 4, h: 7, w: 7, m: 16, kh: 1, kw: 1, stride: 1, dil: 1, res: true},
	{n: 2, c: 4, h: 12, w: 12, m: 32, kh: 3, kw: 3, stride: 2, pad: 0, padEnd: 1, dil: 1, outF32: true},
	// ConvStep: the running column (C a multiple of 64).
	{n: 2, c: 64, h: 56, w: 56, m: 64, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, sparse: true, res: true, step: true},
	{n: 2, c: 128, h: 28, w: 28, m: 256, kh: 3, kw: 3, stride: 2, pad: 1, padEnd: 1, dil: 1, step: true},
	{n: 3, c: 64, h: 15, w: 13, m: 128, kh: 1, kw: 1, stride: 2, dil: 1, sparse: true, step: true},
	{n: 2, c: 192, h: 12, w: 11, m: 72, kh: 3, kw: 3, stride: 1, pad: 2, padEnd: 2, dil: 2, outF32: true, step: true},
	{n: 1, c: 256, h: 14, w: 14, m: 256, kh: 3, kw: 3, stride: 1, pad: 1, padEnd: 1, dil: 1, sparse: true, step: true},
	{n: 2, c: 64, h: 9, w: 9, m: 136, kh: 5, kw: 3, stride: 1, pad: 2, padEnd: 1, dil: 1, sparse: true, step: true},
}

// TestHaloConvBitExact: the halo-tile convolution (3×3, stride 1, pad 1,
// C a multiple of 64) matches ir/ref's QConv bit for bit: images of 7×7,
// 13×9, 14×14, 28×28, 56×56, 5×11 and 1×1 (patches cut by the right and
// bottom edges, a block's second patch past the batch), batches 1 to 3,
// C from 64 to 512, dense and 2:4 sparse, residual, relu, int8 (with and
// without 16-byte stores) and float32 outputs, on the shared-weight
// pipelines (64 channels a block, the wide warp tile, the 8-warp block);
// each case on 8×8 patches and (subtests "…_h7") on 7×8 ones (Halo7).
func TestHaloConvBitExact(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(91, 92))
	var pipes []kernels.GemmConfig
	for _, p := range pipelines {
		if p.SharedWeights {
			pipes = append(pipes, p)
		}
	}
	for ci, tc := range []convCase{
		{n: 1, c: 64, h: 7, w: 7, m: 64, sparse: true},
		{n: 3, c: 64, h: 7, w: 7, m: 128, res: true},
		{n: 2, c: 128, h: 14, w: 14, m: 128, sparse: true, res: true},
		{n: 1, c: 256, h: 14, w: 14, m: 256},
		{n: 3, c: 64, h: 13, w: 9, m: 64, sparse: true, outF32: true},
		{n: 1, c: 64, h: 13, w: 9, m: 72, res: true, outF32: true},
		{n: 2, c: 64, h: 56, w: 56, m: 64, sparse: true, res: true},
		{n: 1, c: 64, h: 56, w: 56, m: 64},
		{n: 3, c: 128, h: 28, w: 28, m: 128, sparse: true},
		{n: 1, c: 512, h: 7, w: 7, m: 512, sparse: true, res: true},
		{n: 3, c: 192, h: 5, w: 11, m: 40, outF32: true},
		{n: 2, c: 64, h: 1, w: 1, m: 64},
		{n: 1, c: 512, h: 7, w: 7, m: 512, res: true},
		{n: 3, c: 256, h: 14, w: 14, m: 256, sparse: true, outF32: true},
		{n: 3, c: 128, h: 28, w: 28, m: 128, res: true},
	} {
		tc.kh, tc.kw, tc.stride, tc.pad, tc.padEnd, tc.dil, tc.halo = 3, 3, 1, 1, 1, 1, true
		pipe := pipes[ci%len(pipes)]
		name := fmt.Sprintf("n%d_c%d_%dx%d_m%d_sparse%v_res%v_f32%v_%s", tc.n, tc.c, tc.h, tc.w, tc.m, tc.sparse, tc.res, tc.outF32, pipeName(pipe))
		t.Run(name, func(t *testing.T) { checkImplicitConv(t, g, r, tc, pipe) })
		tc.halo7 = true
		t.Run(name+"_h7", func(t *testing.T) { checkImplicitConv(t, g, r, tc, pipe) })
	}
}

func checkImplicitConv(t *testing.T, g *gpu, r *rand.Rand, tc convCase, pipe kernels.GemmConfig) {
	sh := tc.shape(0)
	oh, ow := sh.OH, sh.OW
	kdim := tc.kh * tc.kw * tc.c
	rows := tc.n * oh * ow
	act := ir.ActRelu
	p := newQGemm(r, rows, tc.m, kdim, tc.sparse, tc.res, tc.outF32, act)
	p.pipe = pipe
	p.ldcExtra = 0
	p.a = nil                             // the conv kernel reads its NHWC input instead
	x := randInt8(r, tc.n*tc.c*tc.h*tc.w) // NCHW, the reference's
	// Weights as the planner packs them, [m][kh][kw][c] (2:4 along c when
	// sparse), and as [m][c][kh][kw] for the reference.
	wk := p.w
	wo := make([]int8, len(wk))
	for o := 0; o < tc.m; o++ {
		for u := 0; u < tc.kh; u++ {
			for v := 0; v < tc.kw; v++ {
				for c := 0; c < tc.c; c++ {
					wo[((o*tc.c+c)*tc.kh+u)*tc.kw+v] = wk[o*kdim+(u*tc.kw+v)*tc.c+c]
				}
			}
		}
	}

	// The reference: a QConv node on NCHW data.
	perTensor := func(s float32, z int32) *ir.QuantParams {
		return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	xv := ir.NewConst("x", i8Tensor(x, tc.n, tc.c, tc.h, tc.w))
	xv.Quant = perTensor(p.sx, p.zx)
	wv := ir.NewConst("w", i8Tensor(wo, tc.m, tc.c, tc.kh, tc.kw))
	wv.Quant = &ir.QuantParams{Scale: p.sw, ZeroPoint: make([]int32, tc.m), Axis: 0}
	bt := ir.NewTensor(ir.Int32, tc.m)
	copy(bt.Int32s(), p.bias)
	sy := p.sy
	if tc.outF32 {
		sy = 0
	}
	ins := []*ir.Value{xv, wv, ir.NewConst("m", ir.FromFloat32(ir.QOutputMultipliers(p.sx, p.sw, tc.m, sy), tc.m)), ir.NewConst("b", bt)}
	if tc.res {
		rn := make([]int8, len(p.r))
		for b := 0; b < tc.n; b++ {
			for o := 0; o < tc.m; o++ {
				for i := 0; i < oh*ow; i++ {
					rn[(b*tc.m+o)*oh*ow+i] = p.r[(b*oh*ow+i)*tc.m+o]
				}
			}
		}
		rv := ir.NewConst("r", i8Tensor(rn, tc.n, tc.m, oh, ow))
		rv.Quant = perTensor(p.sr, p.zr)
		mr := p.sr
		if !tc.outF32 {
			mr = ir.QResidualMultiplier(p.sr, p.sy)
		}
		ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{mr})))
	}
	y := &ir.Value{Name: "y"}
	if !tc.outF32 {
		y.Quant = perTensor(p.sy, p.zy)
	}
	attrs := ir.Attrs{
		"strides":    ir.IntsAttr(int64(tc.stride), int64(tc.stride)),
		"pads":       ir.IntsAttr(int64(tc.pad), int64(tc.pad), int64(tc.padEnd), int64(tc.padEnd)),
		"dilations":  ir.IntsAttr(int64(tc.dil), int64(tc.dil)),
		"activation": ir.StringAttr(act),
	}
	wantOut := refNode(t, &ir.Node{Name: "conv", Op: "QConv", Attrs: attrs, Inputs: ins, Outputs: []*ir.Value{y}})
	if got := y.Type.Shape; len(got) != 4 || got[2].Size != int64(oh) || got[3].Size != int64(ow) {
		t.Fatalf("reference output shape %v, want [%d %d %d %d]", got, tc.n, tc.m, oh, ow)
	}

	// The GPU: the GEMM's weights, bias and multipliers from upload, the
	// NHWC input in place of A, the Conv kernel.
	xn := make([]int8, len(x))
	for b := 0; b < tc.n; b++ {
		for c := 0; c < tc.c; c++ {
			for i := 0; i < tc.h*tc.w; i++ {
				xn[(b*tc.h*tc.w+i)*tc.c+c] = x[(b*tc.c+c)*tc.h*tc.w+i]
			}
		}
	}
	q := uploadConv(t, g, p, tc, xn)
	if err := q.launch(g.stream); err != nil {
		t.Fatal(err)
	}
	if err := g.stream.Synchronize(); err != nil {
		t.Fatal(err)
	}
	q.countersZero(t)

	bad := 0
	report := func(b, o, i int, got, want any) {
		if bad < 5 {
			t.Errorf("image %d channel %d pixel %d: %v, want %v", b, o, i, got, want)
		}
		bad++
	}
	if tc.outF32 {
		got := make([]float32, rows*tc.m)
		if err := cuda.Download(q.y, 0, got); err != nil {
			t.Fatal(err)
		}
		want := wantOut.Float32s()
		for b := 0; b < tc.n; b++ {
			for o := 0; o < tc.m; o++ {
				for i := 0; i < oh*ow; i++ {
					gv, wv := got[(b*oh*ow+i)*tc.m+o], want[(b*tc.m+o)*oh*ow+i]
					if math.Float32bits(gv) != math.Float32bits(wv) {
						report(b, o, i, gv, wv)
					}
				}
			}
		}
	} else {
		got := make([]int8, rows*tc.m)
		if err := cuda.Download(q.y, 0, got); err != nil {
			t.Fatal(err)
		}
		want := wantOut.Int8s()
		for b := 0; b < tc.n; b++ {
			for o := 0; o < tc.m; o++ {
				for i := 0; i < oh*ow; i++ {
					gv, wv := got[(b*oh*ow+i)*tc.m+o], want[(b*tc.m+o)*oh*ow+i]
					if gv != wv {
						report(b, o, i, gv, wv)
					}
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d outputs differ (zx %d)", bad, rows*tc.m, p.zx)
	}
}
