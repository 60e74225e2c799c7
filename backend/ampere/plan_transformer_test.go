package ampere

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// transformerBlock is the float path of a ViT/Swin encoder block between
// its matrix products, written as torch's TorchScript exporter writes it,
// and the INT8 recipes' quantization of its outputs into the next QGemm:
// LayerNormalization over 32-wide tokens, GELU as Div by √2, Erf, Add 1,
// Mul, Mul 0.5, the attention scores plus a mask with -inf entries (Swin's
// shifted windows) through Softmax, a Sigmoid and Tanh, each quantized by
// QuantizeLinear and the GELU's fed to a QGemm on the INT8 GEMM.
func transformerBlock() string {
	r := rand.New(rand.NewPCG(41, 42))
	f := func(n int, scale, offset float64) string {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = strconv.FormatFloat(float64(float32(r.NormFloat64()*scale+offset)), 'g', -1, 32)
		}
		return strings.Join(vs, ", ")
	}
	mask := make([]string, 32)
	for i := range mask {
		mask[i] = "0"
		if i%5 == 3 {
			mask[i] = "-inf"
		}
	}
	sw := make([]float32, 16)
	sws, zeros := make([]string, 16), make([]string, 16)
	for i := range sw {
		sw[i] = 0.01 + 0.001*float32(i%5)
		sws[i], zeros[i] = strconv.FormatFloat(float64(sw[i]), 'g', -1, 32), "0"
	}
	return `(%x: f32[N,5,32]) -> (%y, %pq, %gq, %sq, %tq) {
  const %s: f32[32] = [` + f(32, 0.5, 1) + `]
  const %b: f32[32] = [` + f(32, 0.2, 0) + `]
  const %sqrt2: f32[] = [1.4142135]
  const %one: f32[] = [1]
  const %half: f32[] = [0.5]
  const %mask: f32[1,32] = [` + strings.Join(mask, ", ") + `]
  const %qs: f32[] = [0.02]
  const %qz: i8[] = [-3]
  const %ps: f32[] = [0.004]
  const %pz: i8[] = [-128]
  const %w: i8[16,32] quant(axis=0, scale=[` + strings.Join(sws, ", ") + `], zp=[` + strings.Join(zeros, ", ") + `]) = [` + int8s(16*32) + `]
  const %m: f32[16] = [` + qMultipliers(0.02, 0, sw...) + `]
  %ln: f32[N,5,32] = LayerNormalization "ln" (%x, %s, %b) {epsilon = 0.000001}
  %d: f32[N,5,32] = Div "gelu_div" (%ln, %sqrt2)
  %e: f32[N,5,32] = Erf "gelu_erf" (%d)
  %a: f32[N,5,32] = Add "gelu_add" (%e, %one)
  %g1: f32[N,5,32] = Mul "gelu_mul" (%ln, %a)
  %g: f32[N,5,32] = Mul "gelu_half" (%g1, %half)
  %gq: i8[N,5,32] quant(scale=[0.02], zp=[-3]) = QuantizeLinear "gelu_q" (%g, %qs, %qz)
  %y: f32[N,5,16] = QGemm "fc" (%gq, %w, %m)
  %sc: f32[N,5,32] = Mul "scores" (%x, %sqrt2)
  %mk: f32[N,5,32] = Add "mask" (%sc, %mask)
  %p: f32[N,5,32] = Softmax "softmax" (%mk) {axis = -1}
  %pq: i8[N,5,32] quant(scale=[0.004], zp=[-128]) = QuantizeLinear "softmax_q" (%p, %ps, %pz)
  %sg: f32[N,5,32] = Sigmoid "sigmoid" (%x)
  %sq: i8[N,5,32] quant(scale=[0.004], zp=[-128]) = QuantizeLinear "sigmoid_q" (%sg, %ps, %pz)
  %th: f32[N,5,32] = Tanh "tanh" (%ln)
  %tq: i8[N,5,32] quant(scale=[0.02], zp=[-3]) = QuantizeLinear "tanh_q" (%th, %qs, %qz)
}`
}

// TestTransformerBlockExact plans transformerBlock, checks each float op
// runs on its GPU kernel and the QGemm on the INT8 GEMM, and simulates the
// plan with the kernels' Go models at batch 3 on inputs of several
// magnitudes: every output, the int8 codes after the approximate-looking
// kernels included, equals the reference executor's bit for bit. (The
// kernels equal their models bit for bit in the PTX interpreter:
// kernels/fmath_sim_test.go.)
func TestTransformerBlockExact(t *testing.T) {
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+transformerBlock()))
	if err != nil {
		t.Fatal(err)
	}
	e, err := planWithInputLayouts(g, "test", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ln": kernels.LayerNormKernel, "gelu_div": kernels.UnaryKernel, "softmax": kernels.SoftmaxShortKernel,
		"sigmoid": kernels.EltwiseKernel, "tanh": kernels.EltwiseKernel, "gelu_q": kernels.Quantize4Kernel}
	for _, s := range e.Steps {
		// GELU's five nodes are one launch, under the Div.
		switch s.Node {
		case "gelu_div":
			if s.Args[3].GetU32() != kernels.UGeluChain {
				t.Errorf("gelu_div runs unary op %d, want the GELU chain %d", s.Args[3].GetU32(), kernels.UGeluChain)
			}
		case "gelu_erf", "gelu_add", "gelu_mul", "gelu_half":
			t.Errorf("node %s has a launch (%s): the GELU chain's launch computes it", s.Node, s.Kernel)
		}
		if k, ok := want[s.Node]; ok && s.Kernel != k {
			t.Errorf("node %s runs on %s, want %s", s.Node, s.Kernel, k)
		}
		if s.Node == "fc" && !strings.HasPrefix(s.Kernel, "sqc_gemm_s8_") {
			t.Errorf("QGemm fc runs on %s, want the INT8 GEMM", s.Kernel)
		}
		if kernels.ApproxKernels[s.Kernel] {
			t.Errorf("node %s runs on the approximate kernel %s", s.Node, s.Kernel)
		}
	}
	for _, scale := range []float64{1, 4, 30} {
		const batch = 3
		rng := rand.New(rand.NewPCG(uint64(scale), 43))
		x := ir.NewTensor(ir.Float32, batch, 5, 32)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(rng.NormFloat64() * scale)
		}
		ref0, err := ref.Run(g, x)
		if err != nil {
			t.Fatal(err)
		}
		got := simulate(t, g, e, batch, map[string]*ir.Tensor{g.Inputs[0].Name: x})
		for i, v := range g.Outputs {
			gt, wt := got[v.Name], ref0[i]
			if gt.DType != wt.DType || gt.Len() != wt.Len() {
				t.Fatalf("output %s: %v of %d, want %v of %d", v.Name, gt.DType, gt.Len(), wt.DType, wt.Len())
			}
			bad := 0
			for j := 0; j < wt.Len(); j++ {
				gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
				if math.Float64bits(gv) != math.Float64bits(wv) && !(gv != gv && wv != wv) {
					if bad < 3 {
						t.Errorf("scale %v output %s [%d]: %v, want %v", scale, v.Name, j, gv, wv)
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("scale %v output %s: %d of %d differ", scale, v.Name, bad, wt.Len())
			}
		}
	}
}

// TestGeluChainNeedsSoleReaders checks that torch's GELU nodes are fused
// only when nothing else reads their intermediates: with the Erf's output
// also a graph output, each node plans on its own; without it (operands of
// the Add and the Muls swapped) they are one launch.
func TestGeluChainNeedsSoleReaders(t *testing.T) {
	for _, outs := range []string{"%g, %e", "%g"} {
		testGeluChain(t, outs)
	}
}

func testGeluChain(t *testing.T, outs string) {
	g, err := sqir.ParseAndVerify("g", []byte(`graph "g" (%x: f32[N,5,32]) -> (`+outs+`) {
  const %sqrt2: f32[] = [1.4142135]
  const %one: f32[] = [1]
  const %half: f32[] = [0.5]
  %d: f32[N,5,32] = Div "gelu_div" (%x, %sqrt2)
  %e: f32[N,5,32] = Erf "gelu_erf" (%d)
  %a: f32[N,5,32] = Add "gelu_add" (%one, %e)
  %g1: f32[N,5,32] = Mul "gelu_mul" (%a, %x)
  %g: f32[N,5,32] = Mul "gelu_half" (%half, %g1)
}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Plan(g, "test")
	if err != nil {
		t.Fatal(err)
	}
	steps, fused := map[string]bool{}, false
	for _, s := range e.Steps {
		steps[s.Node] = true
		fused = fused || s.Kernel == kernels.UnaryKernel && s.Args[3].GetU32() == kernels.UGeluChain
	}
	if shared := outs != "%g"; shared {
		if fused {
			t.Errorf("outputs %s: the chain is fused though the Erf's output is a graph output", outs)
		}
		for _, n := range []string{"gelu_div", "gelu_erf", "gelu_add", "gelu_mul", "gelu_half"} {
			if !steps[n] {
				t.Errorf("outputs %s: node %s has no launch", outs, n)
			}
		}
	} else if !fused || len(e.Steps) != 1 {
		t.Errorf("outputs %s: %d launches, fused %v; want the one fused launch", outs, len(e.Steps), fused)
	}
	x := ir.NewTensor(ir.Float32, 2, 5, 32)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(rng.NormFloat64() * 3)
	}
	want, err := ref.Run(g, x)
	if err != nil {
		t.Fatal(err)
	}
	got := simulate(t, g, e, 2, map[string]*ir.Tensor{g.Inputs[0].Name: x})
	for i, v := range g.Outputs {
		gv, wv := got[v.Name].Float32s(), want[i].Float32s()
		for j := range wv {
			if math.Float32bits(gv[j]) != math.Float32bits(wv[j]) {
				t.Fatalf("outputs %s: %s[%d] is %v, want %v", outs, v.Name, j, gv[j], wv[j])
			}
		}
	}
}
