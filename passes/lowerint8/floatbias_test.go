package lowerint8

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxexport"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// tinyScaleLayers is a QDQ graph of two layers whose input scale is tiny,
// as in a random-weight GoogLeNet's classifier (its input scale was
// 1.8e-13): a Gemm with float logits and a 1×1 Conv → Relu → Q. Their
// biases, about 1e-5, are some 2.5e9 units of sx·sw = 1e-12·0.004: over
// int32, so an INT8 layer that adds them to its int32 accumulator clips or
// wraps. The accumulators (up to 64 products of 127·127) are some 1e-4 of
// the biases, above float32 rounding, so the logits show whether the layer
// summed them.
const tinyScaleLayers = `graph "tiny" (%x: f32[2,64], %c: f32[2,8,3,3]) -> (%logits, %y) {
  const %sx: f32[] = [1e-12]
  const %zx: i8[] = [0]
  const %wq: i8[16,64] = %WG%
  const %ws: f32[16] = %WSG%
  const %wz: i8[16] = %ZG%
  const %b: f32[16] = %BG%
  const %cq: i8[8,8,1,1] = %WC%
  const %cs: f32[8] = %WSC%
  const %cz: i8[8] = %ZC%
  const %cb: f32[8] = %BC%
  const %sy: f32[] = [1e-07]
  const %zy: i8[] = [0]
  %xq: i8[2,64] = QuantizeLinear "q_x" (%x, %sx, %zx)
  %xd: f32[2,64] = DequantizeLinear "dq_x" (%xq, %sx, %zx)
  %w: f32[16,64] = DequantizeLinear "dq_w" (%wq, %ws, %wz) {axis = 0}
  %logits: f32[2,16] = Gemm "fc" (%xd, %w, %b) {transB = 1}
  %cqx: i8[2,8,3,3] = QuantizeLinear "q_c" (%c, %sx, %zx)
  %cd: f32[2,8,3,3] = DequantizeLinear "dq_c" (%cqx, %sx, %zx)
  %cw: f32[8,8,1,1] = DequantizeLinear "dq_cw" (%cq, %cs, %cz) {axis = 0}
  %conv: f32[2,8,3,3] = Conv "conv" (%cd, %cw, %cb)
  %relu: f32[2,8,3,3] = Relu "relu" (%conv)
  %yq: i8[2,8,3,3] = QuantizeLinear "q_y" (%relu, %sy, %zy)
  %y: f32[2,8,3,3] = DequantizeLinear "dq_y" (%yq, %sy, %zy)
}`

// tinyScaleGraph fills tinyScaleLayers with seeded weights and biases of
// both signs.
func tinyScaleGraph(t *testing.T) *ir.Graph {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	list := func(n int, f func(i int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	code := func(int) string { return fmt.Sprint(r.IntN(255) - 127) }
	scale := func(int) string { return fmt.Sprint(float32(0.003 + 0.002*r.Float64())) }
	zero := func(int) string { return "0" }
	// ±(1 to 1.5)e-5: 2.5e9 to 5e9 units of sx·sw, over int32 (2.1e9).
	bias := func(i int) string { return fmt.Sprint(float32((1 + r.Float64()/2) * 1e-5 * float64(1-2*(i%2)))) }
	src := strings.NewReplacer(
		"%WG%", list(16*64, code), "%WSG%", list(16, scale), "%ZG%", list(16, zero), "%BG%", list(16, bias),
		"%WC%", list(64, code), "%WSC%", list(8, scale), "%ZC%", list(8, zero), "%BC%", list(8, bias),
	).Replace(tinyScaleLayers)
	g, err := sqir.ParseAndVerify("tiny.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// tinyScaleInputs are inputs of tinyScaleLayers that quantize to codes
// across the int8 range at sx = 1e-12.
func tinyScaleInputs(g *ir.Graph, seed uint64) []*ir.Tensor {
	return randomInputs(rand.New(rand.NewPCG(seed, seed+1)), g, 127e-12)
}

// checkTinyScale compares outputs got with want: the logits within 1e-6 of
// their largest magnitude (a clipped bias is 14 % off, a wrapped sum flips
// signs, another input moves them by over 1e-5), the Conv's codes (units of
// sy = 1e-7) at most one step apart on at most 2 % of them.
func checkTinyScale(t *testing.T, what string, want, got []*ir.Tensor) {
	t.Helper()
	w, g := want[0].Float32s(), got[0].Float32s()
	peak, worst := 0.0, 0.0
	for i := range w {
		peak = max(peak, math.Abs(float64(w[i])))
		worst = max(worst, math.Abs(float64(w[i]-g[i])))
	}
	if worst > 1e-6*peak {
		t.Errorf("%s: logits differ by %.3g of their largest magnitude, want at most 1e-6", what, worst/peak)
	}
	w, g = want[1].Float32s(), got[1].Float32s()
	diff, steps, positive := 0, 0.0, 0
	for i := range w {
		if w[i] > 0 {
			positive++
		}
		if d := math.Abs(float64(w[i]-g[i])) / 1e-7; d > 1e-3 {
			diff++
			steps = max(steps, d)
		}
	}
	if positive < len(w)/4 {
		t.Fatalf("%s: only %d of %d conv outputs above the Relu's 0: the test exercises little", what, positive, len(w))
	}
	if steps > 1.001 || diff > len(w)/50 {
		t.Errorf("%s: %d of %d conv codes differ, by up to %.3g steps; want ±1 on at most 2%%", what, diff, len(w), steps)
	}
	t.Logf("%s: logits within %.3g of their largest magnitude; %d of %d conv codes differ", what, worst/peak, diff, len(w))
}

// TestFloatBiasOverTheAccumulator lowers layers whose biases do not fit
// int32 in units of sx·sw: each becomes its INT8 op writing float with the
// bias added after it in float, and computes what the QDQ graph computes
// (a bias clipped to int32 was 14 % off, and a sum wrapped past it flipped
// signs).
func TestFloatBiasOverTheAccumulator(t *testing.T) {
	before := tinyScaleGraph(t)
	after := tinyScaleGraph(t)
	lowerGraph(t, after, "lower-int8")
	ops := countOps(after)
	if ops["QGemm"] != 1 || ops["QConv"] != 1 || ops["Add"] != 2 || ops["Relu"] != 1 {
		t.Errorf("lowered ops %v, want a QGemm and a QConv, each followed by a float bias Add, and the Relu in float", ops)
	}
	for _, n := range after.Nodes {
		if (n.Op == "QGemm" || n.Op == "QConv") && (n.Input(3) != nil || n.Outputs[0].Type.DType != ir.Float32) {
			t.Errorf("%s %s: has an int32 bias or an int8 output, want neither", n.Op, n.Name)
		}
	}
	var first []float32
	for seed := uint64(1); seed <= 3; seed++ {
		in := tinyScaleInputs(before, seed)
		want, err := ref.Run(before, in...)
		if err != nil {
			t.Fatal(err)
		}
		// The accumulators must show in the logits above the tolerance:
		// another input moves them by more than 1e-5 of their magnitude.
		if first == nil {
			first = want[0].Float32s()
		} else {
			moved, peak := 0.0, 0.0
			for i, v := range want[0].Float32s() {
				moved = max(moved, math.Abs(float64(v-first[i])))
				peak = max(peak, math.Abs(float64(v)))
			}
			if moved < 1e-5*peak {
				t.Fatalf("inputs %d move the logits by %.3g of their magnitude: the accumulators barely count", seed, moved/peak)
			}
		}
		got, err := ref.Run(after, in...)
		if err != nil {
			t.Fatal(err)
		}
		checkTinyScale(t, fmt.Sprintf("lowered, inputs %d", seed), want, got)
	}
}

// TestFloatBiasInONNXRuntime exports the lowered layers as QDQ ONNX and runs
// them in ONNX Runtime with no graph optimizations (the float arithmetic
// as written) and with all (the QDQ patterns fused into integer ops): both
// must compute what the reference executor computes on the lowered graph.
// With the bias clipped into the INT8 op, ONNX Runtime's optimized run
// fused DQ(int32 bias) into its QGemm and wrapped like the lowered graph
// while the unoptimized run did not: a random-weight GoogLeNet's logits
// differed by 1.9 times their largest magnitude.
func TestFloatBiasInONNXRuntime(t *testing.T) {
	modules := os.Getenv("SQC_ORT_NODE_MODULES")
	if modules == "" {
		t.Skip("SQC_ORT_NODE_MODULES is not set (see the Makefile's deps target)")
	}
	g := tinyScaleGraph(t)
	lowerGraph(t, g, "lower-int8")
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.onnx")
	if err := onnxexport.WriteFile(model, g, onnxexport.Options{}); err != nil {
		t.Fatal(err)
	}
	in := tinyScaleInputs(g, 7)
	want, err := ref.Run(g, in...)
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"disabled", "all"} {
		got := runInORT(t, modules, dir, model, g, in, opt)
		checkTinyScale(t, "ONNX Runtime, optimizations "+opt, want, got)
	}
}

// runInORT runs model (the export of g) in ONNX Runtime's CPU build at the
// graph optimization level opt on float32 inputs in, and returns its
// float32 outputs.
func runInORT(t *testing.T, modules, dir, model string, g *ir.Graph, in []*ir.Tensor, opt string) []*ir.Tensor {
	t.Helper()
	type ioFile struct {
		Name string `json:"name"`
		Dims []int  `json:"dims,omitempty"`
		File string `json:"file"`
	}
	run := map[string]any{"model": model, "optimization": opt}
	var ins, outs []ioFile
	for i, v := range g.Inputs {
		f := filepath.Join(dir, fmt.Sprintf("%s-in%d.bin", opt, i))
		raw := make([]byte, 4*in[i].Len())
		for j, x := range in[i].Float32s() {
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
		}
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, ioFile{Name: v.Name, Dims: in[i].Shape, File: f})
	}
	for i, v := range g.Outputs {
		outs = append(outs, ioFile{Name: v.Name, File: filepath.Join(dir, fmt.Sprintf("%s-out%d.bin", opt, i))})
	}
	run["inputs"], run["outputs"] = ins, outs
	runORT(t, filepath.Join(dir, opt+"-manifest.json"), run, modules)
	var got []*ir.Tensor
	for i, v := range g.Outputs {
		b, err := os.ReadFile(outs[i].File)
		if err != nil {
			t.Fatal(err)
		}
		dims, _ := v.Type.Shape.Ints()
		y := ir.NewTensor(ir.Float32, dims...)
		if len(b) != 4*y.Len() {
			t.Fatalf("output %s: ONNX Runtime gave %d values, want %d", v.Name, len(b)/4, y.Len())
		}
		for j := range y.Float32s() {
			y.Float32s()[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		got = append(got, y)
	}
	return got
}
