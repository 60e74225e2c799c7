package ampere

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// convPoolGraph is the ResNet stem as the recipes leave it, on an h×w
// image of 16 channels: a quantize, the 4×4 QConv "conv1" (pads
// [2,2,1,1], relu, 64 channels), then "maxpool" with the given attributes,
// dequantized. second adds a reader of the conv's output; f32 makes the
// conv's output (and so the pool) float.
func convPoolGraph(h, w int, poolAttrs string, second, f32 bool) string {
	const k = 64 * 16 * 4 * 4
	ws := make([]string, k)
	for i := range ws {
		ws[i] = fmt.Sprint(i%7 - 3)
	}
	scales := strings.TrimSuffix(strings.Repeat("0.5, ", 64), ", ")
	zeros := strings.TrimSuffix(strings.Repeat("0, ", 64), ", ")
	ph, pw := (h-1)/2+1, (w-1)/2+1
	convType, poolType, outs := fmt.Sprintf("i8[N,64,%d,%d] quant(scale=[0.1], zp=[-3])", h, w), fmt.Sprintf("i8[N,64,%d,%d] quant(scale=[0.1], zp=[-3])", ph, pw), "%y"
	deq := fmt.Sprintf("  %%y: f32[N,64,%d,%d] = DequantizeLinear \"dq\" (%%p, %%ys, %%yz)\n", ph, pw)
	mult := "0.25" // sx·sw/sy
	if f32 {
		mult = "0.025" // sx·sw
		convType, poolType = fmt.Sprintf("f32[N,64,%d,%d]", h, w), fmt.Sprintf("f32[N,64,%d,%d]", ph, pw)
		deq = fmt.Sprintf("  %%y: f32[N,64,%d,%d] = Relu \"r\" (%%p)\n", ph, pw)
	}
	if second {
		deq += fmt.Sprintf("  %%y2: f32[N,64,%d,%d] = DequantizeLinear \"dq2\" (%%c, %%ys, %%yz)\n", h, w)
		outs += ", %y2"
	}
	return `graph "stem" (%x: f32[N,16,` + fmt.Sprint(h, ",", w) + `]) -> (` + outs + `) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [4]
  const %ys: f32[] = [0.1]
  const %yz: i8[] = [-3]
  const %w: i8[64,16,4,4] quant(axis=0, scale=[` + scales + `], zp=[` + zeros + `]) = [` + strings.Join(ws, ", ") + `]
  const %m: f32[64] = [` + strings.TrimSuffix(strings.Repeat(mult+", ", 64), ", ") + `]
  const %b: i32[64] = [` + zeros + `]
  %q: i8[N,16,` + fmt.Sprint(h, ",", w) + `] quant(scale=[0.05], zp=[4]) = QuantizeLinear "q" (%x, %sc, %zp)
  %c: ` + convType + ` = QConv "conv1" (%q, %w, %m, %b) {activation = "relu", kernel_shape = [4, 4], pads = [2, 2, 1, 1], strides = [1, 1]}
  %p: ` + poolType + ` = MaxPool "maxpool" (%c) {` + poolAttrs + `}
` + deq + `}`
}

const stemPool = "kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]"

// planConvPool plans a convPoolGraph.
func planConvPool(t *testing.T, text string) *engine.Engine {
	t.Helper()
	g, err := sqir.ParseAndVerify("stem", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e, err := PlanWith(g, "test", PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPlanConvPool: the stem's QConv and MaxPool run as one conv-pool
// launch (the GEMM sizes the conv's, one block a ConvPoolPatches patches
// of 8x8 pooled outputs, 2x2 patches of a 30x27 conv output's 15x14
// pooled), the pool has no step, the conv's output no buffer, and the
// step says both nodes; one patch a block, of two interleaved pixel tiles
// at five blocks an SM, for the latency heuristic.
func TestPlanConvPool(t *testing.T) {
	e := planConvPool(t, convPoolGraph(30, 27, stemPool, false, false))
	s := findStep(t, e, "conv1", "sqc_gemm_convpool_s8_dense_i8_k4x4")
	if s.WorkPerSample != 4 || s.WorkPerBlockX != kernels.ConvPoolPatches || s.GridY != 1 || s.BlockX != 128 {
		t.Errorf("conv1 launch plan %v", s)
	}
	if !strings.Contains(s.Op, "MaxPool") || !strings.Contains(s.Note, "conv1 + maxpool") {
		t.Errorf("the step does not name both nodes: op %q, note %q", s.Op, s.Note)
	}
	if n := len(kernels.ConvPoolConfig{}.ParamNames()); len(s.Args) != n {
		t.Errorf("%d launch arguments, the kernel takes %d", len(s.Args), n)
	}
	if m, n, k, ok := GemmShape(s); !ok || m != 30*27 || n != 64 || k != 256 {
		t.Errorf("GemmShape = %d, %d, %d, %v, want the conv's 810, 64, 256", m, n, k, ok)
	}
	for _, st := range e.Steps {
		if st.Node == "maxpool" {
			t.Errorf("the max pool has a launch of its own: %s", st.Kernel)
		}
	}
	for _, b := range e.Buffers {
		if b.Name == "c" {
			t.Errorf("the conv's output has a buffer (%d elements a sample)", b.ElemsPerSample)
		}
	}
	g, err := sqir.ParseAndVerify("stem", []byte(convPoolGraph(30, 27, stemPool, false, false)))
	if err != nil {
		t.Fatal(err)
	}
	lat, err := PlanWith(g, "test", PlanOptions{OptBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := findStep(t, lat, "conv1", "sqc_gemm_convpool"); s.WorkPerBlockX != 1 || !strings.HasSuffix(s.Kernel, "_p1_g2_b5") {
		t.Errorf("latency plan: %s, %d patches a block, want one", s.Kernel, s.WorkPerBlockX)
	}
}

// TestPlanConvPoolNotFused: the planner keeps the two launches where the
// kernel cannot compute the pair: the conv's output read by another node
// too, a float pool, a 2x2 pool, a ceil-mode pool, a pool of pad 0.
func TestPlanConvPoolNotFused(t *testing.T) {
	for name, text := range map[string]string{
		"second reader": convPoolGraph(16, 16, stemPool, true, false),
		"f32":           convPoolGraph(16, 16, stemPool, false, true),
	} {
		t.Run(name, func(t *testing.T) {
			e := planConvPool(t, text)
			findStep(t, e, "conv1", "sqc_gemm_conv_s8")
			findStep(t, e, "maxpool", "sqc_maxpool")
		})
	}
	for name, c := range map[string]struct {
		attrs  string
		ph, pw int
	}{
		"2x2":  {"kernel_shape = [2, 2], strides = [2, 2]", 8, 8},
		"ceil": {"ceil_mode = 1, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]", 9, 9},
		"pad0": {"kernel_shape = [3, 3], strides = [2, 2]", 7, 7},
	} {
		t.Run(name, func(t *testing.T) {
			text := convPoolGraph(16, 16, c.attrs, false, false)
			text = strings.ReplaceAll(text, "N,64,8,8", fmt.Sprintf("N,64,%d,%d", c.ph, c.pw))
			e := planConvPool(t, text)
			findStep(t, e, "conv1", "sqc_gemm_conv_s8")
			findStep(t, e, "maxpool", "sqc_maxpool")
		})
	}
}
