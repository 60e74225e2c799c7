package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// qi8Const makes a constant value with quantization parameters.
func qi8Const(name string, t *ir.Tensor, q *ir.QuantParams) *ir.Value {
	v := ir.NewConst(name, t)
	v.Quant = q
	return v
}

// qi8PerTensor is per-tensor quantization {s, z}.
func qi8PerTensor(s float32, z int32) *ir.QuantParams {
	return &ir.QuantParams{Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
}

// qi8PerChannel is symmetric quantization along axis 0.
func qi8PerChannel(s []float32) *ir.QuantParams {
	return &ir.QuantParams{Scale: s, ZeroPoint: make([]int32, len(s)), Axis: 0}
}

// qi8Node runs one quantized node whose inputs are the given values (nil =
// absent) and whose output carries yq (nil: float32 output), after static
// inference and verification, and returns its output.
func qi8Node(op string, attrs ir.Attrs, yq *ir.QuantParams, ins ...*ir.Value) (*ir.Tensor, error) {
	y := &ir.Value{Name: "y", Quant: yq}
	n := &ir.Node{Name: "q", Op: op, Attrs: attrs, Inputs: ins, Outputs: []*ir.Value{y}}
	g := &ir.Graph{Name: "t", Nodes: []*ir.Node{n}, Outputs: []*ir.Value{y}}
	if err := ir.InferShapes(g); err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	out, err := Run(g)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func qi8RandInt8(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.IntN(256) - 128)
	}
	return v
}

func qi8RandScale(r *rand.Rand) float32 {
	return float32(math.Exp(r.Float64()*6 - 8)) // 3e-4 .. 0.14
}

// qi8Conv2D is a direct (no im2col, no GEMM) int32 convolution of x − zx by
// w for 2-d NCHW data: the test's independent accumulator.
func qi8Conv2D(x []int8, xs []int, zx int32, w []int8, ws []int, stride, pad, dil, group int) ([]int32, []int) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	oh := (h+2*pad-dil*(kh-1)-1)/stride + 1
	ow := (wd+2*pad-dil*(kw-1)-1)/stride + 1
	out := make([]int32, n*m*oh*ow)
	mg := m / group
	for b := 0; b < n; b++ {
		for oc := 0; oc < m; oc++ {
			g := oc / mg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var acc int32
					for ci := 0; ci < cg; ci++ {
						ic := g*cg + ci
						for u := 0; u < kh; u++ {
							for v := 0; v < kw; v++ {
								y, xx := i*stride-pad+u*dil, j*stride-pad+v*dil
								if y < 0 || y >= h || xx < 0 || xx >= wd {
									continue
								}
								acc += (int32(x[((b*c+ic)*h+y)*wd+xx]) - zx) * int32(w[((oc*cg+ci)*kh+u)*kw+v])
							}
						}
					}
					out[((b*m+oc)*oh+i)*ow+j] = acc
				}
			}
		}
	}
	return out, []int{n, m, oh, ow}
}

// TestQConvMatchesQLinearConv: without residual or activation, QConv is bit
// for bit ONNX's QLinearConv (the independently written kernel of
// quant_conv.go) on the same integers, scales, zero points and bias, over
// strides, padding, dilation, groups and per-tensor or per-channel weights.
func TestQConvMatchesQLinearConv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		n, c, h, w, m, k, stride, pad, dil, group int
		perTensor                                 bool
	}{
		{1, 3, 7, 7, 4, 3, 1, 1, 1, 1, false},
		{2, 4, 9, 8, 6, 3, 2, 1, 1, 2, false},
		{1, 8, 6, 6, 8, 3, 1, 2, 2, 8, true},
		{1, 16, 5, 5, 12, 1, 1, 0, 1, 1, false},
		{3, 5, 4, 6, 7, 2, 1, 0, 1, 1, true},
	}
	for ci, tc := range cases {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			xs := []int{tc.n, tc.c, tc.h, tc.w}
			ws := []int{tc.m, tc.c / tc.group, tc.k, tc.k}
			x := qi8RandInt8(r, ir.NumElements(xs))
			w := qi8RandInt8(r, ir.NumElements(ws))
			sx := qi8RandScale(r)
			zx, zy := int32(r.IntN(256)-128), int32(r.IntN(256)-128)
			sw := make([]float32, tc.m)
			for i := range sw {
				sw[i] = qi8RandScale(r) / 10
			}
			if tc.perTensor {
				sw = sw[:1]
			}
			// An output scale that puts the typical |y| near 40: a uniform
			// int8 has standard deviation 74, so acc has about 74²·√K.
			depth := float64(tc.c / tc.group * tc.k * tc.k)
			sy := float32(float64(sx*sw[0]) * 74 * 74 * math.Sqrt(depth) / 40)
			bias := make([]int32, tc.m)
			for i := range bias {
				bias[i] = int32(r.IntN(20001) - 10000)
			}
			attrs := ir.Attrs{
				"strides":   ir.IntsAttr(int64(tc.stride), int64(tc.stride)),
				"pads":      ir.IntsAttr(int64(tc.pad), int64(tc.pad), int64(tc.pad), int64(tc.pad)),
				"dilations": ir.IntsAttr(int64(tc.dil), int64(tc.dil)),
				"group":     ir.IntAttr(int64(tc.group)),
			}
			wq := qi8PerChannel(sw)
			if tc.perTensor {
				wq = qi8PerTensor(sw[0], 0)
			}
			got, err := qi8Node("QConv", attrs, qi8PerTensor(sy, zy),
				qi8Const("x", i8(xs, x...), qi8PerTensor(sx, zx)),
				qi8Const("w", i8(ws, w...), wq),
				ir.NewConst("m", f32([]int{tc.m}, ir.QOutputMultipliers(sx, sw, tc.m, sy)...)),
				ir.NewConst("b", i32([]int{tc.m}, bias...)))
			if err != nil {
				t.Fatal(err)
			}
			wzp := make([]int8, len(sw))
			want := qRunOp(t, "QLinearConv", attrs,
				i8(xs, x...), f32(scalar, sx), i8(scalar, int8(zx)),
				i8(ws, w...), f32([]int{len(sw)}, sw...), i8([]int{len(sw)}, wzp...),
				f32(scalar, sy), i8(scalar, int8(zy)), i32([]int{tc.m}, bias...))
			if !slicesEqual(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			saturated := 0
			for i, v := range want.Int8s() {
				if g := got.Int8s()[i]; g != v {
					t.Fatalf("element %d: QConv %d, QLinearConv %d", i, g, v)
				}
				if v == 127 || v == -128 {
					saturated++
				}
			}
			// The comparison means something only if most outputs are
			// neither saturated nor all the same.
			if saturated > len(want.Int8s())/2 {
				t.Fatalf("%d of %d outputs saturate: badly chosen scales", saturated, len(want.Int8s()))
			}
		})
	}
}

// TestQConvEpilogue checks residual, relu and clip against an independent
// direct convolution and the epilogue formula written out step by step.
func TestQConvEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs, ws := []int{2, 6, 5, 5}, []int{4, 6, 3, 3}
	x := qi8RandInt8(r, ir.NumElements(xs))
	w := qi8RandInt8(r, ir.NumElements(ws))
	sx, sy, sr := float32(0.02), float32(7.5), float32(0.4)
	zx, zy, zr := int32(-3), int32(5), int32(-7)
	sw := []float32{0.003, 0.0045, 0.002, 0.005}
	bias := []int32{100, -2000, 0, 5000}
	acc, os := qi8Conv2D(x, xs, zx, w, ws, 1, 1, 1, 1)
	res := qi8RandInt8(r, ir.NumElements(os))
	mult := ir.QOutputMultipliers(sx, sw, 4, sy)
	mr := ir.QResidualMultiplier(sr, sy)
	attrs := func(extra ir.Attrs) ir.Attrs {
		a := ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	run := func(extra ir.Attrs, withR bool) []int8 {
		ins := []*ir.Value{
			qi8Const("x", i8(xs, x...), qi8PerTensor(sx, zx)),
			qi8Const("w", i8(ws, w...), qi8PerChannel(sw)),
			ir.NewConst("m", f32([]int{4}, mult...)),
			ir.NewConst("b", i32([]int{4}, bias...)),
		}
		if withR {
			ins = append(ins, qi8Const("r", i8(os, res...), qi8PerTensor(sr, zr)), ir.NewConst("mr", f32(scalar, mr)))
		}
		got, err := qi8Node("QConv", attrs(extra), qi8PerTensor(sy, zy), ins...)
		if err != nil {
			t.Fatal(err)
		}
		return got.Int8s()
	}
	plane := os[2] * os[3]
	want := func(i int, withR bool, lo, hi float64) int8 {
		k := (i / plane) % 4
		y := float32(acc[i]+bias[k]) * mult[k]
		if withR {
			y = y + float32(float32(int32(res[i])-zr)*mr)
		}
		q := math.RoundToEven(float64(y)) + float64(zy)
		return int8(max(lo, min(hi, q)))
	}
	check := func(name string, got []int8, withR bool, lo, hi float64) {
		t.Helper()
		interesting := 0
		for i, g := range got {
			if w := want(i, withR, lo, hi); g != w {
				t.Fatalf("%s: element %d = %d, want %d", name, i, g, w)
			}
			if float64(g) > lo && float64(g) < hi {
				interesting++
			}
		}
		if interesting < len(got)/4 {
			t.Fatalf("%s: only %d of %d outputs inside the clamp: badly chosen scales", name, interesting, len(got))
		}
	}
	check("plain", run(nil, false), false, -128, 127)
	check("residual", run(nil, true), true, -128, 127)
	check("relu", run(ir.Attrs{"activation": ir.StringAttr(ir.ActRelu)}, true), true, float64(zy), 127)
	// clip [-30, 45] in real units: Q(-30) = rne(-4) + 5 = 1, Q(45) = 6 + 5 = 11.
	check("clip", run(ir.Attrs{"activation": ir.StringAttr(ir.ActClip), "clip_min": ir.FloatAttr(-30), "clip_max": ir.FloatAttr(45)}, true), true, 1, 11)
}

// TestQConvReluIsQuantizedRelu: QConv with relu equals QLinearConv followed
// by max(q, zy), the code of real 0 (what Q(relu(v)) is, since
// quantization is monotone).
func TestQConvReluIsQuantizedRelu(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs, ws := []int{1, 4, 6, 6}, []int{3, 4, 3, 3}
	x, w := qi8RandInt8(r, ir.NumElements(xs)), qi8RandInt8(r, ir.NumElements(ws))
	sx, sy, zx, zy := float32(0.05), float32(2), int32(10), int32(-20)
	sw := []float32{0.01, 0.02, 0.015}
	got, err := qi8Node("QConv", ir.Attrs{"activation": ir.StringAttr(ir.ActRelu)}, qi8PerTensor(sy, zy),
		qi8Const("x", i8(xs, x...), qi8PerTensor(sx, zx)),
		qi8Const("w", i8(ws, w...), qi8PerChannel(sw)),
		ir.NewConst("m", f32([]int{3}, ir.QOutputMultipliers(sx, sw, 3, sy)...)))
	if err != nil {
		t.Fatal(err)
	}
	want := qRunOp(t, "QLinearConv", nil, i8(xs, x...), f32(scalar, sx), i8(scalar, int8(zx)),
		i8(ws, w...), f32([]int{3}, sw...), i8([]int{3}, 0, 0, 0), f32(scalar, sy), i8(scalar, int8(zy)))
	clamped := 0
	for i, v := range want.Int8s() {
		if v < int8(zy) {
			v = int8(zy)
			clamped++
		}
		if g := got.Int8s()[i]; g != v {
			t.Fatalf("element %d = %d, want %d", i, g, v)
		}
	}
	if clamped == 0 || clamped == len(got.Int8s()) {
		t.Fatalf("relu clamped %d of %d outputs: the test does not exercise it", clamped, len(got.Int8s()))
	}
}

// TestQConvFloatOutput: without output quantization the result is
// float32(acc + B)·M[k] with M = sx·sw[k], then the activation; the
// accumulators come from ConvInteger.
func TestQConvFloatOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	xs, ws := []int{1, 3, 5, 5}, []int{2, 3, 3, 3}
	x, w := qi8RandInt8(r, ir.NumElements(xs)), qi8RandInt8(r, ir.NumElements(ws))
	sx, zx := float32(0.1), int32(7)
	sw := []float32{0.01, 0.03}
	bias := []int32{-500, 800}
	m := ir.QOutputMultipliers(sx, sw, 2, 0)
	if m[0] != float32(sx*sw[0]) {
		t.Fatalf("float multiplier %v, want sx·sw = %v", m[0], float32(sx*sw[0]))
	}
	got, err := qi8Node("QConv", ir.Attrs{"activation": ir.StringAttr(ir.ActClip), "clip_min": ir.FloatAttr(-5), "clip_max": ir.FloatAttr(6)}, nil,
		qi8Const("x", i8(xs, x...), qi8PerTensor(sx, zx)),
		qi8Const("w", i8(ws, w...), qi8PerChannel(sw)),
		ir.NewConst("m", f32([]int{2}, m...)),
		ir.NewConst("b", i32([]int{2}, bias...)))
	if err != nil {
		t.Fatal(err)
	}
	acc := qRunOp(t, "ConvInteger", nil, i8(xs, x...), i8(ws, w...), i8(scalar, int8(zx)))
	if got.DType != ir.Float32 {
		t.Fatalf("output is %v, want f32", got.DType)
	}
	plane := 9
	clipped := 0
	for i, a := range acc.Int32s() {
		k := i / plane
		want := min(max(float32(a+bias[k])*m[k], -5), 6)
		if want == -5 || want == 6 {
			clipped++
		}
		if g := got.Float32s()[i]; g != want {
			t.Fatalf("element %d = %v, want %v", i, g, want)
		}
	}
	if clipped == 0 || clipped == len(got.Float32s()) {
		t.Fatalf("clip hit %d of %d outputs: the test does not exercise it", clipped, len(got.Float32s()))
	}
}

// TestQGemmMatchesQLinearMatMul: QGemm of A by W ([N,K]) without bias equals
// QLinearMatMul of A by Wᵀ with per-column scales; with a bias and a
// residual it follows the epilogue formula on QLinearMatMul-independent
// accumulators.
func TestQGemmMatchesQLinearMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	rows, k, cols := 5, 40, 7
	a, w := qi8RandInt8(r, rows*k), qi8RandInt8(r, cols*k)
	sa, sy, za, zy := float32(0.03), float32(4), int32(-9), int32(3)
	sw := make([]float32, cols)
	for i := range sw {
		sw[i] = 0.01 + 0.002*float32(i)
	}
	m := ir.QOutputMultipliers(sa, sw, cols, sy)
	got, err := qi8Node("QGemm", nil, qi8PerTensor(sy, zy),
		qi8Const("a", i8([]int{rows, k}, a...), qi8PerTensor(sa, za)),
		qi8Const("w", i8([]int{cols, k}, w...), qi8PerChannel(sw)),
		ir.NewConst("m", f32([]int{cols}, m...)))
	if err != nil {
		t.Fatal(err)
	}
	wt := make([]int8, k*cols)
	for j := 0; j < cols; j++ {
		for kk := 0; kk < k; kk++ {
			wt[kk*cols+j] = w[j*k+kk]
		}
	}
	want := qRunOp(t, "QLinearMatMul", nil, i8([]int{rows, k}, a...), f32(scalar, sa), i8(scalar, int8(za)),
		i8([]int{k, cols}, wt...), f32([]int{cols}, sw...), i8([]int{cols}, make([]int8, cols)...), f32(scalar, sy), i8(scalar, int8(zy)))
	for i, v := range want.Int8s() {
		if g := got.Int8s()[i]; g != v {
			t.Fatalf("element %d = %d, want %d", i, g, v)
		}
	}

	// Bias, residual and relu, against direct dot products.
	bias := make([]int32, cols)
	for i := range bias {
		bias[i] = int32(r.IntN(4001) - 2000)
	}
	res := qi8RandInt8(r, rows*cols)
	sr, zr := float32(1.5), int32(4)
	mr := ir.QResidualMultiplier(sr, sy)
	got, err = qi8Node("QGemm", ir.Attrs{"activation": ir.StringAttr(ir.ActRelu)}, qi8PerTensor(sy, zy),
		qi8Const("a", i8([]int{rows, k}, a...), qi8PerTensor(sa, za)),
		qi8Const("w", i8([]int{cols, k}, w...), qi8PerChannel(sw)),
		ir.NewConst("m", f32([]int{cols}, m...)),
		ir.NewConst("b", i32([]int{cols}, bias...)),
		qi8Const("r", i8([]int{rows, cols}, res...), qi8PerTensor(sr, zr)),
		ir.NewConst("mr", f32(scalar, mr)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var acc int32
			for kk := 0; kk < k; kk++ {
				acc += (int32(a[i*k+kk]) - za) * int32(w[j*k+kk])
			}
			y := float32(acc+bias[j]) * m[j]
			y = y + float32(float32(int32(res[i*cols+j])-zr)*mr)
			q := int8(max(float64(zy), min(127, math.RoundToEven(float64(y))+float64(zy))))
			if g := got.Int8s()[i*cols+j]; g != q {
				t.Fatalf("[%d,%d] = %d, want %d", i, j, g, q)
			}
		}
	}
}

// TestQGemmBatchOfRows: a QGemm whose A is [2,3,5,K] gives, bit for bit,
// the [30,N] QGemm of its rows reshaped to [2,3,5,N], residual and clip
// included; its output shape is A's with K replaced by N.
func TestQGemmBatchOfRows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	lead, k, cols := []int{2, 3, 5}, 24, 6
	rows := 2 * 3 * 5
	a, w, res := qi8RandInt8(r, rows*k), qi8RandInt8(r, cols*k), qi8RandInt8(r, rows*cols)
	sa, sy, za, zy := float32(0.05), float32(2), int32(7), int32(-5)
	sw := []float32{0.01, 0.02, 0.015, 0.03, 0.012, 0.02}
	m := ir.QOutputMultipliers(sa, sw, cols, sy)
	bias := []int32{100, -300, 0, 7, 2000, -1}
	mr := ir.QResidualMultiplier(1.25, sy)
	attrs := ir.Attrs{"activation": ir.StringAttr(ir.ActClip), "clip_min": ir.FloatAttr(-40), "clip_max": ir.FloatAttr(60)}
	run := func(aShape, rShape []int) *ir.Tensor {
		t.Helper()
		y, err := qi8Node("QGemm", attrs, qi8PerTensor(sy, zy),
			qi8Const("a", i8(aShape, a...), qi8PerTensor(sa, za)),
			qi8Const("w", i8([]int{cols, k}, w...), qi8PerChannel(sw)),
			ir.NewConst("m", f32([]int{cols}, m...)),
			ir.NewConst("b", i32([]int{cols}, bias...)),
			qi8Const("r", i8(rShape, res...), qi8PerTensor(1.25, 3)),
			ir.NewConst("mr", f32(scalar, mr)))
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	flat := run([]int{rows, k}, []int{rows, cols})
	batched := run(append(append([]int{}, lead...), k), append(append([]int{}, lead...), cols))
	if want := []int{2, 3, 5, cols}; fmt.Sprint(batched.Shape) != fmt.Sprint(want) {
		t.Fatalf("output shape %v, want %v", batched.Shape, want)
	}
	same := 0
	for i, v := range flat.Int8s() {
		if g := batched.Int8s()[i]; g != v {
			t.Fatalf("element %d = %d, want %d (the 2-d product's)", i, g, v)
		}
		if v == flat.Int8s()[0] {
			same++
		}
	}
	if same == len(flat.Int8s()) {
		t.Fatal("every output is the same: the test compares nothing")
	}
}

// TestQConvHandComputed is a 1×1 convolution small enough to compute by
// hand: x − zx = [2, −1], w = [3, 4] and [−1, 1], bias [1, 0], sx·sw/sy = 0.5.
func TestQConvHandComputed(t *testing.T) {
	// acc channel 0: 2·3 − 1·4 + 1 = 3 → 1.5 → rne 2 → +zy 10 = 12.
	// acc channel 1: −2 − 1 + 0 = −3 → −1.5 → rne −2 → 8; relu clamps at 10.
	got, err := qi8Node("QConv", ir.Attrs{"activation": ir.StringAttr(ir.ActRelu)}, qi8PerTensor(1, 10),
		qi8Const("x", i8([]int{1, 2, 1, 1}, 3, 0), qi8PerTensor(0.5, 1)),
		qi8Const("w", i8([]int{2, 2, 1, 1}, 3, 4, -1, 1), qi8PerTensor(1, 0)),
		ir.NewConst("m", f32([]int{2}, 0.5, 0.5)),
		ir.NewConst("b", i32([]int{2}, 1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	qWant(t, got, ir.Int8, []int{1, 2, 1, 1}, 12, 10)
}

// TestQConvErrors: the schema rejects what the kernel cannot run, naming
// the input at fault.
func TestQConvErrors(t *testing.T) {
	x := func(q *ir.QuantParams) *ir.Value { return qi8Const("x", i8([]int{1, 1, 1, 1}, 1), q) }
	w := func(q *ir.QuantParams) *ir.Value { return qi8Const("w", i8([]int{1, 1, 1, 1}, 1), q) }
	m := func(v float32) *ir.Value { return ir.NewConst("m", f32([]int{1}, v)) }
	pt := qi8PerTensor
	cases := []struct {
		name string
		ins  []*ir.Value
		yq   *ir.QuantParams
		want string
	}{
		{"no x quant", []*ir.Value{x(nil), w(pt(1, 0)), m(1), nil}, pt(1, 0), "input X carries no quantization parameters"},
		{"asymmetric w", []*ir.Value{x(pt(1, 0)), w(pt(1, 3)), m(1), nil}, pt(1, 0), "weight W has zero point 3, want 0"},
		{"bad multiplier", []*ir.Value{x(pt(0.5, 0)), w(pt(0.5, 0)), m(1), nil}, pt(1, 0), "multiplier M[0] is 1, want 0.25"},
		{"float bias", []*ir.Value{x(pt(1, 0)), w(pt(1, 0)), m(1), ir.NewConst("b", f32([]int{1}, 1))}, pt(1, 0), "bias B is f32, want i32"},
		{"residual without MR", []*ir.Value{x(pt(1, 0)), w(pt(1, 0)), m(1), nil, qi8Const("r", i8([]int{1, 1, 1, 1}, 1), pt(1, 0))}, pt(1, 0), "must come together"},
		{"residual shape", []*ir.Value{x(pt(1, 0)), w(pt(1, 0)), m(1), nil, qi8Const("r", i8([]int{1, 1, 1, 2}, 1, 2), pt(1, 0)), ir.NewConst("mr", f32(scalar, 1))}, pt(1, 0), "no broadcasting"},
		{"float x", []*ir.Value{ir.NewConst("x", f32([]int{1, 1, 1, 1}, 1)), w(pt(1, 0)), m(1), nil}, pt(1, 0), "input X is f32, want i8"},
		{"per-channel output", []*ir.Value{x(pt(1, 0)), w(pt(1, 0)), m(1), nil}, &ir.QuantParams{Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: 1}, "output is quantized with 1 scales along axis 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qi8Node("QConv", nil, tc.yq, tc.ins...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "q (QConv)") {
				t.Errorf("error %q does not name the node", err)
			}
		})
	}
}

// TestMultiplierIsQLinearConvs: the multiplier the passes store in M is
// the one QLinearConv's kernel computes, bit for bit.
func TestMultiplierIsQLinearConvs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 10000 {
		sx, sw, sy := qi8RandScale(r), qi8RandScale(r)/7, qi8RandScale(r)*3
		if got, want := ir.QMultiplier(sx, sw, sy), RequantMultiplier(sx, sw, sy); got != want {
			t.Fatalf("QMultiplier(%v, %v, %v) = %v, RequantMultiplier %v", sx, sw, sy, got, want)
		}
	}
}
