package gputest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestQGroupConvBitExact: the direct grouped/depthwise INT8 convolution
// matches ir/ref's QConv bit for bit: depthwise 3×3 stride 1 and 2 pad 1,
// groups 2 and 4, with and without a residual, relu and no activation,
// int8 output, random zero points and biases.
func TestQGroupConvBitExact(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(91, 92))
	type tc struct {
		n, c, h, w, m, group, k, stride, pad int
		res                                  bool
		act                                  string
	}
	for _, c := range []tc{
		{n: 2, c: 32, h: 14, w: 14, m: 32, group: 32, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
		{n: 2, c: 32, h: 15, w: 13, m: 32, group: 32, k: 3, stride: 2, pad: 1, res: true, act: ir.ActRelu},
		{n: 1, c: 16, h: 9, w: 9, m: 32, group: 16, k: 3, stride: 1, pad: 1, res: true, act: ir.ActNone},
		{n: 2, c: 16, h: 10, w: 11, m: 24, group: 2, k: 3, stride: 1, pad: 1, res: true, act: ir.ActRelu},
		{n: 3, c: 32, h: 8, w: 8, m: 16, group: 4, k: 1, stride: 1, pad: 0, act: ir.ActNone},
		{n: 1, c: 24, h: 12, w: 12, m: 48, group: 4, k: 3, stride: 2, pad: 1, res: true, act: ir.ActRelu},
	} {
		name := fmt.Sprintf("n%d_c%d_%dx%d_m%d_g%d_k%d_s%d_res%v_%s", c.n, c.c, c.h, c.w, c.m, c.group, c.k, c.stride, c.res, c.act)
		t.Run(name, func(t *testing.T) {
			checkQGroupConv(t, g, r, c.n, c.c, c.h, c.w, c.m, c.group, c.k, c.stride, c.pad, c.res, c.act)
		})
	}
}

func checkQGroupConv(t *testing.T, g *gpu, r *rand.Rand, n, c, h, w, m, group, k, stride, pad int, res bool, act string) {
	oh := (h+2*pad-k)/stride + 1
	ow := (w+2*pad-k)/stride + 1
	cg := c / group
	sx, sy, sr := randScale(r), randScale(r)*8, randScale(r)*4
	zx, zy, zr := int32(r.IntN(256)-128), int32(r.IntN(64)-32), int32(r.IntN(256)-128)
	sw := make([]float32, m)
	for i := range sw {
		sw[i] = randScale(r)
	}
	x := randInt8(r, n*c*h*w)    // NCHW
	wt := randInt8(r, m*cg*k*k)  // [M][Cg][KH][KW]
	rn := randInt8(r, n*m*oh*ow) // NCHW residual
	bias := make([]int32, m)
	for i := range bias {
		bias[i] = int32(r.IntN(20001) - 10000)
	}
	mult := ir.QOutputMultipliers(sx, sw, m, sy)
	mr := ir.QResidualMultiplier(sr, sy)

	// The reference.
	perTensor := func(s float32, z int32) *ir.QuantParams {
		return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	xv := ir.NewConst("x", i8Tensor(x, n, c, h, w))
	xv.Quant = perTensor(sx, zx)
	wv := ir.NewConst("w", i8Tensor(wt, m, cg, k, k))
	wv.Quant = &ir.QuantParams{Scale: sw, ZeroPoint: make([]int32, m), Axis: 0}
	bt := ir.NewTensor(ir.Int32, m)
	copy(bt.Int32s(), bias)
	ins := []*ir.Value{xv, wv, ir.NewConst("m", ir.FromFloat32(mult, m)), ir.NewConst("b", bt)}
	if res {
		rv := ir.NewConst("r", i8Tensor(rn, n, m, oh, ow))
		rv.Quant = perTensor(sr, zr)
		ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{mr})))
	}
	y := &ir.Value{Name: "y", Quant: perTensor(sy, zy)}
	attrs := ir.Attrs{
		"strides":    ir.IntsAttr(int64(stride), int64(stride)),
		"pads":       ir.IntsAttr(int64(pad), int64(pad), int64(pad), int64(pad)),
		"group":      ir.IntAttr(int64(group)),
		"activation": ir.StringAttr(act),
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
	lo, hi, err := ir.QActivationRange(act, 0, 0, sy, zy)
	if err != nil {
		t.Fatal(err)
	}

	// The GPU: NHWC input, residual and output.
	toNHWC := func(v []int8, ch, hw int) []int8 {
		o := make([]int8, len(v))
		for b := 0; b < n; b++ {
			for cc := 0; cc < ch; cc++ {
				for i := 0; i < hw; i++ {
					o[(b*hw+i)*ch+cc] = v[(b*ch+cc)*hw+i]
				}
			}
		}
		return o
	}
	total := n * oh * ow * m
	dx, dw := buf(t, g, toNHWC(x, c, h*w)), buf(t, g, wt)
	db, dm := buf(t, g, bias), buf(t, g, mult)
	dr, dy := buf(t, g, toNHWC(rn, m, oh*ow)), alloc(t, g, total)
	hasres := uint32(0)
	if res {
		hasres = 1
	}
	fn := g.function(t, kernels.QGroupConvKernel, kernels.QGroupConvPTX(), kernels.QGroupConvKernel)
	args := []any{dx.Ptr, dw.Ptr, db.Ptr, dm.Ptr, dr.Ptr, dy.Ptr,
		uint32(total), uint32(c), uint32(h), uint32(w), uint32(m), uint32(oh), uint32(ow), uint32(k), uint32(k),
		uint32(stride), uint32(stride), uint32(pad), uint32(pad), uint32(1), uint32(1), uint32(cg), uint32(m / group), hasres,
		zx, zr, lo - zy, hi - zy, zy, mr}
	grid := (total + kernels.OpThreads - 1) / kernels.OpThreads
	if err := g.stream.Launch(fn, cuda.D1(grid), cuda.D1(kernels.OpThreads), 0, args...); err != nil {
		t.Fatal(err)
	}
	if err := g.stream.Synchronize(); err != nil {
		t.Fatal(err)
	}
	got := make([]int8, total)
	if err := cuda.Download(dy, 0, got); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for b := 0; b < n; b++ {
		for o := 0; o < m; o++ {
			for i := 0; i < oh*ow; i++ {
				gv, wv := got[(b*oh*ow+i)*m+o], want[(b*m+o)*oh*ow+i]
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
		t.Errorf("%d of %d outputs differ (zx %d)", bad, total, zx)
	}
	// A check that could fail for a trivial kernel: the output is not constant.
	distinct := map[int8]bool{}
	for _, v := range got {
		distinct[v] = true
	}
	if len(distinct) < 3 {
		t.Errorf("only %d distinct output values: the test data does not exercise the kernel", len(distinct))
	}
}
