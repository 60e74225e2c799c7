package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// The float product kernels (the float convolution, which also runs Gemm
// and MatMul by a constant, the batched MatMul and the transposed
// convolution) run in the PTX interpreter thread by thread, and their
// outputs must equal the reference executor's bit for bit: fma.rn.f32 is
// IEEE's fused multiply-add on the GPU as here, so equal bits here mean
// equal bits on the GPU.

// simRunOp runs an op kernel in the interpreter thread by thread over
// total elements. args are its parameters in launch order: a []float32 is
// a global buffer (copied in, and returned after the run in the same
// order), an int a u32, a float32 an f32.
func simRunOp(text string, total int, args ...any) ([][]float32, error) {
	return simRunGrid(text, (total+OpThreads-1)/OpThreads, OpThreads, false, args...)
}

// simRunGrid runs blocks blocks of threads threads, each block in lockstep
// (shared memory, barriers, race checks: ptxsim_test.go's run) or thread
// by thread; args as simRunOp's.
func simRunGrid(text string, blocks, threads int, lockstep bool, args ...any) ([][]float32, error) {
	k, err := parseSim(text, 0)
	if err != nil {
		return nil, err
	}
	m := &simMachine{k: k, threads: threads, params: map[string]uint64{}}
	var bufs [][]byte
	for i, a := range args {
		p := fmt.Sprintf("p%d", i)
		switch v := a.(type) {
		case []float32:
			b := make([]byte, 4*len(v))
			for j, f := range v {
				put32(b[4*j:], math.Float32bits(f))
			}
			bufs = append(bufs, b)
			m.params[p] = m.newBuffer(b)
		case int:
			m.params[p] = uint64(uint32(v))
		case float32:
			m.params[p] = uint64(math.Float32bits(v))
		default:
			return nil, fmt.Errorf("argument %d is %T", i, a)
		}
	}
	m.gridX, m.gridZ = uint32(blocks), 1
	for bx := 0; bx < blocks; bx++ {
		run := m.runThreadwise
		if lockstep {
			run = m.run
		}
		if err := run(uint32(bx), 0, 0); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(bufs))
	for i, b := range bufs {
		out[i] = make([]float32, len(b)/4)
		for j := range out[i] {
			out[i][j] = math.Float32frombits(le32(b[4*j:]))
		}
	}
	return out, nil
}

// refRunNode runs one node through the reference executor.
func refRunNode(op string, attrs ir.Attrs, inputs ...*ir.Tensor) (*ir.Tensor, error) {
	g := &ir.Graph{Name: "t"}
	node := &ir.Node{Name: "n", Op: op, Attrs: attrs}
	var feeds []*ir.Tensor
	for i, t := range inputs {
		if t == nil {
			node.Inputs = append(node.Inputs, nil)
			continue
		}
		v := &ir.Value{Name: fmt.Sprintf("in%d", i), Type: t.Type()}
		g.Inputs = append(g.Inputs, v)
		feeds = append(feeds, t)
		node.Inputs = append(node.Inputs, v)
	}
	y := &ir.Value{Name: "y"}
	node.Outputs = []*ir.Value{y}
	g.Outputs = []*ir.Value{y}
	g.Nodes = []*ir.Node{node}
	outs, err := ref.Run(g, feeds...)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func simRandFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// nchwToNHWC reorders n images of c×h×w.
func nchwToNHWC(x []float32, n, c, h, w int) []float32 {
	y := make([]float32, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				y[(i*h*w+p)*c+ch] = x[(i*c+ch)*h*w+p]
			}
		}
	}
	return y
}

// simSameBits fails at the first elements whose bits differ (any NaN
// equals any NaN).
func simSameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && (got[i] == got[i] || want[i] == want[i]) {
			if bad < 3 {
				t.Errorf("%s: element %d is %v, want %v (the reference executor's)", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d elements differ", what, bad, len(got))
	}
}

func ints64s(v ...int) []int64 {
	r := make([]int64, len(v))
	for i, x := range v {
		r[i] = int64(x)
	}
	return r
}

// TestFloatConvSimulated checks the float convolution against ir/ref's
// Conv and FusedConv: K = Cg·KH·KW below, at and above one chunk of the
// summation order (several, ragged), with and without a bias, grouped and
// depthwise, strided, padded and dilated, NCHW and NHWC input and output,
// a residual and a clamp.
func TestFloatConvSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(61, 62))
	text := FloatConvPTX()
	for _, c := range []struct {
		n, c, h, w, m, kh, kw, sh, sw, ph, pw, pe, dh, dw, group int
		bias, nhwc, fused                                        bool
	}{
		{1, 3, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, false, false},    // K 27
		{1, 64, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 1, 1, 1, false, false, false},  // K 256
		{2, 32, 4, 5, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, true, true, false},    // K 288
		{1, 24, 5, 5, 2, 5, 5, 1, 2, 2, 2, 1, 1, 1, 1, true, false, true},    // K 600
		{1, 114, 4, 4, 4, 3, 3, 1, 1, 1, 1, 1, 2, 1, 2, true, true, true},    // grouped, K 513 a group, dilated
		{2, 6, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 6, true, false, false},    // depthwise, strided
		{1, 2, 20, 20, 2, 17, 17, 1, 1, 8, 8, 8, 1, 1, 2, true, true, false}, // depthwise, 289 taps
	} {
		name := fmt.Sprintf("%+v", c)
		cg := c.c / c.group
		x := simRandFloats(r, c.n*c.c*c.h*c.w)
		if c.bias {
			// A NaN must stay NaN through the sum, the residual and the
			// clamp (not become the clamp's bound).
			x[len(x)/2] = float32(math.NaN())
		}
		w := simRandFloats(r, c.m*cg*c.kh*c.kw)
		attrs := ir.Attrs{
			"kernel_shape": {Kind: ir.AttrInts, Ints: ints64s(c.kh, c.kw)},
			"strides":      {Kind: ir.AttrInts, Ints: ints64s(c.sh, c.sw)},
			"pads":         {Kind: ir.AttrInts, Ints: ints64s(c.ph, c.pw, c.pe, c.pe)},
			"dilations":    {Kind: ir.AttrInts, Ints: ints64s(c.dh, c.dw)},
			"group":        {Kind: ir.AttrInt, Int: int64(c.group)},
		}
		oh := (c.h+c.ph+c.pe-(c.kh-1)*c.dh-1)/c.sh + 1
		ow := (c.w+c.pw+c.pe-(c.kw-1)*c.dw-1)/c.sw + 1
		bias := make([]float32, c.m)
		ins := []*ir.Tensor{ir.FromFloat32(x, c.n, c.c, c.h, c.w), ir.FromFloat32(w, c.m, cg, c.kh, c.kw), nil}
		if c.bias {
			bias = simRandFloats(r, c.m)
			ins[2] = ir.FromFloat32(bias, c.m)
		}
		op := "Conv"
		res := make([]float32, c.n*c.m*oh*ow)
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if c.fused {
			op = "FusedConv"
			res = simRandFloats(r, len(res))
			ins = append(ins, ir.FromFloat32(res, c.n, c.m, oh, ow))
			attrs["activation"] = ir.Attr{Kind: ir.AttrString, String: ir.ActClip}
			attrs["clip_min"] = ir.Attr{Kind: ir.AttrFloat, Float: -0.5}
			attrs["clip_max"] = ir.Attr{Kind: ir.AttrFloat, Float: 3}
			lo, hi = -0.5, 3
		}
		want, err := refRunNode(op, attrs, ins...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantY := want.Float32s()
		xin, rin, flag := x, res, 0
		if c.nhwc {
			xin, rin, flag = nchwToNHWC(x, c.n, c.c, c.h, c.w), nchwToNHWC(res, c.n, c.m, oh, ow), 1
			wantY = nchwToNHWC(wantY, c.n, c.m, oh, ow)
		}
		hasRes := 0
		if c.fused {
			hasRes = 1
		}
		total := c.n * c.m * oh * ow
		out, err := simRunOp(text, total, xin, make([]float32, total), w, bias, rin,
			total, c.c, c.h, c.w, c.m, oh, ow, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, cg, c.m/c.group,
			flag, flag, hasRes, lo, hi)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		simSameBits(t, name, out[1], wantY)
	}
}

// TestFloatGemmSimulated runs Gemm on the float convolution as the
// planner lays it out (rows as a column of pixels, the weight transposed
// to M×K with alpha folded in, the bias beta·C) against ir/ref's Gemm:
// K below, at and above a chunk, transB, alpha and beta.
func TestFloatGemmSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(63, 64))
	text := FloatConvPTX()
	for _, c := range []struct {
		rows, k, m  int
		transB      bool
		alpha, beta float32
	}{
		{3, 100, 7, false, 1, 1}, {2, 256, 5, true, 1, 1}, {4, 700, 3, true, 0.3, 2.5}, {1, 300, 9, false, -1.5, 0},
	} {
		name := fmt.Sprintf("%+v", c)
		a := simRandFloats(r, c.rows*c.k)
		b := simRandFloats(r, c.k*c.m)
		cv := simRandFloats(r, c.m)
		bs := []int{c.k, c.m}
		if c.transB {
			bs = []int{c.m, c.k}
		}
		attrs := ir.Attrs{
			"alpha":  {Kind: ir.AttrFloat, Float: c.alpha},
			"beta":   {Kind: ir.AttrFloat, Float: c.beta},
			"transB": {Kind: ir.AttrInt, Int: map[bool]int64{false: 0, true: 1}[c.transB]},
		}
		want, err := refRunNode("Gemm", attrs, ir.FromFloat32(a, c.rows, c.k), ir.FromFloat32(b, bs...), ir.FromFloat32(cv, c.m))
		if err != nil {
			t.Fatal(err)
		}
		// The planner's layout (plan_float.go's floatGemm).
		wt := make([]float32, c.m*c.k)
		for j := 0; j < c.m; j++ {
			for i := 0; i < c.k; i++ {
				v := b[i*c.m+j]
				if c.transB {
					v = b[j*c.k+i]
				}
				wt[j*c.k+i] = c.alpha * v
			}
		}
		bias := make([]float32, c.m)
		if c.beta != 0 {
			for j := range bias {
				bias[j] = c.beta * cv[j]
			}
		}
		total := c.rows * c.m
		out, err := simRunOp(text, total, a, make([]float32, total), wt, bias, make([]float32, total),
			total, c.k, c.rows, 1, c.m, c.rows, 1, 1, 1, 1, 1, 0, 0, 1, 1, c.k, c.m, 1, 1, 0,
			float32(math.Inf(-1)), float32(math.Inf(1)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		simSameBits(t, name, out[1], want.Float32s())
	}
}

// TestBatchMatMulSimulated checks the batched MatMul, its blocks run in
// lockstep with shared memory, against ir/ref's MatMul: K below, at and
// above a chunk (ragged and whole chunks, a whole last step and a ragged
// one), M and P below, at and past a 64-wide tile, a right operand per
// sample and matrix, one constant stack for the batch, one matrix for
// everything, and operands with zeros, signed zeros and infinities.
func TestBatchMatMulSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(65, 66))
	text := BatchMatMulPTX()
	for _, c := range []struct {
		n, mats, m, k, p int
		bShape           string // "sample": [N, mats, K, P]; "stack": [mats, K, P]; "one": [K, P]
		special          bool   // zeros, −0 and infinities among the operands
	}{
		{2, 3, 4, 64, 5, "sample", false}, {1, 2, 3, 256, 4, "sample", false}, {2, 2, 3, 300, 3, "stack", false},
		{3, 2, 2, 600, 3, "one", false}, {1, 2, 70, 37, 65, "sample", false}, {1, 1, 64, 512, 64, "sample", true},
		{2, 1, 65, 16, 129, "stack", true}, {1, 1, 5, 0, 3, "sample", false}, {1, 1, 66, 197, 67, "sample", true},
		{1, 1, 3, 1, 2, "one", true},
	} {
		name := fmt.Sprintf("%+v", c)
		rnd := func(n int) []float32 {
			v := simRandFloats(r, n)
			if c.special {
				for i := range v {
					switch r.IntN(9) {
					case 0:
						v[i] = 0
					case 1:
						v[i] = float32(math.Copysign(0, -1))
					case 2:
						if r.IntN(40) == 0 {
							v[i] = float32(math.Inf(1 - 2*r.IntN(2)))
						}
					}
				}
			}
			return v
		}
		a := rnd(c.n * c.mats * c.m * c.k)
		var b []float32
		var bt *ir.Tensor
		bSample, bMat := 0, c.k*c.p
		switch c.bShape {
		case "sample":
			b = rnd(c.n * c.mats * c.k * c.p)
			bt = ir.FromFloat32(b, c.n, c.mats, c.k, c.p)
			bSample = c.mats * c.k * c.p
		case "stack":
			b = rnd(c.mats * c.k * c.p)
			bt = ir.FromFloat32(b, c.mats, c.k, c.p)
		case "one":
			b = rnd(c.k * c.p)
			bt = ir.FromFloat32(b, c.k, c.p)
			bMat = 0
		}
		want, err := refRunNode("MatMul", nil, ir.FromFloat32(a, c.n, c.mats, c.m, c.k), bt)
		if err != nil {
			t.Fatal(err)
		}
		total := c.n * c.mats * c.m * c.p
		tiles := c.n * int(BatchMatMulTiles(int64(c.mats), int64(c.m), int64(c.p)))
		out, err := simRunGrid(text, tiles, BatchMatMulThreads, true, a, b, make([]float32, total), tiles, c.m, c.k, c.p, c.mats,
			c.mats*c.m*c.k, bSample, c.m*c.k, bMat)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		simSameBits(t, name, out[2], want.Float32s())
	}
}

// TestConvTransposeSimulated checks the transposed convolution against
// ir/ref's ConvTranspose: Cg below, at and above a chunk, grouped,
// strided, padded, dilated, output padding, NCHW and NHWC input.
func TestConvTransposeSimulated(t *testing.T) {
	if testing.Short() {
		t.Skip("PTX interpretation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(67, 68))
	text := ConvTransposePTX()
	for _, c := range []struct {
		n, c, h, w, m, kh, kw, sh, sw, ph, pw, dh, dw, op, group int
		bias, nhwc                                               bool
	}{
		{1, 4, 3, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, false},
		{2, 256, 2, 3, 2, 2, 3, 2, 1, 0, 1, 1, 2, 0, 1, false, true},
		{1, 600, 2, 2, 4, 3, 2, 1, 2, 1, 0, 2, 1, 1, 2, true, false},
		{1, 6, 4, 3, 6, 3, 3, 3, 2, 2, 1, 2, 2, 1, 3, true, true},
	} {
		name := fmt.Sprintf("%+v", c)
		cg, mg := c.c/c.group, c.m/c.group
		x := simRandFloats(r, c.n*c.c*c.h*c.w)
		w := simRandFloats(r, c.c*mg*c.kh*c.kw)
		bias := make([]float32, c.m)
		ins := []*ir.Tensor{ir.FromFloat32(x, c.n, c.c, c.h, c.w), ir.FromFloat32(w, c.c, mg, c.kh, c.kw), nil}
		if c.bias {
			bias = simRandFloats(r, c.m)
			ins[2] = ir.FromFloat32(bias, c.m)
		}
		attrs := ir.Attrs{
			"kernel_shape":   {Kind: ir.AttrInts, Ints: ints64s(c.kh, c.kw)},
			"strides":        {Kind: ir.AttrInts, Ints: ints64s(c.sh, c.sw)},
			"pads":           {Kind: ir.AttrInts, Ints: ints64s(c.ph, c.pw, c.ph, c.pw)},
			"dilations":      {Kind: ir.AttrInts, Ints: ints64s(c.dh, c.dw)},
			"output_padding": {Kind: ir.AttrInts, Ints: ints64s(c.op, c.op)},
			"group":          {Kind: ir.AttrInt, Int: int64(c.group)},
		}
		want, err := refRunNode("ConvTranspose", attrs, ins...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		oh, ow := want.Shape[2], want.Shape[3]
		xin, flag := x, 0
		if c.nhwc {
			xin, flag = nchwToNHWC(x, c.n, c.c, c.h, c.w), 1
		}
		total := c.n * c.m * oh * ow
		out, err := simRunOp(text, total, xin, make([]float32, total), w, bias,
			total, c.c, c.h, c.w, c.m, oh, ow, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, cg, mg, flag)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		simSameBits(t, name, out[1], nchwToNHWC(want.Float32s(), c.n, c.m, oh, ow))
	}
}
