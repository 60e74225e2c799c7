package gputest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// transformerFloatGraph holds ViT-B/16's and Swin-T's (first stage) float
// kernels at their real sizes: LayerNormalization over 768 and 96
// features, the attention's Q·Kᵀ, Softmax and P·V (12 heads of 197×64;
// 64 windows × 3 heads of 49×32), torch's GELU on the MLP's 3072 features,
// and the INT8 recipes' QuantizeLinear after it.
const transformerFloatGraph = `graph "g" (%x: f32[N,197,768], %q: f32[N,12,197,64], %h: f32[N,197,3072], %w: f32[N,3136,96], %sq: f32[N,192,49,32]) -> (%ln, %o, %gq, %lw, %so) {
  const %s768: f32[768] = [SCALE768]
  const %s96: f32[96] = [SCALE96]
  const %sqrt2: f32[] = [1.4142135]
  const %one: f32[] = [1]
  const %half: f32[] = [0.5]
  const %qs: f32[] = [0.02]
  const %qz: i8[] = [-3]
  %ln: f32[N,197,768] = LayerNormalization "vit_ln" (%x, %s768, %s768) {epsilon = 0.000001}
  %kt: f32[N,12,64,197] = Transpose "vit_kt" (%q) {perm = [0, 1, 3, 2]}
  %s: f32[N,12,197,197] = MatMul "vit_qk" (%q, %kt)
  %p: f32[N,12,197,197] = Softmax "vit_softmax" (%s) {axis = -1}
  %o: f32[N,12,197,64] = MatMul "vit_pv" (%p, %q)
  %d: f32[N,197,3072] = Div "vit_gelu" (%h, %sqrt2)
  %e: f32[N,197,3072] = Erf "gelu_erf" (%d)
  %a: f32[N,197,3072] = Add "gelu_add" (%e, %one)
  %g1: f32[N,197,3072] = Mul "gelu_mul" (%h, %a)
  %g: f32[N,197,3072] = Mul "gelu_half" (%g1, %half)
  %gq: i8[N,197,3072] quant(scale=[0.02], zp=[-3]) = QuantizeLinear "vit_gelu_q" (%g, %qs, %qz)
  %lw: f32[N,3136,96] = LayerNormalization "swin_ln" (%w, %s96, %s96) {epsilon = 0.00001}
  %skt: f32[N,192,32,49] = Transpose "swin_kt" (%sq) {perm = [0, 1, 3, 2]}
  %ss: f32[N,192,49,49] = MatMul "swin_qk" (%sq, %skt)
  %sp: f32[N,192,49,49] = Softmax "swin_softmax" (%ss) {axis = -1}
  %so: f32[N,192,49,32] = MatMul "swin_pv" (%sp, %sq)
}`

// TestPerfTransformerFloat times each launch of transformerFloatGraph's
// engine at -perfbatch (default 32) with CUDA events (median of 20 after
// 5) and prints one line a launch: node, kernel, µs, and the batched
// MatMuls' TFLOP/s or the others' GB/s of their main tensor read and
// written once. Compare with `sqc bench --profile` of the full engines.
// The plan is made on any machine; the timing skipped with -test.short.
func TestPerfTransformerFloat(t *testing.T) {
	ones := func(n int) string { return strings.TrimSuffix(strings.Repeat("1, ", n), ", ") }
	text := strings.NewReplacer("SCALE768", ones(768), "SCALE96", ones(96)).Replace(transformerFloatGraph)
	gr, err := sqir.ParseAndVerify("perf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ampere.Plan(gr, "test") // planned on any machine
	if err != nil {
		t.Fatal(err)
	}
	g := needGPU(t)
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	batch := *perfBatch
	rt, err := ampere.Open(e, batch)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	r := rand.New(rand.NewPCG(61, 62))
	var ins []*ir.Tensor
	for _, v := range gr.Inputs {
		shape := []int{batch}
		for _, d := range v.Type.Shape[1:] {
			shape = append(shape, int(d.Size))
		}
		x := ir.NewTensor(ir.Float32, shape...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(r.NormFloat64())
		}
		ins = append(ins, x)
	}
	if err := rt.Upload(ins); err != nil {
		t.Fatal(err)
	}
	ms, err := rt.ProfileSteps(20, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := float64(batch)
	// What each node moves or computes, a sample: bytes of f32 read and
	// written once (the quantize writes a byte), or a MatMul's flops.
	gb := map[string]float64{"vit_ln": 197 * 768 * 8, "vit_softmax": 12 * 197 * 197 * 8, "vit_gelu": 197 * 3072 * 8,
		"vit_gelu_q": 197 * 3072 * 5, "swin_ln": 3136 * 96 * 8, "swin_softmax": 192 * 49 * 49 * 8}
	flop := map[string]float64{"vit_qk": 2 * 12 * 197 * 197 * 64, "vit_pv": 2 * 12 * 197 * 197 * 64,
		"swin_qk": 2 * 192 * 49 * 49 * 32, "swin_pv": 2 * 192 * 49 * 49 * 32}
	lines := []string{fmt.Sprintf("transformer float kernels on %s, batch %d, median of 20 launches", g.desc, batch),
		fmt.Sprintf("%-14s %-28s %9s %9s", "node", "kernel", "us", "rate")}
	total := 0.0
	for i, s := range rt.Steps() {
		us := ms[i] * 1000
		total += us
		rate := ""
		if f, ok := flop[s.Node]; ok {
			rate = fmt.Sprintf("%.1f TFLOP/s", f*b/us/1e6)
		} else if n, ok := gb[s.Node]; ok {
			rate = fmt.Sprintf("%.0f GB/s", n*b/us/1e3)
		}
		lines = append(lines, fmt.Sprintf("%-14s %-28s %9.1f %s", s.Node, s.Kernel, us, rate))
	}
	lines = append(lines, fmt.Sprintf("%-14s %-28s %9.1f", "total", "", total))
	t.Log("\n" + strings.Join(lines, "\n"))
}
