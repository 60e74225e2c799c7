package gputest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
)

// hostFreeCases are the kernels that replaced host steps, each on the
// graph's NCHW input and on an NHWC image (the grouped QConv with an f32
// output reads NHWC int8 only) (the output of a 1×1 float
// convolution whose weights are 0, 1 and 0.5, so that its own sums are
// exact whatever their order): every output must equal the reference
// executor's bits, except downstream of the approximate Softmax (within
// 1e-5, relative above 1, as `sqc run --compare`).
// kernel names what each listed node must run on (after relayout copies).
func hostFreeCases() map[string]struct {
	text   string
	kernel map[string]string
	approx bool
} {
	r := rand.New(rand.NewPCG(7, 8))
	// %h: the input's channels permuted and mixed, held NHWC.
	mix := func(c int) string {
		w := "  const %mix: f32[" + strconv.Itoa(c) + "," + strconv.Itoa(c) + ",1,1] = ["
		for o := 0; o < c; o++ {
			for i := 0; i < c; i++ {
				v := "0"
				switch {
				case i == (o+1)%c:
					v = "1"
				case i == o && o%2 == 0:
					v = "0.5"
				}
				if o+i > 0 {
					w += ", "
				}
				w += v
			}
		}
		return w + "]\n"
	}
	// Grouped and depthwise QConvs with f32 outputs (the next op is
	// float): random int8 weights, per-channel multipliers, int32 biases.
	qconst := func(name string, m, cg int) string {
		w := make([]string, m*cg*9)
		for i := range w {
			w[i] = strconv.Itoa(r.IntN(255) - 127)
		}
		sc, zp, mu, bs := make([]string, m), make([]string, m), make([]string, m), make([]string, m)
		for i := range sc {
			// An f32 output's multiplier is sx·sw (sx = 0.05), in f32.
			sw := float32(0.005 * (1 + r.Float64()))
			sc[i], zp[i] = strconv.FormatFloat(float64(sw), 'g', -1, 32), "0"
			mu[i] = strconv.FormatFloat(float64(ir.QOutputMultipliers(0.05, []float32{sw}, 1, 0)[0]), 'g', -1, 32)
			bs[i] = strconv.Itoa(r.IntN(2001) - 1000)
		}
		return "  const %" + name + ": i8[" + strconv.Itoa(m) + "," + strconv.Itoa(cg) + ",3,3] quant(axis=0, scale=[" + strings.Join(sc, ", ") +
			"], zp=[" + strings.Join(zp, ", ") + "]) = [" + strings.Join(w, ", ") + "]\n" +
			"  const %" + name + "_m: f32[" + strconv.Itoa(m) + "] = [" + strings.Join(mu, ", ") + "]\n" +
			"  const %" + name + "_b: i32[" + strconv.Itoa(m) + "] = [" + strings.Join(bs, ", ") + "]\n"
	}
	// The depthwise layers (8 channels) run on the vectorized kernel, the
	// group-4 one (Cg 2) on the one-element kernel.
	dw8F32 := kernels.QGroupVec{Depthwise: true, V: 8, OutF32: true}.Name()
	groupF32 := `graph "g" (%x: f32[N,8,9,7]) -> (%y1, %y2, %y3, %y4) {
  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %mr: f32[] = [0.05]
` + qconst("dw", 8, 1) + qconst("gw", 16, 2) + `  %q: i8[N,8,9,7] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%x, %sc, %zp)
  %y1: f32[N,8,9,7] = QConv "dw_relu" (%q, %dw, %dw_m, %dw_b) {activation = "relu", group = 8, kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
  %y2: f32[N,8,5,4] = QConv "dw_s2_none" (%q, %dw, %dw_m, %dw_b) {group = 8, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}
  %y3: f32[N,16,9,7] = QConv "g4_clip" (%q, %gw, %gw_m, %gw_b) {activation = "clip", clip_min = -0.25, clip_max = 0.5, group = 4, kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
  %y4: f32[N,8,9,7] = QConv "dw_res" (%q, %dw, %dw_m, %dw_b, %q, %mr) {activation = "relu", group = 8, kernel_shape = [3, 3], pads = [1, 1, 1, 1]}
}`
	// A QGemm's int8 weight [n,k] (per-channel scales), its multipliers
	// for input scale 0.05 and output scale sy (0: f32) and its bias.
	qgemmConst := func(name string, n, k int, sy float32) string {
		w := make([]string, n*k)
		for i := range w {
			w[i] = strconv.Itoa(r.IntN(255) - 127)
		}
		sw := make([]float32, n)
		sc, zp, mu, bs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i := range sw {
			sw[i] = float32(0.005 * (1 + r.Float64()))
			sc[i], zp[i] = strconv.FormatFloat(float64(sw[i]), 'g', -1, 32), "0"
			bs[i] = strconv.Itoa(r.IntN(2001) - 1000)
		}
		for i, m := range ir.QOutputMultipliers(0.05, sw, n, sy) {
			mu[i] = strconv.FormatFloat(float64(m), 'g', -1, 32)
		}
		return "  const %" + name + ": i8[" + strconv.Itoa(n) + "," + strconv.Itoa(k) + "] quant(axis=0, scale=[" + strings.Join(sc, ", ") +
			"], zp=[" + strings.Join(zp, ", ") + "]) = [" + strings.Join(w, ", ") + "]\n" +
			"  const %" + name + "_m: f32[" + strconv.Itoa(n) + "] = [" + strings.Join(mu, ", ") + "]\n" +
			"  const %" + name + "_b: i32[" + strconv.Itoa(n) + "] = [" + strings.Join(bs, ", ") + "]\n"
	}
	return map[string]struct {
		text   string
		kernel map[string]string
		approx bool
	}{
		// QGemms over a batch of rows: ConvNeXt's MLP on the permuted view
		// of an NHWC image (no relayout), the same from an NCHW image (a
		// gather, then a relayout), and tokens [N,L,C] with an int8 output.
		"qgemm_rows": {text: `graph "g" (%x: f32[N,32,5,4]) -> (%y1, %y2, %y3) {
` + mix(32) + qgemmConst("w1", 16, 32, 0) + qgemmConst("w2", 16, 32, 0.25) + `  const %sc: f32[] = [0.05]
  const %zp: i8[] = [3]
  const %sy: f32[] = [0.25]
  const %zy: i8[] = [-4]
  const %tok: i64[3] = [-1, 20, 32]
  %h: f32[N,32,5,4] = Conv "mix" (%x, %mix)
  %t: f32[N,5,4,32] = Transpose "tr" (%h) {perm = [0, 2, 3, 1]}
  %q: i8[N,5,4,32] quant(scale=[0.05], zp=[3]) = QuantizeLinear "q" (%t, %sc, %zp)
  %f: f32[N,5,4,16] = QGemm "mlp_nhwc" (%q, %w1, %w1_m, %w1_b)
  %y1: f32[N,16,5,4] = Transpose "back" (%f) {perm = [0, 3, 1, 2]}
  %tx: f32[N,5,4,32] = Transpose "trx" (%x) {perm = [0, 2, 3, 1]}
  %qx: i8[N,5,4,32] quant(scale=[0.05], zp=[3]) = QuantizeLinear "qx" (%tx, %sc, %zp)
  %y2: f32[N,5,4,16] = QGemm "mlp_nchw" (%qx, %w1, %w1_m, %w1_b) {activation = "relu"}
  %qt: i8[N,20,32] quant(scale=[0.05], zp=[3]) = Reshape "tokens" (%q, %tok)
  %g: i8[N,20,16] quant(scale=[0.25], zp=[-4]) = QGemm "tokens_i8" (%qt, %w2, %w2_m, %w2_b)
  %y3: f32[N,20,16] = DequantizeLinear "dq" (%g, %sy, %zy)
}`, kernel: map[string]string{"mlp_nhwc": "sqc_gemm_s8_*", "mlp_nchw": "sqc_gemm_s8_*", "tokens_i8": "sqc_gemm_s8_*"}},
		"avgpool": {text: `graph "g" (%x: f32[N,5,13,11]) -> (%y1, %y2, %y3, %y4, %y5, %y6) {
` + mix(5) + `  %h: f32[N,5,13,11] = Conv "mix" (%x, %mix)
  %y1: f32[N,5,6,5] = AveragePool "p1" (%x) {kernel_shape = [3, 3], strides = [2, 2]}
  %y2: f32[N,5,7,6] = AveragePool "p2" (%h) {kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], count_include_pad = 1}
  %y3: f32[N,5,7,6] = AveragePool "p3" (%x) {kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 0, 1], ceil_mode = 1}
  %y4: f32[N,5,7,6] = AveragePool "p4" (%h) {kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 0, 1], ceil_mode = 1, count_include_pad = 1}
  %y5: f32[N,5,6,5] = AveragePool "p5" (%h) {kernel_shape = [2, 2], strides = [2, 2]}
  %y6: f32[N,5,7,6] = AveragePool "p6" (%x) {kernel_shape = [2, 2], strides = [2, 2], dilations = [2, 2], pads = [1, 1, 1, 1]}
}`, kernel: map[string]string{"p1": kernels.AvgPoolF32Kernel, "p2": kernels.AvgPoolF32Kernel, "p3": kernels.AvgPoolF32Kernel,
			"p4": kernels.AvgPoolF32Kernel, "p5": kernels.AvgPoolF32Kernel, "p6": kernels.AvgPoolF32Kernel}},
		"layernorm": {text: `graph "g" (%x: f32[N,8,6,5]) -> (%y1, %y2, %y3, %y4) {
` + mix(8) + constText(r, "s8", 8) + constText(r, "b8", 8) + constText(r, "s65", 6, 5) + constText(r, "s1", 1) + `  %h: f32[N,8,6,5] = Conv "mix" (%x, %mix)
  %t: f32[N,6,5,8] = Transpose "tr" (%h) {perm = [0, 2, 3, 1]}
  %l: f32[N,6,5,8] = LayerNormalization "ln_channels" (%t, %s8, %b8) {epsilon = 0.000001}
  %y1: f32[N,8,6,5] = Transpose "back" (%l) {perm = [0, 3, 1, 2]}
  %y2: f32[N,8,6,5] = LayerNormalization "ln_rows" (%x, %s65) {axis = 2}
  %y3: f32[N,8,6,5] = LayerNormalization "ln_nhwc" (%h, %s65, %s65) {axis = 2}
  %y4: f32[N,8,6,5] = LayerNormalization "ln_sample" (%x, %s1) {axis = 1}
}`, kernel: map[string]string{"ln_channels": kernels.LayerNormKernel, "ln_rows": kernels.LayerNormKernel,
			"ln_nhwc": kernels.LayerNormKernel, "ln_sample": kernels.LayerNormKernel}},
		"instance_group_norm": {text: `graph "g" (%x: f32[N,6,7,5]) -> (%y1, %y2, %y3) {
` + mix(6) + constText(r, "s6", 6) + constText(r, "b6", 6) + `  %h: f32[N,6,7,5] = Conv "mix" (%x, %mix)
  %y1: f32[N,6,7,5] = InstanceNormalization "in_nchw" (%x, %s6, %b6)
  %y2: f32[N,6,7,5] = InstanceNormalization "in_nhwc" (%h, %s6, %b6) {epsilon = 0.001}
  %y3: f32[N,6,7,5] = GroupNormalization "gn_nhwc" (%h, %s6, %b6) {num_groups = 2}
}`, kernel: map[string]string{"in_nchw": kernels.LayerNormKernel, "in_nhwc": kernels.LayerNormKernel, "gn_nhwc": kernels.LayerNormKernel}},
		"resize": {text: `graph "g" (%x: f32[N,3,7,6]) -> (%y1, %y2, %y3, %y4, %y5) {
` + mix(3) + `  const %sz: i64[2] = [56, 48]
  const %sc: f32[4] = [1, 1, 2, 2]
  const %sw: f32[4] = [1, 1, 1, 2.5]
  %h: f32[N,3,7,6] = Conv "mix" (%x, %mix)
  %y1: f32[N,3,56,48] = Resize "bilinear8x" (%h, _, _, %sz) {axes = [2, 3], mode = "linear"}
  %y2: f32[N,3,14,12] = Resize "nearest" (%x, _, %sc) {mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor"}
  %y3: f32[N,3,14,12] = Resize "cubic" (%h, _, %sc) {mode = "cubic", coordinate_transformation_mode = "align_corners"}
  %y4: f32[N,3,7,15] = Resize "wonly" (%x, _, %sw) {mode = "linear", coordinate_transformation_mode = "pytorch_half_pixel"}
  %y5: f32[N,3,56,48] = Resize "bilinear_nchw" (%x, _, _, %sz) {axes = [2, 3], mode = "linear"}
}`, kernel: map[string]string{"bilinear8x": kernels.ResizeKernel, "nearest": kernels.ResizeKernel, "cubic": kernels.ResizeKernel,
			"wonly": kernels.ResizeKernel, "bilinear_nchw": kernels.ResizeKernel}},
		"matmul_rows": {text: `graph "g" (%x: f32[N,8,6,5]) -> (%y1, %y2, %y3) {
` + mix(8) + constText(r, "w", 8, 12) + constText(r, "w5", 5, 7) + `  const %wq: i8[8,4] quant(axis=1, scale=[0.01, 0.02, 0.03, 0.04], zp=[0, 0, 0, 0]) = [` + strings.Repeat("-7, 100, 3, -128, ", 7) + `1, 2, 3, 4]
  const %ws: f32[4] = [0.01, 0.02, 0.03, 0.04]
  const %wz: i8[4] = [0, 0, 0, 0]
  %h: f32[N,8,6,5] = Conv "mix" (%x, %mix)
  %t: f32[N,6,5,8] = Transpose "tr" (%h) {perm = [0, 2, 3, 1]}
  %y1: f32[N,6,5,12] = MatMul "mlp" (%t, %w)
  %y2: f32[N,8,6,7] = MatMul "rows_nhwc" (%h, %w5)
  %wd: f32[8,4] = DequantizeLinear "dqw" (%wq, %ws, %wz) {axis = 1}
  %y3: f32[N,6,5,4] = MatMul "mlp_dq" (%t, %wd)
}`, kernel: map[string]string{"mlp": kernels.FloatConvKernel, "rows_nhwc": kernels.FloatConvKernel, "mlp_dq": kernels.FloatConvKernel}},
		"qgroupconv_f32": {text: groupF32, kernel: map[string]string{"dw_relu": dw8F32, "dw_s2_none": dw8F32,
			"g4_clip": kernels.QGroupConvF32Kernel, "dw_res": dw8F32}},
		"attention": {approx: true, text: `graph "g" (%x: f32[N,6,5,4]) -> (%o, %z, %o2) {
` + mix(6) + constText(r, "st", 6, 4, 3) + `  %kt: f32[N,6,4,5] = Transpose "kt" (%x) {perm = [0, 1, 3, 2]}
  %s: f32[N,6,5,5] = MatMul "qk" (%x, %kt)
  %p: f32[N,6,5,5] = Softmax "sm" (%s) {axis = -1}
  %o: f32[N,6,5,4] = MatMul "pv" (%p, %x)
  %z: f32[N,6,5,3] = MatMul "stack" (%x, %st)
  %h: f32[N,6,5,4] = Conv "mix" (%x, %mix)
  %o2: f32[N,6,5,5] = MatMul "qk_nhwc" (%h, %kt)
}`, kernel: map[string]string{"qk": kernels.BatchMatMulKernel, "pv": kernels.BatchMatMulKernel, "stack": kernels.BatchMatMulKernel,
			"qk_nhwc": kernels.BatchMatMulKernel}},
		"mixed_orders": {text: `graph "g" (%x: f32[N,4,6,5]) -> (%y1, %y2) {
` + mix(4) + `  %h: f32[N,4,6,5] = Conv "mix" (%x, %mix)
  %y1: f32[N,4,6,5] = Add "add" (%x, %h)
  %y2: f32[N,4,6,5] = Div "div" (%h, %x)
}`, kernel: map[string]string{"add": kernels.Eltwise4Kernel, "div": kernels.Eltwise4Kernel}},
		"softmax_nhwc": {text: `graph "g" (%x: f32[N,4,6,5]) -> (%y) {
` + mix(4) + `  %h: f32[N,4,6,5] = Conv "mix" (%x, %mix)
  %y: f32[N,4,6,5] = Softmax "sm" (%h) {axis = -1}
}`, kernel: map[string]string{"sm": kernels.SoftmaxShortKernel}},
		"prelu": {text: `graph "g" (%x: f32[N,4,6,5]) -> (%y1, %y2) {
` + mix(4) + `  const %slope: f32[4,1,1] = [0.1, 0.2, -0.3, 2]
  %h: f32[N,4,6,5] = Conv "mix" (%x, %mix)
  %y1: f32[N,4,6,5] = PRelu "prelu_nchw" (%x, %slope)
  %y2: f32[N,4,6,5] = PRelu "prelu_nhwc" (%h, %slope)
}`, kernel: map[string]string{"prelu_nchw": kernels.BcastKernel, "prelu_nhwc": kernels.Bcast4Kernel}},
		// Token rows of 8: a per-channel bias and a per-token value (an
		// operand fixed along the row, one load for four) four elements
		// a thread.
		"bcast_rows": {text: `graph "g" (%x: f32[N,6,8]) -> (%y1, %y2) {
  const %bias: f32[8] = [0.5, -1, 2, 0.25, -0.5, 3, 0, -2]
  const %m: f32[6,1] = [1.5, -0.25, 0, 4, -3, 0.75]
  %y1: f32[N,6,8] = Add "bias" (%x, %bias)
  %y2: f32[N,6,8] = Sub "centre" (%x, %m)
}`, kernel: map[string]string{"bias": kernels.Bcast4Kernel, "centre": kernels.Bcast4Kernel}},
		"convtranspose": {text: `graph "g" (%x: f32[N,4,5,6]) -> (%y1, %y2, %y3) {
` + mix(4) + constText(r, "w", 4, 3, 3, 3) + constText(r, "wg", 4, 2, 2, 2) + constText(r, "b", 3) + `  %h: f32[N,4,5,6] = Conv "mix" (%x, %mix)
  %y1: f32[N,3,10,13] = ConvTranspose "up2" (%x, %w, %b) {strides = [2, 2], pads = [1, 1, 1, 0], output_padding = [1, 1]}
  %y2: f32[N,4,10,12] = ConvTranspose "group_nhwc" (%h, %wg) {strides = [2, 2], group = 2}
  %y3: f32[N,3,9,10] = ConvTranspose "dilated_nhwc" (%h, %w, %b) {dilations = [2, 2]}
}`, kernel: map[string]string{"up2": kernels.ConvTransposeKernel, "group_nhwc": kernels.ConvTransposeKernel, "dilated_nhwc": kernels.ConvTransposeKernel}},
		"global_max_pool": {text: `graph "g" (%x: f32[N,6,7,5]) -> (%y1, %y2) {
` + mix(6) + `  %h: f32[N,6,7,5] = Conv "mix" (%x, %mix)
  %y1: f32[N,6,1,1] = GlobalMaxPool "gmax_nchw" (%x)
  %y2: f32[N,6,1,1] = GlobalMaxPool "gmax_nhwc" (%h)
}`, kernel: map[string]string{"gmax_nchw": kernels.MaxPoolF32Kernel, "gmax_nhwc": kernels.MaxPoolF32Kernel}},
		// GlobalAveragePool whose only reader is a QuantizeLinear: one
		// GapQuantizeKernel launch (a classifier head), on NCHW and NHWC
		// inputs of ResNet's 7×7; a pool that is a graph output keeps the
		// f32 kernel.
		"gap_quantize": {text: `graph "g" (%x: f32[N,16,7,7]) -> (%y1, %y2, %p3) {
` + mix(16) + `  const %sc: f32[] = [0.0625]
  const %zp: i8[] = [-2]
  const %sc2: f32[] = [0.03]
  const %zp2: i8[] = [5]
  const %w: i8[6,16] quant(axis=0, scale=[0.5, 0.25, 0.125, 0.5, 0.25, 0.125], zp=[0, 0, 0, 0, 0, 0]) = [` + int8Text(r, 96) + `]
  const %m: f32[6] = [0.03125, 0.015625, 0.0078125, 0.03125, 0.015625, 0.0078125]
  const %b: i32[6] = [1, -2, 300, -4, 5, -600]
  %h: f32[N,16,7,7] = Conv "mix" (%x, %mix)
  %p: f32[N,16,1,1] = GlobalAveragePool "pool_nchw" (%x)
  %q: i8[N,16,1,1] quant(scale=[0.0625], zp=[-2]) = QuantizeLinear "q" (%p, %sc, %zp)
  %f: i8[N,16] quant(scale=[0.0625], zp=[-2]) = Flatten "flat" (%q) {axis = 1}
  %y1: f32[N,6] = QGemm "fc" (%f, %w, %m, %b)
  %p2: f32[N,16,1,1] = GlobalAveragePool "pool_nhwc" (%h)
  %q2: i8[N,16,1,1] quant(scale=[0.03], zp=[5]) = QuantizeLinear "q2" (%p2, %sc2, %zp2)
  %y2: f32[N,16,1,1] = DequantizeLinear "dq2" (%q2, %sc2, %zp2)
  %p3: f32[N,16,1,1] = GlobalAveragePool "pool_out" (%h)
}`, kernel: map[string]string{"pool_nchw": kernels.GapQuantizeKernel, "pool_nhwc": kernels.GapQuantizeKernel, "pool_out": kernels.GapKernel, "fc": "sqc_gemm_s8_dense_f32*"}},
		"relu_int8": {text: `graph "g" (%x: f32[N,6,5,4]) -> (%y1, %y2) {
` + mix(6) + `  const %sc: f32[] = [0.03]
  const %zp: i8[] = [-5]
  const %sc2: f32[] = [0.02]
  const %zp2: i8[] = [0]
  %q: i8[N,6,5,4] quant(scale=[0.03], zp=[-5]) = QuantizeLinear "q" (%x, %sc, %zp)
  %r: i8[N,6,5,4] quant(scale=[0.03], zp=[-5]) = Relu "relu_nchw" (%q)
  %y1: f32[N,6,5,4] = DequantizeLinear "dq" (%r, %sc, %zp)
  %h: f32[N,6,5,4] = Conv "mix" (%x, %mix)
  %q2: i8[N,6,5,4] quant(scale=[0.02], zp=[0]) = QuantizeLinear "q2" (%h, %sc2, %zp2)
  %r2: i8[N,6,5,4] quant(scale=[0.02], zp=[0]) = Relu "relu_nhwc" (%q2)
  %y2: f32[N,6,5,4] = DequantizeLinear "dq2" (%r2, %sc2, %zp2)
}`, kernel: map[string]string{"relu_nchw": kernels.Clamp8Kernel, "relu_nhwc": kernels.Clamp8Kernel}},
	}
}

// TestHostFreeKernels plans each case (on any machine: which kernel each
// node runs on is checked without a GPU), then runs it on the GPU at batch
// 1, 3 and 70 and compares with the reference executor.
//
//	.gpu/ampere.test -test.run 'TestHostFreeKernels|TestCoverageFallbacks' -test.v
func TestHostFreeKernels(t *testing.T) {
	for name, c := range hostFreeCases() {
		t.Run(name, func(t *testing.T) {
			g, err := sqir.ParseAndVerify(name, []byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ampere.Plan(g, "test")
			if err != nil {
				t.Fatal(err)
			}
			for node, k := range c.kernel {
				var got []string
				for _, s := range e.Steps {
					if s.Node == node {
						got = append(got, s.Kernel)
					}
				}
				for len(got) > 1 && (got[0] == kernels.ToNCHW32Kernel || got[0] == kernels.ToNHWC32Kernel || got[0] == kernels.ToNCHW8Kernel) {
					got = got[1:]
				}
				// "prefix*": a GEMM, whose name says its tile variant.
				if len(got) != 1 || got[0] != k && !(strings.HasSuffix(k, "*") && strings.HasPrefix(got[0], strings.TrimSuffix(k, "*"))) {
					t.Errorf("node %s runs on %v, want %s", node, got, k)
				}
			}
			for _, s := range e.Steps {
				if s.Kernel == ampere.HostKernel {
					t.Errorf("node %s (%s) runs on the host", s.Node, s.Op)
				}
			}
			needGPU(t)
			for _, batch := range []int{1, 3, 70} {
				r := rand.New(rand.NewPCG(uint64(batch), 31))
				x := randomInput(g, batch, r, 2)
				xs := x.Float32s()
				xs[0], xs[1] = 3, 3 // equal neighbours
				got, want := runBoth(t, g, e, batch, x)
				for i := range want {
					gt, wt := got[i], want[i]
					if gt.DType != wt.DType || gt.Len() != wt.Len() {
						t.Fatalf("batch %d output %s: %v of %d, want %v of %d", batch, g.Outputs[i].Name, gt.DType, gt.Len(), wt.DType, wt.Len())
					}
					bad, worst := 0, 0.0
					for j := 0; j < wt.Len(); j++ {
						gv, wv := gt.AsFloat64(j), wt.AsFloat64(j)
						scaled := math.Abs(gv-wv) / math.Max(1, math.Abs(wv))
						ok := math.Float64bits(gv) == math.Float64bits(wv)
						if c.approx {
							ok = scaled <= 1e-5
						}
						if !ok {
							if bad < 5 {
								t.Errorf("batch %d output %s [%d]: %v, want %v", batch, g.Outputs[i].Name, j, gv, wv)
							}
							bad++
						}
						worst = math.Max(worst, scaled)
					}
					if bad > 0 {
						t.Errorf("batch %d output %s: %d of %d values differ", batch, g.Outputs[i].Name, bad, wt.Len())
					}
					t.Logf("batch %d output %s: worst scaled difference %.3g", batch, g.Outputs[i].Name, worst)
				}
			}
		})
	}
}

// int8Text lists n random int8 weights in .sqir syntax.
func int8Text(r *rand.Rand, n int) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = strconv.Itoa(r.IntN(255) - 127)
	}
	return strings.Join(vs, ", ")
}
