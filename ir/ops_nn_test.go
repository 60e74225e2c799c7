package ir

import (
	"fmt"
	"strings"
	"testing"
)

// TestNNSchemaErrors checks that malformed nodes are rejected with a
// message that names the node and says what was expected.
func TestNNSchemaErrors(t *testing.T) {
	f := func(dims ...int) Type { return TensorType(Float32, dims...) }
	ia := func(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }
	cases := []struct {
		op    string
		attrs Attrs
		in    []Type
		nOut  int
		want  string
	}{
		{"Conv", nil, []Type{f(1, 4, 8, 8), f(8, 3, 3, 3)}, 1, "conv1 (Conv): weight has 3 input channels per group, input has 4 channels and group 1"},
		{"Conv", Attrs{"group": {Kind: AttrInt, Int: 2}}, []Type{f(1, 4, 8, 8), f(7, 2, 3, 3)}, 1, "weight has 7 output channels, want a multiple of group 2"},
		{"Conv", nil, []Type{f(1, 4, 8), f(8, 4, 3, 3)}, 1, "weight has shape [8,4,3,3], want rank 3 like the input"},
		{"Conv", nil, []Type{f(4, 8), f(8, 4)}, 1, "input has shape [4,8], want rank 3 or more"},
		{"Conv", nil, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3), f(7)}, 1, "bias has 7 values, want 8 (one per output channel)"},
		{"Conv", nil, []Type{TensorType(Int8, 1, 4, 8, 8), TensorType(Int8, 8, 4, 3, 3)}, 1, "input is i8, want a float type"},
		{"Conv", nil, []Type{f(1, 4, 8, 8), TensorType(Float16, 8, 4, 3, 3)}, 1, "weight is f16 and input f32, want the same dtype"},
		{"Conv", Attrs{"kernel_shape": ia(5, 5)}, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3)}, 1, "kernel_shape [5 5] disagrees with the weight's spatial dims [3,3]"},
		{"Conv", Attrs{"strides": ia(2)}, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3)}, 1, "strides has 1 values, want 2"},
		{"Conv", Attrs{"pads": ia(1, 1)}, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3)}, 1, "pads has 2 values, want 4"},
		{"Conv", nil, []Type{f(1, 4, 2, 8), f(8, 4, 3, 3)}, 1, "window 3 (dilated 3) is larger than the padded input 2"},
		{"Conv", Attrs{"group": {Kind: AttrInt, Int: 0}}, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3)}, 1, "group 0: want a positive group count"},
		{"Conv", Attrs{"group": {Kind: AttrFloat, Float: 1}}, []Type{f(1, 4, 8, 8), f(8, 4, 3, 3)}, 1, `attribute "group" is float, want int`},
		{"Conv", nil, []Type{f(1, 4, 8, 8)}, 1, "1 inputs, want 2 to 3"},
		{"ConvTranspose", nil, []Type{f(1, 4, 8, 8), f(3, 2, 3, 3)}, 1, "weight has 3 input channels, input has 4"},
		{"ConvTranspose", Attrs{"output_padding": ia(2, 0)}, []Type{f(1, 4, 8, 8), f(4, 2, 3, 3)}, 1, "output_padding [2 0]: want values in [0, max(stride, dilation))"},
		{"ConvTranspose", Attrs{"pads": ia(5, 5, 5, 5)}, []Type{f(1, 4, 2, 2), f(4, 2, 3, 3)}, 1, "leave an output of size -6 on spatial dim 0"},
		{"ConvTranspose", Attrs{"group": {Kind: AttrInt, Int: 3}}, []Type{f(1, 4, 2, 2), f(4, 2, 3, 3)}, 1, "input has 4 channels, want a multiple of group 3"},
		{"ConvTranspose", nil, []Type{f(1, 4, 2, 2), f(4, 2, 3, 3), f(3)}, 1, "bias has 3 values, want 2"},
		{"Gemm", nil, []Type{f(3, 4), f(5, 6)}, 1, "op(A) is 3×4 and op(B) 5×6: inner dims differ"},
		{"Gemm", nil, []Type{f(2, 3, 4), f(4, 6)}, 1, "A has shape [2,3,4], want a 2-d matrix"},
		{"Gemm", nil, []Type{f(3, 4), f(4, 6), f(2, 6)}, 1, "C has shape [2,6], which does not broadcast to the result [3,6]"},
		{"Gemm", nil, []Type{f(3, 4), f(4, 6), f(1, 2, 6)}, 1, "C has shape [1,2,6], want rank 2 or less"},
		{"Gemm", nil, []Type{TensorType(Int8, 3, 4), TensorType(Int8, 4, 6)}, 1, "A is i8, want a float type or i32, i64, u32, u64"},
		{"MatMul", nil, []Type{f(2, 3, 4), f(5, 6)}, 1, "inner dims 4 and 5 differ"},
		{"MatMul", nil, []Type{f(2, 3, 4), f(3, 4, 6)}, 1, "batch dims of [2,3,4] and [3,4,6] do not broadcast"},
		{"MatMul", nil, []Type{f(), f(3)}, 1, "want rank 1 or more"},
		{"MaxPool", nil, []Type{f(1, 3, 8, 8)}, 1, "attribute kernel_shape is missing"},
		{"MaxPool", Attrs{"kernel_shape": ia(3)}, []Type{f(1, 3, 8, 8)}, 1, "kernel_shape [3] has 1 values, want 2"},
		{"MaxPool", Attrs{"kernel_shape": ia(3, 3), "storage_order": {Kind: AttrInt, Int: 2}}, []Type{f(1, 3, 8, 8)}, 1, "storage_order 2: want 0 (row major) or 1 (column major)"},
		{"MaxPool", Attrs{"kernel_shape": ia(3, 3)}, []Type{TensorType(Int32, 1, 3, 8, 8)}, 1, "input is i32, want a float type, i8 or u8"},
		{"MaxPool", Attrs{"kernel_shape": ia(3, 3)}, []Type{f(1, 3, 8, 8)}, 3, "3 outputs, want 1 to 2"},
		{"AveragePool", Attrs{"kernel_shape": ia(3, 3), "auto_pad": {Kind: AttrString, String: "SAME"}}, []Type{f(1, 3, 8, 8)}, 1, `auto_pad "SAME": want NOTSET, VALID, SAME_UPPER or SAME_LOWER`},
		{"AveragePool", Attrs{"kernel_shape": ia(3, 3), "count_include_pad": {Kind: AttrInt, Int: 2}}, []Type{f(1, 3, 8, 8)}, 1, "count_include_pad 2: want 0 or 1"},
		{"GlobalAveragePool", nil, []Type{f(3, 8)}, 1, "input has shape [3,8], want rank 3 or more"},
		{"BatchNormalization", nil, []Type{f(2, 3, 4), f(3), f(3), f(4), f(3)}, 1, "mean has 4 values, input has 3 channels"},
		{"BatchNormalization", nil, []Type{f(2, 3, 4), f(3), f(3), f(3), f(3, 1)}, 1, "variance has shape [3,1], want a 1-d vector"},
		{"BatchNormalization", Attrs{"training_mode": {Kind: AttrInt, Int: 1}}, []Type{f(2, 3, 4), f(3), f(3), f(3), f(3)}, 1, "training_mode 1: only inference"},
		{"BatchNormalization", nil, []Type{f(2, 3, 4), f(3), f(3), f(3), f(3)}, 3, "3 outputs, want 1"},
	}
	for _, c := range cases {
		n := &Node{Name: "conv1", Op: c.op, Attrs: c.attrs}
		for range c.in {
			n.Inputs = append(n.Inputs, &Value{Name: "x"})
		}
		for i := 0; i < c.nOut; i++ {
			n.Outputs = append(n.Outputs, &Value{Name: "y"})
		}
		_, err := InferTypes(n, c.in, make([]*Tensor, len(c.in)))
		if err == nil {
			t.Errorf("%s %v: no error, want %q", c.op, c.in, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "conv1 ("+c.op+"): ") {
			t.Errorf("%s %v: error %q, want it to contain %q", c.op, c.in, err, c.want)
		}
	}
}

// TestNNSchemaShapes checks inferred shapes, including symbolic batch dims
// flowing through and unknown dims staying unknown.
func TestNNSchemaShapes(t *testing.T) {
	sym := func(dt DType, dims ...Dim) Type { return Type{DType: dt, Shape: dims} }
	N, d := SymDim("N"), D
	ia := func(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }
	cases := []struct {
		op    string
		attrs Attrs
		in    []Type
		nOut  int
		want  string
	}{
		{"Conv", Attrs{"strides": ia(2, 2), "pads": ia(3, 3, 3, 3)}, []Type{sym(Float32, N, d(3), d(224), d(224)), TensorType(Float32, 64, 3, 7, 7)}, 1, "[f32[N,64,112,112]]"},
		{"Conv", Attrs{"auto_pad": {Kind: AttrString, String: "SAME_LOWER"}, "strides": ia(2)}, []Type{TensorType(Float16, 1, 4, 9), TensorType(Float16, 6, 4, 4)}, 1, "[f16[1,6,5]]"},
		{"Conv", nil, []Type{sym(Float32, N, d(3), SymDim("H"), d(10)), TensorType(Float32, 8, 3, 3, 3)}, 1, "[f32[N,8,?,8]]"},
		{"Conv", Attrs{"kernel_shape": ia(3, 3)}, []Type{TensorType(Float32, 1, 3, 10, 10), sym(Float32, d(8), d(3), UnknownDim, UnknownDim)}, 1, "[f32[1,8,8,8]]"},
		{"ConvTranspose", Attrs{"strides": ia(3, 2), "output_shape": ia(10, 8)}, []Type{sym(Float32, N, d(1), d(3), d(3)), TensorType(Float32, 1, 2, 3, 3)}, 1, "[f32[N,2,10,8]]"},
		{"ConvTranspose", Attrs{"strides": ia(3, 2), "pads": ia(1, 2, 1, 2)}, []Type{TensorType(Float32, 1, 1, 3, 3), TensorType(Float32, 1, 2, 3, 3)}, 1, "[f32[1,2,7,3]]"},
		{"ConvTranspose", Attrs{"group": {Kind: AttrInt, Int: 2}, "output_padding": ia(1), "strides": ia(2)}, []Type{TensorType(Float32, 1, 4, 5), TensorType(Float32, 4, 3, 3)}, 1, "[f32[1,6,12]]"},
		{"Gemm", Attrs{"transA": {Kind: AttrInt, Int: 1}, "transB": {Kind: AttrInt, Int: 1}}, []Type{sym(Float32, d(4), N), TensorType(Float32, 10, 4), TensorType(Float32, 10)}, 1, "[f32[N,10]]"},
		{"MatMul", nil, []Type{sym(Float32, N, d(1), d(3), d(4)), TensorType(Float32, 5, 4, 2)}, 1, "[f32[N,5,3,2]]"},
		{"MatMul", nil, []Type{TensorType(Int64, 4), TensorType(Int64, 4)}, 1, "[i64[]]"},
		{"MatMul", nil, []Type{TensorType(Float32, 2, 3, 4), TensorType(Float32, 4)}, 1, "[f32[2,3]]"},
		{"MaxPool", Attrs{"kernel_shape": ia(3, 3), "strides": ia(2, 2), "ceil_mode": {Kind: AttrInt, Int: 1}}, []Type{sym(Uint8, N, d(3), d(8), d(8))}, 2, "[u8[N,3,4,4] i64[N,3,4,4]]"},
		{"AveragePool", Attrs{"kernel_shape": ia(2, 2, 2), "auto_pad": {Kind: AttrString, String: "SAME_UPPER"}}, []Type{TensorType(Float32, 1, 2, 3, 5, 7)}, 1, "[f32[1,2,3,5,7]]"},
		{"GlobalAveragePool", nil, []Type{sym(Float32, N, d(512), d(7), d(7))}, 1, "[f32[N,512,1,1]]"},
		{"GlobalMaxPool", nil, []Type{TensorType(Float64, 2, 3, 4)}, 1, "[f64[2,3,1]]"},
		{"BatchNormalization", nil, []Type{sym(Float32, N, d(3), d(5)), TensorType(Float32, 3), TensorType(Float32, 3), TensorType(Float32, 3), TensorType(Float32, 3)}, 1, "[f32[N,3,5]]"},
	}
	for _, c := range cases {
		n := &Node{Name: "n", Op: c.op, Attrs: c.attrs}
		for range c.in {
			n.Inputs = append(n.Inputs, &Value{Name: "x"})
		}
		for i := 0; i < c.nOut; i++ {
			n.Outputs = append(n.Outputs, &Value{Name: "y"})
		}
		got, err := InferTypes(n, c.in, make([]*Tensor, len(c.in)))
		if err != nil {
			t.Errorf("%s %v: %v", c.op, c.in, err)
			continue
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s %v: inferred %v, want %s", c.op, c.in, got, c.want)
		}
	}
}

// TestResolveConvTransposeGeom checks the pads ConvTranspose's output-size
// rules give, worked from the ONNX documentation's formulas: total padding
// = stride·(in−1) + output_padding + (kernel−1)·dilation + 1 − out.
func TestResolveConvTransposeGeom(t *testing.T) {
	ia := func(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }
	cases := []struct {
		attrs           Attrs
		in, kernel      []int
		out, padB, padE []int
	}{
		// No attributes: out = in + kernel − 1.
		{nil, []int{3}, []int{3}, []int{5}, []int{0}, []int{0}},
		// output_shape 10×8 from 3×3 with strides 3,2: the natural size
		// is 9×7, so one extra row and column appear at the end.
		{Attrs{"strides": ia(3, 2), "output_shape": ia(10, 8)}, []int{3, 3}, []int{3, 3}, []int{10, 8}, []int{0, 0}, []int{-1, -1}},
		// With output_padding 1,1 the natural size is already 10×8.
		{Attrs{"strides": ia(3, 2), "output_shape": ia(10, 8), "output_padding": ia(1, 1)}, []int{3, 3}, []int{3, 3}, []int{10, 8}, []int{0, 0}, []int{0, 0}},
		// output_shape smaller than natural (5 → 2, total 3): NOTSET puts
		// the odd unit at the beginning.
		{Attrs{"output_shape": ia(2)}, []int{3}, []int{3}, []int{2}, []int{2}, []int{1}},
		// SAME_UPPER / SAME_LOWER: out = in·stride = 6, total 7 − 6 = 1.
		{Attrs{"auto_pad": {Kind: AttrString, String: "SAME_UPPER"}, "strides": ia(2)}, []int{3}, []int{3}, []int{6}, []int{0}, []int{1}},
		{Attrs{"auto_pad": {Kind: AttrString, String: "SAME_LOWER"}, "strides": ia(2)}, []int{3}, []int{3}, []int{6}, []int{1}, []int{0}},
		// Explicit pads and output_padding, dilated: 2·(4−1) + 1 + 2·2 + 1 − 1 − 2 = 9.
		{Attrs{"strides": ia(2), "dilations": ia(2), "pads": ia(1, 2), "output_padding": ia(1)}, []int{4}, []int{3}, []int{9}, []int{1}, []int{1}},
	}
	for _, c := range cases {
		dims := make([]Dim, len(c.in))
		for i, v := range c.in {
			dims[i] = D(int64(v))
		}
		g, err := ResolveConvTransposeGeom(c.attrs, dims, c.kernel)
		if err != nil {
			t.Errorf("%v: %v", c.attrs, err)
			continue
		}
		got := fmt.Sprint(g.In, g.Out, g.PadBegin, g.PadEnd)
		want := fmt.Sprint(c.out, c.in, c.padB, c.padE)
		if got != want {
			t.Errorf("%v in %v kernel %v: out/in/padB/padE %s, want %s", c.attrs, c.in, c.kernel, got, want)
		}
	}
}

func TestMatMulShape(t *testing.T) {
	cases := []struct {
		a, b Shape
		want string
	}{
		{ShapeOf(3), ShapeOf(3), "[]"},
		{ShapeOf(3), ShapeOf(2, 3, 4), "[2,4]"},
		{ShapeOf(2, 3, 4), ShapeOf(4), "[2,3]"},
		{Shape{SymDim("B"), D(1), D(3), D(4)}, ShapeOf(7, 4, 5), "[B,7,3,5]"},
		{Shape{D(2), UnknownDim}, ShapeOf(6, 5), "[2,5]"},
	}
	for _, c := range cases {
		s, err := MatMulShape(c.a, c.b)
		if err != nil || s.String() != c.want {
			t.Errorf("MatMulShape(%v, %v) = %v, %v; want %s", c.a, c.b, s, err, c.want)
		}
	}
}
