package ampere

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
)

// ptxQuantize is the quantize kernels' arithmetic on one value as their
// PTX computes it: div.rn.f32, cvt.rni.s32.f32 (NaN to 0, saturating at
// the int32 range), add.sat.s32 of the zero point, the int8 clamp.
func ptxQuantize(v, scale float32, zp int32) int8 {
	q := float64(v / scale)
	var r int64
	switch {
	case q != q:
	case q >= math.MaxInt32:
		r = math.MaxInt32
	case q <= math.MinInt32:
		r = math.MinInt32
	default:
		r = int64(math.RoundToEven(q))
	}
	return int8(min(max(r+int64(zp), -128), 127))
}

// Models of the kernels a QGemm over a batch of rows may launch around its
// GEMM, as their PTX computes (kernels/ops.go), for simulate.
func init() {
	kernelModels[kernels.QuantizeKernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		// Source index i in NCHW order, destination (n·HW + hw)·C + c.
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Int8s()
		c, hw, zp, scale := int(s.Args[3].GetU32()), int(s.Args[4].GetU32()), s.Args[5].GetS32(), s.Args[6].GetF32()
		for i, v := range x {
			n, ch, at := i/hw/c, i/hw%c, i%hw
			y[(n*hw+at)*c+ch] = ptxQuantize(v, scale, zp)
		}
	}
	// The four-a-thread kernels: the same arithmetic, no relayout.
	kernelModels[kernels.Quantize4Kernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Float32s(), buf(s.Args[1]).Int8s()
		zp, scale := s.Args[3].GetS32(), s.Args[4].GetF32()
		for i, v := range x {
			y[i] = ptxQuantize(v, scale, zp)
		}
	}
	dequantize := func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Int8s(), buf(s.Args[1]).Float32s()
		zp, scale := s.Args[3].GetS32(), s.Args[4].GetF32()
		for i, v := range x {
			y[i] = float32(int32(v)-zp) * scale
		}
	}
	kernelModels[kernels.DequantizeKernel] = dequantize
	kernelModels[kernels.Dequantize4Kernel] = dequantize
	kernelModels[kernels.ToNCHW8Kernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, y := buf(s.Args[0]).Int8s(), buf(s.Args[1]).Int8s()
		c, hw := int(s.Args[3].GetU32()), int(s.Args[4].GetU32())
		for i := range y {
			n, ch, at := i/(c*hw), i/hw%c, i%hw
			y[i] = x[(n*hw+at)*c+ch]
		}
	}
	kernelModels[kernels.Im2colKernel] = func(s *engine.Step, buf func(*engine.Arg) *ir.Tensor, _ map[string][]byte) {
		x, col := buf(s.Args[0]).Int8s(), buf(s.Args[1]).Int8s()
		u := func(i int) int { return int(s.Args[i].GetU32()) }
		lda, k, c, h, w, oh, ow, kw := u(3), u(4), u(5), u(6), u(7), u(8), u(9), u(10)
		sh, sw, ph, pw, dh, dw, zx := u(11), u(12), u(13), u(14), u(15), u(16), int8(s.Args[17].GetS32())
		for i := range col {
			m, kk := i/lda, i%lda
			if kk >= k {
				col[i] = 0
				continue
			}
			ch, tap := kk%c, kk/c
			q, r, n := m%ow, m/ow%oh, m/ow/oh
			ih, iw := r*sh-ph+tap/kw*dh, q*sw-pw+tap%kw*dw
			if ih < 0 || ih >= h || iw < 0 || iw >= w {
				col[i] = zx
				continue
			}
			col[i] = x[((n*h+ih)*w+iw)*c+ch]
		}
	}
}

// qMultipliers lists a QGemm's multipliers for input scale sx, output
// scale sy (0: a float32 output) and weight scales sw, in .sqir syntax.
func qMultipliers(sx, sy float32, sw ...float32) string {
	m := ir.QOutputMultipliers(sx, sw, len(sw), sy)
	vs := make([]string, len(m))
	for i, v := range m {
		vs[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return strings.Join(vs, ", ")
}

// TestQGemmBatchOfRowsPlans plans QGemm nodes whose A is a batch of rows,
// [N,L,K] tokens and [N,H,W,K] pixels (K a multiple of 16, and K = 24
// through the row padding), and ConvNeXt's MLP between its permutes, with
// the input held NCHW and NHWC; it checks that each QGemm runs on the INT8
// GEMM, that a relayout is launched only where the bytes are not already
// [rows, K] in row-major order, and, simulating the plan's kernels on the
// CPU at batch 3, that every output equals the reference executor's bit
// for bit.
func TestQGemmBatchOfRowsPlans(t *testing.T) {
	sw8 := []float32{0.011, 0.013, 0.009, 0.012, 0.010, 0.014, 0.008, 0.015}
	sw16 := append(append([]float32{}, sw8...), sw8...)
	scales := func(sw []float32) string {
		vs := make([]string, len(sw))
		for i, v := range sw {
			vs[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
		}
		return strings.Join(vs, ", ")
	}
	zeros := func(n int) string { return strings.TrimSuffix(strings.Repeat("0, ", n), ", ") }
	w8 := func(k int) string {
		return `i8[8,` + strconv.Itoa(k) + `] quant(axis=0, scale=[` + scales(sw8) + `], zp=[` + zeros(8) + `]) = [` + int8s(8*k) + `]`
	}
	w16 := func(k int) string {
		return `i8[16,` + strconv.Itoa(k) + `] quant(axis=0, scale=[` + scales(sw16) + `], zp=[` + zeros(16) + `]) = [` + int8s(16*k) + `]`
	}
	cases := []struct {
		name, body string
		gemms      []string // the QGemm nodes
		// relayouts: launches that only reorder bytes, by the layout of
		// the input. ConvNeXt's permute reads an NHWC image (its depthwise
		// convolution's output): a view, and no relayout anywhere; from an
		// NCHW image the permute is a gather, which writes NHWC, and the
		// QGemm reads it through one relayout. So does a residual the
		// gather kernel wrote (the Concat).
		relayouts map[string]int
	}{
		{"tokens [N,L,K]", `(%a: i8[N,5,32] quant(scale=[0.05], zp=[3])) -> (%y, %z) {
  const %w1: ` + w8(32) + `
  const %m1: f32[8] = [` + qMultipliers(0.05, 0, sw8...) + `]
  const %b1: i32[8] = [120, -340, 56, 0, 900, -77, 15, -2000]
  const %w2: ` + w16(32) + `
  const %m2: f32[16] = [` + qMultipliers(0.05, 0.25, sw16...) + `]
  %y: f32[N,5,8] = QGemm "fc_f32" (%a, %w1, %m1, %b1) {activation = "clip", clip_min = -1.5, clip_max = 2.0}
  %z: i8[N,5,16] quant(scale=[0.25], zp=[-4]) = QGemm "fc_i8" (%a, %w2, %m2) {activation = "relu"}
}`, []string{"fc_f32", "fc_i8"}, map[string]int{"nchw": 0, "nhwc": 0}},
		{"pixels [N,H,W,K], K padded to 32", `(%a: i8[N,3,4,24] quant(scale=[0.05], zp=[3])) -> (%y) {
  const %w: ` + w8(24) + `
  const %m: f32[8] = [` + qMultipliers(0.05, 0.125, sw8...) + `]
  const %b: i32[8] = [12, -34, 5, 0, 90, -7, 1, -200]
  %y: i8[N,3,4,8] quant(scale=[0.125], zp=[2]) = QGemm "fc" (%a, %w, %m, %b)
}`, []string{"fc"}, map[string]int{"nchw": 0, "nhwc": 1}},
		{"ConvNeXt MLP between permutes", `(%x: f32[N,32,3,4]) -> (%y) {
  const %s: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %w: ` + w16(32) + `
  const %m: f32[16] = [` + qMultipliers(0.05, 0, sw16...) + `]
  const %b: i32[16] = [` + zeros(15) + `, 77]
  %t: f32[N,3,4,32] = Transpose "permute" (%x) {perm = [0, 2, 3, 1]}
  %q: i8[N,3,4,32] quant(scale=[0.05], zp=[3]) = QuantizeLinear "quantize" (%t, %s, %zp)
  %h: f32[N,3,4,16] = QGemm "fc" (%q, %w, %m, %b)
  %y: f32[N,16,3,4] = Transpose "back" (%h) {perm = [0, 3, 1, 2]}
}`, []string{"fc"}, map[string]int{"nchw": 1, "nhwc": 0}},
		{"pixels with a residual", `(%a: i8[N,3,4,32] quant(scale=[0.05], zp=[3])) -> (%y, %z) {
  const %w: ` + w8(32) + `
  const %wr: ` + w16(32) + `
  const %m: f32[8] = [` + qMultipliers(0.05, 0.125, sw8...) + `]
  const %mr: f32[16] = [` + qMultipliers(0.05, 0.125, sw16...) + `]
  const %b: i32[8] = [12, -34, 5, 0, 90, -7, 1, -200]
  const %rm: f32[] = [` + strconv.FormatFloat(float64(ir.QResidualMultiplier(0.125, 0.125)), 'g', -1, 32) + `]
  %y: i8[N,3,4,8] quant(scale=[0.125], zp=[2]) = QGemm "fc" (%a, %w, %m, %b)
  %z0: i8[N,3,4,16] quant(scale=[0.125], zp=[2]) = Concat "twice" (%y, %y) {axis = 3}
  %z: i8[N,3,4,16] quant(scale=[0.125], zp=[-1]) = QGemm "fc_res" (%a, %wr, %mr, _, %z0, %rm) {activation = "relu"}
}`, []string{"fc", "fc_res"}, map[string]int{"nchw": 1, "nhwc": 2}},
		// Attention probabilities quantized by the INT8 recipes into the
		// batched MatMul: the QuantizeLinear keeps their row order (before,
		// it moved them to NHWC and the MatMul copied them back).
		{"attention probabilities through Q/DQ into a batched MatMul", `(%x: f32[N,4,6,6]) -> (%o) {
  const %ps: f32[] = [0.004]
  const %pz: i8[] = [-128]
  %p: f32[N,4,6,6] = Softmax "softmax" (%x) {axis = -1}
  %pq: i8[N,4,6,6] quant(scale=[0.004], zp=[-128]) = QuantizeLinear "pq" (%p, %ps, %pz)
  %pd: f32[N,4,6,6] = DequantizeLinear "pd" (%pq, %ps, %pz)
  %o: f32[N,4,6,6] = MatMul "pv" (%pd, %x)
}`, nil, map[string]int{"nchw": 0, "nhwc": 1}},
		// torch 2's attention as its TorchScript exporter writes it: the
		// heads' queries and keys permuted out of the projection (gathers),
		// scaled, quantized and dequantized by the INT8 recipes, then the
		// batched MatMul: the gathers write row order, the Q/DQ keep it.
		{"scaled queries and keys through Q/DQ into a batched MatMul", `(%x: f32[N,6,4,8]) -> (%o) {
  const %s: f32[] = [0.35]
  const %qs: f32[] = [0.02]
  const %qz: i8[] = [1]
  %q: f32[N,4,6,8] = Transpose "tq" (%x) {perm = [0, 2, 1, 3]}
  %k: f32[N,4,8,6] = Transpose "tk" (%x) {perm = [0, 2, 3, 1]}
  %qm: f32[N,4,6,8] = Mul "mq" (%q, %s)
  %km: f32[N,4,8,6] = Mul "mk" (%k, %s)
  %qq: i8[N,4,6,8] quant(scale=[0.02], zp=[1]) = QuantizeLinear "qq" (%qm, %qs, %qz)
  %kq: i8[N,4,8,6] quant(scale=[0.02], zp=[1]) = QuantizeLinear "kq" (%km, %qs, %qz)
  %qd: f32[N,4,6,8] = DequantizeLinear "qd" (%qq, %qs, %qz)
  %kd: f32[N,4,8,6] = DequantizeLinear "kd" (%kq, %qs, %qz)
  %o: f32[N,4,6,6] = MatMul "qk" (%qd, %kd)
}`, nil, map[string]int{"nchw": 0, "nhwc": 0}},
		{"moved batch: ViT's in-projection on [L,N,K]", `(%a: i8[N,5,32] quant(scale=[0.05], zp=[3])) -> (%y) {
  const %w: ` + w16(32) + `
  const %m: f32[16] = [` + qMultipliers(0.05, 0, sw16...) + `]
  %t: i8[5,N,32] quant(scale=[0.05], zp=[3]) = Transpose "t0" (%a) {perm = [1, 0, 2]}
  %g: f32[5,N,16] = QGemm "fc" (%t, %w, %m)
  %y: f32[N,5,16] = Transpose "t1" (%g) {perm = [1, 0, 2]}
}`, []string{"fc"}, map[string]int{"nchw": 0, "nhwc": 0}},
	}
	for _, c := range cases {
		for _, layout := range []string{"nchw", "nhwc"} {
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				g, err := sqir.ParseAndVerify("g", []byte(`graph "g" `+c.body))
				if err != nil {
					t.Fatal(err)
				}
				nhwc := map[string]bool{g.Inputs[0].Name: layout == "nhwc"}
				e, err := planWithInputLayouts(g, "test", nhwc, false)
				if err != nil {
					t.Fatal(err)
				}
				relayouts := 0
				ran := map[string]string{}
				for _, s := range e.Steps {
					switch s.Kernel {
					case kernels.ToNCHW8Kernel, kernels.ToNHWC8Kernel, kernels.ToNCHW32Kernel, kernels.ToNHWC32Kernel:
						relayouts++
					}
					if s.Note == "NCHW to NHWC" {
						relayouts++
					}
					if s.Op == "QGemm" {
						ran[s.Node] = s.Kernel
					}
				}
				for _, node := range c.gemms {
					if k := ran[node]; !strings.HasPrefix(k, "sqc_gemm_s8_") {
						t.Errorf("QGemm %s runs on %q, want an INT8 GEMM kernel", node, k)
					}
				}
				if want := c.relayouts[layout]; relayouts != want {
					t.Errorf("%d relayout launches, want %d", relayouts, want)
				}
				const batch = 3
				rng := rand.New(rand.NewPCG(8, 9))
				x := ir.NewTensor(g.Inputs[0].Type.DType, append([]int{batch}, intsOf(bufShape(g.Inputs[0]))...)...)
				switch d := x.Data.(type) {
				case []float32:
					for i := range d {
						d[i] = float32(rng.NormFloat64() * 3)
					}
				case []int8:
					for i := range d {
						d[i] = int8(rng.IntN(256) - 128)
					}
				}
				want, err := ref.Run(g, x)
				if err != nil {
					t.Fatal(err)
				}
				got := simulate(t, g, e, batch, map[string]*ir.Tensor{g.Inputs[0].Name: x})
				for i, v := range g.Outputs {
					gt, wt := got[v.Name], want[i]
					if gt.DType != wt.DType || gt.Len() != wt.Len() {
						t.Fatalf("output %s: %v of %d, want %v of %d", v.Name, gt.DType, gt.Len(), wt.DType, wt.Len())
					}
					bad, distinct := 0, map[float64]bool{}
					for j := 0; j < wt.Len(); j++ {
						gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
						distinct[wv] = true
						if math.Float64bits(gv) != math.Float64bits(wv) {
							if bad < 3 {
								t.Errorf("output %s [%d]: %v, want %v", v.Name, j, gv, wv)
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("output %s: %d of %d differ", v.Name, bad, wt.Len())
					}
					if len(distinct) < 10 {
						t.Errorf("output %s takes %d distinct values: the data exercise nothing", v.Name, len(distinct))
					}
				}
			})
		}
	}
}
