package ampere

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// groupConvGraph is a quantize then a grouped QConv (group 4, 8 → 8
// channels, 3×3 stride 2 pad 1 on 5×5) with a fused Relu; res is what
// follows the QConv's operands (a residual, or nothing), resConsts the
// lines that define it.
func groupConvGraph(outType, res, resConsts string) string {
	m := "1, 2, 1, 2, 1, 2, 1, 2" // sx·sw/sy
	if strings.HasPrefix(outType, "f32") {
		m = "0.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1, 0.2" // sx·sw
	}
	w := make([]string, 8*2*3*3)
	for i := range w {
		w[i] = fmt.Sprint(i%7 - 3)
	}
	return `graph "g" (%x: f32[N,8,5,5]) -> (%y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %w: i8[8,2,3,3] quant(axis=0, scale=[2, 4, 2, 4, 2, 4, 2, 4], zp=[0, 0, 0, 0, 0, 0, 0, 0]) = [` + strings.Join(w, ", ") + `]
  const %m: f32[8] = [` + m + `]
  const %b: i32[8] = [1, -2, 3, -4, 5, -6, 7, -8]
` + resConsts + `  %q: i8[N,8,5,5] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %y: ` + outType + ` = QConv "gc" (%q, %w, %m, %b` + res + `) {activation = "relu", group = 4, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
}`
}

// argU32 and friends read a launch argument of a given kind.
func argU32(t *testing.T, a *engine.Arg) uint32 {
	t.Helper()
	switch v := a.V.(type) {
	case *engine.Arg_U32:
		return v.U32
	case *engine.Arg_U32PerSample:
		return v.U32PerSample
	}
	t.Fatalf("argument %v is not a u32", a)
	return 0
}

func TestPlanGroupConv(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(groupConvGraph("i8[N,8,3,3] quant(scale=[0.1], zp=[-2])", "", "")))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Constants() {
		if v.Name == "w" {
			// A claim the direct kernel cannot use: planned dense, said so.
			v.Sparsity = &ir.Sparsity{N: 2, M: 4, Axis: 1}
		}
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	s := findStep(t, e, "gc", kernels.QGroupConvKernel)
	if s.Sparse || !strings.Contains(s.Note, "dense") || !strings.Contains(s.Note, "2:4") {
		t.Errorf("step sparse=%v note %q: want dense, naming the unused 2:4 claim", s.Sparse, s.Note)
	}
	if s.WorkPerSample != 3*3*8 || s.BlockX != kernels.OpThreads || s.WorkPerBlockX != kernels.OpThreads {
		t.Errorf("work %d a sample, block %d/%d: want 72 and %d threads", s.WorkPerSample, s.BlockX, s.WorkPerBlockX, kernels.OpThreads)
	}
	if len(s.Args) != len(kernels.QGroupConvParams) {
		t.Fatalf("%d arguments, want %d", len(s.Args), len(kernels.QGroupConvParams))
	}
	if _, ok := s.Args[6].V.(*engine.Arg_U32PerSample); !ok {
		t.Errorf("total is %v, want a per-sample count", s.Args[6])
	}
	// total C H W M OH OW KH KW sh sw ph pw dh dw Cg Mg hasres
	want := []uint32{72, 8, 5, 5, 8, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 2, 2, 0}
	for i, w := range want {
		if got := argU32(t, s.Args[6+i]); got != w {
			t.Errorf("argument %s = %d, want %d", kernels.QGroupConvParams[6+i], got, w)
		}
	}
	// zx = 3, no residual, Relu on scale 0.1 zp −2: the range [−2, 127]
	// less zy is [0, 129].
	wantS := []int32{3, 0, 0, 129, -2}
	for i, w := range wantS {
		if got := s.Args[24+i].GetS32(); got != w {
			t.Errorf("argument %s = %d, want %d", kernels.QGroupConvParams[24+i], got, w)
		}
	}
	if s.Args[29].GetF32() != 0 {
		t.Errorf("mr = %v, want 0 without a residual", s.Args[29].GetF32())
	}
	// The weights go as they are ([M][Cg][KH][KW]), the bias raw.
	ws := map[string][]byte{}
	for _, w := range e.Weights {
		ws[w.Name] = w.Data
	}
	for i, b := range ws["gc/w"] {
		if int8(b) != int8(i%7-3) {
			t.Fatalf("weight byte %d = %d, want %d", i, int8(b), i%7-3)
		}
	}
	if b := ws["gc/bias"]; len(b) != 32 || int32(uint32(b[4])|uint32(b[5])<<8|uint32(b[6])<<16|uint32(b[7])<<24) != -2 {
		t.Errorf("bias bytes %v: want the raw i32 biases, the second -2", b)
	}
	if len(ws["gc/mult"]) != 32 {
		t.Errorf("multipliers are %d bytes, want 32", len(ws["gc/mult"]))
	}
	if w := s.Args[1].GetWeight(); w != "gc/w" {
		t.Errorf("weight argument %q", w)
	}
}

func TestPlanGroupConvResidualAndRefusals(t *testing.T) {
	// A residual (the quantized input of a second graph input) with its
	// zero point and multiplier.
	src := strings.Replace(groupConvGraph("i8[N,8,3,3] quant(scale=[0.1], zp=[-2])", ", %r, %mr", `  const %mr: f32[] = [0.5]
  const %zr: i8[] = [5]
  %r: i8[N,8,3,3] quant(scale=[0.05], zp=[5]) = QuantizeLinear "qr" (%x2, %sc, %zr)
`), "(%x: f32[N,8,5,5])", "(%x: f32[N,8,5,5], %x2: f32[N,8,3,3])", 1)
	_, e := planText(t, src)
	s := findStep(t, e, "gc", kernels.QGroupConvKernel)
	if got := argU32(t, s.Args[23]); got != 1 {
		t.Errorf("hasres = %d, want 1", got)
	}
	if s.Args[25].GetS32() != 5 || s.Args[29].GetF32() != 0.5 {
		t.Errorf("zr %d mr %v, want 5 and 0.5", s.Args[25].GetS32(), s.Args[29].GetF32())
	}
	if !strings.HasPrefix(s.Note, "dense direct grouped convolution; "+kernels.QGroupConvKernel+": one thread an element (Cg 2, Mg 2") {
		t.Errorf("note %q without a 2:4 claim", s.Note)
	}
	// f32 output (the next op is float): the f32-output variant, with
	// relu's activation code and no int8 range.
	_, e = planText(t, groupConvGraph("f32[N,8,3,3]", "", ""))
	s = findStep(t, e, "gc", kernels.QGroupConvF32Kernel)
	if len(s.Args) != len(kernels.QGroupConvF32Params) || s.Precision != "int8->f32" {
		t.Fatalf("%d args (want %d), precision %q", len(s.Args), len(kernels.QGroupConvF32Params), s.Precision)
	}
	if got := argU32(t, s.Args[24]); got != kernels.QGroupActRelu {
		t.Errorf("act = %d, want relu's %d", got, kernels.QGroupActRelu)
	}
	if s.Args[25].GetS32() != 3 {
		t.Errorf("zx = %d, want 3", s.Args[25].GetS32())
	}
	for _, b := range e.Buffers {
		if b.Name == "y" && (b.Dtype != "f32" || b.Layout != LayoutNHWC) {
			t.Errorf("output buffer is %s %s, want f32 nhwc", b.Dtype, b.Layout)
		}
	}
}

// groupVecGraph is a quantize, a grouped QConv "g" (16 → 16 channels in
// 4 groups: Cg = Mg = 4, 3×3 stride 2 on 9×7, relu, int8 out) and a
// depthwise one "dw" on its output (16 channels, 5×5 pad 2, a residual:
// the grouped output again) with an f32 output and clip.
func groupVecGraph() string {
	ints := func(n, mod int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprint((i*37)%mod - mod/2)
		}
		return strings.Join(v, ", ")
	}
	rep := func(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ") }
	mult := func(sx, sw, sy float32) string { return fmt.Sprint(ir.QOutputMultipliers(sx, []float32{sw}, 1, sy)[0]) }
	return `graph "g" (%x: f32[N,16,9,7]) -> (%y) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [-5]
  const %w: i8[16,4,3,3] quant(axis=0, scale=[` + rep("0.01", 16) + `], zp=[` + rep("0", 16) + `]) = [` + ints(16*4*9, 251) + `]
  const %m: f32[16] = [` + rep(mult(0.05, 0.01, 0.2), 16) + `]
  const %b: i32[16] = [` + ints(16, 4001) + `]
  const %dw: i8[16,1,5,5] quant(axis=0, scale=[` + rep("0.02", 16) + `], zp=[` + rep("0", 16) + `]) = [` + ints(16*25, 199) + `]
  const %dm: f32[16] = [` + rep(mult(0.2, 0.02, 0), 16) + `]
  const %db: i32[16] = [` + ints(16, 301) + `]
  const %mr: f32[] = [0.2]
  %q: i8[N,16,9,7] quant(scale=[0.05], zp=[-5]) = QuantizeLinear "q" (%x, %sc, %zp)
  %h: i8[N,16,5,4] quant(scale=[0.2], zp=[7]) = QConv "g" (%q, %w, %m, %b) {activation = "relu", group = 4, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
  %y: f32[N,16,5,4] = QConv "dw" (%h, %dw, %dm, %db, %h, %mr) {activation = "clip", clip_min = -1.0, clip_max = 3.0, group = 16, kernel_shape = [5, 5], pads = [2, 2, 2, 2]}
}`
}

// TestPlanGroupConvVectorized: the grouped and depthwise QConvs that the
// vectorized kernels take run on them, with packed weights, the zero
// point folded into the bias, one thread per V channels of a pixel and a
// note naming the kernel; the engine simulates equal to the reference;
// with groupVec off the same graph plans the one-element kernels and
// simulates equal too.
func TestPlanGroupConvVectorized(t *testing.T) {
	g, e := planText(t, groupVecGraph())
	gk, dk := kernels.QGroupVec{V: 4}, kernels.QGroupVec{Depthwise: true, V: 16, OutF32: true}
	sg, sd := findStep(t, e, "g", gk.Name()), findStep(t, e, "dw", dk.Name())
	for _, s := range []*engine.Step{sg, sd} {
		if !strings.Contains(s.Note, s.Kernel) {
			t.Errorf("%s: note %q does not name the kernel %s", s.Node, s.Note, s.Kernel)
		}
	}
	if sg.WorkPerSample != 5*4*16/4 || sd.WorkPerSample != 5*4*16/16 || argU32(t, sg.Args[6]) != 80 {
		t.Errorf("work %d and %d a sample, want 80 threads (20 pixels, 16 channels four a thread) and 20 (sixteen a thread)", sg.WorkPerSample, sd.WorkPerSample)
	}
	if z := sg.Args[24].GetS32(); uint32(z) != 0xFBFBFBFB {
		t.Errorf("zxw = %#x, want zx -5 four times", uint32(z))
	}
	if z := sd.Args[25].GetS32(); z != 0x07070707 {
		t.Errorf("zxw = %#x, want zx 7 four times", z)
	}
	ws := map[string][]byte{}
	for _, w := range e.Weights {
		ws[w.Name] = w.Data
	}
	var wv, bv *ir.Value
	for _, v := range g.Constants() {
		switch v.Name {
		case "w":
			wv = v
		case "b":
			bv = v
		}
	}
	packed := kernels.QGroupVecWeights(gk, wv.Const.Int8s(), 16, 4, 3, 3)
	if got := ws["g/w"]; len(got) != len(packed) || int8(got[4]) != packed[4] || int8(got[4]) != wv.Const.Int8s()[36] {
		t.Errorf("grouped weights not packed: word 1 byte 0 is %d, want channel 1's first weight %d", int8(got[4]), wv.Const.Int8s()[36])
	}
	var sum int32
	for _, v := range wv.Const.Int8s()[:36] {
		sum += int32(v)
	}
	if b := int32(binary.LittleEndian.Uint32(ws["g/bias"])); b != bv.Const.Int32s()[0]+5*sum {
		t.Errorf("folded bias %d, want %d + 5·%d", b, bv.Const.Int32s()[0], sum)
	}
	simulateEqualsRef(t, g, e, 2, 7, 8)

	groupVec = false
	defer func() { groupVec = true }()
	g, e = planText(t, groupVecGraph())
	findStep(t, e, "g", kernels.QGroupConvKernel)
	findStep(t, e, "dw", kernels.QGroupConvF32Kernel)
	simulateEqualsRef(t, g, e, 2, 7, 8)
}
