package ir

import (
	"strings"
	"testing"
)

// qInfer runs static inference of one node over values of the given types
// (an InvalidDType type is an absent optional input).
func qInfer(op string, attrs Attrs, in ...Type) ([]Type, error) {
	n := &Node{Name: "n", Op: op, Attrs: attrs, Outputs: []*Value{{Name: "y"}}}
	for i, t := range in {
		if t.DType == InvalidDType {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		n.Inputs = append(n.Inputs, &Value{Name: string(rune('a' + i)), Type: t})
	}
	types := make([]Type, len(n.Inputs))
	for i, v := range n.Inputs {
		if v != nil {
			types[i] = v.Type
		}
	}
	return InferTypes(n, types, make([]*Tensor, len(types)))
}

func TestQuantInferSymbolic(t *testing.T) {
	batch := SymDim("N")
	f := func(dims ...Dim) Type { return Type{DType: Float32, Shape: dims} }
	typ := func(dt DType, dims ...Dim) Type { return Type{DType: dt, Shape: dims} }
	none := Type{}
	cases := []struct {
		name  string
		op    string
		attrs Attrs
		in    []Type
		want  Type
	}{
		{"quantize default u8", "QuantizeLinear", nil, []Type{f(batch, D(3)), f()}, typ(Uint8, batch, D(3))},
		{"quantize output_dtype", "QuantizeLinear", Attrs{"output_dtype": IntAttr(3), "saturate": IntAttr(1)}, []Type{f(batch, D(3)), f(D(3))}, typ(Int8, batch, D(3))},
		{"quantize per-axis unknown dim", "QuantizeLinear", Attrs{"axis": IntAttr(0)}, []Type{f(batch, D(3)), f(D(5)), typ(Int8, D(5))}, typ(Int8, batch, D(3))},
		{"dequantize", "DequantizeLinear", nil, []Type{typ(Int8, batch, D(4), D(2)), f(D(4)), typ(Int8, D(4))}, f(batch, D(4), D(2))},
		{"qlinearconv stem", "QLinearConv", Attrs{"strides": IntsAttr(2, 2), "pads": IntsAttr(3, 3, 3, 3)},
			[]Type{typ(Uint8, batch, D(3), D(224), D(224)), f(), typ(Uint8), typ(Int8, D(64), D(3), D(7), D(7)), f(D(64)), typ(Int8, D(64)), f(), typ(Int8), typ(Int32, D(64))},
			typ(Int8, batch, D(64), D(112), D(112))},
		{"convinteger grouped", "ConvInteger", Attrs{"group": IntAttr(4), "auto_pad": StringAttr("SAME_UPPER")},
			[]Type{typ(Int8, D(1), D(8), D(5), D(5)), typ(Int8, D(12), D(2), D(3), D(3)), none, typ(Int8, D(12))},
			typ(Int32, D(1), D(12), D(5), D(5))},
		{"matmulinteger broadcast", "MatMulInteger", nil, []Type{typ(Uint8, batch, D(1), D(4), D(8)), typ(Int8, D(3), D(8), D(5)), typ(Uint8, D(4))}, typ(Int32, batch, D(3), D(4), D(5))},
		{"matmulinteger vectors", "MatMulInteger", nil, []Type{typ(Int8, D(8)), typ(Int8, D(8))}, typ(Int32)},
		{"qlinearmatmul per-column", "QLinearMatMul", nil,
			[]Type{typ(Uint8, batch, D(16)), f(D(1)), typ(Uint8, D(1)), typ(Int8, D(16), D(10)), f(D(10)), typ(Int8, D(10)), f(), typ(Uint8)},
			typ(Uint8, batch, D(10))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := qInfer(tc.op, tc.attrs, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			if !out[0].Equal(tc.want) {
				t.Errorf("inferred %v, want %v", out[0], tc.want)
			}
		})
	}
}

func TestQuantInferErrors(t *testing.T) {
	f := func(dims ...int) Type { return TensorType(Float32, dims...) }
	cases := []struct {
		name string
		op   string
		in   []Type
		want string
	}{
		{"per-axis scale and zero point disagree", "DequantizeLinear", []Type{TensorType(Uint8, 2, 3), f(3), TensorType(Uint8, 2)}, "x_zero_point has 2 elements, want 1 or 3"},
		{"kernel larger than input", "ConvInteger", []Type{TensorType(Uint8, 1, 1, 2, 2), TensorType(Uint8, 1, 1, 3, 3)}, "larger than the padded input"},
		{"conv rank", "ConvInteger", []Type{TensorType(Uint8, 1, 4), TensorType(Uint8, 1, 4)}, "want N×C×D1×…×Dk"},
		{"bias length", "QLinearConv", []Type{TensorType(Uint8, 1, 1, 2, 2), f(), TensorType(Uint8), TensorType(Int8, 2, 1, 1, 1), f(), TensorType(Int8), f(), TensorType(Uint8), TensorType(Int32, 3)}, "B has shape [3], want [2]"},
		{"per-row a scale", "QLinearMatMul", []Type{TensorType(Uint8, 2, 3), f(2), TensorType(Uint8, 2), TensorType(Int8, 3, 4), f(), TensorType(Int8), f(), TensorType(Uint8)}, "a_scale has 2 elements, want a scalar"},
		{"b_scale length", "QLinearMatMul", []Type{TensorType(Uint8, 2, 3), f(), TensorType(Uint8), TensorType(Int8, 3, 4), f(3), TensorType(Int8), f(), TensorType(Uint8)}, "b_scale has 3 elements, want 1 or 4 (columns of b)"},
		{"quantize int input", "QuantizeLinear", []Type{TensorType(Int32, 3), f()}, "x is i32, want f32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qInfer(tc.op, nil, tc.in...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
