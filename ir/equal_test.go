package ir

import (
	"math"
	"strings"
	"testing"
)

// equalTestGraph builds the same small graph afresh on every call.
func equalTestGraph() *Graph {
	x := &Value{Name: "x", Type: Type{DType: Float32, Shape: Shape{SymDim("N"), D(4)}}}
	w := NewConst("w", FromFloat32([]float32{1, 0, 0, float32(math.Copysign(0, -1))}, 4))
	w.Sparsity = &Sparsity{N: 2, M: 4, Axis: 0}
	y := &Value{Name: "y", Type: Type{DType: Float32, Shape: Shape{SymDim("N"), D(4)}, Layout: "NC"}}
	q := &Value{Name: "q", Type: Type{DType: Int8, Shape: Shape{SymDim("N"), D(4)}},
		Quant: &QuantParams{Scale: []float32{0.5}, ZeroPoint: []int32{0}, Axis: -1}}
	return &Graph{
		Name:   "g",
		Inputs: []*Value{x},
		Nodes: []*Node{
			{Name: "add", Op: "Add", Inputs: []*Value{x, w}, Outputs: []*Value{y}, Attrs: Attrs{"alpha": FloatAttr(0.5)}},
			{Name: "quant", Op: "QuantizeLinear", Inputs: []*Value{y, nil}, Outputs: []*Value{q}},
		},
		Outputs: []*Value{q, w},
	}
}

func TestEqual(t *testing.T) {
	if err := Equal(equalTestGraph(), equalTestGraph()); err != nil {
		t.Fatalf("equal graphs: %v", err)
	}
	if err := Equal(nil, nil); err != nil {
		t.Errorf("Equal(nil, nil) = %v", err)
	}
	if err := Equal(equalTestGraph(), nil); err == nil {
		t.Errorf("Equal(g, nil) = nil")
	}
	// Empty and nil attribute maps, shapes and quant lists are the same.
	a, b := equalTestGraph(), equalTestGraph()
	a.Nodes[1].Attrs = Attrs{}
	b.Inputs[0].Type.Shape = Shape{SymDim("N"), D(4)}
	if err := Equal(a, b); err != nil {
		t.Errorf("nil vs empty attrs: %v", err)
	}

	cases := []struct {
		name   string
		mutate func(g *Graph)
		want   string
	}{
		{"graph name", func(g *Graph) { g.Name = "h" }, `graph name "g" vs "h"`},
		{"input count", func(g *Graph) { g.Inputs = nil }, `graph has 1 inputs vs 0`},
		{"value name", func(g *Graph) { g.Inputs[0].Name = "x2" }, `graph input 0: value name "x" vs "x2"`},
		{"symbolic dim", func(g *Graph) { g.Inputs[0].Type.Shape[0] = SymDim("M") }, `graph input 0: %x: type f32[N,4] vs f32[M,4]`},
		{"unknown dim", func(g *Graph) { g.Inputs[0].Type.Shape[0] = UnknownDim }, `graph input 0: %x: type f32[N,4] vs f32[?,4]`},
		{"scalar vs rank 1", func(g *Graph) { g.Inputs[0].Type.Shape = Shape{} }, `graph input 0: %x: type f32[N,4] vs f32[]`},
		{"layout", func(g *Graph) { g.Nodes[0].Outputs[0].Type.Layout = "" }, `node 0: "add" (Add): output 0: %y: type f32[N,4]{NC} vs f32[N,4]`},
		{"dtype", func(g *Graph) { g.Nodes[1].Outputs[0].Type.DType = Uint8 }, `node 1: "quant" (QuantizeLinear): output 0: %q: type i8[N,4] vs u8[N,4]`},
		{"node name", func(g *Graph) { g.Nodes[1].Name = "q2" }, `node 1: name "quant" vs "q2"`},
		{"op", func(g *Graph) { g.Nodes[0].Op = "Sub" }, `node 0: "add": op "Add" vs "Sub"`},
		{"attr value", func(g *Graph) { g.Nodes[0].Attrs["alpha"] = FloatAttr(0.25) }, `node 0: "add" (Add): attribute "alpha" is float 0.5 (bits 0x3f000000) vs float 0.25 (bits 0x3e800000)`},
		{"attr kind", func(g *Graph) { g.Nodes[0].Attrs["alpha"] = IntAttr(0) }, `node 0: "add" (Add): attribute "alpha" is float 0.5 (bits 0x3f000000) vs int 0`},
		{"attr name", func(g *Graph) { g.Nodes[0].Attrs = Attrs{"beta": FloatAttr(0.5)} }, `node 0: "add" (Add): attribute "alpha" is missing from the second graph`},
		{"attr count", func(g *Graph) { g.Nodes[1].Attrs = Attrs{"axis": IntAttr(1)} }, `node 1: "quant" (QuantizeLinear): 0 attributes vs 1`},
		{"absent input", func(g *Graph) { g.Nodes[1].Inputs[1] = g.Nodes[0].Inputs[1] }, `node 1: "quant" (QuantizeLinear): input 1: absent vs %w`},
		{"trailing absent input", func(g *Graph) { g.Nodes[1].Inputs = g.Nodes[1].Inputs[:1] }, `node 1: "quant" (QuantizeLinear): 2 inputs vs 1`},
		{"constant data", func(g *Graph) { g.Nodes[0].Inputs[1].Const.Float32s()[0] = 2 }, `node 0: "add" (Add): input 1: constant %w: element 0 is 1 (bits 0x3f800000) vs 2 (bits 0x40000000)`},
		{"negative zero", func(g *Graph) { g.Nodes[0].Inputs[1].Const.Float32s()[3] = 0 }, `node 0: "add" (Add): input 1: constant %w: element 3 is -0 (bits 0x80000000) vs 0 (bits 0x00000000)`},
		{"constant vs computed", func(g *Graph) { g.Nodes[0].Inputs[1].Const = nil }, `node 0: "add" (Add): input 1: %w: constant vs computed value`},
		{"constant dtype", func(g *Graph) {
			g.Nodes[0].Inputs[1].Const = &Tensor{DType: Int32, Shape: []int{4}, Data: []int32{1, 0, 0, 0}}
		}, `node 0: "add" (Add): input 1: constant %w: data dtype f32 vs i32`},
		{"sparsity", func(g *Graph) { g.Nodes[0].Inputs[1].Sparsity = nil }, `node 0: "add" (Add): input 1: %w: sparsity 2:4@0 vs none`},
		{"quant scale sign", func(g *Graph) { g.Nodes[1].Outputs[0].Quant.Scale[0] = -0.5 }, `node 1: "quant" (QuantizeLinear): output 0: %q: quantization {scale [0.5], zero point [0], axis -1} vs {scale [-0.5], zero point [0], axis -1}`},
		{"quant axis", func(g *Graph) { g.Nodes[1].Outputs[0].Quant.Axis = -2 }, `%q: quantization {scale [0.5], zero point [0], axis -1} vs {scale [0.5], zero point [0], axis -2}`},
		{"quant zp", func(g *Graph) { g.Nodes[1].Outputs[0].Quant.ZeroPoint[0] = 1 }, `zero point [1]`},
		{"no quant", func(g *Graph) { g.Nodes[1].Outputs[0].Quant = nil }, `vs none`},
		{"output count", func(g *Graph) { g.Outputs = g.Outputs[:1] }, `graph has 2 outputs vs 1`},
		{"output order", func(g *Graph) { g.Outputs[0], g.Outputs[1] = g.Outputs[1], g.Outputs[0] }, `graph output 0: value name "q" vs "w"`},
		{"node count", func(g *Graph) { g.Nodes = g.Nodes[:1] }, `graph has 2 nodes vs 1`},
		{"nil node", func(g *Graph) { g.Nodes[1] = nil }, `node 1: one node is nil, the other is not`},
		// b makes a second, equal-looking value where a shares one.
		{"sharing", func(g *Graph) {
			w2 := *g.Nodes[0].Inputs[1]
			g.Outputs[1] = &w2
		}, `graph output 1: %w: the first graph shares a value where the second has two distinct values of that name, or the reverse`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := equalTestGraph(), equalTestGraph()
			c.mutate(b)
			err := Equal(a, b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Equal = %v\nwant an error containing %s", err, c.want)
			}
		})
	}
}

// TestEqualNaNPayloads checks that data and scales compare by bits.
func TestEqualNaNPayloads(t *testing.T) {
	mk := func(f32 uint32, f64 uint64, scale uint32) *Graph {
		a := NewConst("a", FromFloat32([]float32{math.Float32frombits(f32)}, 1))
		b := NewConst("b", &Tensor{DType: Float64, Shape: []int{}, Data: []float64{math.Float64frombits(f64)}})
		c := NewConst("c", &Tensor{DType: Int8, Shape: []int{1}, Data: []int8{1}})
		c.Quant = &QuantParams{Scale: []float32{math.Float32frombits(scale)}, ZeroPoint: []int32{0}, Axis: -1}
		return &Graph{Name: "nan", Outputs: []*Value{a, b, c}}
	}
	if err := Equal(mk(0x7fc00001, 0x7ff8000000000001, 0x7fc00000), mk(0x7fc00001, 0x7ff8000000000001, 0x7fc00000)); err != nil {
		t.Errorf("identical NaNs: %v", err)
	}
	for _, c := range []struct {
		b    *Graph
		want string
	}{
		{mk(0x7fc00002, 0x7ff8000000000001, 0x7fc00000), `graph output 0: constant %a: element 0 is NaN (bits 0x7fc00001) vs NaN (bits 0x7fc00002)`},
		{mk(0x7fc00001, 0xfff8000000000001, 0x7fc00000), `graph output 1: constant %b: element 0 is NaN (bits 0x7ff8000000000001) vs NaN (bits 0xfff8000000000001)`},
		{mk(0x7fc00001, 0x7ff8000000000001, 0x7fc00003), `graph output 2: %c: quantization`},
	} {
		err := Equal(mk(0x7fc00001, 0x7ff8000000000001, 0x7fc00000), c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Equal = %v\nwant an error containing %s", err, c.want)
		}
	}
	// Data of a Go type that does not match: no panic, an error.
	bad := mk(0, 0, 0x3f800000)
	bad.Outputs[0].Const.Data = []int64{0}
	if err := Equal(mk(0, 0, 0x3f800000), bad); err == nil || !strings.Contains(err.Error(), "data of Go types []float32 (1 elements) vs []int64 (1 elements)") {
		t.Errorf("Equal = %v", err)
	}
}

// TestEqualFloatAttrBits checks that float attributes compare by bits, where
// Attr.Equal alone would take -0 for 0 and one NaN for another.
func TestEqualFloatAttrBits(t *testing.T) {
	for _, c := range []struct {
		a, b Attr
		want string
	}{
		{FloatAttr(0), FloatAttr(float32(math.Copysign(0, -1))), `node 0: "add" (Add): attribute "alpha" is float 0 (bits 0x00000000) vs float -0 (bits 0x80000000)`},
		{FloatsAttr(1, math.Float32frombits(0x7fc00000)), FloatsAttr(1, math.Float32frombits(0x7fc00001)), `node 0: "add" (Add): attribute "alpha" is floats [1 NaN(bits 0x7fc00000)] vs floats [1 NaN(bits 0x7fc00001)]`},
	} {
		if !c.a.Equal(c.b) {
			t.Fatalf("Attr.Equal(%v, %v) is false; this test wants the case Attr.Equal accepts", c.a, c.b)
		}
		a, b := equalTestGraph(), equalTestGraph()
		a.Nodes[0].Attrs["alpha"], b.Nodes[0].Attrs["alpha"] = c.a, c.b
		if err := Equal(a, b); err == nil || err.Error() != c.want {
			t.Errorf("Equal = %v\nwant %s", err, c.want)
		}
	}
}
