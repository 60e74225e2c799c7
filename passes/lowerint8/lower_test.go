package lowerint8

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
)

// lower parses src and runs lower-int8 (after the given passes) with
// verification after every step.
func lower(t *testing.T, src string, pipeline string) *ir.Graph {
	t.Helper()
	g, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	lowerGraph(t, g, pipeline)
	return g
}

// lowerGraph runs pipeline on g with verification after every step.
func lowerGraph(t *testing.T, g *ir.Graph, pipeline string) {
	t.Helper()
	specs, err := passes.ParseSpec(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&passes.Manager{VerifyEach: true}).Run(g, p); err != nil {
		t.Fatal(err)
	}
}

// countOps counts the nodes of each op.
func countOps(g *ir.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}

// randomInputs makes one float32 tensor per graph input, uniform in
// [-span, span].
func randomInputs(r *rand.Rand, g *ir.Graph, span float64) []*ir.Tensor {
	var out []*ir.Tensor
	for _, v := range g.Inputs {
		dims, _ := v.Type.Shape.Ints()
		t := ir.NewTensor(ir.Float32, dims...)
		for i := range t.Float32s() {
			t.Float32s()[i] = float32((r.Float64()*2 - 1) * span)
		}
		out = append(out, t)
	}
	return out
}

// compare runs the graph before and after lowering on the same random
// inputs and returns the number of output elements that differ and the
// largest difference in units of lsb.
func compare(t *testing.T, src, pipeline string, trials int, span float64, lsb float32) (int, float32, *ir.Graph) {
	t.Helper()
	before, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	after := lower(t, src, pipeline)
	r := rand.New(rand.NewPCG(11, 12))
	diff, worst := 0, float32(0)
	total := 0
	distinct := map[float32]bool{}
	for range trials {
		in := randomInputs(r, before, span)
		want, err := ref.Run(before, in...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ref.Run(after, in...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			w, g := want[i].Float32s(), got[i].Float32s()
			for j := range w {
				total++
				distinct[w[j]] = true
				if d := float32(math.Abs(float64(w[j] - g[j]))); d != 0 {
					diff++
					worst = max(worst, d/lsb)
				}
			}
		}
	}
	// Outputs that are all the same (everything saturated) would prove
	// nothing.
	if len(distinct) < min(total/4, 20) {
		t.Fatalf("the outputs take only %d distinct values over %d elements: the test data exercise nothing", len(distinct), total)
	}
	return diff, worst, after
}

// convReluPool: Q/DQ conv with a float bias, relu, max pool and a Q: the Q
// moves above the pool and the conv, bias and relu become one QConv; with
// power-of-two scales every float operation of the Q/DQ graph is exact, so
// the two graphs agree bit for bit.
const convReluPool = `graph "g" (%x: f32[2,4,6,6]) -> (%y) {
  const %sx: f32[] = [0.0625]
  const %zx: i8[] = [3]
  const %wq: i8[6,2,3,3] = [32, -62, 62, -36, 76, 49, 114, 88, 62, 39, 109, 8, -120, 88, -8, 71, 114, -64, 39, -114, 103, -87, -99, -32, -7, 95, -64, -30, 12, -101, 19, -64, -124, 60, -72, -23, -56, -81, 107, 95, 69, -28, -87, 68, 77, -109, -92, 31, 31, -14, -95, -94, -127, 121, 96, -126, -74, 71, -72, 118, 124, -85, 96, -85, -53, -47, 119, -77, 11, 97, 46, 33, -75, -81, 113, 120, 49, -77, 120, 120, 101, -29, -51, -122, -35, -21, -85, 112, -90, -60, -111, -43, -50, 82, 27, 23, -127, 25, 46, 54, -41, -111, -48, -37, 82, -49, -4, 51]
  const %ws: f32[6] = [0.015625, 0.03125, 0.0078125, 0.015625, 0.0625, 0.03125]
  const %wz: i8[6] = [0, 0, 0, 0, 0, 0]
  const %b: f32[6] = [0.0009765625, -0.5, 0.25, 0, 1, -0.125]
  const %sy: f32[] = [0.125]
  const %zy: i8[] = [-4]
  %xq: i8[2,4,6,6] = QuantizeLinear "q_x" (%x, %sx, %zx)
  %xd: f32[2,4,6,6] = DequantizeLinear "dq_x" (%xq, %sx, %zx)
  %w: f32[6,2,3,3] = DequantizeLinear "dq_w" (%wq, %ws, %wz) {axis = 0}
  %c: f32[2,6,6,6] = Conv "conv" (%xd, %w, %b) {group = 2, pads = [1, 1, 1, 1]}
  %r: f32[2,6,6,6] = Relu "relu" (%c)
  %p: f32[2,6,3,3] = MaxPool "pool" (%r) {kernel_shape = [2, 2], strides = [2, 2]}
  %pq: i8[2,6,3,3] = QuantizeLinear "q_p" (%p, %sy, %zy)
  %y: f32[2,6,3,3] = DequantizeLinear "dq_p" (%pq, %sy, %zy)
}`

func TestLoweredConvIsBitExact(t *testing.T) {
	diff, _, g := compare(t, convReluPool, "lower-int8", 5, 8, 0.125)
	ops := countOps(g)
	if ops["QConv"] != 1 || ops["Conv"] != 0 || ops["Relu"] != 0 || ops["MaxPool"] != 1 {
		t.Fatalf("ops after lowering: %v", ops)
	}
	for _, n := range g.Nodes {
		if n.Op == "MaxPool" && n.Inputs[0].Type.DType != ir.Int8 {
			t.Fatalf("MaxPool reads %v, want i8", n.Inputs[0].Type)
		}
	}
	if diff != 0 {
		t.Fatalf("%d output elements differ from the Q/DQ graph, want 0", diff)
	}
}

// residualGemm: a residual block in FusedConv form (the residual is the
// block's quantized input) followed by a Gemm with a bias whose result
// leaves the graph in float, and a MatMul + Add of a [K,N] weight.
const residualGemm = `graph "g" (%x: f32[1,4,3,3], %v: f32[3,8]) -> (%y, %logits, %mm) {
  const %sx: f32[] = [0.25]
  const %z: i8[] = [0]
  const %w1q: i8[4,4,1,1] = [1, 2, 3, 4, -1, -2, -3, -4, 0, 1, 0, 1, 2, 0, 2, 0]
  const %w1s: f32[4] = [0.25, 0.5, 0.125, 0.25]
  const %w1z: i8[4] = [0, 0, 0, 0]
  const %w2q: i8[4,4,3,3] = [-47, -80, -4, -7, 53, -82, -113, -62, 122, 113, -122, 116, 64, -36, 89, -24, -123, 13, 74, -20, -34, -31, 21, 88, -125, -12, -116, 54, -81, 32, 117, 117, -77, -97, 66, -65, 110, 82, 114, -9, -39, 4, -37, 101, 7, -63, 71, -9, -100, 23, 64, 72, 77, -33, 93, -52, -118, -17, 115, 123, -104, -74, -40, 4, 29, -35, 108, -90, -40, -57, 109, 52, 12, -104, -48, 48, -46, -49, -82, 77, -107, 33, -89, 57, 49, -48, -4, -86, 57, -115, -107, 125, 26, 9, 109, -24, -119, -67, 62, 25, -39, 84, -63, -11, 39, -20, -90, -113, 123, 107, 36, -119, 78, -1, -42, 87, -74, -94, 124, 60, 17, 116, -94, 34, 102, 74, -22, -100, -84, -16, -32, -89, -112, 89, -20, -52, -91, -11, 109, 31, 91, -84, 122, 6]
  const %w2s: f32[] = [0.0078125]
  const %b2: f32[4] = [1, -1, 0.5, 0]
  const %sa: f32[] = [0.25]
  const %sy: f32[] = [0.5]
  const %sv: f32[] = [0.125]
  const %gq: i8[5,8] = [1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8, 9, 0, 9, 0, 9, 0, 9, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, -2, 2, -2, 2, -2, 2, -2]
  const %gs: f32[5] = [0.5, 0.25, 0.125, 1, 0.5]
  const %gz: i8[5] = [0, 0, 0, 0, 0]
  const %gc: f32[5] = [0.125, 0, -1, 2, 0.5]
  const %mq: i8[8,2] = [1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8]
  const %ms: f32[2] = [0.25, 0.5]
  const %mz: i8[2] = [0, 0]
  const %mb: f32[2] = [1, -2]
  %xq: i8[1,4,3,3] = QuantizeLinear "q_x" (%x, %sx, %z)
  %xd: f32[1,4,3,3] = DequantizeLinear "dq_x" (%xq, %sx, %z)
  %w1: f32[4,4,1,1] = DequantizeLinear "dq_w1" (%w1q, %w1s, %w1z) {axis = 0}
  %a: f32[1,4,3,3] = FusedConv "conv_a" (%xd, %w1) {activation = "relu"}
  %aq: i8[1,4,3,3] = QuantizeLinear "q_a" (%a, %sa, %z)
  %ad: f32[1,4,3,3] = DequantizeLinear "dq_a" (%aq, %sa, %z)
  %w2: f32[4,4,3,3] = DequantizeLinear "dq_w2" (%w2q, %w2s, %z)
  %b: f32[1,4,3,3] = FusedConv "conv_b" (%ad, %w2, %b2, %xd) {activation = "clip", clip_min = -2.0, clip_max = 6.0, pads = [1, 1, 1, 1]}
  %bq: i8[1,4,3,3] = QuantizeLinear "q_b" (%b, %sy, %z)
  %y: f32[1,4,3,3] = DequantizeLinear "dq_b" (%bq, %sy, %z)
  %vq: i8[3,8] = QuantizeLinear "q_v" (%v, %sv, %z)
  %vd: f32[3,8] = DequantizeLinear "dq_v" (%vq, %sv, %z)
  %g: f32[5,8] = DequantizeLinear "dq_g" (%gq, %gs, %gz) {axis = 0}
  %logits: f32[3,5] = Gemm "fc" (%vd, %g, %gc) {transB = 1}
  %m: f32[8,2] = DequantizeLinear "dq_m" (%mq, %ms, %mz) {axis = 1}
  %mm0: f32[3,2] = MatMul "mm" (%vd, %m)
  %mm: f32[3,2] = Add "mm_bias" (%mm0, %mb)
}`

func TestLoweredResidualAndGemmAreBitExact(t *testing.T) {
	diff, _, g := compare(t, residualGemm, "lower-int8", 5, 4, 0.5)
	ops := countOps(g)
	if ops["QConv"] != 2 || ops["QGemm"] != 2 || ops["FusedConv"]+ops["Gemm"]+ops["MatMul"]+ops["Add"] != 0 {
		t.Fatalf("ops after lowering: %v", ops)
	}
	for _, n := range g.Nodes {
		switch n.Name {
		case "conv_b":
			if len(n.Inputs) != 6 || n.Inputs[4].Name != "xq" {
				t.Errorf("conv_b reads %v, want the quantized block input as its residual", n.Inputs)
			}
		case "mm":
			if w := n.Inputs[1]; !w.IsConst() || w.Const.Shape[0] != 2 || w.Const.Int8s()[1] != 2 || w.Const.Int8s()[8] != -1 {
				t.Errorf("mm's weight is %v %v, want the [8,2] weight transposed to [2,8]", w.Type, w.Const.Data)
			}
			if n.Outputs[0].Type.DType != ir.Float32 {
				t.Errorf("mm writes %v, want the float32 logits", n.Outputs[0].Type)
			}
		}
	}
	if diff != 0 {
		t.Fatalf("%d output elements differ from the Q/DQ graph, want 0", diff)
	}
}

// qlinear is a QOperator graph: uint8 QLinearConv and QLinearMatMul with
// arbitrary (not power-of-two) scales and zero points. Lowering rewrites them
// to Q/DQ, moves u8 to i8 and fuses into QConv/QGemm, whose arithmetic is
// QLinearConv's: the results are identical for any scales.
const qlinear = `graph "g" (%x: f32[1,3,5,5]) -> (%y) {
  const %sx: f32[] = [0.0371]
  const %zx: u8[] = [117]
  const %wq: u8[4,3,2,2] = [82, 38, 101, 12, 18, 24, 93, 14, 129, 54, 9, 22, 111, 107, 17, 61, 23, 108, 15, 31, 57, 15, 101, 12, 56, 11, 34, 74, 107, 36, 30, 78, 46, 26, 48, 95, 24, 16, 15, 52, 127, 109, 80, 119, 116, 92, 76, 63]
  const %ws: f32[4] = [0.0113, 0.0097, 0.021, 0.0051]
  const %wz: u8[4] = [20, 24, 30, 10]
  const %sa: f32[] = [0.0523]
  const %za: u8[] = [91]
  const %b: i32[4] = [-300, 150, 0, 1200]
  const %mw: u8[64,6] = base64"jLDRs1jmuqtIVWW59JAo1VfXmooOZFHhXHBcFfFzVBtEOKJc92MS1O6zwiRoeb8As8+O0Tq/Epowl62WtELW0b3vSFDD9GVELrMAwzemSKbA291z/JX1wsRRhZr+gNQKo537kkn0DD7jfZYURcgG9Yx88hJ9+olPkpb88zwIQJmQrJcN7bO4QxIBgek3YQfb2vbF88hkl+4hmwHdkvGfSVT0/qlO2RgjdYgrIA2q2yPP+Rk/PnA4RJXgTF1e01IibRY3wiSPHTzMRAXdLqH6+rS/HEaWTZRwhiB4gpFEeL7ox1tDCa4rEi4/6HrH7PWlNw/EG03bcjsq+2xHwLV4lKqyxcFFt5fduRJuXMogMRIQX2dkFPr2sgDa8Jnbpe7sM2JPUSS/xfBNgjiOUpJ4EPYQsLyhHgvp8U88ppXoelMRZgx2KM26n17vuZAi71N7WWoW3IoD7B/n0lYXEbMwJHn7L/EbfBn+yx4YgtDknBoTY1vOYHcroDcsUiZtCOG3"
  const %ms: f32[] = [0.0042]
  const %mz: u8[] = [128]
  const %sy: f32[] = [0.173]
  const %zy: u8[] = [140]
  const %shape: i64[2] = [1, 64]
  %xq: u8[1,3,5,5] = QuantizeLinear "q_x" (%x, %sx, %zx)
  %a: u8[1,4,4,4] = QLinearConv "conv" (%xq, %sx, %zx, %wq, %ws, %wz, %sa, %za, %b)
  %af: u8[1,64] = Reshape "flatten" (%a, %shape)
  %m: u8[1,6] = QLinearMatMul "fc" (%af, %sa, %za, %mw, %ms, %mz, %sy, %zy)
  %y: f32[1,6] = DequantizeLinear "dq_y" (%m, %sy, %zy)
}`

func TestQOperatorLoweringIsBitExact(t *testing.T) {
	diff, _, g := compare(t, qlinear, "lower-int8", 20, 3, 0.173)
	ops := countOps(g)
	if ops["QConv"] != 1 || ops["QGemm"] != 1 || ops["QLinearConv"]+ops["QLinearMatMul"] != 0 {
		t.Fatalf("ops after lowering: %v", ops)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v.Type.DType == ir.Uint8 {
				t.Errorf("%s still writes u8 value %s", n.Name, v.Name)
			}
		}
	}
	if diff != 0 {
		t.Fatalf("%d output elements differ from the QOperator graph, want 0", diff)
	}
}

// TestMaskSurvivesLowering: a weight that carries a 2:4 claim keeps it on
// the int8 weight the fused op reads, transposed with a MatMul weight.
func TestMaskSurvivesLowering(t *testing.T) {
	src := `graph "g" (%x: f32[2,8], %c: f32[1,8,1,1]) -> (%y, %z) {
  const %s: f32[] = [0.5]
  const %zp: i8[] = [0]
  const %wq: i8[8,2] sparsity 2:4@0 = [1, 0, 0, 2, 3, 0, 0, 4, 0, 5, 6, 0, 7, 0, 0, 8]
  const %ws: f32[2] = [0.25, 0.5]
  const %wz: i8[2] = [0, 0]
  const %cq: i8[2,8,1,1] sparsity 2:4@1 = [1, 0, 2, 0, 0, 3, 0, 4, 5, 6, 0, 0, 0, 0, 7, 8]
  const %cs: f32[2] = [0.25, 0.5]
  %xq: i8[2,8] = QuantizeLinear "q_x" (%x, %s, %zp)
  %xd: f32[2,8] = DequantizeLinear "dq_x" (%xq, %s, %zp)
  %w: f32[8,2] = DequantizeLinear "dq_w" (%wq, %ws, %wz) {axis = 1}
  %y: f32[2,2] = MatMul "mm" (%xd, %w)
  %cq8: i8[1,8,1,1] = QuantizeLinear "q_c" (%c, %s, %zp)
  %cd: f32[1,8,1,1] = DequantizeLinear "dq_c" (%cq8, %s, %zp)
  %cw: f32[2,8,1,1] = DequantizeLinear "dq_cw" (%cq, %cs, %wz) {axis = 0}
  %z: f32[1,2,1,1] = Conv "conv" (%cd, %cw)
}`
	g := lower(t, src, "lower-int8")
	seen := 0
	for _, n := range g.Nodes {
		if n.Op != "QGemm" && n.Op != "QConv" {
			continue
		}
		seen++
		w := n.Inputs[1]
		want := &ir.Sparsity{N: 2, M: 4, Axis: 1}
		if w.Sparsity == nil || *w.Sparsity != *want {
			t.Errorf("%s: weight %s claims %v, want %v", n.Name, w.Name, w.Sparsity, want)
		}
	}
	if seen != 2 {
		t.Fatalf("%d fused ops, want 2", seen)
	}
}

// TestNotLoweredReasons: anchors that cannot be lowered stay float and say
// why in a note; the graph still verifies and computes what it did.
func TestNotLoweredReasons(t *testing.T) {
	src := `graph "g" (%x: f32[1,2,2,2], %w: f32[2,2,1,1]) -> (%y, %z, %u) {
  const %s: f32[] = [0.5]
  const %zp: i8[] = [0]
  const %wq: i8[2,2,1,1] = [1, 2, 3, 4]
  const %ws: f32[2] = [0.5, 0.25]
  const %wz: i8[2] = [0, 0]
  %xq: i8[1,2,2,2] = QuantizeLinear "q_x" (%x, %s, %zp)
  %xd: f32[1,2,2,2] = DequantizeLinear "dq_x" (%xq, %s, %zp)
  %y: f32[1,2,2,2] = Conv "float_weight" (%xd, %w)
  %wd: f32[2,2,1,1] = DequantizeLinear "dq_w" (%wq, %ws, %wz) {axis = 1}
  %z: f32[1,2,2,2] = Conv "weight_along_inputs" (%xd, %wd)
  %u: f32[1,2,2,2] = Conv "float_input" (%x, %w)
}`
	g := lower(t, src, "lower-int8{float-outputs=false}")
	notes := map[string]string{}
	for _, n := range g.Nodes {
		notes[n.Name] = n.Notes["int8"]
	}
	for name, want := range map[string]string{
		"float_weight":        "weight is not DequantizeLinear",
		"weight_along_inputs": "quantized per output channel or per tensor",
		"float_input":         "",
	} {
		if got := notes[name]; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: note %q, want one containing %q", name, got, want)
		}
	}
	if ops := countOps(g); ops["Conv"] != 3 {
		t.Errorf("ops %v, want the three convolutions left float", ops)
	}
}

// TestLowerIsIdempotent: a second run finds nothing to do and leaves the
// graph exactly as the first left it.
func TestLowerIsIdempotent(t *testing.T) {
	for name, src := range map[string]string{"convReluPool": convReluPool, "residualGemm": residualGemm, "qlinear": qlinear} {
		once := lower(t, src, "lower-int8")
		twice := lower(t, src, "lower-int8,lower-int8")
		if err := ir.Equal(once, twice); err != nil {
			t.Errorf("%s: a second lower-int8 changed the graph: %v", name, err)
		}
	}
}

// TestSkipLeavesLayersFloat: layers the skip option selects keep their
// Q/DQ float form; the others are lowered.
func TestSkipLeavesLayersFloat(t *testing.T) {
	g := lower(t, residualGemm, "lower-int8{skip=name:conv_b|op:Gemm}")
	ops := countOps(g)
	if ops["QConv"] != 1 || ops["QGemm"] != 1 || ops["FusedConv"] != 1 || ops["Gemm"] != 1 {
		t.Fatalf("ops after lowering with conv_b and Gemm skipped: %v", ops)
	}
}

// TestBatchOfRowsMatMulIsBitExact: testdata/matmul_nd.sqir's MatMuls of
// [N,H,W,C] pixels and [B,T,C] tokens by [K,N] weights lower to QGemm
// nodes that keep the leading dims, and with power-of-two scales the
// lowered graph gives the Q/DQ graph's outputs bit for bit; the MatMul by
// a batched weight stays float.
func TestBatchOfRowsMatMulIsBitExact(t *testing.T) {
	src, err := os.ReadFile("testdata/matmul_nd.sqir")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	text = text[strings.Index(text, "graph "):]
	text = text[:strings.Index(text, "\n}\n")+3]
	diff, _, g := compare(t, text, "lower-int8", 20, 6, 0.03125)
	ops := countOps(g)
	if ops["QGemm"] != 3 || ops["MatMul"] != 1 {
		t.Fatalf("ops after lowering: %v, want three QGemm and the batched-weight MatMul", ops)
	}
	for _, n := range g.Nodes {
		if n.Op == "QGemm" && n.Inputs[0].Type.Shape.Rank() < 3 {
			t.Errorf("%s reads %v, want the batch of rows as it was", n.Name, n.Inputs[0].Type)
		}
	}
	if diff != 0 {
		t.Fatalf("%d output elements differ from the Q/DQ graph, want 0", diff)
	}
}
