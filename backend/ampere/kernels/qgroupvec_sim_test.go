package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// groupCase is one grouped convolution for the vectorized kernels' tests.
type groupCase struct {
	n, c, h, w, m, group, kh, kw, sh, sw, dh, dw int
	pads                                         [4]int // top, left, bottom, right
	zx, zr                                       int32
	res                                          bool
	act                                          string
	outF32                                       bool
}

func (g groupCase) String() string {
	out := "i8"
	if g.outF32 {
		out = "f32"
	}
	return fmt.Sprintf("n%d_c%d_%dx%d_m%d_g%d_k%dx%d_s%dx%d_d%dx%d_p%v_zx%d_res%v_%s_%s",
		g.n, g.c, g.h, g.w, g.m, g.group, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pads, g.zx, g.res, g.act, out)
}

// groupProblem is a case's random data, its reference output (NCHW) and
// the geometry the kernel takes.
type groupProblem struct {
	groupCase
	oh, ow     int
	x, wt, r   []int8 // x and r NCHW, wt [M][Cg][KH][KW]
	bias       []int32
	mult       []float32
	mr         float32
	lo, hi, zy int32 // int8 output: the clamp range (not less zy) and zero point
	clo, chi   float32
	want       *ir.Tensor
}

// newGroupProblem draws the data and runs ir/ref's QConv on it.
func newGroupProblem(t *testing.T, r *rand.Rand, g groupCase) *groupProblem {
	t.Helper()
	p := &groupProblem{groupCase: g}
	p.oh = (g.h+g.pads[0]+g.pads[2]-g.dh*(g.kh-1)-1)/g.sh + 1
	p.ow = (g.w+g.pads[1]+g.pads[3]-g.dw*(g.kw-1)-1)/g.sw + 1
	cg := g.c / g.group
	rand8 := func(n int) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(r.IntN(256) - 128)
		}
		return v
	}
	p.x, p.wt, p.r = rand8(g.n*g.c*g.h*g.w), rand8(g.m*cg*g.kh*g.kw), rand8(g.n*g.m*p.oh*p.ow)
	p.bias = make([]int32, g.m)
	sw := make([]float32, g.m)
	for i := range p.bias {
		p.bias[i] = int32(r.IntN(40001) - 20000)
		sw[i] = float32(math.Exp(r.Float64()*2 - 6))
	}
	// Scales that spread the outputs over the int8 range, some
	// saturating: the sum's spread is about 74·74·sqrt(taps), sw about
	// 0.008.
	taps := float64(cg * g.kh * g.kw)
	sx, sr := float32(0.05), float32(0.3)
	sy := float32(74 * 74 * math.Sqrt(taps) * 0.05 * 0.008 / 40)
	p.mult = ir.QOutputMultipliers(sx, sw, g.m, sy)
	if g.outF32 {
		for i := range p.mult {
			p.mult[i] = sx * sw[i]
		}
	}
	p.mr = ir.QResidualMultiplier(sr, sy)
	p.zy = int32(r.IntN(41) - 20)
	perTensor := func(s float32, z int32) *ir.QuantParams {
		return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	}
	tensor8 := func(d []int8, dims ...int) *ir.Tensor {
		tt := ir.NewTensor(ir.Int8, dims...)
		copy(tt.Int8s(), d)
		return tt
	}
	xv := ir.NewConst("x", tensor8(p.x, g.n, g.c, g.h, g.w))
	xv.Quant = perTensor(sx, g.zx)
	wv := ir.NewConst("w", tensor8(p.wt, g.m, cg, g.kh, g.kw))
	wv.Quant = &ir.QuantParams{Scale: sw, ZeroPoint: make([]int32, g.m), Axis: 0}
	bt := ir.NewTensor(ir.Int32, g.m)
	copy(bt.Int32s(), p.bias)
	ins := []*ir.Value{xv, wv, ir.NewConst("m", ir.FromFloat32(p.mult, g.m)), ir.NewConst("b", bt)}
	if g.res {
		rv := ir.NewConst("r", tensor8(p.r, g.n, g.m, p.oh, p.ow))
		rv.Quant = perTensor(sr, g.zr)
		if g.outF32 {
			p.mr = sr
		}
		ins = append(ins, rv, ir.NewConst("mr", ir.FromFloat32([]float32{p.mr})))
	}
	y := &ir.Value{Name: "y"}
	if !g.outF32 {
		y.Quant = perTensor(sy, p.zy)
	}
	attrs := ir.Attrs{
		"strides":    ir.IntsAttr(int64(g.sh), int64(g.sw)),
		"dilations":  ir.IntsAttr(int64(g.dh), int64(g.dw)),
		"pads":       ir.IntsAttr(int64(g.pads[0]), int64(g.pads[1]), int64(g.pads[2]), int64(g.pads[3])),
		"group":      ir.IntAttr(int64(g.group)),
		"activation": ir.StringAttr(g.act),
	}
	p.clo, p.chi = float32(math.Inf(-1)), float32(math.Inf(1))
	if g.act == ir.ActClip {
		p.clo, p.chi = -2, 3
		if !g.outF32 {
			p.clo, p.chi = -float32(30)*sy, float32(90)*sy
		}
		attrs["clip_min"], attrs["clip_max"] = ir.FloatAttr(p.clo), ir.FloatAttr(p.chi)
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
	p.want = out[0]
	if !g.outF32 {
		if p.lo, p.hi, err = ir.QActivationRange(g.act, p.clo, p.chi, sy, p.zy); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// toNHWC reorders an NCHW batch of ch channels and hw pixels.
func toNHWC[T any](v []T, n, ch, hw int) []T {
	o := make([]T, len(v))
	for b := 0; b < n; b++ {
		for c := 0; c < ch; c++ {
			for i := 0; i < hw; i++ {
				o[(b*hw+i)*ch+c] = v[(b*ch+c)*hw+i]
			}
		}
	}
	return o
}

// runGroupVec runs variant c on p in the thread interpreter and returns
// the NHWC output bytes.
func runGroupVec(t *testing.T, c QGroupVec, p *groupProblem) []byte {
	t.Helper()
	k, err := parseThreads(c.PTX())
	if err != nil {
		t.Fatal(err)
	}
	cg := p.c / p.group
	bytes8 := func(v []int8) []byte {
		b := make([]byte, len(v))
		for i, x := range v {
			b[i] = byte(x)
		}
		return b
	}
	bias := QGroupVecBias(p.bias, p.wt, p.zx, p.m)
	bb := make([]byte, 4*len(bias))
	for i, v := range bias {
		binary.LittleEndian.PutUint32(bb[4*i:], uint32(v))
	}
	total := p.n * c.Threads(p.oh, p.ow, p.m)
	elem := 1
	if c.OutF32 {
		elem = 4
	}
	y := make([]byte, p.n*p.oh*p.ow*p.m*elem)
	for i := range y {
		y[i] = 0xA5 // an element the kernel does not write shows
	}
	mc := newTMachine()
	u := func(v int) uint64 { return uint64(uint32(v)) }
	s := func(v int32) uint64 { return uint64(uint32(v)) }
	f := func(v float32) uint64 { return uint64(math.Float32bits(v)) }
	hasres := 0
	if p.res {
		hasres = 1
	}
	args := []uint64{mc.buffer(bytes8(toNHWC(p.x, p.n, p.c, p.h*p.w))), mc.buffer(bytes8(QGroupVecWeights(c, p.wt, p.m, cg, p.kh, p.kw))),
		mc.buffer(bb), mc.buffer(f32Buffer(p.mult)), mc.buffer(bytes8(toNHWC(p.r, p.n, p.m, p.oh*p.ow))), mc.buffer(y),
		u(total), u(p.c), u(p.h), u(p.w), u(p.m), u(p.oh), u(p.ow), u(p.kh), u(p.kw), u(p.sh), u(p.sw), u(p.pads[0]), u(p.pads[1]),
		u(p.dh), u(p.dw), u(cg), u(p.m / p.group), u(hasres)}
	if c.OutF32 {
		act := map[string]int{ir.ActNone: QGroupActNone, ir.ActRelu: QGroupActRelu, ir.ActClip: QGroupActClip}[p.act]
		args = append(args, u(act), s(ZeroPointWord(p.zx)), s(p.zr), f(p.mr), f(p.clo), f(p.chi))
	} else {
		args = append(args, s(ZeroPointWord(p.zx)), s(p.zr), s(p.lo-p.zy), s(p.hi-p.zy), s(p.zy), f(p.mr))
	}
	if err := mc.runThreads(k, args, total); err != nil {
		t.Fatal(err)
	}
	return y
}

// TestQGroupVecSimulated runs every vectorized grouped-convolution
// variant in the thread interpreter against ir/ref's QConv, bit for bit:
// depthwise 3×3, 5×5 and 7×7 (2, 4, 8 and 16 channels a thread), grouped with Cg and Mg of 4 and 8 (equal
// and not), strides 1 and 2, dilation 2, symmetric and asymmetric
// padding, odd image sizes whose last windows are ragged, a residual,
// every activation, int8 and f32 outputs, and input zero points of both
// signs and at both ends of the range (the folded bias and the padding
// taps' zx words must cancel exactly).
func TestQGroupVecSimulated(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []groupCase{
		// depthwise, V 16, 8, 4
		{n: 2, c: 32, h: 7, w: 9, m: 32, group: 32, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: -7, act: ir.ActRelu},
		{n: 1, c: 16, h: 9, w: 8, m: 16, group: 16, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: 127, zr: -3, res: true, act: ir.ActNone},
		{n: 2, c: 24, h: 6, w: 5, m: 24, group: 24, kh: 5, kw: 5, sh: 2, sw: 1, dh: 1, dw: 1, pads: [4]int{2, 2, 2, 2}, zx: -128, act: ir.ActClip},
		{n: 1, c: 12, h: 9, w: 10, m: 12, group: 12, kh: 7, kw: 7, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{3, 3, 3, 3}, zx: 5, zr: 9, res: true, act: ir.ActRelu},
		{n: 1, c: 8, h: 8, w: 7, m: 8, group: 8, kh: 3, kw: 3, sh: 1, sw: 2, dh: 2, dw: 2, pads: [4]int{0, 2, 1, 0}, zx: 0, act: ir.ActNone},
		{n: 2, c: 48, h: 5, w: 5, m: 48, group: 48, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{0, 0, 1, 1}, zx: -60, zr: 100, res: true, act: ir.ActClip},
		// depthwise V 2 (58 channels: ShuffleNetV2's), odd q's words
		{n: 2, c: 6, h: 7, w: 6, m: 6, group: 6, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: -90, zr: 4, res: true, act: ir.ActRelu},
		{n: 1, c: 10, h: 9, w: 8, m: 10, group: 10, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: 127, act: ir.ActClip},
		// grouped, V 4 and 8
		{n: 2, c: 16, h: 7, w: 6, m: 16, group: 4, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: 33, act: ir.ActRelu},
		{n: 1, c: 32, h: 9, w: 7, m: 32, group: 4, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, zx: -128, zr: -128, res: true, act: ir.ActNone},
		{n: 1, c: 12, h: 6, w: 6, m: 24, group: 3, kh: 3, kw: 3, sh: 2, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 0, 1, 2}, zx: 127, zr: 127, res: true, act: ir.ActClip},
		{n: 2, c: 24, h: 5, w: 6, m: 12, group: 3, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, zx: -1, act: ir.ActRelu},
		{n: 1, c: 64, h: 4, w: 5, m: 64, group: 2, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, pads: [4]int{2, 2, 2, 2}, zx: 77, act: ir.ActNone},
	}
	for _, base := range cases {
		for _, outF32 := range []bool{false, true} {
			g := base
			g.outF32 = outF32
			cg, mg := g.c/g.group, g.m/g.group
			c, ok := QGroupVecFor(cg, mg, g.m, outF32)
			if !ok {
				t.Fatalf("%v: no variant", g)
			}
			t.Run(c.Name()+"/"+g.String(), func(t *testing.T) {
				p := newGroupProblem(t, r, g)
				y := runGroupVec(t, c, p)
				hw := p.oh * p.ow
				bad, distinct := 0, map[uint32]bool{}
				for b := 0; b < p.n; b++ {
					for o := 0; o < p.m; o++ {
						for i := 0; i < hw; i++ {
							at, wantAt := (b*hw+i)*p.m+o, (b*p.m+o)*hw+i
							var got, want uint32
							if outF32 {
								got, want = binary.LittleEndian.Uint32(y[4*at:]), math.Float32bits(p.want.Float32s()[wantAt])
							} else {
								got, want = uint32(y[at]), uint32(uint8(p.want.Int8s()[wantAt]))
							}
							distinct[got] = true
							if got != want {
								if bad < 5 {
									t.Errorf("image %d channel %d pixel %d: %#x, want %#x", b, o, i, got, want)
								}
								bad++
							}
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d outputs differ", bad, p.n*p.m*hw)
				}
				if len(distinct) < 8 {
					t.Errorf("only %d distinct outputs: the data does not exercise the kernel", len(distinct))
				}
			})
		}
	}
}

// TestQGroupVecPTXLint lints every variant and checks the GEMM epilogue's
// rounding (no fused float multiply-add), the dp4a products, the vector
// accesses, and the parameter count.
func TestQGroupVecPTXLint(t *testing.T) {
	names := map[string]bool{}
	for _, c := range QGroupVecVariants() {
		text := c.PTX()
		name := c.Name()
		if names[name] {
			t.Errorf("two variants are named %s", name)
		}
		names[name] = true
		lintPTX(t, name, text)
		vec := ".v4"
		if c.V == 2 {
			vec = ".v2"
		}
		must := []string{"dp4a.s32.s32", "cvt.rn.f32.s32", "mul.rn.f32", "add.rn.f32", "ld.global.nc" + vec + ".u32", "ld.global.nc" + vec + ".f32"}
		mustNot := []string{"fma.", "mad.rn.f32", "mad.f32", "ld.global.nc.s8", "mad.lo.s32"}
		if c.OutF32 {
			must = append(must, "max.f32", "min.f32", "st.global"+vec+".f32")
			mustNot = append(mustNot, "cvt.rni.s32.f32", "st.global.s8")
		} else {
			must = append(must, "cvt.rni.s32.f32", "max.s32", "min.s32", "bfi.b32")
			mustNot = append(mustNot, "st.global.s8", "st.global.v4.f32")
		}
		for _, w := range must {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
		for _, w := range mustNot {
			if strings.Contains(text, w) {
				t.Errorf("%s: %s", name, w)
			}
		}
		if want := c.V * strings.Count(text, "$L_chunk:"); !c.Depthwise && strings.Count(text, "dp4a.s32.s32") != want {
			t.Errorf("%s: %d dp4a, want %d in the chunk loop", name, strings.Count(text, "dp4a.s32.s32"), want)
		}
		if n := strings.Count(text, ".param "); n != len(c.Params()) {
			t.Errorf("%s: %d params declared, want %d", name, n, len(c.Params()))
		}
		if ApproxKernels[name] {
			t.Errorf("%s is exact but listed as approximate", name)
		}
	}
}

// TestQGroupVecFor pins which convolutions the vectorized kernels take.
func TestQGroupVecFor(t *testing.T) {
	for _, tc := range []struct {
		cg, mg, m int
		want      string // "" none
	}{
		{1, 1, 96, "sqc_qconv_dw16_i8"}, {1, 1, 24, "sqc_qconv_dw8_i8"}, {1, 1, 12, "sqc_qconv_dw4_i8"},
		{1, 1, 58, "sqc_qconv_dw2_i8"}, {1, 1, 9, ""}, {1, 2, 64, ""}, {2, 2, 64, ""}, {4, 4, 128, "sqc_qconv_gdp4a4_i8"}, {8, 8, 104, "sqc_qconv_gdp4a8_i8"},
		{32, 32, 1024, "sqc_qconv_gdp4a8_i8"}, {8, 12, 96, "sqc_qconv_gdp4a4_i8"}, {6, 8, 64, ""},
	} {
		c, ok := QGroupVecFor(tc.cg, tc.mg, tc.m, false)
		got := ""
		if ok {
			got = c.Name()
		}
		if got != tc.want {
			t.Errorf("Cg %d Mg %d M %d: %q, want %q", tc.cg, tc.mg, tc.m, got, tc.want)
		}
	}
}
