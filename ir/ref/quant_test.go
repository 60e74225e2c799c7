package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

// qRunOp runs one node whose present inputs are constants (nil = absent
// optional input) through static shape inference, the verifier and the
// executor, and returns its output.
func qRunOp(t *testing.T, op string, attrs ir.Attrs, inputs ...*ir.Tensor) *ir.Tensor {
	t.Helper()
	out, err := qTryOp(op, attrs, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func qTryOp(op string, attrs ir.Attrs, inputs ...*ir.Tensor) (*ir.Tensor, error) {
	n := &ir.Node{Name: "q", Op: op, Attrs: attrs}
	for i, x := range inputs {
		if x == nil {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		n.Inputs = append(n.Inputs, ir.NewConst(fmt.Sprintf("in%d", i), x))
	}
	y := &ir.Value{Name: "y"}
	n.Outputs = []*ir.Value{y}
	g := &ir.Graph{Name: "t", Nodes: []*ir.Node{n}, Outputs: []*ir.Value{y}}
	if err := ir.InferShapes(g); err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	outs, err := Run(g)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func i8(shape []int, v ...int8) *ir.Tensor {
	return &ir.Tensor{DType: ir.Int8, Shape: shape, Data: v}
}

func u8(shape []int, v ...uint8) *ir.Tensor {
	return &ir.Tensor{DType: ir.Uint8, Shape: shape, Data: v}
}

func f32(shape []int, v ...float32) *ir.Tensor { return ir.FromFloat32(v, shape...) }

func i32(shape []int, v ...int32) *ir.Tensor {
	return &ir.Tensor{DType: ir.Int32, Shape: shape, Data: v}
}

// scalar is the shape of a scalar.
var scalar = []int{}

// qWant checks a tensor's dtype, shape and values (as int64 or float64).
func qWant(t *testing.T, got *ir.Tensor, dt ir.DType, shape []int, want ...float64) {
	t.Helper()
	if got.DType != dt || !slicesEqual(got.Shape, shape) {
		t.Fatalf("got %v, want %v%v", got.Type(), dt, ir.ShapeOf(shape...))
	}
	for i, w := range want {
		if g := got.AsFloat64(i); g != w && !(g != g && w != w) {
			t.Errorf("element %d = %v, want %v (got %v)", i, g, w, qValues(got))
			return
		}
	}
}

func qValues(t *ir.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.AsFloat64(i)
	}
	return v
}

func TestQuantizeLinearRoundsHalfToEven(t *testing.T) {
	x := f32([]int{10}, 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 2.4999998, 2.5000002)
	y := qRunOp(t, "QuantizeLinear", nil, x, f32(scalar, 1), i8(scalar, 0))
	qWant(t, y, ir.Int8, []int{10}, 0, 2, 2, 4, 0, -2, -2, -4, 2, 3)

	// The zero point is added after rounding: with zp 1, 0.5 → 0+1 and
	// 1.5 → 2+1; rounding 0.5+1 and 1.5+1 instead would give 2 and 2.
	y = qRunOp(t, "QuantizeLinear", nil, f32([]int{3}, 0.5, 1.5, 2.5), f32(scalar, 1), u8(scalar, 1))
	qWant(t, y, ir.Uint8, []int{3}, 1, 3, 3)
}

func TestQuantizeLinearDividesInFloat32(t *testing.T) {
	// float32(0.35)/float32(0.1) is 3.4999999 exactly but 3.5 once rounded
	// to float32, so rne gives 4 (the float64 quotient would give 3); the
	// float32 just above 0.45 divides to 4.5000001, rounded to 4.5 → 4 (5 in
	// float64). numpy's np.rint(x / y_scale) on float32 arrays agrees.
	x := f32([]int{2}, 0.35, math.Float32frombits(1055286887))
	y := qRunOp(t, "QuantizeLinear", nil, x, f32(scalar, 0.1), i8(scalar, 0))
	qWant(t, y, ir.Int8, []int{2}, 4, 4)
	if got := QuantizeValue(0.35, 0.1, 0, ir.Int8); got != 4 {
		t.Errorf("QuantizeValue(0.35, 0.1) = %d, want 4", got)
	}
}

func TestQuantizeLinearSaturates(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	x := f32([]int{8}, 100, -100, 62, -65, -66, inf, -inf, nan)
	// int8, scale 0.5, zp 3: x/s = 200, -200, 124, -130, -132, +Inf, -Inf, NaN;
	// + 3 = 203, -197, 127, -127, -129, … ; NaN counts as 0, giving the zero point.
	y := qRunOp(t, "QuantizeLinear", nil, x, f32(scalar, 0.5), i8(scalar, 3))
	qWant(t, y, ir.Int8, []int{8}, 127, -128, 127, -127, -128, 127, -128, 3)

	// uint8 with the default zero point (absent: 0, and the output is uint8).
	y = qRunOp(t, "QuantizeLinear", nil, f32([]int{4}, -1, 254.4, 254.5, 300), f32(scalar, 1))
	qWant(t, y, ir.Uint8, []int{4}, 0, 254, 254, 255)

	// int16 and uint16 targets (opset 21).
	y = qRunOp(t, "QuantizeLinear", nil, f32([]int{3}, 40000, -40000, 1.5), f32(scalar, 1), &ir.Tensor{DType: ir.Int16, Shape: scalar, Data: []int16{0}})
	qWant(t, y, ir.Int16, []int{3}, 32767, -32768, 2)
	y = qRunOp(t, "QuantizeLinear", ir.Attrs{"output_dtype": ir.IntAttr(4)}, f32([]int{3}, 70000, -1, 2.5), f32(scalar, 1))
	qWant(t, y, ir.Uint16, []int{3}, 65535, 0, 2)
}

func TestQuantizeLinearPerAxis(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, -4, 5, 6)
	// axis 1 (the default): one scale and zero point per column.
	y := qRunOp(t, "QuantizeLinear", nil, x, f32([]int{3}, 1, 2, 4), i8([]int{3}, 0, 10, -10))
	// column 0: 1, -4; column 1: 2/2+10 = 11, 5/2 = 2.5 → 2, +10 = 12; column 2: 3/4 = 0.75 → 1, -10 = -9; 6/4 = 1.5 → 2, -10 = -8
	qWant(t, y, ir.Int8, []int{2, 3}, 1, 11, -9, -4, 12, -8)
	// axis 0 (and -2): one per row.
	for _, axis := range []int64{0, -2} {
		y = qRunOp(t, "QuantizeLinear", ir.Attrs{"axis": ir.IntAttr(axis)}, x, f32([]int{2}, 2, 0.5), u8([]int{2}, 100, 0))
		qWant(t, y, ir.Uint8, []int{2, 3}, 100, 101, 102, 0, 10, 12)
	}
	// DequantizeLinear inverts it exactly on the grid.
	d := qRunOp(t, "DequantizeLinear", nil, i8([]int{2, 3}, 1, 11, -9, -4, 12, -8), f32([]int{3}, 1, 2, 4), i8([]int{3}, 0, 10, -10))
	qWant(t, d, ir.Float32, []int{2, 3}, 1, 2, 4, -4, 4, 8)
}

func TestDequantizeLinear(t *testing.T) {
	d := qRunOp(t, "DequantizeLinear", nil, u8([]int{4}, 0, 128, 255, 7), f32(scalar, 0.5), u8(scalar, 128))
	qWant(t, d, ir.Float32, []int{4}, -64, 0, 63.5, -60.5)
	d = qRunOp(t, "DequantizeLinear", nil, i8([]int{3}, -128, 0, 127), f32(scalar, 0.25))
	qWant(t, d, ir.Float32, []int{3}, -32, 0, 31.75)
	// int32 (a bias): no zero point; the value converts once to float32.
	d = qRunOp(t, "DequantizeLinear", nil, i32([]int{3}, 16777217, -3, 100), f32(scalar, 2))
	qWant(t, d, ir.Float32, []int{3}, 33554432, -6, 200)
	// 3-D per-axis along axis 1 of [1,2,2].
	d = qRunOp(t, "DequantizeLinear", nil, i8([]int{1, 2, 2}, 1, 2, 3, 4), f32([]int{2}, 1, 10), i8([]int{2}, 1, -1))
	qWant(t, d, ir.Float32, []int{1, 2, 2}, 0, 1, 40, 50)
}

func TestRequantizeFloat32Path(t *testing.T) {
	// These scales make float32(acc)·m exactly -3.5 for acc = -1739 with
	// m = float32(float32(xs·ws)/ys) = 0.002012651, while the exact product
	// is -3.4999… (so a float64 computation would round to -3). The float32
	// path is the definition: -4.
	xs := math.Float32frombits(1018674386)
	ws := math.Float32frombits(1026309377)
	ys := math.Float32frombits(1055911255)
	m := RequantMultiplier(xs, ws, ys)
	if v := float32(-1739) * m; v != -3.5 {
		t.Fatalf("float32(-1739)·m = %v, want -3.5 (m = %v)", v, m)
	}
	if got := Requantize(-1739, m, 0, ir.Int8); got != -4 {
		t.Errorf("Requantize(-1739) = %d, want -4", got)
	}
	// The same through QLinearMatMul: 13·(-128) + (-75) = -1739.
	a := make([]int8, 14)
	b := make([]int8, 14)
	for i := range a {
		a[i], b[i] = -128, 1
	}
	a[13] = -75
	y := qRunOp(t, "QLinearMatMul", nil, i8([]int{1, 14}, a...), f32(scalar, xs), i8(scalar, 0),
		i8([]int{14, 1}, b...), f32(scalar, ws), i8(scalar, 0), f32(scalar, ys), i8(scalar, 5))
	qWant(t, y, ir.Int8, []int{1, 1}, -4+5)
}

func TestConvIntegerPadsWithZeroPoint(t *testing.T) {
	// x - x_zp = [[0, 10], [20, 30]] padded by 1 with real zeros;
	// w = [[1, 2], [3, 4]]; each output is the 2×2 window's dot product.
	x := u8([]int{1, 1, 2, 2}, 10, 20, 30, 40)
	w := i8([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	y := qRunOp(t, "ConvInteger", ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, x, w, u8(scalar, 10))
	qWant(t, y, ir.Int32, []int{1, 1, 3, 3},
		0, 40, 30,
		80, 200, 100,
		40, 80, 30)

	// Per-output-channel weight zero points, int8 x with a negative zp.
	x = i8([]int{1, 1, 1, 3}, -5, 0, 5)
	w = i8([]int{2, 1, 1, 2}, 3, 4, 3, 4)
	y = qRunOp(t, "ConvInteger", nil, x, w, i8(scalar, -5), i8([]int{2}, 2, 4))
	// x - zp = [0, 5, 10]; channel 0: w - 2 = [1, 2] → [10, 25]; channel 1: w - 4 = [-1, 0] → [0, -5]
	qWant(t, y, ir.Int32, []int{1, 2, 1, 2}, 10, 25, 0, -5)
}

func TestQLinearConvHand(t *testing.T) {
	// 1×1 convolution, two output channels with per-channel w_scale and a
	// bias; every product lands on a rounding tie.
	x := u8([]int{1, 1, 2, 2}, 1, 3, 5, 7)
	w := i8([]int{2, 1, 1, 1}, 1, 2)
	bias := i32([]int{2}, 0, 4)
	y := qRunOp(t, "QLinearConv", nil, x, f32(scalar, 0.5), u8(scalar, 0),
		w, f32([]int{2}, 1, 0.25), i8([]int{2}, 0, 0), f32(scalar, 1), u8(scalar, 1), bias)
	// channel 0: acc = x, ·0.5 = 0.5 1.5 2.5 3.5 → 0 2 2 4, +1
	// channel 1: acc = 2x + 4 = 6 10 14 18, ·0.125 = 0.75 1.25 1.75 2.25 → 1 1 2 2, +1
	qWant(t, y, ir.Uint8, []int{1, 2, 2, 2}, 1, 3, 3, 5, 2, 2, 3, 3)

	// Saturation of an int8 output from a large bias, both ways.
	y = qRunOp(t, "QLinearConv", nil, x, f32(scalar, 1), u8(scalar, 0),
		w, f32(scalar, 1), i8(scalar, 0), f32(scalar, 1), i8(scalar, -1), i32([]int{2}, 1000, -1000))
	qWant(t, y, ir.Int8, []int{1, 2, 2, 2}, 127, 127, 127, 127, -128, -128, -128, -128)
}

func TestMatMulIntegerHand(t *testing.T) {
	// Per-row a_zp and per-column b_zp.
	a := u8([]int{2, 2}, 5, 6, 7, 8)
	b := i8([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	y := qRunOp(t, "MatMulInteger", nil, a, b, u8([]int{2}, 5, 7), i8([]int{3}, 1, 0, -1))
	// a - zp = [[0, 1], [0, 1]]; b - zp = [[0, 2, 4], [3, 5, 7]]
	qWant(t, y, ir.Int32, []int{2, 3}, 3, 5, 7, 3, 5, 7)

	// 1-D operands: a vector times a matrix, and a matrix times a vector.
	y = qRunOp(t, "MatMulInteger", nil, i8([]int{2}, 1, -2), i8([]int{2, 2}, 3, 4, 5, 6))
	qWant(t, y, ir.Int32, []int{2}, -7, -8)
	y = qRunOp(t, "MatMulInteger", nil, i8([]int{2, 2}, 3, 4, 5, 6), i8([]int{2}, 1, -2), nil, i8(scalar, 1))
	// b - 1 = [0, -3]
	qWant(t, y, ir.Int32, []int{2}, -12, -18)
}

func TestQLinearMatMulPerColumn(t *testing.T) {
	a := u8([]int{1, 2}, 130, 126)
	b := i8([]int{2, 2}, 10, 10, 20, 20)
	y := qRunOp(t, "QLinearMatMul", nil, a, f32(scalar, 0.5), u8(scalar, 128),
		b, f32([]int{2}, 1, 0.1), i8([]int{2}, 0, 0), f32(scalar, 1), u8(scalar, 100))
	// a - zp = [2, -2]; acc = [20 - 40, 20 - 40] = [-20, -20];
	// m = [0.5, float32(0.5·0.1)] → -10 and -1.0000000149 → -1
	qWant(t, y, ir.Uint8, []int{1, 2}, 90, 99)
}

// qNaiveConv is an independent direct convolution: for every output
// element, the sum over the window of (x - xzp)(w - wzp[m]), skipping
// padded positions, then the optional requantization written out from the
// definition.
func qNaiveConv(x, w *ir.Tensor, xzp int32, wzp []int32, attrs ir.Attrs) ([]int64, []int) {
	nb, c := x.Shape[0], x.Shape[1]
	m := w.Shape[0]
	group := int(attrs.Int("group", 1))
	cg, mg := c/group, m/group
	spatial := make([]ir.Dim, len(x.Shape)-2)
	for i, d := range x.Shape[2:] {
		spatial[i] = ir.D(int64(d))
	}
	geom, err := ir.ResolveConvGeom(attrs, spatial, w.Shape[2:], false)
	if err != nil {
		panic(err)
	}
	outShape := append([]int{nb, m}, geom.Out...)
	outArea, kArea := ir.NumElements(geom.Out), ir.NumElements(geom.Kernel)
	inStr := ir.Strides(x.Shape)
	wStr := ir.Strides(w.Shape)
	res := make([]int64, nb*m*outArea)
	oIdx := make([]int, len(geom.Out))
	kIdx := make([]int, len(geom.Kernel))
	for b := 0; b < nb; b++ {
		for oc := 0; oc < m; oc++ {
			g := oc / mg
			z := wzp[min(oc, len(wzp)-1)]
			for o := 0; o < outArea; o++ {
				unravelInto(o, geom.Out, oIdx)
				var s int64
				for ci := 0; ci < cg; ci++ {
					for kf := 0; kf < kArea; kf++ {
						unravelInto(kf, geom.Kernel, kIdx)
						xo := b*inStr[0] + (g*cg+ci)*inStr[1]
						wo := oc*wStr[0] + ci*wStr[1]
						inside := true
						for d := range oIdx {
							pos := oIdx[d]*geom.Strides[d] - geom.PadBegin[d] + kIdx[d]*geom.Dilations[d]
							if pos < 0 || pos >= geom.In[d] {
								inside = false
								break
							}
							xo += pos * inStr[2+d]
							wo += kIdx[d] * wStr[2+d]
						}
						if inside {
							s += (int64(x.AsInt64(xo)) - int64(xzp)) * (w.AsInt64(wo) - int64(z))
						}
					}
				}
				res[(b*m+oc)*outArea+o] = s
			}
		}
	}
	return res, outShape
}

func qRandTensor(r *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, shape...)
	switch s := t.Data.(type) {
	case []int8:
		for i := range s {
			s[i] = int8(r.IntN(256) - 128)
		}
	case []uint8:
		for i := range s {
			s[i] = uint8(r.IntN(256))
		}
	}
	return t
}

func qZP(r *rand.Rand, dt ir.DType, n int) *ir.Tensor {
	shape := []int{n}
	if n == 1 {
		shape = scalar
	}
	return qRandTensor(r, dt, shape...)
}

func TestConvIntegerAndQLinearConvMatchNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name   string
		x, w   []int
		attrs  ir.Attrs
		xt, wt ir.DType
		perCh  bool
	}{
		{"3x3 pad1", []int{1, 5, 7, 7}, []int{6, 5, 3, 3}, ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, ir.Uint8, ir.Int8, true},
		{"stride2 dilation2 groups asym pads", []int{2, 4, 9, 8}, []int{6, 2, 3, 2}, ir.Attrs{"strides": ir.IntsAttr(2, 1), "dilations": ir.IntsAttr(2, 2), "group": ir.IntAttr(2), "pads": ir.IntsAttr(0, 1, 2, 1)}, ir.Int8, ir.Int8, false},
		{"1x1 direct", []int{2, 6, 5, 3}, []int{9, 2, 1, 1}, ir.Attrs{"group": ir.IntAttr(3)}, ir.Uint8, ir.Uint8, true},
		{"1x1 strided", []int{1, 3, 5, 5}, []int{4, 3, 1, 1}, ir.Attrs{"strides": ir.IntsAttr(2, 2)}, ir.Uint8, ir.Int8, false},
		{"depthwise same_upper", []int{1, 8, 6, 6}, []int{8, 1, 3, 3}, ir.Attrs{"group": ir.IntAttr(8), "auto_pad": ir.StringAttr("SAME_UPPER"), "strides": ir.IntsAttr(2, 2)}, ir.Int8, ir.Int8, true},
		{"1-D same_lower", []int{2, 3, 11}, []int{5, 3, 4}, ir.Attrs{"auto_pad": ir.StringAttr("SAME_LOWER"), "strides": ir.IntsAttr(3)}, ir.Uint8, ir.Int8, true},
		{"wide enough to run on every core", []int{1, 64, 12, 12}, []int{32, 64, 3, 3}, ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}, ir.Uint8, ir.Int8, true},
		{"3-D", []int{1, 2, 4, 5, 3}, []int{3, 2, 2, 3, 2}, ir.Attrs{"pads": ir.IntsAttr(1, 0, 1, 0, 2, 1), "kernel_shape": ir.IntsAttr(2, 3, 2)}, ir.Int8, ir.Uint8, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := qRandTensor(r, tc.xt, tc.x...)
			w := qRandTensor(r, tc.wt, tc.w...)
			m := tc.w[0]
			nz := 1
			if tc.perCh {
				nz = m
			}
			xzp, wzp := qZP(r, tc.xt, 1), qZP(r, tc.wt, nz)
			want, shape := qNaiveConv(x, w, int32(xzp.AsInt64(0)), qZeroPoints(wzp), tc.attrs)

			y := qRunOp(t, "ConvInteger", tc.attrs, x, w, xzp, wzp)
			wantF := make([]float64, len(want))
			for i, v := range want {
				wantF[i] = float64(v)
			}
			qWant(t, y, ir.Int32, shape, wantF...)

			// QLinearConv on the same accumulators, per-channel scales, a
			// bias, and a y_scale small enough that some outputs saturate.
			xs := f32(scalar, 0.02)
			ws := make([]float32, nz)
			for i := range ws {
				ws[i] = 0.001 + 0.01*r.Float32()
			}
			bias := make([]int32, m)
			for i := range bias {
				bias[i] = int32(r.IntN(20001) - 10000)
			}
			// y_scale maps the largest real output to 200 steps, so that
			// the outputs spread over the range and the largest saturate.
			var maxReal float64
			area := len(want) / (shape[0] * m)
			for i, v := range want {
				oc := i / area % m
				maxReal = max(maxReal, math.Abs(float64(v+int64(bias[oc]))*float64(ws[min(oc, nz-1)])))
			}
			ys := float32(0.02 * maxReal / 200)
			yzp := int32(108 + r.IntN(41))
			yt := ir.Uint8
			if tc.xt == ir.Int8 {
				yzp -= 128
				yt = ir.Int8
			}
			zpT := ir.NewTensor(yt)
			if yt == ir.Int8 {
				zpT.Data = []int8{int8(yzp)}
			} else {
				zpT.Data = []uint8{uint8(yzp)}
			}
			q := qRunOp(t, "QLinearConv", tc.attrs, x, xs, xzp, w, f32([]int{nz}, ws...), wzp, f32(scalar, ys), zpT, i32([]int{m}, bias...))
			lo, hi, _ := QuantRange(yt)
			wantQ := make([]float64, len(want))
			saturated := 0
			for i, acc := range want {
				oc := i / area % m
				mult := float32(float32(0.02*ws[min(oc, nz-1)]) / ys)
				v := float64(float32(float32(int32(acc)+bias[oc]) * mult))
				rq := math.RoundToEven(v) + float64(yzp)
				rq = math.Max(float64(lo), math.Min(float64(hi), rq))
				if rq == float64(lo) || rq == float64(hi) {
					saturated++
				}
				wantQ[i] = rq
			}
			qWant(t, q, yt, shape, wantQ...)
			if saturated == 0 || saturated > len(want)/2 {
				t.Errorf("%d of %d outputs saturated, want some but not most (test scales are off)", saturated, len(want))
			}
		})
	}
}

// qNaiveMatMul is an independent numpy matmul with broadcasting over the
// batch dims, for operands of rank >= 2.
func qNaiveMatMul(a, b *ir.Tensor, azp, bzp []int32) ([]int64, []int) {
	as, bs := a.Shape, b.Shape
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, err := qBroadcast(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		panic(err)
	}
	nb := ir.NumElements(batch)
	res := make([]int64, nb*m*n)
	idx := make([]int, len(batch))
	offset := func(sh []int) int {
		// The operand's matrix index for the broadcast batch index idx.
		o := 0
		lead := len(batch) - len(sh)
		for d := 0; d < len(sh); d++ {
			i := idx[lead+d]
			if sh[d] == 1 {
				i = 0
			}
			o = o*sh[d] + i
		}
		return o
	}
	for bi := 0; bi < nb; bi++ {
		unravelInto(bi, batch, idx)
		ao, bo := offset(as[:len(as)-2])*m*k, offset(bs[:len(bs)-2])*k*n
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s int64
				for kk := 0; kk < k; kk++ {
					s += (a.AsInt64(ao+i*k+kk) - int64(azp[min(i, len(azp)-1)])) * (b.AsInt64(bo+kk*n+j) - int64(bzp[min(j, len(bzp)-1)]))
				}
				res[(bi*m+i)*n+j] = s
			}
		}
	}
	return res, append(batch, m, n)
}

func TestMatMulIntegerMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	cases := []struct {
		a, b      []int
		at, bt    ir.DType
		perRow    bool
		perCol    bool
		quantized bool
	}{
		{[]int{7, 13}, []int{13, 5}, ir.Uint8, ir.Int8, true, true, true},
		{[]int{2, 3, 4, 9}, []int{9, 6}, ir.Int8, ir.Int8, false, true, true},
		{[]int{3, 1, 4, 9}, []int{2, 9, 7}, ir.Uint8, ir.Uint8, true, false, true},
		{[]int{1, 5, 8}, []int{3, 8, 2}, ir.Int8, ir.Uint8, false, false, false},
		{[]int{64, 300}, []int{300, 10}, ir.Uint8, ir.Int8, false, true, true},
	}
	for ci, tc := range cases {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			a, b := qRandTensor(r, tc.at, tc.a...), qRandTensor(r, tc.bt, tc.b...)
			na, nbz := 1, 1
			if tc.perRow {
				na = tc.a[len(tc.a)-2]
			}
			if tc.perCol {
				nbz = tc.b[len(tc.b)-1]
			}
			azp, bzp := qZP(r, tc.at, na), qZP(r, tc.bt, nbz)
			want, shape := qNaiveMatMul(a, b, qZeroPoints(azp), qZeroPoints(bzp))
			y := qRunOp(t, "MatMulInteger", nil, a, b, azp, bzp)
			wantF := make([]float64, len(want))
			for i, v := range want {
				wantF[i] = float64(v)
			}
			qWant(t, y, ir.Int32, shape, wantF...)
			if !tc.quantized || tc.perRow {
				return
			}
			bs := make([]float32, nbz)
			for i := range bs {
				bs[i] = 0.002 + 0.01*r.Float32()
			}
			as, ys := float32(0.03), float32(0.25+float32(ci)*0.1)
			q := qRunOp(t, "QLinearMatMul", nil, a, f32(scalar, as), azp, b, f32([]int{nbz}, bs...), bzp, f32(scalar, ys), u8(scalar, 128))
			n := shape[len(shape)-1]
			wantQ := make([]float64, len(want))
			for i, acc := range want {
				mult := float32(float32(as*bs[min(i%n, nbz-1)]) / ys)
				v := float64(float32(float32(acc) * mult))
				wantQ[i] = math.Max(0, math.Min(255, math.RoundToEven(v)+128))
			}
			qWant(t, q, ir.Uint8, shape, wantQ...)
		})
	}
}

func TestQuantSchemaErrors(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	q := i8([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	w := i8([]int{1, 1, 1, 1}, 1)
	xc := u8([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	cases := []struct {
		name   string
		op     string
		attrs  ir.Attrs
		inputs []*ir.Tensor
		want   string
	}{
		{"block_size", "QuantizeLinear", ir.Attrs{"block_size": ir.IntAttr(2)}, []*ir.Tensor{x, f32([]int{2, 2}, 1, 1, 1, 1)}, "block quantization unsupported"},
		{"blocked scale shape", "DequantizeLinear", nil, []*ir.Tensor{q, f32([]int{2, 1}, 1, 1)}, "block quantization unsupported"},
		{"scale dtype", "QuantizeLinear", nil, []*ir.Tensor{x, i32(scalar, 1)}, "y_scale is i32, want f32"},
		{"zero point dtype", "DequantizeLinear", nil, []*ir.Tensor{q, f32(scalar, 1), u8(scalar, 0)}, "x_zero_point is u8, want i8"},
		{"axis length", "QuantizeLinear", nil, []*ir.Tensor{x, f32([]int{2}, 1, 1)}, "y_scale has 2 elements, want 1 or 3"},
		{"axis range", "QuantizeLinear", ir.Attrs{"axis": ir.IntAttr(2)}, []*ir.Tensor{x, f32([]int{3}, 1, 1, 1)}, "axis 2 out of range"},
		{"output_dtype conflict", "QuantizeLinear", ir.Attrs{"output_dtype": ir.IntAttr(3)}, []*ir.Tensor{x, f32(scalar, 1), u8(scalar, 0)}, "output_dtype says i8 but y_zero_point is u8"},
		{"float x for dequantize", "DequantizeLinear", nil, []*ir.Tensor{x, f32(scalar, 1)}, "x is f32, want"},
		{"conv bias dtype", "QLinearConv", nil, []*ir.Tensor{xc, f32(scalar, 1), u8(scalar, 0), w, f32(scalar, 1), i8(scalar, 0), f32(scalar, 1), u8(scalar, 0), f32([]int{1}, 0)}, "B is f32, want i32"},
		{"conv per-channel x scale", "QLinearConv", nil, []*ir.Tensor{xc, f32([]int{2}, 1, 1), u8(scalar, 0), w, f32(scalar, 1), i8(scalar, 0), f32(scalar, 1), u8(scalar, 0)}, "x_scale has 2 elements, want a scalar"},
		{"conv w_scale length", "QLinearConv", nil, []*ir.Tensor{xc, f32(scalar, 1), u8(scalar, 0), w, f32([]int{3}, 1, 1, 1), i8(scalar, 0), f32(scalar, 1), u8(scalar, 0)}, "w_scale has 3 elements, want 1 (output channels of w)"},
		{"conv zp dtype", "ConvInteger", nil, []*ir.Tensor{xc, w, i8(scalar, 0)}, "x_zero_point is i8, want u8 like x"},
		{"conv channels", "ConvInteger", nil, []*ir.Tensor{xc, i8([]int{1, 2, 1, 1}, 1, 1)}, "x has 1 channels"},
		{"conv float x", "ConvInteger", nil, []*ir.Tensor{f32([]int{1, 1, 1, 1}, 1), w}, "x is f32, want i8 or u8"},
		{"matmul inner", "MatMulInteger", nil, []*ir.Tensor{q, q}, "inner dims differ"},
		{"matmul zp length", "MatMulInteger", nil, []*ir.Tensor{q, i8([]int{3, 1}, 1, 1, 1), i8([]int{3}, 0, 0, 0)}, "a_zero_point has 3 elements, want 1 or 2 (rows of A)"},
		{"qlinearmatmul y zp", "QLinearMatMul", nil, []*ir.Tensor{q, f32(scalar, 1), i8(scalar, 0), i8([]int{3, 1}, 1, 1, 1), f32(scalar, 1), i8(scalar, 0), f32(scalar, 1), i32(scalar, 0)}, "y_zero_point is i32, want i8 or u8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qTryOp(tc.op, tc.attrs, tc.inputs...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "q ("+tc.op+"): ") {
				t.Errorf("error %q does not name the node", err)
			}
		})
	}
}

// BenchmarkQLinearConv3x3 times a whole QLinearConv (im2col, weight packing,
// GEMM, requantization) of a 3×3, 256→256 layer over a 14×14 map, in GOPS
// (2·MACs per second).
func BenchmarkQLinearConv3x3(bm *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := qRandTensor(r, ir.Uint8, 1, 256, 14, 14)
	w := qRandTensor(r, ir.Int8, 256, 256, 3, 3)
	ws := make([]float32, 256)
	for i := range ws {
		ws[i] = 0.01
	}
	n := &ir.Node{Name: "conv", Op: "QLinearConv", Attrs: ir.Attrs{"pads": ir.IntsAttr(1, 1, 1, 1)}}
	in := []*ir.Tensor{x, f32(scalar, 0.02), u8(scalar, 3), w, f32([]int{256}, ws...), i8(scalar, 0), f32(scalar, 0.5), u8(scalar, 128)}
	out := []*ir.Tensor{ir.NewTensor(ir.Uint8, 1, 256, 14, 14)}
	for bm.Loop() {
		if err := qlinearConv(n, in, out); err != nil {
			bm.Fatal(err)
		}
	}
	const macs = 256 * 14 * 14 * 256 * 9
	bm.ReportMetric(2*macs*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GOPS")
}
