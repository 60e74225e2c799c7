package gputest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir/sqir"
)

// exactFloatGraphs are ViT's and Swin's float kernels at their real sizes,
// each followed by the INT8 recipes' QuantizeLinear: LayerNormalization
// over 768 features and GELU as torch exports it (Div by √2, Erf, Add,
// Mul, Mul), the attention's Softmax over 197 scores with a mask of -inf
// entries (Swin's shifted windows), and the other transcendental kernels
// on values from 1e-3 to 1e3.
func exactFloatGraphs() map[string]string {
	mask := make([]string, 197)
	for i := range mask {
		mask[i] = "0"
		if i%7 == 5 {
			mask[i] = "-inf"
		}
	}
	r := rand.New(rand.NewPCG(51, 52))
	vec := func(n int, scale, offset float64) string {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = strconv.FormatFloat(float64(float32(r.NormFloat64()*scale+offset)), 'g', -1, 32)
		}
		return strings.Join(vs, ", ")
	}
	return map[string]string{
		"vit_mlp": `graph "g" (%x: f32[N,197,768]) -> (%ln, %g, %gq) {
  const %s: f32[768] = [` + vec(768, 0.3, 1) + `]
  const %b: f32[768] = [` + vec(768, 0.1, 0) + `]
  const %sqrt2: f32[] = [1.4142135]
  const %one: f32[] = [1]
  const %half: f32[] = [0.5]
  const %qs: f32[] = [0.02]
  const %qz: i8[] = [-3]
  %ln: f32[N,197,768] = LayerNormalization "ln" (%x, %s, %b) {epsilon = 0.000001}
  %d: f32[N,197,768] = Div "gelu_div" (%ln, %sqrt2)
  %e: f32[N,197,768] = Erf "gelu_erf" (%d)
  %a: f32[N,197,768] = Add "gelu_add" (%e, %one)
  %g1: f32[N,197,768] = Mul "gelu_mul" (%ln, %a)
  %g: f32[N,197,768] = Mul "gelu_half" (%g1, %half)
  %gq: i8[N,197,768] quant(scale=[0.02], zp=[-3]) = QuantizeLinear "gelu_q" (%g, %qs, %qz)
}`,
		"attention_softmax": `graph "g" (%x: f32[N,12,197,197]) -> (%p, %pq, %lp) {
  const %mask: f32[197] = [` + strings.Join(mask, ", ") + `]
  const %k: f32[] = [3]
  const %ps: f32[] = [0.004]
  const %pz: i8[] = [-128]
  %sc: f32[N,12,197,197] = Mul "scale" (%x, %k)
  %m: f32[N,12,197,197] = Add "mask" (%sc, %mask)
  %p: f32[N,12,197,197] = Softmax "softmax" (%m) {axis = -1}
  %pq: i8[N,12,197,197] quant(scale=[0.004], zp=[-128]) = QuantizeLinear "softmax_q" (%p, %ps, %pz)
  %lp: f32[N,12,197,197] = LogSoftmax "logsoftmax" (%m) {axis = -1}
}`,
		// The attention's products at ViT's sizes (Q·Kᵀ with K = 64, P·V
		// with K = 197: 64×64 tiles with ragged edges) around its Softmax.
		"vit_attention": `graph "g" (%x: f32[N,12,197,64]) -> (%s, %p, %o) {
  %kt: f32[N,12,64,197] = Transpose "kt" (%x) {perm = [0, 1, 3, 2]}
  %s: f32[N,12,197,197] = MatMul "qk" (%x, %kt)
  %p: f32[N,12,197,197] = Softmax "softmax" (%s) {axis = -1}
  %o: f32[N,12,197,64] = MatMul "pv" (%p, %x)
}`,
		// Products longer than a chunk (K = 600: two whole chunks and a
		// ragged one) and LayerNormalization over Swin's 96 features and
		// over rows longer than a warp's slots.
		"long_rows": `graph "g" (%x: f32[N,3,40,600]) -> (%g, %ln, %l2) {
  const %s: f32[600] = [` + vec(600, 0.3, 1) + `]
  const %shape: i64[4] = [-1, 3, 250, 96]
  const %s96: f32[96] = [` + vec(96, 0.3, 1) + `]
  %xt: f32[N,3,600,40] = Transpose "xt" (%x) {perm = [0, 1, 3, 2]}
  %g: f32[N,3,40,40] = MatMul "gram" (%x, %xt)
  %ln: f32[N,3,40,600] = LayerNormalization "ln600" (%x, %s) {epsilon = 0.00001}
  %r: f32[N,3,250,96] = Reshape "r" (%x, %shape)
  %l2: f32[N,3,250,96] = LayerNormalization "ln96" (%r, %s96) {epsilon = 0.00001}
}`,
		"activations": `graph "g" (%x: f32[N,4096]) -> (%sg, %th, %ex, %lg, %gt, %hs, %hg, %sp, %mi, %el, %rs) {
  const %one: f32[] = [1]
  const %ax: i64[1] = [1]
  %sg: f32[N,4096] = Sigmoid "sigmoid" (%x)
  %th: f32[N,4096] = Tanh "tanh" (%x)
  %ex: f32[N,4096] = Exp "exp" (%x)
  %a: f32[N,4096] = Abs "abs" (%x)
  %lg: f32[N,4096] = Log "log" (%a)
  %gt: f32[N,4096] = Gelu "gelu_tanh" (%x) {approximate = "tanh"}
  %hs: f32[N,4096] = HardSwish "hardswish" (%x)
  %hg: f32[N,4096] = HardSigmoid "hardsigmoid" (%x) {alpha = 0.25, beta = 0.375}
  %sp: f32[N,4096] = Softplus "softplus" (%x)
  %mi: f32[N,4096] = Mish "mish" (%x)
  %el: f32[N,4096] = Elu "elu" (%x) {alpha = 0.7}
  %rs: f32[N,1] = ReduceSum "rsum" (%x, %ax)
}`,
	}
}

// TestFloatKernelsBitExact runs exactFloatGraphs on the GPU at batch 2 and
// 8 and requires every output, float and int8, to equal the reference
// executor's bits (NaN matching NaN): the float kernels follow ir/ref's
// arithmetic operation for operation (kernels/fmath.go), so the int8 codes
// the INT8 GEMMs downstream read are the reference's too. It also checks
// that no step runs on a kernel listed approximate.
//
//	.gpu/ampere.test -test.run TestFloatKernelsBitExact -test.v
func TestFloatKernelsBitExact(t *testing.T) {
	for name, text := range exactFloatGraphs() {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range e.Steps {
				if kernels.ApproxKernels[s.Kernel] || s.Kernel == ampere.HostKernel {
					t.Errorf("step %s runs on %s", s.Node, s.Kernel)
				}
			}
			needGPU(t)
			for _, batch := range []int{2, 8} {
				r := rand.New(rand.NewPCG(uint64(batch), 53))
				x := randomInput(g, batch, r, 1)
				xs := x.Float32s()
				for i := range xs {
					// Magnitudes from 1e-3 to 1e3 (the exp and erf bands,
					// saturation), a few exact halves and zeros.
					xs[i] *= float32(math.Pow(10, float64(i%7-3)))
					if i%101 == 0 {
						xs[i] = float32(i%5) - 2.5
					}
				}
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					gt, wt := got[i], want[i]
					if gt.DType != wt.DType || gt.Len() != wt.Len() {
						t.Fatalf("batch %d output %s: %v of %d, want %v of %d", batch, g.Outputs[i].Name, gt.DType, gt.Len(), wt.DType, wt.Len())
					}
					bad := 0
					for j := 0; j < wt.Len(); j++ {
						gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
						if math.Float64bits(gv) != math.Float64bits(wv) && !(gv != gv && wv != wv) {
							if bad < 5 {
								t.Errorf("batch %d output %s [%d]: %v, want %v", batch, g.Outputs[i].Name, j, gv, wv)
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("batch %d output %s: %d of %d values differ from the reference's bits", batch, g.Outputs[i].Name, bad, wt.Len())
					}
				}
				t.Logf("batch %d: %d outputs bit-equal to the reference", batch, len(want))
			}
		})
	}
}
