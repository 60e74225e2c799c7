package onnx

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// TestMalformedNodes lowers nodes with out-of-range attributes and inputs of
// the wrong shape: each must fail with an error naming the node, never with
// a panic (Lower reports a caught one as an internal error).
func TestMalformedNodes(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 1, 2, 2, 2)
	type c struct {
		opset int64
		op    string
		in    *ir.Tensor
		extra []*ir.Tensor
		nOut  int
		attrs map[string]any
	}
	i64 := func(v ...int64) *ir.Tensor { return ir.FromInt64(v, len(v)) }
	scalar := ir.FromFloat32([]float32{1})
	cases := []c{
		{13, "Split", x, []*ir.Tensor{i64(-1, 3)}, 2, nil},
		{18, "Split", x, nil, 2, map[string]any{"num_outputs": 0}},
		{18, "Split", x, nil, 3, map[string]any{"num_outputs": -5, "axis": 9}},
		{13, "Split", x, nil, 0, nil},
		{13, "Reshape", x, []*ir.Tensor{i64(-1, -1)}, 1, nil},
		{13, "Reshape", x, []*ir.Tensor{i64(0, 0, 0, 0, 0, 0)}, 1, nil},
		{13, "Reshape", x, []*ir.Tensor{i64(1<<62, 4)}, 1, nil},
		{13, "Slice", x, []*ir.Tensor{i64(0), i64(1), i64(0), i64(0)}, 1, nil},
		{13, "Slice", x, []*ir.Tensor{i64(0), i64(1), i64(7)}, 1, nil},
		{13, "Slice", x, []*ir.Tensor{i64(0, 0), i64(1)}, 1, nil},
		{13, "Transpose", x, nil, 1, map[string]any{"perm": []int64{0, 0, 9, -1}}},
		{13, "Gather", x, []*ir.Tensor{i64(1 << 40)}, 1, map[string]any{"axis": 7}},
		{13, "Conv", x, []*ir.Tensor{ir.FromFloat32([]float32{1}, 1)}, 1, nil},
		{13, "Conv", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 1, 2, 1, 1)}, 1, map[string]any{"group": 0}},
		{13, "Conv", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 1, 2, 1, 1)}, 1, map[string]any{"strides": []int64{0, 0}, "dilations": []int64{-1, 1}}},
		{13, "Conv", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 1, 2, 9, 9)}, 1, map[string]any{"pads": []int64{1}}},
		{13, "ConvTranspose", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 2, 1, 1, 1)}, 1, map[string]any{"output_padding": []int64{5, 5}, "output_shape": []int64{1}}},
		{13, "MaxPool", x, nil, 1, map[string]any{"kernel_shape": []int64{0, 0}}},
		{13, "MaxPool", x, nil, 1, map[string]any{"kernel_shape": []int64{9, 9}, "strides": []int64{0, 1}}},
		{13, "AveragePool", x, nil, 1, map[string]any{"kernel_shape": []int64{2}}},
		{13, "Pad", x, []*ir.Tensor{i64(1, 2, 3)}, 1, nil},
		{13, "Pad", x, []*ir.Tensor{i64(-9, -9, -9, -9, 0, 0, 0, 0)}, 1, nil},
		{13, "Flatten", x, nil, 1, map[string]any{"axis": 99}},
		{13, "Squeeze", x, []*ir.Tensor{i64(0, 0)}, 1, nil},
		{13, "Unsqueeze", x, []*ir.Tensor{i64(0, 0, 99)}, 1, nil},
		{11, "Softmax", scalar, nil, 1, nil},
		{13, "Softmax", scalar, nil, 1, map[string]any{"axis": 5}},
		{13, "Concat", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 3)}, 1, map[string]any{"axis": 1}},
		{13, "Gemm", x, []*ir.Tensor{x}, 1, nil},
		{13, "MatMul", scalar, []*ir.Tensor{scalar}, 1, nil},
		{13, "BatchNormalization", x, []*ir.Tensor{scalar, scalar, scalar, scalar}, 1, nil},
		{13, "ReduceMean", x, []*ir.Tensor{i64(9, -9)}, 1, nil},
		{13, "Cast", x, nil, 1, map[string]any{"to": 1 << 40}},
		{13, "QuantizeLinear", x, []*ir.Tensor{ir.FromFloat32([]float32{1, 2, 3}, 3)}, 1, map[string]any{"axis": 1}},
		{13, "DequantizeLinear", &ir.Tensor{DType: ir.Int8, Shape: []int{2}, Data: []int8{1, 2}}, []*ir.Tensor{ir.FromFloat32([]float32{0}), &ir.Tensor{DType: ir.Uint8, Data: []uint8{1}}}, 1, nil},
		{10, "QLinearMatMul", x, nil, 1, nil},
		{10, "ConvInteger", &ir.Tensor{DType: ir.Int8, Shape: []int{1, 1, 2}, Data: []int8{1, 2}}, []*ir.Tensor{&ir.Tensor{DType: ir.Int8, Shape: []int{1, 1, 5}, Data: make([]int8, 5)}}, 1, nil},
		{13, "Clip", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 3)}, 1, nil},
		{13, "PRelu", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 3)}, 1, nil},
		{12, "Dropout", x, []*ir.Tensor{onnxbuild.Seq(0, 1, 3), &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{false, false}}}, 2, nil},
	}
	for _, cs := range cases {
		b := onnxbuild.New("g", cs.opset)
		in := b.Input("x", cs.in.DType, cs.in.Shape...)
		ins := []string{in}
		for _, e := range cs.extra {
			ins = append(ins, b.Const(e))
		}
		outs := make([]string, cs.nOut)
		for i := range outs {
			outs[i] = "y" + string(rune('0'+i))
		}
		b.Add(onnxbuild.NodeSpec{Name: "n", Op: cs.op, Inputs: ins, Outputs: outs, Attrs: cs.attrs})
		if cs.nOut > 0 {
			b.OutputUntyped("y0")
		} else {
			b.OutputUntyped("x")
		}
		_, err := lowerBuilt(t, b)
		if err == nil || !strings.HasPrefix(err.Error(), `node "n": `) || strings.Contains(err.Error(), "internal error") {
			t.Errorf("%s %v: got %v, want an error naming node n", cs.op, cs.attrs, err)
		}
	}
}
