package onnx

import (
	"math"
	"reflect"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// Tests of the forms of opsets 1 to 6, built at those opsets. Expected
// values are worked out by hand from the ONNX operator documentation of the
// version concerned.

// oldCase is one single-node model: input x, extra initializers, and the
// value the node must compute.
type oldCase struct {
	name  string
	opset int64
	op    string
	x     *ir.Tensor
	extra []*ir.Tensor
	attrs map[string]any
	want  *ir.Tensor
}

// buildOld builds an oldCase's model; the node is "n", its output "y".
func buildOld(c oldCase) *onnxbuild.Builder {
	b := onnxbuild.New("g", c.opset)
	ins := []string{b.Input("x", c.x.DType, c.x.Shape...)}
	for _, e := range c.extra {
		ins = append(ins, b.Const(e))
	}
	b.Add(onnxbuild.NodeSpec{Name: "n", Op: c.op, Inputs: ins, Outputs: []string{"y"}, Attrs: c.attrs})
	b.OutputUntyped("y")
	return b
}

func TestOpset1Forms(t *testing.T) {
	f32 := ir.FromFloat32
	i64 := ir.FromInt64
	consumed := []int64{0}
	cases := []oldCase{
		{"Relu-1", 1, "Relu", f32([]float32{-1, 2}, 2), nil, map[string]any{"consumed_inputs": consumed}, f32([]float32{0, 2}, 2)},
		{"LeakyRelu-1", 1, "LeakyRelu", f32([]float32{-2, 2}, 2), nil, map[string]any{"alpha": float32(0.5), "consumed_inputs": consumed}, f32([]float32{-1, 2}, 2)},
		{"Sigmoid-1", 1, "Sigmoid", f32([]float32{0}, 1), nil, map[string]any{"consumed_inputs": consumed}, f32([]float32{0.5}, 1)},
		{"Tanh-1", 1, "Tanh", f32([]float32{0}, 1), nil, map[string]any{"consumed_inputs": consumed}, f32([]float32{0}, 1)},
		// Defaults alpha 0.2, beta 0.5: 0.2*0+0.5 and min(1, 0.2*10+0.5).
		{"HardSigmoid-1", 1, "HardSigmoid", f32([]float32{0, 10}, 2), nil, map[string]any{"consumed_inputs": consumed}, f32([]float32{0.5, 1}, 2)},
		{"Reshape-1", 1, "Reshape", f32([]float32{1, 2}, 1, 2), nil, map[string]any{"shape": []int64{2, -1}, "consumed_inputs": consumed}, f32([]float32{1, 2}, 2, 1)},
		// Softmax-1 normalises everything from axis 1 on: exp 1,1,1,3 / 6.
		{"Softmax-1", 1, "Softmax", f32([]float32{0, 0, 0, float32(math.Log(3))}, 1, 2, 2), nil, nil, f32([]float32{1.0 / 6, 1.0 / 6, 1.0 / 6, 0.5}, 1, 2, 2)},
		{"Flatten-1", 1, "Flatten", onnxbuild.Seq(0, 1, 1, 2, 2), nil, nil, f32([]float32{0, 1, 2, 3}, 1, 4)},
		{"Transpose-1", 1, "Transpose", onnxbuild.Seq(0, 1, 2, 3), nil, nil, f32([]float32{0, 3, 1, 4, 2, 5}, 3, 2)},
		{"Squeeze-1", 1, "Squeeze", f32([]float32{1, 2}, 1, 2), nil, map[string]any{"axes": []int64{0}}, f32([]float32{1, 2}, 2)},
		{"Unsqueeze-1", 1, "Unsqueeze", f32([]float32{1, 2}, 2), nil, map[string]any{"axes": []int64{0}}, f32([]float32{1, 2}, 1, 2)},
		{"Slice-1", 1, "Slice", onnxbuild.Seq(0, 1, 2, 3), nil, map[string]any{"starts": []int64{1}, "ends": []int64{2}, "axes": []int64{1}}, f32([]float32{1, 4}, 2, 1)},
		{"ReduceMean-1", 1, "ReduceMean", f32([]float32{1, 2, 3, 4}, 2, 2), nil, map[string]any{"axes": []int64{1}}, f32([]float32{1.5, 3.5}, 2, 1)},
		{"ReduceSum-1", 1, "ReduceSum", f32([]float32{1, 2, 3, 4}, 2, 2), nil, map[string]any{"axes": []int64{0}, "keepdims": int64(0)}, f32([]float32{4, 6}, 2)},
		{"ReduceMax-1", 1, "ReduceMax", f32([]float32{1, 5, 3, 4}, 2, 2), nil, map[string]any{"axes": []int64{1}}, f32([]float32{5, 4}, 2, 1)},
		// Tile-1: input 1 repeats axis 0 (tiles 2, axis 0).
		{"Tile-1", 1, "Tile", f32([]float32{1, 2}, 1, 2), []*ir.Tensor{i64([]int64{2}), i64([]int64{0})}, nil, f32([]float32{1, 2, 1, 2}, 2, 2)},
		// Pow-1 with legacy broadcast of a 1-D exponent at axis 0.
		{"Pow-1", 1, "Pow", f32([]float32{2, 3, 2, 3}, 2, 2), []*ir.Tensor{f32([]float32{2, 3}, 2)}, map[string]any{"broadcast": int64(1), "axis": int64(0)}, f32([]float32{4, 9, 8, 27}, 2, 2)},
		{"Gather-1", 1, "Gather", f32([]float32{1, 2, 3, 4}, 2, 2), []*ir.Tensor{i64([]int64{1}, 1)}, nil, f32([]float32{3, 4}, 1, 2)},
		{"Shape-1", 1, "Shape", onnxbuild.Seq(0, 1, 2, 3), nil, nil, i64([]int64{2, 3}, 2)},
		{"Identity-1", 1, "Identity", f32([]float32{7}, 1), nil, nil, f32([]float32{7}, 1)},
		{"Concat-1 default axis", 1, "Concat", f32([]float32{1, 2}, 1, 2), []*ir.Tensor{f32([]float32{3}, 1, 1)}, nil, f32([]float32{1, 2, 3}, 1, 3)},
		{"MaxPool-1", 1, "MaxPool", f32([]float32{1, 3, 2, 4}, 1, 1, 4), nil, map[string]any{"kernel_shape": []int64{2}, "strides": []int64{2}}, f32([]float32{3, 4}, 1, 1, 2)},
		// AveragePool-1 divides by the elements inside the input: the
		// window (pad, 2) averages to 2, (4, 6) to 5.
		{"AveragePool-1", 1, "AveragePool", f32([]float32{2, 4, 6}, 1, 1, 3), nil, map[string]any{"kernel_shape": []int64{2}, "strides": []int64{2}, "pads": []int64{1, 1}}, f32([]float32{2, 5}, 1, 1, 2)},
		{"GlobalAveragePool-1", 1, "GlobalAveragePool", f32([]float32{1, 3}, 1, 1, 2), nil, nil, f32([]float32{2}, 1, 1, 1)},
		{"GlobalMaxPool-1", 1, "GlobalMaxPool", f32([]float32{1, 3}, 1, 1, 2), nil, nil, f32([]float32{3}, 1, 1, 1)},
		{"Conv-1", 1, "Conv", f32([]float32{1, 2, 3}, 1, 1, 3), []*ir.Tensor{f32([]float32{1, 1}, 1, 1, 2)}, map[string]any{"kernel_shape": []int64{2}}, f32([]float32{3, 5}, 1, 1, 2)},
		{"ConvTranspose-1", 1, "ConvTranspose", f32([]float32{1, 2}, 1, 1, 2), []*ir.Tensor{f32([]float32{1, 1}, 1, 1, 2)}, nil, f32([]float32{1, 3, 2}, 1, 1, 3)},
		// [1 2]·[3 4]ᵀ + C, C of one element shared with broadcast=1.
		{"Gemm-1 broadcast", 1, "Gemm", f32([]float32{1, 2}, 1, 2), []*ir.Tensor{f32([]float32{3, 4}, 2, 1), f32([]float32{1}, 1)}, map[string]any{"broadcast": 1}, f32([]float32{12}, 1, 1)},
		{"Gemm-6 no broadcast", 6, "Gemm", f32([]float32{1, 2}, 1, 2), []*ir.Tensor{f32([]float32{3, 4}, 1, 2), f32([]float32{-1}, 1, 1)}, map[string]any{"transB": 1, "alpha": float32(2)}, f32([]float32{21}, 1, 1)},
		{"MatMul-1", 1, "MatMul", f32([]float32{1, 2}, 1, 2), []*ir.Tensor{f32([]float32{3, 4}, 2, 1)}, nil, f32([]float32{11}, 1, 1)},
		{"Dropout-1 is_test", 1, "Dropout", f32([]float32{1, -2}, 2), nil, map[string]any{"is_test": 1, "consumed_inputs": consumed}, f32([]float32{1, -2}, 2)},
		// Training mode with ratio 0 drops nothing and scales by 1.
		{"Dropout-6 ratio 0", 6, "Dropout", f32([]float32{1, -2}, 2), nil, map[string]any{"ratio": float32(0)}, f32([]float32{1, -2}, 2)},
		{"Pad-1 paddings", 1, "Pad", f32([]float32{1, 2}, 1, 2), nil, map[string]any{"paddings": []int64{0, 1, 0, 2}, "value": float32(9)}, f32([]float32{9, 1, 2, 9, 9}, 1, 5)},
		{"Pad-2 edge", 2, "Pad", f32([]float32{1, 2}, 1, 2), nil, map[string]any{"pads": []int64{0, 2, 0, 1}, "mode": "edge"}, f32([]float32{1, 1, 1, 2, 2}, 1, 5)},
		{"Cast-1 string", 1, "Cast", f32([]float32{1.7, -2.2}, 2), nil, map[string]any{"to": "INT64"}, i64([]int64{1, -2}, 2)},
		{"Cast-1 lower case", 5, "Cast", f32([]float32{1.5, 0}, 2), nil, map[string]any{"to": "bool"}, &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Data: []bool{true, false}}},
		{"Cast-6", 6, "Cast", f32([]float32{1.7}, 1), nil, map[string]any{"to": 6}, &ir.Tensor{DType: ir.Int32, Shape: []int{1}, Data: []int32{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := mustLower(t, buildOld(c))
			for _, n := range g.Nodes {
				if n.Attrs.Has("consumed_inputs") || n.Attrs.Has("is_test") || n.Attrs.Has("broadcast") {
					t.Errorf("node %s %s kept a legacy attribute: %v", n.Name, n.Op, n.Attrs)
				}
			}
			got := run(t, g, c.x)[0]
			if !reflect.DeepEqual(got.Shape, c.want.Shape) || got.DType != c.want.DType {
				t.Fatalf("got %v %v, want %v %v", got.DType, got.Shape, c.want.DType, c.want.Shape)
			}
			if c.want.DType == ir.Float32 {
				if !floatsNear(got.Float32s(), c.want.Float32s(), 1e-6) {
					t.Errorf("got %v, want %v", got.Data, c.want.Data)
				}
			} else if !reflect.DeepEqual(got.Data, c.want.Data) {
				t.Errorf("got %v, want %v", got.Data, c.want.Data)
			}
		})
	}
}

// TestOldFormErrors covers old forms that have no inference meaning, or
// that are malformed for their opset: each error names the node and says
// what was expected.
func TestOldFormErrors(t *testing.T) {
	f32 := ir.FromFloat32
	x := f32([]float32{1, 2}, 1, 2)
	cases := []struct {
		c    oldCase
		want string
	}{
		{oldCase{opset: 6, op: "Dropout", x: x}, "Dropout at opset 6: is_test is absent, and before opset 7 that means training mode (inputs dropped at random); want is_test=1"},
		{oldCase{opset: 1, op: "Dropout", x: x, attrs: map[string]any{"is_test": 0, "ratio": float32(0.2)}}, "Dropout at opset 1: is_test=0 selects training mode"},
		{oldCase{opset: 6, op: "Cast", x: x, attrs: map[string]any{"to": "FLOAT"}}, `Cast at opset 6: attribute "to" is the string "FLOAT", the form of Cast-1; from opset 6 on want an INT`},
		{oldCase{opset: 1, op: "Cast", x: x, attrs: map[string]any{"to": "REAL"}}, `Cast at opset 1: to="REAL" is not an ONNX element type`},
		{oldCase{opset: 1, op: "Cast", x: x, attrs: map[string]any{"to": "STRING"}}, "cast to unsupported dtype STRING"},
		{oldCase{opset: 1, op: "Pad", x: x, attrs: map[string]any{"paddings": []int64{0, 0, 0, 0}, "pads": []int64{0, 0, 0, 0}}}, "Pad at opset 1: both the paddings attribute (Pad-1) and pads (Pad-2) are given"},
		{oldCase{opset: 4, op: "Concat", x: x, extra: []*ir.Tensor{x}}, "attribute axis is missing"},
		{oldCase{opset: 13, op: "HardSwish", x: x}, "op HardSwish does not exist in opset 13: ONNX introduced it in opset 14"},
		{oldCase{opset: 9, op: "QuantizeLinear", x: x, extra: []*ir.Tensor{f32([]float32{1})}}, "op QuantizeLinear does not exist in opset 9: ONNX introduced it in opset 10"},
		{oldCase{opset: 1, op: "Split", x: x, extra: []*ir.Tensor{f32([]float32{0.5, 1.5}, 2)}, attrs: map[string]any{"axis": 1}}, `Split at opset 1: split input "const0" holds 0.5, want whole numbers`},
	}
	for _, c := range cases {
		_, err := lowerBuilt(t, buildOld(c.c))
		wantErr(t, err, `node "n": `, c.want)
	}
}

func TestPRelu6PerChannel(t *testing.T) {
	// X is [1,2,2]: channel 0 holds -1 -2, channel 1 holds -3 4.
	x := ir.FromFloat32([]float32{-1, -2, -3, 4}, 1, 2, 2)
	slope := ir.FromFloat32([]float32{0.5, 0.25}, 2)
	build := func(opset int64, constSlope bool) *onnxbuild.Builder {
		b := onnxbuild.New("g", opset)
		xin := b.Input("x", ir.Float32, 1, 2, 2)
		if constSlope {
			b.Initializer("s", slope)
		} else {
			b.Input("s", ir.Float32, 2)
		}
		b.Add(onnxbuild.NodeSpec{Name: "p", Op: "PRelu", Inputs: []string{xin, "s"}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 1, 2, 2)
		return b
	}
	perChannel := []float32{-0.5, -1, -0.75, 4}
	for _, constSlope := range []bool{true, false} {
		g := mustLower(t, build(6, constSlope))
		p := nodeByName(t, g, "p")
		if got := p.Inputs[1].Type.Shape.String(); got != "[2,1]" {
			t.Errorf("PRelu-6 slope (const %v) reshaped to %s, want [2,1]", constSlope, got)
		}
		ins := []*ir.Tensor{x}
		if !constSlope {
			ins = append(ins, slope)
			if got := opList(g); got != "Unsqueeze PRelu" {
				t.Errorf("computed slope lowered to %q, want Unsqueeze PRelu", got)
			}
		}
		if got := run(t, g, ins...)[0].Float32s(); !reflect.DeepEqual(got, perChannel) {
			t.Errorf("PRelu-6 (const slope %v) got %v, want %v", constSlope, got, perChannel)
		}
	}
	// From opset 7 the slope broadcasts the numpy way: along the last axis.
	g := mustLower(t, build(7, true))
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{-0.5, -0.5, -1.5, 4}) {
		t.Errorf("PRelu-7 got %v, want [-0.5 -0.5 -1.5 4]", got)
	}
	// A shared slope of one element, with opset 1's consumed_inputs.
	b := onnxbuild.New("g", 1)
	xin := b.Input("x", ir.Float32, 1, 2, 2)
	b.Initializer("s", ir.FromFloat32([]float32{0.1}, 1))
	b.Add(onnxbuild.NodeSpec{Name: "p", Op: "PRelu", Inputs: []string{xin, "s"}, Outputs: []string{"y"}, Attrs: map[string]any{"consumed_inputs": []int64{0, 0}}})
	b.Output("y", ir.Float32, 1, 2, 2)
	if got := run(t, mustLower(t, b), x)[0].Float32s(); !floatsNear(got, []float32{-0.1, -0.2, -0.3, 4}, 1e-7) {
		t.Errorf("PRelu-1 shared slope got %v", got)
	}
	// A slope that is neither shared nor per channel.
	b = onnxbuild.New("g", 6)
	xin = b.Input("x", ir.Float32, 1, 2, 2)
	b.Initializer("s", ir.FromFloat32([]float32{1, 2, 3}, 3))
	b.Add(onnxbuild.NodeSpec{Name: "p", Op: "PRelu", Inputs: []string{xin, "s"}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 1, 2, 2)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "p": PRelu at opset 6: slope "s" has 3 elements, but input "x" has 2 channels (axis 1)`, "want 1 or 2 elements")
}

func TestLegacyBinaryForms(t *testing.T) {
	// Add-1: broadcast=1 without axis matches B's dims with A's last ones.
	b := onnxbuild.New("g", 1)
	x := b.Input("x", ir.Float32, 2, 3)
	b.Initializer("b", ir.FromFloat32([]float32{10, 20, 30}, 3))
	b.Add(onnxbuild.NodeSpec{Name: "add", Op: "Add", Inputs: []string{x, "b"}, Outputs: []string{"y"},
		Attrs: map[string]any{"broadcast": 1, "consumed_inputs": []int64{0, 0}}})
	b.Output("y", ir.Float32, 2, 3)
	g := mustLower(t, b)
	if n := nodeByName(t, g, "add"); len(n.Attrs) != 0 {
		t.Errorf("Add-1 kept attributes %v", n.Attrs)
	}
	if got := run(t, g, onnxbuild.Seq(0, 1, 2, 3))[0].Float32s(); !reflect.DeepEqual(got, []float32{10, 21, 32, 13, 24, 35}) {
		t.Errorf("Add-1 suffix broadcast got %v", got)
	}
	// Mul-6: a B of one element at axis 0 is shared, whatever the axis.
	b = onnxbuild.New("g", 6)
	x = b.Input("x", ir.Float32, 2, 3)
	b.Initializer("b", ir.FromFloat32([]float32{2}, 1))
	b.Add(onnxbuild.NodeSpec{Name: "mul", Op: "Mul", Inputs: []string{x, "b"}, Outputs: []string{"y"}, Attrs: map[string]any{"broadcast": 1, "axis": 0}})
	b.Output("y", ir.Float32, 2, 3)
	if got := run(t, mustLower(t, b), onnxbuild.Seq(0, 1, 2, 3))[0].Float32s(); !reflect.DeepEqual(got, []float32{0, 2, 4, 6, 8, 10}) {
		t.Errorf("Mul-6 shared B got %v", got)
	}
	// Sub-6 at axis 0 of [2,3]: B [2] lines up with dim 0.
	b = onnxbuild.New("g", 6)
	x = b.Input("x", ir.Float32, 2, 3)
	b.Initializer("b", ir.FromFloat32([]float32{1, 2}, 2))
	b.Add(onnxbuild.NodeSpec{Name: "sub", Op: "Sub", Inputs: []string{x, "b"}, Outputs: []string{"y"}, Attrs: map[string]any{"broadcast": 1, "axis": 0}})
	b.Output("y", ir.Float32, 2, 3)
	if got := run(t, mustLower(t, b), onnxbuild.Seq(0, 1, 2, 3))[0].Float32s(); !reflect.DeepEqual(got, []float32{-1, 0, 1, 1, 2, 3}) {
		t.Errorf("Sub-6 at axis 0 got %v", got)
	}
}

func TestSplit1Input(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 1, 6)
	for _, constSplit := range []bool{true, false} {
		b := onnxbuild.New("g", 1)
		xin := b.Input("x", ir.Float32, 1, 6)
		sizes := ir.FromFloat32([]float32{2, 4}, 2)
		if constSplit {
			b.Initializer("s", sizes)
		} else {
			b.Input("s", ir.Float32, 2)
		}
		b.Add(onnxbuild.NodeSpec{Name: "n", Op: "Split", Inputs: []string{xin, "s"}, Outputs: []string{"a", "b"}, Attrs: map[string]any{"axis": 1}})
		b.Output("a", ir.Float32, 1, 2)
		b.Output("b", ir.Float32, 1, 4)
		g := mustLower(t, b)
		n := nodeByName(t, g, "n")
		ins := []*ir.Tensor{x}
		if constSplit {
			if !sameInts(constInts(t, n.Inputs[1]), []int64{2, 4}) {
				t.Errorf("Split-1 sizes %v, want i64 [2 4]", n.Inputs[1])
			}
		} else {
			ins = append(ins, sizes)
			if got := opList(g); got != "Cast Split" || nodeByName(t, g, "n/split").Attrs.Int("to", 0) != 7 {
				t.Errorf("computed Split-1 sizes lowered to %q, want a Cast to INT64 then Split", got)
			}
		}
		out := run(t, g, ins...)
		if !reflect.DeepEqual(out[0].Float32s(), []float32{0, 1}) || !reflect.DeepEqual(out[1].Float32s(), []float32{2, 3, 4, 5}) {
			t.Errorf("Split-1 (const sizes %v) got %v %v", constSplit, out[0].Data, out[1].Data)
		}
	}
	// Split-2 with neither sizes nor attribute: equal parts, one per output.
	b := onnxbuild.New("g", 2)
	xin := b.Input("x", ir.Float32, 1, 6)
	b.Add(onnxbuild.NodeSpec{Name: "n", Op: "Split", Inputs: []string{xin}, Outputs: []string{"a", "b", "c"}, Attrs: map[string]any{"axis": -1}})
	for _, o := range []string{"a", "b", "c"} {
		b.Output(o, ir.Float32, 1, 2)
	}
	if out := run(t, mustLower(t, b), x); !reflect.DeepEqual(out[2].Float32s(), []float32{4, 5}) {
		t.Errorf("Split-2 third part %v, want [4 5]", out[2].Data)
	}
}

func TestDropoutMaskBeforeOpset10(t *testing.T) {
	build := func(opset int64, attrs map[string]any) *onnxbuild.Builder {
		b := onnxbuild.New("g", opset)
		x := b.Input("x", ir.Float32, 2)
		b.Add(onnxbuild.NodeSpec{Name: "d", Op: "Dropout", Inputs: []string{x}, Outputs: []string{"y", "mask"}, Attrs: attrs})
		b.Output("y", ir.Float32, 2)
		b.Output("mask", ir.Float32, 2)
		return b
	}
	// Opsets 7 to 9: the mask has the data's type, all ones in inference.
	g := mustLower(t, build(7, map[string]any{"ratio": float32(0.5)}))
	mask := g.Outputs[1]
	if !mask.IsConst() || mask.Const.DType != ir.Float32 || !reflect.DeepEqual(mask.Const.Float32s(), []float32{1, 1}) {
		t.Fatalf("Dropout-7 mask is %+v, want the constant f32 [1 1]", mask)
	}
	if got := run(t, g, ir.FromFloat32([]float32{3, -4}, 2))[0].Float32s(); !reflect.DeepEqual(got, []float32{3, -4}) {
		t.Errorf("Dropout-7 output %v", got)
	}
	// Before opset 7 inference does not fill it.
	_, err := lowerBuilt(t, build(6, map[string]any{"is_test": 1}))
	wantErr(t, err, `node "d": Dropout at opset 6: output 1 "mask" (the mask) is used, but before opset 7 inference leaves it unfilled`)
}
