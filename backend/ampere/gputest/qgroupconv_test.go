package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// groupConvCase is one grouped or depthwise convolution: square kernel k,
// stride and symmetric padding.
type groupConvCase struct {
	n, c, h, w, m, group, k, stride, pad int
	res                                  bool
	act                                  string
}

func (c groupConvCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_m%d_g%d_k%d_s%d_res%v_%s", c.n, c.c, c.h, c.w, c.m, c.group, c.k, c.stride, c.res, c.act)
}

// TestQGroupConvBitExact: the direct grouped/depthwise INT8 convolution,
// the one-element kernel and the vectorized one the planner picks for the
// shape (kernels.QGroupVecFor), int8 and f32 outputs, matches ir/ref's
// QConv bit for bit: depthwise 3×3, 5×5 and 7×7, stride 1 and 2, groups
// of 2 to 32 with Cg and Mg of 4, 8, 16 and 32 and others (Cg 6, Mg 2:
// the one-element kernel only), with and without a residual, every
// activation, random zero points and biases, odd image sizes.
func TestQGroupConvBitExact(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(91, 92))
	for _, c := range []groupConvCase{
		{n: 2, c: 32, h: 14, w: 14, m: 32, group: 32, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
		{n: 2, c: 32, h: 15, w: 13, m: 32, group: 32, k: 3, stride: 2, pad: 1, res: true, act: ir.ActRelu},
		{n: 1, c: 16, h: 9, w: 9, m: 32, group: 16, k: 3, stride: 1, pad: 1, res: true, act: ir.ActNone},
		{n: 2, c: 16, h: 10, w: 11, m: 24, group: 2, k: 3, stride: 1, pad: 1, res: true, act: ir.ActRelu},
		{n: 3, c: 32, h: 8, w: 8, m: 16, group: 4, k: 1, stride: 1, pad: 0, act: ir.ActNone},
		{n: 1, c: 24, h: 12, w: 12, m: 48, group: 4, k: 3, stride: 2, pad: 1, res: true, act: ir.ActRelu},
		// The vectorized kernels' shapes: depthwise with 16, 8, 4 and 2
		// channels a thread (ShuffleNetV2's 58).
		{n: 2, c: 96, h: 13, w: 11, m: 96, group: 96, k: 3, stride: 2, pad: 1, act: ir.ActClip},
		{n: 2, c: 144, h: 9, w: 10, m: 144, group: 144, k: 5, stride: 2, pad: 2, res: true, act: ir.ActRelu},
		{n: 1, c: 24, h: 11, w: 9, m: 24, group: 24, k: 7, stride: 1, pad: 3, res: true, act: ir.ActNone},
		{n: 2, c: 116, h: 7, w: 7, m: 116, group: 116, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
		{n: 1, c: 58, h: 9, w: 9, m: 58, group: 58, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
		// Grouped: ResNeXt's Cg = Mg = 4, 8, 16, 32 (groups 32),
		// RegNetY's 8, and Mg ≠ Cg.
		{n: 2, c: 128, h: 11, w: 9, m: 128, group: 32, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
		{n: 2, c: 256, h: 9, w: 9, m: 256, group: 32, k: 3, stride: 2, pad: 1, act: ir.ActRelu},
		{n: 1, c: 512, h: 7, w: 6, m: 512, group: 32, k: 3, stride: 1, pad: 1, res: true, act: ir.ActNone},
		{n: 2, c: 1024, h: 5, w: 5, m: 1024, group: 32, k: 3, stride: 2, pad: 1, act: ir.ActRelu},
		{n: 2, c: 104, h: 7, w: 9, m: 104, group: 13, k: 3, stride: 1, pad: 1, res: true, act: ir.ActClip},
		{n: 1, c: 32, h: 8, w: 7, m: 64, group: 4, k: 3, stride: 1, pad: 1, act: ir.ActRelu},
	} {
		for _, outF32 := range []bool{false, true} {
			name := c.String() + "_i8"
			if outF32 {
				name = c.String() + "_f32"
			}
			t.Run(name, func(t *testing.T) {
				checkQGroupConv(t, g, r, c, outF32)
			})
		}
	}
}

// groupConvData is a case's random problem: NCHW input and residual,
// ONNX-order weights, raw biases, multipliers and zero points.
type groupConvData struct {
	groupConvCase
	outF32     bool
	oh, ow, cg int
	x, wt, rn  []int8
	bias       []int32
	mult       []float32
	sw         []float32
	sx, sy, sr float32
	zx, zy, zr int32
	mr         float32
	clo, chi   float32 // clip bounds
}

func newGroupConvData(r *rand.Rand, c groupConvCase, outF32 bool) *groupConvData {
	d := &groupConvData{groupConvCase: c, outF32: outF32, cg: c.c / c.group}
	d.oh, d.ow = (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
	d.sx, d.sy, d.sr = randScale(r), randScale(r)*8, randScale(r)*4
	d.zx, d.zy, d.zr = int32(r.IntN(256)-128), int32(r.IntN(64)-32), int32(r.IntN(256)-128)
	d.sw = make([]float32, c.m)
	for i := range d.sw {
		d.sw[i] = randScale(r)
	}
	d.x = randInt8(r, c.n*c.c*c.h*c.w)
	d.wt = randInt8(r, c.m*d.cg*c.k*c.k)
	d.rn = randInt8(r, c.n*c.m*d.oh*d.ow)
	d.bias = make([]int32, c.m)
	for i := range d.bias {
		d.bias[i] = int32(r.IntN(20001) - 10000)
	}
	sy := d.sy
	if outF32 {
		sy = 0
	}
	d.mult = ir.QOutputMultipliers(d.sx, d.sw, c.m, sy)
	d.mr = d.sr
	if !outF32 {
		d.mr = ir.QResidualMultiplier(d.sr, d.sy)
	}
	d.clo, d.chi = float32(math.Inf(-1)), float32(math.Inf(1))
	if c.act == ir.ActClip {
		d.clo, d.chi = -20*d.sy, 60*d.sy
	}
	return d
}

// reference runs ir/ref's QConv on d: NCHW, int8 or f32.
func (d *groupConvData) reference(t *testing.T) *ir.Tensor {
	t.Helper()
	perTensor := func(s float32, z int32) *ir.QuantParams {
		return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	xv := ir.NewConst("x", i8Tensor(d.x, d.n, d.c, d.h, d.w))
	xv.Quant = perTensor(d.sx, d.zx)
	wv := ir.NewConst("w", i8Tensor(d.wt, d.m, d.cg, d.k, d.k))
	wv.Quant = &ir.QuantParams{Scale: d.sw, ZeroPoint: make([]int32, d.m), Axis: 0}
	bt := ir.NewTensor(ir.Int32, d.m)
	copy(bt.Int32s(), d.bias)
	ins := []*ir.Value{xv, wv, ir.NewConst("m", ir.FromFloat32(d.mult, d.m)), ir.NewConst("b", bt)}
	if d.res {
		rv := ir.NewConst("r", i8Tensor(d.rn, d.n, d.m, d.oh, d.ow))
		rv.Quant = perTensor(d.sr, d.zr)
		ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{d.mr})))
	}
	y := &ir.Value{Name: "y"}
	if !d.outF32 {
		y.Quant = perTensor(d.sy, d.zy)
	}
	attrs := ir.Attrs{
		"strides":    ir.IntsAttr(int64(d.stride), int64(d.stride)),
		"pads":       ir.IntsAttr(int64(d.pad), int64(d.pad), int64(d.pad), int64(d.pad)),
		"group":      ir.IntAttr(int64(d.group)),
		"activation": ir.StringAttr(d.act),
	}
	if d.act == ir.ActClip {
		attrs["clip_min"], attrs["clip_max"] = ir.FloatAttr(d.clo), ir.FloatAttr(d.chi)
	}
	return refNode(t, &ir.Node{Name: "conv", Op: "QConv", Attrs: attrs, Inputs: ins, Outputs: []*ir.Value{y}})
}

// groupConvRun is one kernel's launch on a problem's device buffers.
type groupConvRun struct {
	kernel string
	launch func() error
	y      *cuda.Buffer
}

// toNHWC reorders an NCHW batch of n images of ch channels and hw pixels.
func toNHWC(v []int8, n, ch, hw int) []int8 {
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

// runs uploads d (NHWC input and residual) and returns the launches of
// the one-element kernel and, where it takes the shape, the vectorized
// one, each with its own output buffer; the vectorized kernel's weights
// and biases are packed and folded as the planner does.
func (d *groupConvData) runs(t *testing.T, g *gpu) []groupConvRun {
	t.Helper()
	lo, hi := int32(0), int32(0)
	if !d.outF32 {
		var err error
		if lo, hi, err = ir.QActivationRange(d.act, d.clo, d.chi, d.sy, d.zy); err != nil {
			t.Fatal(err)
		}
	}
	total := d.n * d.oh * d.ow * d.m
	elem := 1
	if d.outF32 {
		elem = 4
	}
	dx, dr := buf(t, g, toNHWC(d.x, d.n, d.c, d.h*d.w)), buf(t, g, toNHWC(d.rn, d.n, d.m, d.oh*d.ow))
	dm := buf(t, g, d.mult)
	hasres := uint32(0)
	if d.res {
		hasres = 1
	}
	act := map[string]uint32{ir.ActNone: kernels.QGroupActNone, ir.ActRelu: kernels.QGroupActRelu, ir.ActClip: kernels.QGroupActClip}[d.act]
	launch := func(name, ptx string, dw, db *cuda.Buffer, threads int, zx int32) groupConvRun {
		fn := g.function(t, name, ptx, name)
		dy := alloc(t, g, total*elem)
		args := []any{dx.Ptr, dw.Ptr, db.Ptr, dm.Ptr, dr.Ptr, dy.Ptr,
			uint32(threads), uint32(d.c), uint32(d.h), uint32(d.w), uint32(d.m), uint32(d.oh), uint32(d.ow), uint32(d.k), uint32(d.k),
			uint32(d.stride), uint32(d.stride), uint32(d.pad), uint32(d.pad), uint32(1), uint32(1), uint32(d.cg), uint32(d.m / d.group), hasres}
		if d.outF32 {
			args = append(args, act, zx, d.zr, d.mr, d.clo, d.chi)
		} else {
			args = append(args, zx, d.zr, lo-d.zy, hi-d.zy, d.zy, d.mr)
		}
		grid := (threads + kernels.OpThreads - 1) / kernels.OpThreads
		return groupConvRun{kernel: name, y: dy, launch: func() error {
			return g.stream.Launch(fn, cuda.D1(grid), cuda.D1(kernels.OpThreads), 0, args...)
		}}
	}
	old, oldPTX := kernels.QGroupConvKernel, kernels.QGroupConvPTX()
	if d.outF32 {
		old, oldPTX = kernels.QGroupConvF32Kernel, kernels.QGroupConvF32PTX()
	}
	runs := []groupConvRun{launch(old, oldPTX, buf(t, g, d.wt), buf(t, g, d.bias), total, d.zx)}
	if v, ok := kernels.QGroupVecFor(d.cg, d.m/d.group, d.m, d.outF32); ok {
		dw := buf(t, g, kernels.QGroupVecWeights(v, d.wt, d.m, d.cg, d.k, d.k))
		db := buf(t, g, kernels.QGroupVecBias(d.bias, d.wt, d.zx, d.m))
		runs = append(runs, launch(v.Name(), v.PTX(), dw, db, d.n*v.Threads(d.oh, d.ow, d.m), kernels.ZeroPointWord(d.zx)))
	}
	return runs
}

func checkQGroupConv(t *testing.T, g *gpu, r *rand.Rand, c groupConvCase, outF32 bool) {
	d := newGroupConvData(r, c, outF32)
	want := d.reference(t)
	runs := d.runs(t, g)
	if _, ok := kernels.QGroupVecFor(d.cg, d.m/d.group, d.m, outF32); ok != (len(runs) == 2) {
		t.Fatalf("%d kernels for a shape the vectorized kernel takes: %v", len(runs), ok)
	}
	hw := d.oh * d.ow
	total := d.n * hw * d.m
	for _, run := range runs {
		if err := run.launch(); err != nil {
			t.Fatal(err)
		}
		if err := g.stream.Synchronize(); err != nil {
			t.Fatal(err)
		}
		got := make([]uint32, total)
		if outF32 {
			f := make([]float32, total)
			if err := cuda.Download(run.y, 0, f); err != nil {
				t.Fatal(err)
			}
			for i, v := range f {
				got[i] = math.Float32bits(v)
			}
		} else {
			b := make([]int8, total)
			if err := cuda.Download(run.y, 0, b); err != nil {
				t.Fatal(err)
			}
			for i, v := range b {
				got[i] = uint32(uint8(v))
			}
		}
		bad, distinct := 0, map[uint32]bool{}
		for b := 0; b < d.n; b++ {
			for o := 0; o < d.m; o++ {
				for i := 0; i < hw; i++ {
					at := (b*d.m+o)*hw + i
					var w uint32
					if outF32 {
						w = math.Float32bits(want.Float32s()[at])
					} else {
						w = uint32(uint8(want.Int8s()[at]))
					}
					gv := got[(b*hw+i)*d.m+o]
					distinct[gv] = true
					if gv != w {
						if bad < 5 {
							t.Errorf("%s: image %d channel %d pixel %d: %#x, want %#x", run.kernel, b, o, i, gv, w)
						}
						bad++
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d outputs differ (zx %d)", run.kernel, bad, total, d.zx)
		}
		// A check that could fail for a trivial kernel: the output is not constant.
		if len(distinct) < 3 {
			t.Errorf("%s: only %d distinct output values: the test data does not exercise the kernel", run.kernel, len(distinct))
		}
	}
}

// groupConvPerfShapes are the grouped and depthwise layers of the
// torchvision models that run on these kernels, at batch 32, with the
// output their dense-int8 engines give them (EfficientNet's, ConvNeXt's
// and RegNetY's feed float ops: f32).
var groupConvPerfShapes = []struct {
	name   string
	c      groupConvCase
	outF32 bool // as the dense-int8 engine runs it: f32 out where the next op is float
}{
	{"resnext50 layer1 g32 cg4 56^2", groupConvCase{c: 128, h: 56, w: 56, m: 128, group: 32, k: 3, stride: 1, pad: 1}, false},
	{"resnext50 layer2.0 g32 cg8 s2", groupConvCase{c: 256, h: 56, w: 56, m: 256, group: 32, k: 3, stride: 2, pad: 1}, false},
	{"resnext50 layer2 g32 cg8 28^2", groupConvCase{c: 256, h: 28, w: 28, m: 256, group: 32, k: 3, stride: 1, pad: 1}, false},
	{"resnext50 layer3 g32 cg16 14^2", groupConvCase{c: 512, h: 14, w: 14, m: 512, group: 32, k: 3, stride: 1, pad: 1}, false},
	{"resnext50 layer4.0 g32 cg32 s2", groupConvCase{c: 1024, h: 14, w: 14, m: 1024, group: 32, k: 3, stride: 2, pad: 1}, false},
	{"resnext50 layer4 g32 cg32 7^2", groupConvCase{c: 1024, h: 7, w: 7, m: 1024, group: 32, k: 3, stride: 1, pad: 1}, false},
	{"mobilenetv2 dw3 c32 112^2", groupConvCase{c: 32, h: 112, w: 112, m: 32, group: 32, k: 3, stride: 1, pad: 1}, false},
	{"mobilenetv2 dw3 c96 s2 112^2", groupConvCase{c: 96, h: 112, w: 112, m: 96, group: 96, k: 3, stride: 2, pad: 1}, false},
	{"mobilenetv2 dw3 c144 56^2", groupConvCase{c: 144, h: 56, w: 56, m: 144, group: 144, k: 3, stride: 1, pad: 1}, false},
	{"mobilenetv2 dw3 c192 28^2", groupConvCase{c: 192, h: 28, w: 28, m: 192, group: 192, k: 3, stride: 1, pad: 1}, false},
	{"mobilenetv2 dw3 c576 14^2", groupConvCase{c: 576, h: 14, w: 14, m: 576, group: 576, k: 3, stride: 1, pad: 1}, false},
	{"mobilenetv2 dw3 c960 7^2", groupConvCase{c: 960, h: 7, w: 7, m: 960, group: 960, k: 3, stride: 1, pad: 1}, false},
	{"efficientnet dw5 c144 s2 56^2", groupConvCase{c: 144, h: 56, w: 56, m: 144, group: 144, k: 5, stride: 2, pad: 2}, true},
	{"efficientnet dw5 c240 28^2", groupConvCase{c: 240, h: 28, w: 28, m: 240, group: 240, k: 5, stride: 1, pad: 2}, true},
	{"efficientnet dw5 c672 14^2", groupConvCase{c: 672, h: 14, w: 14, m: 672, group: 672, k: 5, stride: 1, pad: 2}, true},
	{"efficientnet dw5 c1152 7^2", groupConvCase{c: 1152, h: 7, w: 7, m: 1152, group: 1152, k: 5, stride: 1, pad: 2}, true},
	{"convnext dw7 c96 56^2", groupConvCase{c: 96, h: 56, w: 56, m: 96, group: 96, k: 7, stride: 1, pad: 3}, true},
	{"convnext dw7 c192 28^2", groupConvCase{c: 192, h: 28, w: 28, m: 192, group: 192, k: 7, stride: 1, pad: 3}, true},
	{"convnext dw7 c384 14^2", groupConvCase{c: 384, h: 14, w: 14, m: 384, group: 384, k: 7, stride: 1, pad: 3}, true},
	{"convnext dw7 c768 7^2", groupConvCase{c: 768, h: 7, w: 7, m: 768, group: 768, k: 7, stride: 1, pad: 3}, true},
	{"shufflenetv2 dw3 c58 28^2", groupConvCase{c: 58, h: 28, w: 28, m: 58, group: 58, k: 3, stride: 1, pad: 1}, false},
	{"shufflenetv2 dw3 c116 14^2", groupConvCase{c: 116, h: 14, w: 14, m: 116, group: 116, k: 3, stride: 1, pad: 1}, false},
	{"regnety400 g8 c104 14^2", groupConvCase{c: 104, h: 14, w: 14, m: 104, group: 13, k: 3, stride: 1, pad: 1}, true},
	{"regnety400 g8 c440 7^2", groupConvCase{c: 440, h: 7, w: 7, m: 440, group: 55, k: 3, stride: 1, pad: 1}, true},
}

// TestPerfGroupConv times, side by side in one run, the one-element
// grouped convolution and the vectorized kernel the planner picks on
// groupConvPerfShapes at batch 32, relu, int8 or f32 out: µs (median of
// perfIters launches) and the operands' bytes (input, weights and output
// once each) over the time. Skipped with -test.short.
//
//	.gpu/ampere.test -test.v -test.run TestPerfGroupConv
func TestPerfGroupConv(t *testing.T) {
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(95, 96))
	lines := []string{fmt.Sprintf("grouped/depthwise QConv on %s, batch 32, relu, median of %d launches", g.desc, perfIters),
		fmt.Sprintf("%-32s %-4s %-22s | %9s %6s | %9s %6s | %7s", "layer", "out", "vectorized kernel", "old us", "GB/s", "new us", "GB/s", "speedup")}
	for _, s := range groupConvPerfShapes {
		c := s.c
		c.n, c.act = 32, ir.ActRelu
		d := newGroupConvData(r, c, s.outF32)
		runs := d.runs(t, g)
		out, elem := "i8", 1
		if s.outF32 {
			out, elem = "f32", 4
		}
		bytes := float64(d.n*d.c*d.h*d.w + elem*d.n*d.oh*d.ow*d.m + len(d.wt))
		us := []float64{math.NaN(), math.NaN()}
		name := "(none: old kernel)"
		for i, run := range runs {
			us[i] = timeKernel(t, g, run.launch)
			if i == 1 {
				name = run.kernel
			}
		}
		lines = append(lines, fmt.Sprintf("%-32s %-4s %-22s | %9.1f %6.0f | %9.1f %6.0f | %6.2fx", s.name, out, name, us[0], bytes/us[0]/1e3, us[1], bytes/us[1]/1e3, us[0]/us[1]))
	}
	t.Log("\n" + strings.Join(lines, "\n"))
}
