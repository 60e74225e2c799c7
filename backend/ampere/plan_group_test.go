package ampere

import (
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
	g, err := sqir.ParseAndVerify("g", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	s := findStep(t, e, "gc", kernels.QGroupConvKernel)
	if got := argU32(t, s.Args[23]); got != 1 {
		t.Errorf("hasres = %d, want 1", got)
	}
	if s.Args[25].GetS32() != 5 || s.Args[29].GetF32() != 0.5 {
		t.Errorf("zr %d mr %v, want 5 and 0.5", s.Args[25].GetS32(), s.Args[29].GetF32())
	}
	if s.Note != "dense direct grouped convolution" {
		t.Errorf("note %q without a 2:4 claim", s.Note)
	}
	// f32 output (the next op is float): the f32-output variant, with
	// relu's activation code and no int8 range.
	g, err = sqir.ParseAndVerify("g", []byte(groupConvGraph("f32[N,8,3,3]", "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if e, err = Plan(g, "test"); err != nil {
		t.Fatal(err)
	}
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
