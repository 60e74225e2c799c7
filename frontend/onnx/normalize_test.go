package onnx

import (
	"math"
	"reflect"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// Tests of old-opset forms: each is lowered to the newest form (checked on
// the IR) and, where the reference executor has the kernels, run and
// compared with values worked out by hand.

// one builds a model with a single node "n" of the given op.
func one(opset int64, op string, in *ir.Tensor, extra []string, nOut int, attrs map[string]any) *onnxbuild.Builder {
	b := onnxbuild.New("g", opset)
	x := b.Input("x", in.DType, in.Shape...)
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = "y" + string(rune('0'+i))
	}
	b.Add(onnxbuild.NodeSpec{Name: "n", Op: op, Inputs: append([]string{x}, extra...), Outputs: outs, Attrs: attrs})
	return b
}

func floatsNear(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

func TestReshape1(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 2, 3)
	b := one(7, "Reshape", x, nil, 1, map[string]any{"shape": []int64{3, -1}})
	b.Output("y0", ir.Float32, 3, 2)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if n.Op != "Reshape" || len(n.Inputs) != 2 || !sameInts(constInts(t, n.Inputs[1]), []int64{3, -1}) || len(n.Attrs) != 0 {
		t.Fatalf("got %s with inputs %v attrs %v, want Reshape(x, const [3,-1])", n.Op, n.Inputs, n.Attrs)
	}
	if n.Inputs[1].Name != "n/shape" {
		t.Errorf("shape constant named %q, want n/shape", n.Inputs[1].Name)
	}
	out := run(t, g, x)
	if !reflect.DeepEqual(out[0].Shape, []int{3, 2}) || !reflect.DeepEqual(out[0].Float32s(), x.Float32s()) {
		t.Errorf("got %v %v", out[0].Shape, out[0].Data)
	}
}

func TestSlice1(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 3, 4) // rows [0 1 2 3] [4 5 6 7] [8 9 10 11]
	b := one(9, "Slice", x, nil, 1, map[string]any{"starts": []int64{1, 0}, "ends": []int64{3, 2}, "axes": []int64{0, 1}})
	b.Output("y0", ir.Float32, 2, 2)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if len(n.Inputs) != 4 || len(n.Attrs) != 0 ||
		!sameInts(constInts(t, n.Inputs[1]), []int64{1, 0}) ||
		!sameInts(constInts(t, n.Inputs[2]), []int64{3, 2}) ||
		!sameInts(constInts(t, n.Inputs[3]), []int64{0, 1}) {
		t.Fatalf("got Slice inputs %v attrs %v", n.Inputs, n.Attrs)
	}
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{4, 5, 8, 9}) {
		t.Errorf("got %v, want [4 5 8 9]", got)
	}
	// Without axes the starts apply to the leading dims.
	b = one(9, "Slice", x, nil, 1, map[string]any{"starts": []int64{2}, "ends": []int64{100}})
	b.Output("y0", ir.Float32, 1, 4)
	g = mustLower(t, b)
	if n := nodeByName(t, g, "n"); len(n.Inputs) != 3 {
		t.Fatalf("Slice-1 without axes gave %d inputs, want 3", len(n.Inputs))
	}
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{8, 9, 10, 11}) {
		t.Errorf("got %v, want [8 9 10 11]", got)
	}
}

func TestClip6(t *testing.T) {
	x := ir.FromFloat32([]float32{-3, -0.5, 1, 5}, 4)
	b := one(10, "Clip", x, nil, 1, map[string]any{"min": float32(-1), "max": float32(2)})
	b.Output("y0", ir.Float32, 4)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if len(n.Inputs) != 3 || len(n.Attrs) != 0 || n.Inputs[1].Const.Float32s()[0] != -1 || n.Inputs[2].Const.Float32s()[0] != 2 ||
		len(n.Inputs[1].Const.Shape) != 0 {
		t.Fatalf("got Clip inputs %v attrs %v, want scalar constants -1 and 2", n.Inputs, n.Attrs)
	}
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{-1, -0.5, 1, 2}) {
		t.Errorf("got %v", got)
	}
	// Only max: Clip-6's min defaults to -FLT_MAX, which clamps -Inf.
	xinf := ir.FromFloat32([]float32{float32(math.Inf(-1)), -0.5, 1, 5}, 4)
	b = one(10, "Clip", xinf, nil, 1, map[string]any{"max": float32(0)})
	b.Output("y0", ir.Float32, 4)
	g = mustLower(t, b)
	n = nodeByName(t, g, "n")
	if len(n.Inputs) != 3 || n.Inputs[1] == nil || n.Inputs[1].Const.Float32s()[0] != -math.MaxFloat32 || n.Inputs[2].Const.Float32s()[0] != 0 {
		t.Fatalf("got Clip inputs %v, want (x, -FLT_MAX, 0)", n.Inputs)
	}
	if got := run(t, g, xinf)[0].Float32s(); !reflect.DeepEqual(got, []float32{-math.MaxFloat32, -0.5, 0, 0}) {
		t.Errorf("got %v", got)
	}
	// Clip-1 has no defaults: an absent min is no bound, an omitted input.
	b = one(1, "Clip", xinf, nil, 1, map[string]any{"max": float32(0), "consumed_inputs": []int64{0}})
	b.Output("y0", ir.Float32, 4)
	g = mustLower(t, b)
	n = nodeByName(t, g, "n")
	if len(n.Inputs) != 3 || n.Inputs[1] != nil || n.Inputs[2].Const.Float32s()[0] != 0 || len(n.Attrs) != 0 {
		t.Fatalf("got Clip-1 inputs %v attrs %v, want (x, nil, 0) and no attributes", n.Inputs, n.Attrs)
	}
	if got := run(t, g, xinf)[0].Float32s(); !reflect.DeepEqual(got, []float32{float32(math.Inf(-1)), -0.5, 0, 0}) {
		t.Errorf("Clip-1 got %v", got)
	}
	// Clip-6 without attributes still clamps infinities to the float range.
	b = one(6, "Clip", xinf, nil, 1, nil)
	b.Output("y0", ir.Float32, 4)
	if got := run(t, mustLower(t, b), xinf)[0].Float32s(); !reflect.DeepEqual(got, []float32{-math.MaxFloat32, -0.5, 1, 5}) {
		t.Errorf("Clip-6 without bounds got %v", got)
	}
	b = one(10, "Clip", ir.FromInt64([]int64{1}, 1), nil, 1, map[string]any{"max": float32(0)})
	b.Output("y0", ir.Int64, 1)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "n": Clip at opset 10: input "x" is i64; before opset 11 Clip takes float types only`)
}

// softmaxRows computes (log)softmax over consecutive groups of size n.
func softmaxRows(x []float32, n int, log bool) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += n {
		var sum float64
		for _, v := range x[r : r+n] {
			sum += math.Exp(float64(v))
		}
		for i, v := range x[r : r+n] {
			if log {
				out[r+i] = float32(float64(v) - math.Log(sum))
			} else {
				out[r+i] = float32(math.Exp(float64(v)) / sum)
			}
		}
	}
	return out
}

func TestSoftmax11(t *testing.T) {
	x := onnxbuild.Seq(-1, 0.25, 2, 2, 2, 2) // 16 elements
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		// axis=1 on 4-D: normalise over the 8 elements of each batch row.
		b := one(11, op, x, nil, 1, map[string]any{"axis": 1})
		b.Output("y0", ir.Float32, 2, 2, 2, 2)
		g := mustLower(t, b)
		if got := opList(g); got != "Flatten "+op+" Reshape" {
			t.Fatalf("%s-11 axis 1 on 4-D lowered to %q, want Flatten %s Reshape", op, got, op)
		}
		if n := nodeByName(t, g, "n"); n.Op != op || n.Attrs.Int("axis", -99) != 1 {
			t.Errorf("%s node %v", op, n.Attrs)
		}
		if f := nodeByName(t, g, "n/flatten"); f.Attrs.Int("axis", -99) != 1 {
			t.Errorf("Flatten axis %v", f.Attrs)
		}
		r := nodeByName(t, g, "n/reshape")
		if !sameInts(constInts(t, r.Inputs[1]), []int64{2, 2, 2, 2}) || r.Outputs[0].Name != "y0" {
			t.Errorf("Reshape back to %v named %q", r.Inputs[1], r.Outputs[0].Name)
		}
		want := softmaxRows(x.Float32s(), 8, op == "LogSoftmax")
		if got := run(t, g, x)[0].Float32s(); !floatsNear(got, want, 1e-6) {
			t.Errorf("%s: got %v, want %v", op, got, want)
		}
	}
	// The last axis needs no rewrite.
	b := one(11, "Softmax", x, nil, 1, map[string]any{"axis": 3})
	b.Output("y0", ir.Float32, 2, 2, 2, 2)
	g := mustLower(t, b)
	if got := opList(g); got != "Softmax" || nodeByName(t, g, "n").Attrs.Int("axis", -99) != 3 {
		t.Errorf("axis 3 lowered to %q", got)
	}
	if got := run(t, g, x)[0].Float32s(); !floatsNear(got, softmaxRows(x.Float32s(), 2, false), 1e-6) {
		t.Errorf("got %v", got)
	}
	// Default axis (1) on [2,8]: also the last axis.
	x2 := onnxbuild.Seq(-1, 0.25, 2, 8)
	b = one(9, "Softmax", x2, nil, 1, nil)
	b.Output("y0", ir.Float32, 2, 8)
	if g = mustLower(t, b); opList(g) != "Softmax" || nodeByName(t, g, "n").Attrs.Int("axis", -99) != 1 {
		t.Errorf("default axis on 2-D lowered to %q %v", opList(g), g.Nodes[0].Attrs)
	}
	// Dims after the axis that are all 1 need no rewrite either.
	x3 := onnxbuild.Seq(-1, 0.25, 2, 4, 1, 1)
	b = one(12, "Softmax", x3, nil, 1, nil)
	b.Output("y0", ir.Float32, 2, 4, 1, 1)
	if g = mustLower(t, b); opList(g) != "Softmax" {
		t.Errorf("[2,4,1,1] axis 1 lowered to %q", opList(g))
	}
	// Opset 13 semantics are the IR's: axis 1 stays axis 1.
	b = one(13, "Softmax", x, nil, 1, map[string]any{"axis": 1})
	b.Output("y0", ir.Float32, 2, 2, 2, 2)
	if g = mustLower(t, b); opList(g) != "Softmax" {
		t.Errorf("Softmax-13 lowered to %q", opList(g))
	}
}

func TestSoftmax11SymbolicBatch(t *testing.T) {
	b := onnxbuild.New("g", 11)
	x := b.InputSym("x", ir.Float32, []string{"N", "2", "3"})
	b.Add(onnxbuild.NodeSpec{Name: "sm", Op: "Softmax", Inputs: []string{x}, Outputs: []string{"y"}, Attrs: map[string]any{"axis": 1}})
	b.OutputSym("y", ir.Float32, []string{"N", "2", "3"})
	g := mustLower(t, b)
	if got := opList(g); got != "Flatten Softmax Shape Reshape" {
		t.Fatalf("lowered to %q, want Flatten Softmax Shape Reshape", got)
	}
	if got := g.Outputs[0].Type.String(); got != "f32[N,2,3]" {
		t.Errorf("output %s, want f32[N,2,3]", got)
	}
	in := onnxbuild.Seq(0, 0.5, 3, 2, 3)
	if got := run(t, g, in)[0].Float32s(); !floatsNear(got, softmaxRows(in.Float32s(), 6, false), 1e-6) {
		t.Errorf("got %v", got)
	}
}

func TestAxesAttributes(t *testing.T) {
	x := onnxbuild.Seq(1, 1, 1, 3, 1, 2) // [1,3,1,2]
	b := one(11, "Squeeze", x, nil, 1, map[string]any{"axes": []int64{0, 2}})
	b.Output("y0", ir.Float32, 3, 2)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if len(n.Inputs) != 2 || !sameInts(constInts(t, n.Inputs[1]), []int64{0, 2}) || len(n.Attrs) != 0 {
		t.Fatalf("Squeeze-11 inputs %v attrs %v", n.Inputs, n.Attrs)
	}
	if got := g.Outputs[0].Type.String(); got != "f32[3,2]" {
		t.Errorf("Squeeze output %s", got)
	}

	b = one(11, "Unsqueeze", onnxbuild.Seq(1, 1, 3), nil, 1, map[string]any{"axes": []int64{0, -1}})
	b.Output("y0", ir.Float32, 1, 3, 1)
	g = mustLower(t, b)
	if n := nodeByName(t, g, "n"); !sameInts(constInts(t, n.Inputs[1]), []int64{0, -1}) {
		t.Errorf("Unsqueeze-11 axes %v", n.Inputs)
	}

	// ReduceMean before opset 18 takes axes as an attribute.
	x4 := onnxbuild.Seq(0, 1, 2, 3) // [[0 1 2] [3 4 5]]
	b = one(13, "ReduceMean", x4, nil, 1, map[string]any{"axes": []int64{1}, "keepdims": 0})
	b.Output("y0", ir.Float32, 2)
	g = mustLower(t, b)
	n = nodeByName(t, g, "n")
	if len(n.Inputs) != 2 || !sameInts(constInts(t, n.Inputs[1]), []int64{1}) || n.Attrs.Int("keepdims", 1) != 0 || n.Attrs.Has("axes") {
		t.Fatalf("ReduceMean-13 inputs %v attrs %v", n.Inputs, n.Attrs)
	}
	if got := run(t, g, x4)[0].Float32s(); !reflect.DeepEqual(got, []float32{1, 4}) {
		t.Errorf("ReduceMean got %v, want [1 4]", got)
	}
	// Without axes it reduces everything, in both forms.
	b = one(13, "ReduceMean", x4, nil, 1, nil)
	b.Output("y0", ir.Float32, 1, 1)
	if got := run(t, mustLower(t, b), x4)[0].Float32s(); !reflect.DeepEqual(got, []float32{2.5}) {
		t.Errorf("ReduceMean over all got %v", got)
	}
}

func TestSplitForms(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 1, 6)
	b := one(11, "Split", x, nil, 2, map[string]any{"axis": 1, "split": []int64{2, 4}})
	b.Output("y0", ir.Float32, 1, 2)
	b.Output("y1", ir.Float32, 1, 4)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if len(n.Inputs) != 2 || !sameInts(constInts(t, n.Inputs[1]), []int64{2, 4}) || n.Attrs.Has("split") || n.Attrs.Has("num_outputs") {
		t.Fatalf("Split-11 inputs %v attrs %v", n.Inputs, n.Attrs)
	}
	out := run(t, g, x)
	if !reflect.DeepEqual(out[0].Float32s(), []float32{0, 1}) || !reflect.DeepEqual(out[1].Float32s(), []float32{2, 3, 4, 5}) {
		t.Errorf("got %v %v", out[0].Data, out[1].Data)
	}
	// Without sizes: an even split into as many parts as outputs.
	b = one(13, "Split", x, nil, 3, map[string]any{"axis": 1})
	for i := 0; i < 3; i++ {
		b.Output("y"+string(rune('0'+i)), ir.Float32, 1, 2)
	}
	g = mustLower(t, b)
	if n := nodeByName(t, g, "n"); n.Attrs.Int("num_outputs", 0) != 3 || len(n.Inputs) != 1 {
		t.Fatalf("Split-13 without split: inputs %v attrs %v, want num_outputs=3", n.Inputs, n.Attrs)
	}
	if out := run(t, g, x); !reflect.DeepEqual(out[2].Float32s(), []float32{4, 5}) {
		t.Errorf("third part %v", out[2].Data)
	}
}

func TestPad2(t *testing.T) {
	x := ir.FromFloat32([]float32{1, 2}, 1, 2)
	b := one(10, "Pad", x, nil, 1, map[string]any{"pads": []int64{0, 1, 0, 2}, "value": float32(9), "mode": "constant"})
	b.Output("y0", ir.Float32, 1, 5)
	g := mustLower(t, b)
	n := nodeByName(t, g, "n")
	if len(n.Inputs) != 3 || !sameInts(constInts(t, n.Inputs[1]), []int64{0, 1, 0, 2}) ||
		n.Inputs[2].Const.Float32s()[0] != 9 || n.Attrs.String("mode", "") != "constant" || n.Attrs.Has("pads") {
		t.Fatalf("Pad-2 inputs %v attrs %v", n.Inputs, n.Attrs)
	}
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{9, 1, 2, 9, 9}) {
		t.Errorf("got %v", got)
	}
}

func TestDropoutForms(t *testing.T) {
	x := ir.FromFloat32([]float32{1, -2, 3}, 3)
	b := one(10, "Dropout", x, nil, 1, map[string]any{"ratio": float32(0.3)})
	b.Output("y0", ir.Float32, 3)
	g := mustLower(t, b)
	if n := nodeByName(t, g, "n"); n.Op != "Dropout" || n.Attrs.Has("ratio") {
		t.Fatalf("Dropout-10 gave %s %v", n.Op, n.Attrs)
	}
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{1, -2, 3}) {
		t.Errorf("got %v", got)
	}
	// Opset 12: training_mode is an input.
	for _, c := range []struct {
		mode  *ir.Tensor
		input bool
		want  string
	}{
		{&ir.Tensor{DType: ir.Bool, Data: []bool{true}}, false, `training_mode input "mode" is true`},
		{nil, true, `training_mode input "mode" is computed at run time`},
	} {
		b := onnxbuild.New("g", 12)
		xin := b.Input("x", ir.Float32, 3)
		if c.input {
			b.Input("mode", ir.Bool)
		} else {
			b.Initializer("mode", c.mode)
		}
		b.Add(onnxbuild.NodeSpec{Name: "drop", Op: "Dropout", Inputs: []string{xin, "", "mode"}, Outputs: []string{"y"}})
		b.Output("y", ir.Float32, 3)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "drop"`, c.want)
	}
	b = onnxbuild.New("g", 12)
	xin := b.Input("x", ir.Float32, 3)
	b.Initializer("mode", &ir.Tensor{DType: ir.Bool, Data: []bool{false}})
	b.Add(onnxbuild.NodeSpec{Name: "drop", Op: "Dropout", Inputs: []string{xin, "", "mode"}, Outputs: []string{"y"}})
	b.Output("y", ir.Float32, 3)
	mustLower(t, b)
}

func TestGemmAndLegacyBroadcast(t *testing.T) {
	b := onnxbuild.New("g", 7)
	a := b.Input("a", ir.Float32, 2, 3)
	w := b.Initializer("w", onnxbuild.Seq(0, 1, 3, 2))
	c := b.Initializer("c", ir.FromFloat32([]float32{10, 20}, 2))
	b.Add(onnxbuild.NodeSpec{Name: "gemm", Op: "Gemm", Inputs: []string{a, w, c}, Outputs: []string{"y"}, Attrs: map[string]any{"broadcast": 1}})
	b.Output("y", ir.Float32, 2, 2)
	g := mustLower(t, b)
	if n := nodeByName(t, g, "gemm"); n.Attrs.Has("broadcast") {
		t.Errorf("Gemm kept broadcast: %v", n.Attrs)
	}
	// [[1 0 0] [0 1 1]] x [[0 1] [2 3] [4 5]] + [10 20] = [[10 21] [16 28]]
	got := run(t, g, ir.FromFloat32([]float32{1, 0, 0, 0, 1, 1}, 2, 3))[0].Float32s()
	if !reflect.DeepEqual(got, []float32{10, 21, 16, 28}) {
		t.Errorf("Gemm got %v", got)
	}

	// Add-6 style: B of shape [3] broadcast at axis 1 of [2,3,2].
	for _, constB := range []bool{true, false} {
		b := onnxbuild.New("g", 7)
		x := b.Input("x", ir.Float32, 2, 3, 2)
		bias := ir.FromFloat32([]float32{100, 200, 300}, 3)
		if constB {
			b.Initializer("b", bias)
		} else {
			b.Input("b", ir.Float32, 3)
		}
		b.Add(onnxbuild.NodeSpec{Name: "add", Op: "Add", Inputs: []string{x, "b"}, Outputs: []string{"y"}, Attrs: map[string]any{"broadcast": 1, "axis": 1}})
		b.Output("y", ir.Float32, 2, 3, 2)
		g := mustLower(t, b)
		n := nodeByName(t, g, "add")
		if n.Attrs.Has("broadcast") || n.Attrs.Has("axis") {
			t.Errorf("Add kept legacy attributes %v", n.Attrs)
		}
		if got := n.Inputs[1].Type.Shape.String(); got != "[3,1]" {
			t.Errorf("B reshaped to %s, want [3,1]", got)
		}
		ins := []*ir.Tensor{onnxbuild.Seq(0, 1, 2, 3, 2)}
		if !constB {
			ins = append(ins, bias)
		}
		want := make([]float32, 12)
		for i := range want {
			want[i] = float32(i) + 100*float32(1+(i/2)%3)
		}
		if got := run(t, g, ins...)[0].Float32s(); !reflect.DeepEqual(got, want) {
			t.Errorf("legacy broadcast (const %v): got %v, want %v", constB, got, want)
		}
	}
	for _, axis := range []int{0, 2, -3} {
		b = onnxbuild.New("g", 7)
		x := b.Input("x", ir.Float32, 2, 3)
		b.Initializer("b", ir.FromFloat32([]float32{1, 2, 3}, 3))
		b.Add(onnxbuild.NodeSpec{Name: "add", Op: "Add", Inputs: []string{x, "b"}, Outputs: []string{"y"}, Attrs: map[string]any{"broadcast": 1, "axis": axis}})
		b.Output("y", ir.Float32, 2, 3)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "add": Add at opset 7: legacy broadcast of [3] at axis`, "does not fit [2,3]")
	}
}

func TestBatchNormalizationForms(t *testing.T) {
	build := func(opset int64, attrs map[string]any, outs []string) *onnxbuild.Builder {
		b := onnxbuild.New("g", opset)
		x := b.Input("x", ir.Float32, 1, 2, 1, 1)
		p := []string{
			b.Initializer("scale", ir.FromFloat32([]float32{2, 3}, 2)),
			b.Initializer("bias", ir.FromFloat32([]float32{1, -1}, 2)),
			b.Initializer("mean", ir.FromFloat32([]float32{0.5, 1}, 2)),
			b.Initializer("var", ir.FromFloat32([]float32{4, 1}, 2)),
		}
		b.Add(onnxbuild.NodeSpec{Name: "bn", Op: "BatchNormalization", Inputs: append([]string{x}, p...), Outputs: outs, Attrs: attrs})
		b.Output("y", ir.Float32, 1, 2, 1, 1)
		return b
	}
	g := mustLower(t, build(7, map[string]any{"spatial": 1, "epsilon": float32(0), "momentum": float32(0.9)}, []string{"y"}))
	n := nodeByName(t, g, "bn")
	if len(n.Attrs) != 1 || n.Attrs.Float("epsilon", -1) != 0 {
		t.Errorf("BatchNormalization-7 attrs %v, want only epsilon", n.Attrs)
	}
	// (x-mean)/sqrt(var)*scale+bias: (2.5-0.5)/2*2+1 = 3, (3-1)/1*3-1 = 5.
	if got := run(t, g, ir.FromFloat32([]float32{2.5, 3}, 1, 2, 1, 1))[0].Float32s(); !reflect.DeepEqual(got, []float32{3, 5}) {
		t.Errorf("got %v, want [3 5]", got)
	}
	g = mustLower(t, build(15, map[string]any{"training_mode": 0, "epsilon": float32(1e-5)}, []string{"y"}))
	if n := nodeByName(t, g, "bn"); n.Attrs.Has("training_mode") {
		t.Errorf("training_mode=0 kept: %v", n.Attrs)
	}
	_, err := lowerBuilt(t, build(15, map[string]any{"training_mode": 1}, []string{"y"}))
	wantErr(t, err, `node "bn": training_mode=1`, "want an inference model")
	_, err = lowerBuilt(t, build(9, nil, []string{"y", "rm", "rv", "sm", "sv"}))
	wantErr(t, err, `node "bn": output 1 "rm" is a training-mode output`)
	// Before opset 7 is_test chooses the mode, and its default is training.
	_, err = lowerBuilt(t, build(6, nil, []string{"y"}))
	wantErr(t, err, `node "bn": BatchNormalization at opset 6: is_test is absent, and before opset 7 that means training mode`, "want is_test=1")
	_, err = lowerBuilt(t, build(6, map[string]any{"is_test": 0}, []string{"y"}))
	wantErr(t, err, `node "bn": BatchNormalization at opset 6: is_test=0 selects training mode`)
	// BatchNormalization-1 with its required consumed_inputs.
	g = mustLower(t, build(1, map[string]any{"is_test": 1, "consumed_inputs": []int64{0, 0, 0, 1, 1}, "epsilon": float32(0), "spatial": 1}, []string{"y"}))
	if n := nodeByName(t, g, "bn"); len(n.Attrs) != 1 || n.Attrs.Float("epsilon", -1) != 0 {
		t.Errorf("BatchNormalization-1 attrs %v, want only epsilon", n.Attrs)
	}
	if got := run(t, g, ir.FromFloat32([]float32{2.5, 3}, 1, 2, 1, 1))[0].Float32s(); !reflect.DeepEqual(got, []float32{3, 5}) {
		t.Errorf("BatchNormalization-1 got %v, want [3 5]", got)
	}
	// spatial=0 with parameters of X's shape without the batch dim ([2,1,1]
	// here) folds to x*a + b.
	_, err = lowerBuilt(t, build(7, map[string]any{"spatial": 0}, []string{"y"}))
	wantErr(t, err, `node "bn": BatchNormalization at opset 7: spatial=0: scale "scale" has shape [2], want [2 1 1]`)
}

func TestBatchNormalizationPerActivation(t *testing.T) {
	// X is [2,1,3]: C=1, D1=3, so the statistics are per position in D1.
	b := onnxbuild.New("g", 6)
	x := b.Input("x", ir.Float32, 2, 1, 3)
	p := []string{
		b.Initializer("scale", ir.FromFloat32([]float32{1, 2, 3}, 1, 3)),
		b.Initializer("bias", ir.FromFloat32([]float32{0, 1, -1}, 1, 3)),
		b.Initializer("mean", ir.FromFloat32([]float32{1, 0, 2}, 1, 3)),
		b.Initializer("var", ir.FromFloat32([]float32{4, 1, 0.25}, 1, 3)),
	}
	b.Add(onnxbuild.NodeSpec{Name: "bn", Op: "BatchNormalization", Inputs: append([]string{x}, p...), Outputs: []string{"y"},
		Attrs: map[string]any{"spatial": 0, "is_test": 1, "epsilon": float32(0)}})
	b.Output("y", ir.Float32, 2, 1, 3)
	g := mustLower(t, b)
	if got := opList(g); got != "Mul Add" {
		t.Fatalf("spatial=0 lowered to %q, want Mul Add", got)
	}
	if add := nodeByName(t, g, "bn"); add.Op != "Add" || add.Outputs[0].Name != "y" {
		t.Errorf("node bn is %s writing %s, want the Add writing y", add.Op, add.Outputs[0].Name)
	}
	in := ir.FromFloat32([]float32{3, 2, 2.5, -1, 0, 1}, 2, 1, 3)
	// (x-mean)/sqrt(var)*scale+bias per position: (3-1)/2*1+0 = 1,
	// (2-0)/1*2+1 = 5, (2.5-2)/0.5*3-1 = 2; (-1-1)/2 = -1, 0*2+1 = 1,
	// (1-2)/0.5*3-1 = -7.
	want := []float32{1, 5, 2, -1, 1, -7}
	if got := run(t, g, in)[0].Float32s(); !floatsNear(got, want, 1e-6) {
		t.Errorf("got %v, want %v", got, want)
	}

	// A computed parameter cannot be folded.
	b = onnxbuild.New("g", 6)
	x = b.Input("x", ir.Float32, 2, 1, 3)
	s := b.Input("s", ir.Float32, 1, 3)
	c := b.Const(ir.FromFloat32([]float32{1, 1, 1}, 1, 3))
	b.Add(onnxbuild.NodeSpec{Name: "bn", Op: "BatchNormalization", Inputs: []string{x, s, c, c, c}, Outputs: []string{"y"},
		Attrs: map[string]any{"spatial": 0, "is_test": 1}})
	b.Output("y", ir.Float32, 2, 1, 3)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "bn": BatchNormalization at opset 6: spatial=0 (statistics per activation) with a computed scale`)
}

func TestConstantForms(t *testing.T) {
	cases := []struct {
		attrs map[string]any
		want  *ir.Tensor
	}{
		{map[string]any{"value": ir.FromInt64([]int64{3, -1}, 2)}, ir.FromInt64([]int64{3, -1}, 2)},
		{map[string]any{"value_float": float32(2.5)}, ir.FromFloat32([]float32{2.5})},
		{map[string]any{"value_floats": []float32{1, 2}}, ir.FromFloat32([]float32{1, 2}, 2)},
		{map[string]any{"value_int": 7}, ir.FromInt64([]int64{7})},
		{map[string]any{"value_ints": []int64{4, 5, 6}}, ir.FromInt64([]int64{4, 5, 6}, 3)},
	}
	for _, c := range cases {
		b := onnxbuild.New("g", 13)
		b.Add(onnxbuild.NodeSpec{Name: "k", Op: "Constant", Outputs: []string{"c"}, Attrs: c.attrs})
		b.Output("c", c.want.DType, c.want.Shape...)
		g := mustLower(t, b)
		if len(g.Nodes) != 0 || !g.Outputs[0].IsConst() || g.Outputs[0].Name != "c" || !reflect.DeepEqual(g.Outputs[0].Const, c.want) {
			t.Errorf("Constant %v lowered to nodes %v, output %+v", c.attrs, g.Nodes, g.Outputs[0].Const)
		}
	}
	for _, c := range []struct {
		attrs map[string]any
		want  string
	}{
		{map[string]any{"value_string": "hi"}, "value_string: string tensors are not supported"},
		{map[string]any{"value": ir.FromInt64([]int64{1}, 1), "value_int": 1}, "2 attributes, want exactly one value attribute"},
		{map[string]any{"value": float32(1)}, `attribute "value" is FLOAT, want TENSOR`},
		{map[string]any{"bogus": 1}, `unknown attribute "bogus"`},
	} {
		b := onnxbuild.New("g", 13)
		b.Add(onnxbuild.NodeSpec{Name: "k", Op: "Constant", Outputs: []string{"c"}, Attrs: c.attrs})
		b.Output("c", ir.Float32)
		_, err := lowerBuilt(t, b)
		wantErr(t, err, `node "k": `, c.want)
	}
}

func TestCastTargets(t *testing.T) {
	x := ir.FromFloat32([]float32{1.7, -2.2}, 2)
	b := one(13, "Cast", x, nil, 1, map[string]any{"to": 7})
	b.Output("y0", ir.Int64, 2)
	g := mustLower(t, b)
	if n := nodeByName(t, g, "n"); n.Attrs.Int("to", 0) != 7 || g.Outputs[0].Type.DType != ir.Int64 {
		t.Errorf("Cast to INT64: %v %v", n.Attrs, g.Outputs[0].Type)
	}
	if got := run(t, g, x)[0].Int64s(); !reflect.DeepEqual(got, []int64{1, -2}) {
		t.Errorf("got %v", got)
	}
	b = one(13, "Cast", x, nil, 1, map[string]any{"to": 8})
	b.Output("y0", ir.Int64, 2)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "n": cast to unsupported dtype STRING`)
}

// TestOptionalOutputs checks that an unused optional output the IR op does
// not have is dropped, and a used one is an error.
func TestOptionalOutputs(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 1, 1, 4, 4)
	b := one(12, "MaxPool", x, nil, 2, map[string]any{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}})
	b.Output("y0", ir.Float32, 1, 1, 2, 2)
	g := mustLower(t, b)
	if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, []float32{5, 7, 13, 15}) {
		t.Errorf("MaxPool got %v", got)
	}
	b = one(12, "Gemm", onnxbuild.Seq(0, 1, 2, 2), []string{"x"}, 2, nil)
	b.Output("y0", ir.Float32, 2, 2)
	b.Output("y1", ir.Float32, 2, 2)
	_, err := lowerBuilt(t, b)
	wantErr(t, err, `node "n": output 1 "y1" is used, but the IR's Gemm has 1 output(s)`)
}

func TestGlobalPools(t *testing.T) {
	x := onnxbuild.Seq(0, 1, 1, 2, 2, 2) // channel 0: 0..3, channel 1: 4..7
	for op, want := range map[string][]float32{"GlobalAveragePool": {1.5, 5.5}, "GlobalMaxPool": {3, 7}} {
		b := one(13, op, x, nil, 1, nil)
		b.Output("y0", ir.Float32, 1, 2, 1, 1)
		g := mustLower(t, b)
		if got := run(t, g, x)[0].Float32s(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", op, got, want)
		}
	}
}
