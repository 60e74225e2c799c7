package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// qgemmProblem is one QGemm: Y = act(requant(A·Wᵀ + B) [+ residual]).
type qgemmProblem struct {
	m, n, k  int
	a        []int8 // [m][k]
	w        []int8 // [n][k], 2:4 along k when sparse
	bias     []int32
	sx       float32
	zx       int32
	sw       []float32 // per output channel
	r        []int8    // residual [m][n] or nil
	sr       float32
	zr       int32
	outF32   bool
	sy       float32
	zy       int32
	act      string
	clipLo   float32
	clipHi   float32
	sparse   bool
	ldcExtra int                // output row stride n + ldcExtra
	pipe     kernels.GemmConfig // Stages and SharedWeights of the kernel
	// byteResidual keeps the residual's byte loads where the planner
	// would copy the residual tile (ResidualTile): the kernel before it,
	// for comparisons.
	byteResidual bool
	splits       int // a SplitK pipe's grid z (0: 1)
}

func randScale(r *rand.Rand) float32 { return float32(math.Exp(r.Float64()*6 - 8)) }

// newQGemm draws a random problem whose outputs spread over the int8
// range (typical |y| about 40, some saturating).
func newQGemm(r *rand.Rand, m, n, k int, sparse, residual, outF32 bool, act string) *qgemmProblem {
	a := randInt8(r, m*k)
	p := newQGemmWeights(r, m, n, k, sparse, residual, outF32, act)
	p.a = a
	return p
}

// newQGemmWeights is newQGemm without the activations (nil): for
// convolutions, whose input the caller uploads.
func newQGemmWeights(r *rand.Rand, m, n, k int, sparse, residual, outF32 bool, act string) *qgemmProblem {
	p := &qgemmProblem{m: m, n: n, k: k, sparse: sparse, outF32: outF32, act: act}
	if sparse {
		p.w = rand24(r, n, k)
	} else {
		p.w = randInt8(r, n*k)
	}
	p.sx = randScale(r)
	p.zx = int32(r.IntN(256) - 128)
	p.sw = make([]float32, n)
	for i := range p.sw {
		p.sw[i] = randScale(r) / 10
	}
	p.bias = make([]int32, n)
	for i := range p.bias {
		p.bias[i] = int32(r.IntN(40001) - 20000)
	}
	depth := float64(k)
	if sparse {
		depth /= 3
	}
	p.sy = float32(float64(p.sx*p.sw[0]) * 74 * 74 * math.Sqrt(depth) / 40)
	p.zy = int32(r.IntN(201) - 100)
	if residual {
		p.r = randInt8(r, m*n)
		p.sr = p.sy * float32(0.5+r.Float64())
		p.zr = int32(r.IntN(256) - 128)
	}
	if act == ir.ActClip {
		if outF32 {
			p.clipLo, p.clipHi = -0.25*float32(r.Float64()), 0.5*float32(r.Float64())
		} else {
			p.clipLo, p.clipHi = -20*p.sy, 30*p.sy
		}
	}
	// Row strides past N: odd (element stores), 4 (a float32 row of
	// 16-byte chunks) and 16 (an int8 one), so that the staged stores
	// (StoreVec) run with padding to leave untouched too.
	p.ldcExtra = []int{0, 4, 5, 16}[r.IntN(4)]
	return p
}

func (p *qgemmProblem) name() string {
	kind := "dense"
	if p.sparse {
		kind = "sparse"
	}
	out := "i8"
	if p.outF32 {
		out = "f32"
	}
	res := ""
	if p.r != nil {
		res = "+res"
	}
	pipe := ""
	if p.pipe != (kernels.GemmConfig{}) {
		pipe = "_" + pipeName(p.pipe)
	}
	return fmt.Sprintf("%s%s_%dx%dx%d_%s%s_%s", kind, pipe, p.m, p.n, p.k, out, res, p.act)
}

func i8Tensor(data []int8, dims ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Int8, dims...)
	copy(t.Int8s(), data)
	return t
}

// reference runs the problem as a QGemm node on ir/ref.
func (p *qgemmProblem) reference(t *testing.T) *ir.Tensor {
	t.Helper()
	perTensor := func(s float32, z int32) *ir.QuantParams {
		return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	a := ir.NewConst("a", i8Tensor(p.a, p.m, p.k))
	a.Quant = perTensor(p.sx, p.zx)
	w := ir.NewConst("w", i8Tensor(p.w, p.n, p.k))
	w.Quant = &ir.QuantParams{Scale: p.sw, ZeroPoint: make([]int32, p.n), Axis: 0}
	sy := p.sy
	if p.outF32 {
		sy = 0
	}
	mult := ir.NewConst("m", ir.FromFloat32(ir.QOutputMultipliers(p.sx, p.sw, p.n, sy), p.n))
	bt := ir.NewTensor(ir.Int32, p.n)
	copy(bt.Int32s(), p.bias)
	ins := []*ir.Value{a, w, mult, ir.NewConst("b", bt)}
	if p.r != nil {
		rv := ir.NewConst("r", i8Tensor(p.r, p.m, p.n))
		rv.Quant = perTensor(p.sr, p.zr)
		mr := p.sr
		if !p.outF32 {
			mr = ir.QResidualMultiplier(p.sr, p.sy)
		}
		ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{mr})))
	}
	attrs := ir.Attrs{}
	if p.act != "" && p.act != ir.ActNone {
		attrs["activation"] = ir.StringAttr(p.act)
	}
	if p.act == ir.ActClip {
		attrs["clip_min"] = ir.FloatAttr(p.clipLo)
		attrs["clip_max"] = ir.FloatAttr(p.clipHi)
	}
	y := &ir.Value{Name: "y"}
	if !p.outF32 {
		y.Quant = perTensor(p.sy, p.zy)
	}
	return refNode(t, &ir.Node{Name: "gemm", Op: "QGemm", Attrs: attrs, Inputs: ins, Outputs: []*ir.Value{y}})
}

// refNode is the reference executor's output of one node whose inputs are
// constants, its types inferred and the graph verified first.
func refNode(t *testing.T, node *ir.Node) *ir.Tensor {
	t.Helper()
	gr := &ir.Graph{Name: "t", Nodes: []*ir.Node{node}, Outputs: node.Outputs[:1]}
	if err := ir.InferShapes(gr); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(gr); err != nil {
		t.Fatal(err)
	}
	out, err := ref.Run(gr)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// gpuGemm is a problem uploaded and ready to launch.
type gpuGemm struct {
	cfg   kernels.GemmConfig
	prm   kernels.GemmParams
	fn    *cuda.Function
	x     *cuda.Buffer
	w, e  *cuda.Buffer
	bias  *cuda.Buffer
	mult  *cuda.Buffer
	r, y  *cuda.Buffer
	esize int
	grid  cuda.Dim3
	// ws and cnt are a SplitK kernel's workspace and tile counters.
	ws, cnt *cuda.Buffer
}

// setSplits gives a SplitK kernel its grid z (the splits) and a workspace
// and zeroed counters for its grid.
func (q *gpuGemm) setSplits(t testing.TB, g *gpu, splits int) {
	t.Helper()
	splits = max(splits, 1)
	tiles := int(q.grid.X * q.grid.Y)
	q.grid.Z = uint32(splits)
	// Zeroed, as the runtime's: the splits add into it.
	q.ws = buf(t, g, make([]uint32, (max(q.cfg.SplitKWorkspaceBytes(tiles, splits), 16)+3)/4))
	q.cnt = buf(t, g, make([]uint32, tiles))
}

// countersZero fails the test unless a SplitK kernel left its tile
// counters and its workspace at zero, as the next launch needs them.
func (q *gpuGemm) countersZero(t testing.TB) {
	t.Helper()
	if q.cnt == nil {
		return
	}
	got := make([]uint32, q.grid.X*q.grid.Y)
	if err := cuda.Download(q.cnt, 0, got); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 0 {
			t.Fatalf("%s: tile counter %d is %d after the launch, want 0", q.cfg.Name(), i, v)
		}
	}
	ws := make([]uint32, q.ws.Size/4)
	if err := cuda.Download(q.ws, 0, ws); err != nil {
		t.Fatal(err)
	}
	for i, v := range ws {
		if v != 0 {
			t.Fatalf("%s: workspace word %d is %#x after the launch, want 0", q.cfg.Name(), i, v)
		}
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// upload packs the weights, folds the zero point into the bias, lays the
// activations out with a 16-byte-aligned row stride and uploads it all.
func (p *qgemmProblem) upload(t testing.TB, g *gpu) *gpuGemm {
	t.Helper()
	cfg := p.pipe
	cfg.Sparse, cfg.Residual, cfg.OutF32, cfg.Act = p.sparse, p.r != nil, p.outF32, ""
	// StoreVec where the planner would pick it: N and the row stride
	// multiples of 16 (int8 out) or of 4 (float32 out).
	vec := 16
	if p.outF32 {
		vec = 4
	}
	cfg.StoreVec = p.pipe.StoreVec && p.n%vec == 0 && (p.n+p.ldcExtra)%vec == 0
	// The residual tile, as the planner does: residual rows (ldr = N)
	// 16-byte aligned.
	cfg.ResidualTile = p.r != nil && p.n%16 == 0 && !p.byteResidual
	if p.outF32 {
		cfg.Act = p.act
		if cfg.Act == "" {
			cfg.Act = ir.ActNone
		}
	}
	q := &gpuGemm{cfg: cfg, esize: 1}
	if p.a != nil { // a convolution loads its own variant
		q.fn = g.gemmFunction(t, cfg)
	}
	if p.outF32 {
		q.esize = 4
	}
	var npad, kpad int
	if p.sparse {
		s, err := pack.PackSparse(p.w, p.n, p.k, cfg.BN())
		if err != nil {
			t.Fatal(err)
		}
		q.w, q.e = buf(t, g, s.Values), buf(t, g, s.Meta)
		npad, kpad = s.NPad, s.KPad
	} else {
		d, err := pack.PackDense(p.w, p.n, p.k, cfg.BN())
		if err != nil {
			t.Fatal(err)
		}
		q.w = buf(t, g, d.Values)
		q.e = q.w // unused by the dense kernel
		npad, kpad = d.NPad, d.KPad
	}
	bias, err := pack.FoldZeroPoint(p.bias, p.w, p.n, p.k, npad, p.zx)
	if err != nil {
		t.Fatal(err)
	}
	q.bias = buf(t, g, bias)
	sy := p.sy
	if p.outF32 {
		sy = 0
	}
	mult := make([]float32, npad)
	copy(mult, ir.QOutputMultipliers(p.sx, p.sw, p.n, sy))
	q.mult = buf(t, g, mult)
	lda := roundUp(p.k, 16)
	if p.a != nil { // else the caller supplies a convolution's input
		x := make([]int8, p.m*lda)
		for i := 0; i < p.m; i++ {
			copy(x[i*lda:], p.a[i*p.k:(i+1)*p.k])
			for c := p.k; c < lda; c++ {
				x[i*lda+c] = int8(c*7 + i) // never read: cp.async stops at K
			}
		}
		q.x = buf(t, g, x)
	}
	ldc := p.n + p.ldcExtra
	q.y = alloc(t, g, p.m*ldc*q.esize)
	prm := kernels.GemmParams{M: p.m, N: p.n, K: p.k, NPad: npad, KPad: kpad, LDA: lda, LDR: p.n, LDC: ldc,
		FLo: float32(math.Inf(-1)), FHi: float32(math.Inf(1))}
	q.r = q.y
	if p.r != nil {
		q.r = buf(t, g, p.r)
		prm.ZR = p.zr
		prm.MR = p.sr
		if !p.outF32 {
			prm.MR = ir.QResidualMultiplier(p.sr, p.sy)
		}
	}
	if p.outF32 {
		if p.act == ir.ActClip {
			prm.FLo, prm.FHi = p.clipLo, p.clipHi
		}
	} else {
		lo, hi, err := ir.QActivationRange(orNone(p.act), p.clipLo, p.clipHi, p.sy, p.zy)
		if err != nil {
			t.Fatal(err)
		}
		prm.QLo, prm.QHi, prm.ZY = lo-p.zy, hi-p.zy, p.zy
	}
	// A convolution's geometry (and with it the check) is uploadConv's.
	if p.a != nil {
		if err := cfg.Check(prm); err != nil {
			t.Fatal(err)
		}
	}
	q.prm = prm
	gx, gy := cfg.Grid(p.m, npad)
	q.grid = cuda.Dim3{X: uint32(gx), Y: uint32(gy), Z: 1}
	if cfg.SplitK && p.a != nil { // a convolution's grid is uploadConv's
		q.setSplits(t, g, p.splits)
	}
	return q
}

func orNone(act string) string {
	if act == "" {
		return ir.ActNone
	}
	return act
}

// launch queues the GEMM on the stream.
func (q *gpuGemm) launch(s *cuda.Stream) error {
	p := q.prm
	args := []any{q.x.Ptr, q.w.Ptr, q.e.Ptr, q.bias.Ptr, q.mult.Ptr, q.r.Ptr, q.y.Ptr,
		uint32(p.M), uint32(p.N), uint32(p.K), uint32(p.KPad / kernels.GemmBK),
		uint32(p.LDA), uint32(p.LDR), uint32(p.LDC),
		p.ZR, p.QLo, p.QHi, p.ZY, p.MR, p.FLo, p.FHi}
	if q.cfg.Conv {
		// An implicit-GEMM convolution takes its geometry after them.
		for _, v := range p.Conv.LaunchU32s() {
			args = append(args, v)
		}
		args = append(args, p.Conv.ZX)
	}
	if q.cfg.SplitK {
		args = append(args, q.ws.Ptr, q.cnt.Ptr)
	}
	return s.Launch(q.fn, q.grid, cuda.D1(q.cfg.Threads()), q.cfg.DynamicShared(), args...)
}

// check runs the problem on the GPU and compares every output bit for bit
// with the reference, and the row-stride padding with the poison.
func (p *qgemmProblem) check(t *testing.T, g *gpu) {
	t.Helper()
	want := p.reference(t)
	q := p.upload(t, g)
	if err := q.launch(g.stream); err != nil {
		t.Fatal(err)
	}
	if err := g.stream.Synchronize(); err != nil {
		t.Fatal(err)
	}
	q.countersZero(t)
	ldc := q.prm.LDC
	bad, shown := 0, 0
	report := func(i, j int, got, exp any) {
		bad++
		if shown < 5 {
			shown++
			t.Errorf("%s: Y[%d][%d] = %v, want %v", p.name(), i, j, got, exp)
		}
	}
	if p.outF32 {
		got := make([]float32, p.m*ldc)
		if err := cuda.Download(q.y, 0, got); err != nil {
			t.Fatal(err)
		}
		ref := want.Float32s()
		for i := 0; i < p.m; i++ {
			for j := 0; j < ldc; j++ {
				v := got[i*ldc+j]
				if j >= p.n {
					if math.Float32bits(v) != 0xA5A5A5A5 {
						report(i, j, v, "untouched padding")
					}
					continue
				}
				if math.Float32bits(v) != math.Float32bits(ref[i*p.n+j]) {
					report(i, j, v, ref[i*p.n+j])
				}
			}
		}
	} else {
		got := make([]int8, p.m*ldc)
		if err := cuda.Download(q.y, 0, got); err != nil {
			t.Fatal(err)
		}
		ref := want.Int8s()
		for i := 0; i < p.m; i++ {
			for j := 0; j < ldc; j++ {
				v := got[i*ldc+j]
				if j >= p.n {
					if uint8(v) != 0xA5 {
						report(i, j, v, "untouched padding")
					}
					continue
				}
				if v != ref[i*p.n+j] {
					report(i, j, v, ref[i*p.n+j])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d outputs differ", p.name(), bad, p.m*p.n)
	}
}

// TestGemmBitExact: every variant, on ragged shapes (M, N, K not multiples
// of the tiles, K not even a multiple of 16), matches ir/ref's QGemm bit
// for bit.
func TestGemmBitExact(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(31, 32))
	shapes := [][3]int{{1, 1, 1}, {37, 40, 70}, {129, 64, 576}, {300, 100, 150}, {77, 8, 33}, {200, 130, 1000}, {1000, 256, 2304}, {130, 512, 4608}}
	variants := []struct {
		res, f32 bool
		act      string
	}{
		{false, false, ir.ActNone}, {true, false, ir.ActRelu}, {false, false, ir.ActClip},
		{false, true, ir.ActNone}, {true, true, ir.ActRelu}, {true, true, ir.ActClip},
	}
	for _, pipe := range append(append([]kernels.GemmConfig{}, pipelines...), latencyPipelines...) {
		for _, sparse := range []bool{false, true} {
			for si, sh := range shapes {
				for vi, v := range variants {
					// Every shape with the plain variant; the others on a
					// rotation of shapes, to keep the run short.
					if vi != 0 && (si+vi)%3 != 0 {
						continue
					}
					p := newQGemm(r, sh[0], sh[1], sh[2], sparse, v.res, v.f32, v.act)
					p.pipe = pipe
					t.Run(p.name(), func(t *testing.T) { p.check(t, g) })
				}
			}
		}
	}
}

// TestQConvViaGemm: a QConv (2:4 weights along the input channels, stride,
// padding, residual, relu) computed as im2col on the host (NHWC rows, K in
// (kh, kw, c) order, padding with the input zero point so that it adds
// nothing) and the sparse or dense GEMM on the GPU matches ir/ref's QConv.
func TestQConvViaGemm(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(41, 42))
	for ci, tc := range []struct {
		n, c, h, w, m, kh, stride, pad int
		sparse, res                    bool
	}{
		{2, 32, 9, 9, 48, 3, 1, 1, true, true},
		{1, 64, 14, 14, 64, 3, 2, 1, true, false},
		{3, 16, 7, 5, 24, 1, 1, 0, false, true},
		{2, 8, 11, 11, 72, 3, 2, 1, false, false},
	} {
		name := fmt.Sprintf("n%d_c%d_%dx%d_m%d_k%d_s%d_sparse%v_pipe%d", tc.n, tc.c, tc.h, tc.w, tc.m, tc.kh, tc.stride, tc.sparse, ci%len(pipelines))
		t.Run(name, func(t *testing.T) {
			oh := (tc.h+2*tc.pad-tc.kh)/tc.stride + 1
			ow := (tc.w+2*tc.pad-tc.kh)/tc.stride + 1
			kdim := tc.kh * tc.kh * tc.c
			x := randInt8(r, tc.n*tc.c*tc.h*tc.w)
			// Weights [m][kh][kw][c], 2:4 along c, then also as [m][c][kh][kw] for the reference.
			wk := randInt8(r, tc.m*kdim)
			if tc.sparse {
				wk = rand24(r, tc.m, kdim)
			}
			wo := make([]int8, len(wk))
			for o := 0; o < tc.m; o++ {
				for u := 0; u < tc.kh; u++ {
					for v := 0; v < tc.kh; v++ {
						for ci := 0; ci < tc.c; ci++ {
							wo[((o*tc.c+ci)*tc.kh+u)*tc.kh+v] = wk[o*kdim+(u*tc.kh+v)*tc.c+ci]
						}
					}
				}
			}
			p := newQGemm(r, tc.n*oh*ow, tc.m, kdim, tc.sparse, tc.res, false, ir.ActRelu)
			p.w = wk
			p.pipe = pipelines[ci%len(pipelines)]
			// im2col in NHWC order.
			a := make([]int8, p.m*kdim)
			for b := 0; b < tc.n; b++ {
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						row := (b*oh+i)*ow + j
						for u := 0; u < tc.kh; u++ {
							for v := 0; v < tc.kh; v++ {
								y, xx := i*tc.stride-tc.pad+u, j*tc.stride-tc.pad+v
								for ci := 0; ci < tc.c; ci++ {
									val := int8(p.zx)
									if y >= 0 && y < tc.h && xx >= 0 && xx < tc.w {
										val = x[((b*tc.c+ci)*tc.h+y)*tc.w+xx]
									}
									a[row*kdim+(u*tc.kh+v)*tc.c+ci] = val
								}
							}
						}
					}
				}
			}
			p.a = a
			// The reference: a QConv node on NCHW data; its residual is
			// the GEMM's [pixel][channel] residual transposed to NCHW.
			perTensor := func(s float32, z int32) *ir.QuantParams {
				return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
			}
			xv := ir.NewConst("x", i8Tensor(x, tc.n, tc.c, tc.h, tc.w))
			xv.Quant = perTensor(p.sx, p.zx)
			wv := ir.NewConst("w", i8Tensor(wo, tc.m, tc.c, tc.kh, tc.kh))
			wv.Quant = &ir.QuantParams{Scale: p.sw, ZeroPoint: make([]int32, tc.m), Axis: 0}
			bt := ir.NewTensor(ir.Int32, tc.m)
			copy(bt.Int32s(), p.bias)
			ins := []*ir.Value{xv, wv, ir.NewConst("m", ir.FromFloat32(ir.QOutputMultipliers(p.sx, p.sw, tc.m, p.sy), tc.m)), ir.NewConst("b", bt)}
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
				ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{ir.QResidualMultiplier(p.sr, p.sy)})))
			}
			y := &ir.Value{Name: "y", Quant: perTensor(p.sy, p.zy)}
			attrs := ir.Attrs{
				"strides": ir.IntsAttr(int64(tc.stride), int64(tc.stride)), "pads": ir.IntsAttr(int64(tc.pad), int64(tc.pad), int64(tc.pad), int64(tc.pad)),
				"activation": ir.StringAttr(ir.ActRelu),
			}
			node := &ir.Node{Name: "conv", Op: "QConv", Attrs: attrs, Inputs: ins, Outputs: []*ir.Value{y}}
			gr := &ir.Graph{Name: "t", Nodes: []*ir.Node{node}, Outputs: []*ir.Value{y}}
			if err := ir.InferShapes(gr); err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(gr); err != nil {
				t.Fatal(err)
			}
			out, err := ref.Run(gr)
			if err != nil {
				t.Fatal(err)
			}
			want := out[0].Int8s()
			p.ldcExtra = 0
			q := p.upload(t, g)
			if err := q.launch(g.stream); err != nil {
				t.Fatal(err)
			}
			if err := g.stream.Synchronize(); err != nil {
				t.Fatal(err)
			}
			got := make([]int8, p.m*tc.m)
			if err := cuda.Download(q.y, 0, got); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for b := 0; b < tc.n; b++ {
				for o := 0; o < tc.m; o++ {
					for i := 0; i < oh*ow; i++ {
						gv, wv := got[(b*oh*ow+i)*tc.m+o], want[(b*tc.m+o)*oh*ow+i]
						if gv != wv {
							if bad < 5 {
								t.Errorf("image %d channel %d pixel %d: %d, want %d", b, o, i, gv, wv)
							}
							bad++
						}
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d outputs differ", bad, len(got))
			}
		})
	}
}
