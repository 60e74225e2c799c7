package onnx

import (
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// TestResizeSizesFromShapes checks the lowering of F.interpolate(size=...)
// on a symbolic batch: sizes = Concat(Shape(x)[:2], [8, 6]) becomes a
// constant [8, 6] on axes [2, 3], the Shape arithmetic is left unread, the
// output shape is known but for the batch, and the values are those of the
// graph as written.
func TestResizeSizesFromShapes(t *testing.T) {
	b := onnxbuild.New("g", 17)
	x := b.InputSym("x", ir.Float32, []string{"N", "3", "4", "4"})
	shape := b.Node("Shape", []string{x}, nil)
	head := b.Node("Slice", []string{shape, b.Ints(0), b.Ints(2)}, nil)
	sizes := b.Node("Concat", []string{head, b.Ints(8, 6)}, map[string]any{"axis": int64(0)})
	b.Add(onnxbuild.NodeSpec{Name: "up", Op: "Resize", Inputs: []string{x, "", "", sizes}, Outputs: []string{"y"},
		Attrs: map[string]any{"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}})
	b.OutputUntyped("y")
	g := mustLower(t, b)
	var up *ir.Node
	for _, n := range g.Nodes {
		if n.Name == "up" {
			up = n
		}
	}
	if up == nil || len(up.Inputs) != 4 || !up.Inputs[3].IsConst() || up.Inputs[3].Const.AsInt64(0) != 8 ||
		up.Inputs[3].Const.AsInt64(1) != 6 || len(up.Attrs.Ints("axes")) != 2 || up.Attrs.Ints("axes")[0] != 2 {
		t.Fatalf("resize node %v, want constant sizes [8 6] on axes [2 3]", up)
	}
	if got := g.Outputs[0].Type.Shape; !got.Equal(ir.Shape{ir.SymDim("N"), ir.D(3), ir.D(8), ir.D(6)}) {
		t.Errorf("output shape %v, want [N,3,8,6]", got)
	}
	// The same resize with the sizes written out, for N = 2.
	in := ir.NewTensor(ir.Float32, 2, 3, 4, 4)
	for i := range in.Float32s() {
		in.Float32s()[i] = float32(i%7) - 2.5
	}
	plain := &ir.Node{Name: "r", Op: "Resize", Inputs: []*ir.Value{{Name: "x", Type: in.Type()}, nil, nil, ir.NewConst("s", ir.FromInt64([]int64{2, 3, 8, 6}, 4))},
		Outputs: []*ir.Value{{Name: "w"}}, Attrs: ir.Attrs{"mode": ir.StringAttr("linear"), "coordinate_transformation_mode": ir.StringAttr("pytorch_half_pixel")}}
	pg := &ir.Graph{Name: "p", Inputs: []*ir.Value{plain.Inputs[0]}, Outputs: plain.Outputs, Nodes: []*ir.Node{plain}}
	if err := ir.InferShapes(pg); err != nil {
		t.Fatal(err)
	}
	ws, err := ref.Run(pg, in)
	if err != nil {
		t.Fatal(err)
	}
	want := ws[0]
	got, err := ref.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want.Float32s() {
		if got[0].Float32s()[i] != v {
			t.Fatalf("element %d: %v, want %v", i, got[0].Float32s()[i], v)
		}
	}
}
